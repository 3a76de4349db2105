/**
 * Ponder configuration of the Seedcraft indexer. Everything comes from the deployment file and the
 * environment, read once here:
 *   SEEDCRAFT_NETWORK     which deployments/<network>.json to index (default "localhost")
 *   SEEDCRAFT_RPC_URL     the chain's HTTP RPC (default http://127.0.0.1:8545); its ws:// twin is used
 *                         for newHeads and requests, so an anchor is indexed within milliseconds
 *   SEEDCRAFT_RPC_WS_URL  the WebSocket RPC when it is not the HTTP URL's twin ("none" disables it)
 *   SEEDCRAFT_HEADS_STALL_MS  see head/process.ts
 * Ponder's newHeads socket goes through the heads relay (head/relay.ts), which keeps blocks coming when the
 * chain's subscription goes quiet (Ponder 0.17 never notices a socket that is open but silent).
 *   SEEDCRAFT_INDEXER_DIR where PGlite keeps its files (default indexer/.ponder/pglite)
 *   DATABASE_URL          a postgres:// URL: use Postgres instead of PGlite
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ArtifactMap } from "hardhat/types/artifacts";
import { createConfig } from "ponder";
import type { ContractName } from "../core/deployment.ts";
import { indexedDeployment } from "./deployment.ts";
import { startIndexerHeads } from "./head/process.ts";

const deployment = indexedDeployment;

const rpc = process.env.SEEDCRAFT_RPC_URL || "http://127.0.0.1:8545";
const wsSetting = process.env.SEEDCRAFT_RPC_WS_URL;
const ws = wsSetting === "none" ? undefined : wsSetting || rpc.replace(/^http/, "ws");

const heads = await startIndexerHeads(rpc, ws);

const database = process.env.DATABASE_URL
  ? ({ kind: "postgres", connectionString: process.env.DATABASE_URL } as const)
  : ({
      kind: "pglite",
      directory: process.env.SEEDCRAFT_INDEXER_DIR
        ? path.join(process.env.SEEDCRAFT_INDEXER_DIR, "pglite")
        : fileURLToPath(new URL("./.ponder/pglite", import.meta.url)),
    } as const);

function contract<Name extends ContractName>(name: Name) {
  return {
    chain: "seedcraft" as const,
    abi: deployment.contracts[name].abi as ArtifactMap[Name]["abi"],
    address: deployment.contracts[name].address,
    startBlock: deployment.startBlock,
  };
}

export default createConfig({
  database,
  chains: {
    seedcraft: {
      id: deployment.chainId,
      // Requests go over the WebSocket too when there is one: on a local node that saves a few milliseconds
      // of HTTP per block fetch, which is most of the time between a block and its indexing. Requests are
      // answered or time out; only the subscription can go silent, so only it goes through the relay.
      rpc: ws ?? rpc,
      ...(heads.relayUrl ? { ws: heads.relayUrl } : {}),
      // Ponder refuses less than 100 ms; WebSocket newHeads makes polling a fallback anyway.
      pollingInterval: 100,
      // A local chain's blocks are never cached across resets.
      disableCache: deployment.chainId === 31337,
    },
  },
  contracts: {
    // Typed from the compiled contracts (artifacts/*.d.ts), so the handlers see each event's arguments.
    ChunkLedger: contract("ChunkLedger"),
    SessionRegistry: contract("SessionRegistry"),
    EnergyToken: contract("EnergyToken"),
    SeedingRewards: contract("SeedingRewards"),
  },
});
