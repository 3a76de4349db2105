import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import type { CompilerInput, CompilerOutput } from "hardhat/types/solidity";
import { mergeSolcOutputs, splitSolcInput } from "../../scripts/solc-parallel.ts";

// The real compiler, solc's WebAssembly build, as Hardhat runs it.
const require = createRequire(import.meta.url);
const solc = require("solc/wrapper")(require("solc/soljson.js")) as { compile(input: string): string };
const compile = (input: CompilerInput) => JSON.parse(solc.compile(JSON.stringify(input))) as CompilerOutput;

const SELECTED = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"];

/** A small project shaped like ours: an interface, an abstract base, a library, and contracts that import them. */
function project(selection: CompilerInput["settings"]["outputSelection"]): CompilerInput {
  const sources: Record<string, string> = {
    "project/contracts/IStore.sol": "interface IStore { function get() external view returns (uint256); }",
    "project/contracts/lib/Math2.sol":
      "library Math2 { function twice(uint256 x) internal pure returns (uint256) { return 2 * x; } }",
    "npm/base@1.0.0/Base.sol":
      'import {IStore} from "../../project/contracts/IStore.sol";\nabstract contract Base is IStore { uint256 internal value; }',
    "project/contracts/Store.sol":
      'import {Base} from "base/Base.sol";\nimport {Math2} from "./lib/Math2.sol";\ncontract Store is Base {\n  function get() external view returns (uint256) { return Math2.twice(value); }\n  function set(uint256 v) external { uint256 unused; value = v; }\n}',
    "project/contracts/Factory.sol":
      'import {Store} from "./Store.sol";\ncontract Factory { function make() external returns (address) { return address(new Store()); } }',
    "project/contracts/Counter.sol":
      "contract Counter { uint256 public count; function up() external { count += 1; } }",
  };
  return {
    language: "Solidity",
    sources: Object.fromEntries(
      Object.entries(sources).map(([name, content]) => [
        name,
        { content: `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\n${content}` },
      ]),
    ),
    settings: {
      viaIR: true,
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
      remappings: ["project/:base/=npm/base@1.0.0/"],
      outputSelection: selection,
    },
  };
}

describe("solc-parallel", () => {
  it("shares the files out among the parts and merges outputs identical to one solc run, each warning once", () => {
    const input = project({ "*": { "": ["ast"], "*": SELECTED } });
    const parts = splitSolcInput(input, 2);
    assert.ok(parts, "a job with several contracts splits");
    assert.equal(parts.length, 2);
    const listed = parts.flatMap((part) => Object.keys(part.settings.outputSelection).filter((key) => key !== "*"));
    assert.deepEqual([...listed].sort(), Object.keys(input.sources).sort(), "every file in exactly one part");
    for (const part of parts) assert.ok(Object.keys(part.settings.outputSelection).length > 1, "no part is empty");
    // The costliest file (the factory, which compiles the store's code too) has a part of its own.
    const factoryPart = parts.find((part) => "project/contracts/Factory.sol" in part.settings.outputSelection);
    assert.ok(factoryPart && !("project/contracts/Store.sol" in factoryPart.settings.outputSelection));

    const whole = compile(input);
    const merged = mergeSolcOutputs(parts.map(compile));
    assert.ok(!whole.errors?.some((error) => error.severity === "error"), JSON.stringify(whole.errors));
    assert.deepEqual(merged.contracts, whole.contracts);
    assert.deepEqual(merged.sources, whole.sources);
    assert.deepEqual(
      merged.errors?.map((error) => error.formattedMessage),
      whole.errors?.map((error) => error.formattedMessage),
      "the unused-variable warning once, as one run gives it",
    );
    assert.ok(merged.errors?.some((error) => error.severity === "warning"));
  });

  it("leaves a job alone when it cannot split it: one core, one contract, or a selection of its own", () => {
    const input = project({ "*": { "": ["ast"], "*": SELECTED } });
    assert.equal(splitSolcInput(input, 1), undefined);
    const single = project({ "*": { "*": SELECTED } });
    single.sources = {
      "project/contracts/Counter.sol": single.sources["project/contracts/Counter.sol"] as { content: string },
    };
    assert.equal(splitSolcInput(single, 4), undefined);
    assert.equal(splitSolcInput(project({ "project/contracts/Counter.sol": { Counter: SELECTED } }), 4), undefined);
  });
});
