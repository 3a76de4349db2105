/**
 * A Hardhat plugin that compiles one solc job as several solc processes at once, one per core, each making the
 * bytecode of a share of its files (every process still reads them all). solc (its WebAssembly build, viaIR) uses
 * one core: on 2 cores this halves the contracts' first compile, which `npm start` on a fresh clone waits for.
 * The bytecode is the same: it depends on the sources and settings, not on which outputs were asked for.
 */
import os from "node:os";
import path from "node:path";
import type { HardhatPlugin } from "hardhat/types/plugins";
import type { CompilerInput, CompilerOutput, CompilerOutputError } from "hardhat/types/solidity";

type Selection = CompilerInput["settings"]["outputSelection"];

/** The sources a source imports, as input source names (relative imports and remappings resolved). */
function importsOf(sourceName: string, content: string, remappings: readonly string[]): string[] {
  const imported: string[] = [];
  for (const match of content.matchAll(/\bimport\s+(?:[^"';]*?\bfrom\s+)?["']([^"']+)["']/g)) {
    const spec = match[1] as string;
    if (spec.startsWith("./") || spec.startsWith("../")) {
      imported.push(path.posix.normalize(path.posix.join(path.posix.dirname(sourceName), spec)));
      continue;
    }
    // context:prefix=target, the longest prefix that applies wins (solc's rule).
    let best: { prefix: string; target: string } | undefined;
    for (const remapping of remappings) {
      const [left = "", target = ""] = remapping.split("=");
      const [context, prefix] = left.includes(":") ? (left.split(":") as [string, string]) : ["", left];
      if (sourceName.startsWith(context) && spec.startsWith(prefix) && prefix.length > (best?.prefix.length ?? -1))
        best = { prefix, target };
    }
    imported.push(best ? best.target + spec.slice(best.prefix.length) : spec);
  }
  return imported;
}

/**
 * How much code generation a file costs, roughly: for a file with a concrete contract, the size of everything it
 * imports (inherited code is compiled into it); a library's own size; nothing for interfaces and abstract contracts.
 */
function costs(input: CompilerInput): Map<string, number> {
  const remappings = input.settings.remappings ?? [];
  const closure = (start: string): Set<string> => {
    const seen = new Set<string>();
    const queue = [start];
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      const source = input.sources[name];
      if (seen.has(name) || source === undefined) continue;
      seen.add(name);
      queue.push(...importsOf(name, source.content, remappings));
    }
    return seen;
  };
  const cost = new Map<string, number>();
  for (const [name, { content }] of Object.entries(input.sources)) {
    if (/(^|[;}\n])\s*contract\s+\w+/.test(content))
      cost.set(
        name,
        [...closure(name)].reduce((sum, file) => sum + (input.sources[file]?.content.length ?? 0), 0),
      );
    else if (/(^|[;}\n])\s*library\s+\w+/.test(content)) cost.set(name, content.length);
    else cost.set(name, 0);
  }
  return cost;
}

/**
 * The job split in `parts` inputs whose output selections share out its files (the costliest first, each to the
 * lightest part), or undefined when it cannot be split: fewer than two files with code, or a selection that is
 * not Hardhat's usual one for every file ("*").
 */
export function splitSolcInput(input: CompilerInput, parts: number): CompilerInput[] | undefined {
  const selection = input.settings.outputSelection;
  const everyFile = selection["*"];
  if (Object.keys(selection).length !== 1 || everyFile === undefined || everyFile["*"] === undefined) return undefined;
  const cost = costs(input);
  const weighed = [...cost.entries()].filter(([, value]) => value > 0).sort((a, b) => b[1] - a[1]);
  const count = Math.min(parts, weighed.length);
  if (count < 2) return undefined;
  const shares = Array.from({ length: count }, () => ({ cost: 0, files: [] as string[] }));
  const lightest = () => shares.reduce((min, share) => (share.cost < min.cost ? share : min));
  for (const [file, value] of weighed) {
    const share = lightest();
    share.cost += value;
    share.files.push(file);
  }
  // Files without code (interfaces, abstract contracts) still have ABIs: the lightest part lists them.
  lightest().files.push(...[...cost.entries()].filter(([, value]) => value === 0).map(([file]) => file));
  return shares.map((share, index) => {
    const outputSelection: Selection = {
      // Source-level outputs (the AST) once, from the first part.
      "*": index === 0 && everyFile[""] ? { "": everyFile[""] } : {},
      ...Object.fromEntries(share.files.map((file) => [file, { "*": everyFile["*"] as string[] }])),
    };
    return { ...input, settings: { ...input.settings, outputSelection } };
  });
}

/** The parts' outputs as one: each file's contracts from the part that made them, each message once. */
export function mergeSolcOutputs(outputs: readonly CompilerOutput[]): CompilerOutput {
  const seen = new Set<string>();
  const errors: CompilerOutputError[] = [];
  for (const output of outputs)
    for (const error of output.errors ?? []) {
      const key = `${error.severity}\u0000${error.formattedMessage ?? error.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(error);
    }
  const merged: CompilerOutput = {
    sources: outputs[0]?.sources ?? {},
    contracts: Object.assign({}, ...outputs.map((output) => output.contracts ?? {})),
  };
  if (errors.length > 0) merged.errors = errors;
  return merged;
}

const solcParallel: HardhatPlugin = {
  id: "seedcraft-solc-parallel",
  hookHandlers: {
    solidity: async () => ({
      default: async () => ({
        invokeSolc: async (context, compiler, solcInput, solcConfig, next) => {
          const parts = splitSolcInput(solcInput, os.availableParallelism());
          if (parts === undefined) return await next(context, compiler, solcInput, solcConfig);
          return mergeSolcOutputs(await Promise.all(parts.map((part) => next(context, compiler, part, solcConfig))));
        },
      }),
    }),
  },
};

export default solcParallel;
