import { createRequire } from "node:module";
import hardhatToolboxViem from "@nomicfoundation/hardhat-toolbox-viem";
import { configVariable, defineConfig } from "hardhat/config";
import solcParallel from "./scripts/solc-parallel.ts";

const require = createRequire(import.meta.url);
const solcPackage = require("solc/package.json") as { version: string };

// No native compiler download is possible offline: compile with the solc npm package's WebAssembly build.
const compiler = {
  version: solcPackage.version,
  path: require.resolve("solc/soljson.js"),
  settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun", viaIR: true },
};

const rpcUrl = process.env.SEEDCRAFT_RPC_URL ?? "http://127.0.0.1:8545";

export default defineConfig({
  // solc uses one core: solcParallel compiles a job's files on all of them at once.
  plugins: [hardhatToolboxViem, solcParallel],
  solidity: {
    profiles: {
      default: compiler,
      production: compiler,
    },
    // The Solidity tests (*.t.sol) build apart, when tests run: `hardhat run` (the deploy) then compiles only the
    // contracts, a third less solc work on a fresh clone (the tests embed the ledger's and the token's code again).
    splitTestsCompilation: true,
  },
  paths: {
    tests: { nodejs: "test/contracts" },
  },
  networks: {
    localhost: { type: "http", chainType: "l1", url: rpcUrl },
    // The chain `seedcraft up` runs: it mines each transaction at once, and an empty block every second like
    // a live chain, so the indexer's realtime sync always has a new head to catch up from.
    world: { type: "edr-simulated", chainType: "l1", mining: { auto: true, interval: 1000 } },
    // A world on a public chain (`npm run deploy -- --network public`): its RPC URL and the deployer's funded key
    // come from the environment, read only when this network is used (Hardhat says which one is missing).
    public: {
      type: "http",
      url: configVariable("SEEDCRAFT_RPC_URL"),
      accounts: [configVariable("SEEDCRAFT_DEPLOYER_KEY")],
    },
  },
});
