/**
 * The ChunkLedger as the anchor queue writes to it: `anchorBatch` sent by the player's session key (no wallet
 * prompt per anchor; the contract credits the key's wallet). Address and ABI come from the deployment. Isomorphic:
 * the app and `seedcraft peer` anchor through it.
 */
import {
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type LocalAccount,
  parseEventLogs,
} from "viem";
import type { Deployment } from "../core/deployment.ts";
import { AnchorError, toAnchorError } from "./anchor-errors.ts";

/** One chunk's new version: compare-and-swap on `expectedVersion`. */
export type AnchorUpdate = {
  chunkId: bigint;
  expectedVersion: number;
  newHash: Hex;
  infoHash: Hex;
  /** The snapshot's clock watermark, packed as the contract takes it (wallMs << 16 | logical). */
  watermark: bigint;
};

export type AnchorBatchReceipt = { txHash: Hex; blockNumber: bigint; versions: Map<bigint, number> };

export type AnchorChain = {
  /** Sends one `anchorBatch` and waits for its receipt; throws an AnchorError (stale versions are named). */
  anchorBatch(updates: readonly AnchorUpdate[]): Promise<AnchorBatchReceipt>;
};

export function sessionAnchorChain(deployment: Deployment, chain: Chain, key: LocalAccount): AnchorChain {
  const { address, abi } = deployment.contracts.ChunkLedger;
  const transport = http(chain.rpcUrls.default.http[0]);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 });
  // The app's key carries a nonce manager (wallet/sessionKey.ts): a batch may go out while another is being mined.
  const account = key;
  const wallet = createWalletClient({ account, chain, transport });

  return {
    async anchorBatch(updates) {
      try {
        const args = [updates.map((u) => ({ ...u }))] as const;
        // Simulating first names the stale chunk (StaleChunkVersion) before any gas is spent.
        const { request } = await publicClient.simulateContract({
          account,
          address,
          abi,
          functionName: "anchorBatch",
          args,
        });
        // The full ABI, not the one function simulate leaves in the request: a revert between the two (another
        // anchor won the race) is then decoded by name too.
        const txHash = await wallet.writeContract({ ...request, abi });
        const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash, pollingInterval: 100 });
        if (receipt.status !== "success") {
          // Mined and reverted: most often another anchor of the same chunk went first in the same block (on a
          // chain that mines every few seconds, the usual race). The receipt says no more; the same call replayed
          // on that block's state names it (StaleChunkVersion, with the version that won), so it rebases.
          await publicClient.simulateContract({
            account,
            address,
            abi,
            functionName: "anchorBatch",
            args,
            blockNumber: receipt.blockNumber,
          });
          throw new AnchorError(
            "REVERTED",
            `anchorBatch reverted in block ${receipt.blockNumber}`,
            `transaction ${txHash}; replayed on that block's state it does not revert`,
          );
        }
        const versions = new Map<bigint, number>();
        for (const log of parseEventLogs({ abi, logs: receipt.logs, eventName: "ChunkAnchored" })) {
          const event = log.args as { chunkId?: unknown; version?: unknown };
          if (typeof event.chunkId === "bigint" && typeof event.version === "number")
            versions.set(event.chunkId, event.version);
        }
        return { txHash, blockNumber: receipt.blockNumber, versions };
      } catch (error) {
        throw toAnchorError(error);
      }
    },
  };
}
