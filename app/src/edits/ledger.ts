/**
 * The ChunkLedger as the anchor queue sees it: read a chunk's head, anchor a new version, ask the indexer what it
 * serves. Writes go through wagmi (whatever wallet is connected); address and ABI come from the deployment.
 */
import { type Hex, parseEventLogs } from "viem";
import type { Config } from "wagmi";
import { readContract, simulateContract, waitForTransactionReceipt, writeContract } from "wagmi/actions";
import type { Deployment } from "../../../core/deployment.ts";
import { AnchorError, toAnchorError } from "./errors.ts";
import { fetchIndexedHead, type IndexedHead, type IndexerAnswer } from "./indexer.ts";

/** `infoHash`: the new snapshot's torrent (core/torrent.ts), so peers can fetch the version by it. */
export type AnchorRequest = { chunkId: bigint; expectedVersion: bigint; newHash: Hex; infoHash: Hex };
export type AnchorReceipt = { version: bigint; txHash: Hex; blockNumber: bigint };

export type Ledger = {
  /** The head the next anchor builds on: from the indexer, or from `versionOf` when the indexer cannot answer. */
  readHead(chunkId: bigint): Promise<IndexedHead & { source: "indexer" | "chain" }>;
  /** Sends `anchor(...)` and waits for its receipt; throws an AnchorError. */
  anchor(request: AnchorRequest): Promise<AnchorReceipt>;
  /** What the indexer serves for a chunk now. Never throws. */
  indexedHead(chunkId: bigint): Promise<IndexerAnswer<IndexedHead>>;
};

export function createLedger(config: Config, deployment: Deployment, indexerUrl: string): Ledger {
  const { address, abi } = deployment.contracts.ChunkLedger;
  // Pinning the chain id makes a wallet on another chain fail loudly instead of anchoring elsewhere.
  const chainId = deployment.chainId;

  /** The chain keeps only versions; hashes live in events, which the indexer serves. */
  async function headOnChain(chunkId: bigint): Promise<IndexedHead> {
    const result: unknown = await readContract(config, {
      address,
      abi,
      functionName: "versionOf",
      args: [chunkId],
      chainId,
    });
    if (typeof result !== "number" || !Number.isInteger(result) || result < 0)
      throw new AnchorError("RPC", "versionOf answered something unexpected", String(result));
    return { version: BigInt(result), hash: null };
  }

  return {
    async readHead(chunkId) {
      const answer = await fetchIndexedHead(indexerUrl, chunkId);
      if (answer.status === "ok") return { ...answer.value, source: "indexer" };
      try {
        return { ...(await headOnChain(chunkId)), source: "chain" };
      } catch (error) {
        throw toAnchorError(error);
      }
    },

    async anchor({ chunkId, expectedVersion, newHash, infoHash }) {
      try {
        // The watermark is the wall clock of the newest edit the snapshot holds (logical counter 0).
        const watermark = BigInt(Date.now()) << 16n;
        const args = [chunkId, Number(expectedVersion), newHash, infoHash, watermark] as const;
        // Simulating first decodes a revert (StaleChunkVersion) the same way for every wallet.
        const { request } = await simulateContract(config, { address, abi, functionName: "anchor", args, chainId });
        const txHash = await writeContract(config, request);
        const receipt = await waitForTransactionReceipt(config, { hash: txHash, chainId });
        if (receipt.status !== "success") {
          const head = await headOnChain(chunkId).catch(() => undefined);
          if (head && head.version !== expectedVersion)
            throw new AnchorError(
              "STALE_CHUNK_VERSION",
              `StaleChunkVersion: built on v${expectedVersion}, ledger is at v${head.version}`,
            );
          throw new AnchorError("REVERTED", `reverted on chain in block ${receipt.blockNumber}`);
        }
        const anchored = parseEventLogs({ abi, logs: receipt.logs, eventName: "ChunkAnchored" })
          .map((log): unknown => log.args)
          .find(
            (args): args is { chunkId: bigint; version: number } =>
              typeof args === "object" &&
              args !== null &&
              "chunkId" in args &&
              args.chunkId === chunkId &&
              "version" in args &&
              typeof args.version === "number",
          );
        const version = anchored ? BigInt(anchored.version) : expectedVersion + 1n;
        return { version, txHash, blockNumber: receipt.blockNumber };
      } catch (error) {
        throw toAnchorError(error);
      }
    },

    indexedHead: (chunkId) => fetchIndexedHead(indexerUrl, chunkId),
  };
}
