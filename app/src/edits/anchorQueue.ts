/**
 * Anchoring queue: one lane per chunk, so every anchor builds on the version the previous one made
 * (compare-and-swap on `expectedVersion`). Edits made while a chunk's anchor is in flight ride in the next one.
 * Each chunk keeps a ChunkMerkle over its live blocks, so an edit rehashes only its own leaf's path.
 */
import { bytesToHex, type Hex } from "viem";
import { chunkIdOf, encodeChunk } from "../../../core/chunk.ts";
import { ChunkMerkle } from "../../../core/merkle.ts";
import { chunkTorrent } from "../../../core/torrent.ts";
import type { ChunkCoords } from "../world/protocol.ts";
import { chunkKey } from "../world/protocol.ts";
import type { EditList } from "./editList.ts";
import { toAnchorError } from "./errors.ts";
import type { Ledger } from "./ledger.ts";

export type AnchorQueueOptions = {
  ledger: Ledger;
  edits: EditList;
  /** The live blocks of a loaded chunk (the Merkle tree keeps a view of them). */
  chunkBlocks: (coords: ChunkCoords) => Uint16Array | undefined;
  /** How long the indexer has to serve an anchored version before the edit counts as failed. Default 30 s. */
  confirmTimeoutMs?: number;
  /** How often to ask the indexer meanwhile. Default 100 ms. */
  pollIntervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

type ChunkLane = {
  coords: ChunkCoords;
  chunkId: bigint;
  merkle: ChunkMerkle;
  /** The version our copy of the chunk builds on; unknown until read from the indexer or the ledger. */
  version: bigint | undefined;
  /** Edits applied but not yet in an anchor. */
  pending: number[];
  inFlight: boolean;
};

const WAITING_FOR_WALLET = "waiting for a wallet to anchor";

export class AnchorQueue {
  readonly #options: Required<Omit<AnchorQueueOptions, "ledger" | "edits" | "chunkBlocks">> & AnchorQueueOptions;
  readonly #lanes = new Map<string, ChunkLane>();
  #walletReady = false;
  #destroyed = false;

  constructor(options: AnchorQueueOptions) {
    this.#options = {
      confirmTimeoutMs: 30_000,
      pollIntervalMs: 100,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...options,
    };
  }

  /** Anchors wait until a wallet is connected, then go out. */
  setWalletReady(ready: boolean): void {
    this.#walletReady = ready;
    for (const lane of this.#lanes.values()) this.#pump(lane);
  }

  /** Queues edit `editId`, which already changed block `index` of chunk `coords`. */
  record(editId: number, coords: ChunkCoords, index: number): void {
    const lane = this.#lane(coords);
    if (!lane) {
      this.#options.edits.update(editId, { state: "failed", reason: "chunk is not loaded" });
      return;
    }
    lane.merkle.touch(index);
    lane.pending.push(editId);
    this.#pump(lane);
  }

  destroy(): void {
    this.#destroyed = true;
  }

  #lane(coords: ChunkCoords): ChunkLane | undefined {
    const key = chunkKey(coords.cx, coords.cy, coords.cz);
    let lane = this.#lanes.get(key);
    if (!lane) {
      const blocks = this.#options.chunkBlocks(coords);
      if (!blocks) return undefined;
      lane = {
        coords,
        chunkId: chunkIdOf(coords.cx, coords.cy, coords.cz),
        merkle: new ChunkMerkle(blocks),
        version: undefined,
        pending: [],
        inFlight: false,
      };
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  #pump(lane: ChunkLane): void {
    if (this.#destroyed || lane.inFlight || lane.pending.length === 0) return;
    if (!this.#walletReady) {
      this.#options.edits.update(lane.pending, { note: WAITING_FOR_WALLET });
      return;
    }
    lane.inFlight = true;
    void this.#anchor(lane).finally(() => {
      lane.inFlight = false;
      this.#pump(lane);
    });
  }

  async #anchor(lane: ChunkLane): Promise<void> {
    const { edits, ledger } = this.#options;
    let batch: number[] = [];
    try {
      if (lane.version === undefined) {
        edits.update(lane.pending, { note: "reading the chunk's version" });
        lane.version = (await ledger.readHead(lane.chunkId)).version;
      }
      const expectedVersion = lane.version;
      // The batch is every edit the root covers now; edits after this line go in the next anchor.
      batch = lane.pending.splice(0);
      const newHash = bytesToHex(lane.merkle.root);
      const blocks = this.#options.chunkBlocks(lane.coords);
      if (!blocks) throw new Error("the chunk is no longer loaded");
      // The torrent of the same state the root covers (nothing runs in between): peers fetch the version by it.
      const { infoHash } = chunkTorrent(lane.chunkId, Number(expectedVersion) + 1, encodeChunk(blocks));
      edits.update(batch, { note: `sending anchor on v${expectedVersion}` });
      const receipt = await ledger.anchor({ chunkId: lane.chunkId, expectedVersion, newHash, infoHash });
      lane.version = receipt.version;
      edits.update(batch, {
        state: "anchoring",
        version: receipt.version,
        txHash: receipt.txHash,
        note: `in block ${receipt.blockNumber} · awaiting the indexer`,
      });
      void this.#confirm(lane, batch, receipt.version, newHash);
    } catch (error) {
      const failure = toAnchorError(error);
      // Our copy no longer matches the ledger; until rebase exists, the next anchor re-reads the head.
      if (failure.code === "STALE_CHUNK_VERSION") lane.version = undefined;
      // A failed head read fails the edits still waiting for it.
      if (batch.length === 0) batch = lane.pending.splice(0);
      edits.update(batch, { state: "failed", reason: failure.reason, note: undefined });
    }
  }

  /** Polls the indexer until it serves `version` (or a later one) with our hash, within the timeout. */
  async #confirm(lane: ChunkLane, batch: number[], version: bigint, hash: Hex): Promise<void> {
    const { edits, ledger, confirmTimeoutMs, pollIntervalMs, sleep } = this.#options;
    const deadline = performance.now() + confirmTimeoutMs;
    let last = "no answer";
    while (!this.#destroyed) {
      const answer = await ledger.indexedHead(lane.chunkId);
      if (answer.status === "ok") {
        const head = answer.value;
        if (head.version > version || (head.version === version && head.hash?.toLowerCase() === hash.toLowerCase())) {
          edits.update(batch, { state: "anchored", note: undefined });
          return;
        }
        if (head.version === version) {
          edits.update(batch, {
            state: "failed",
            reason: `indexer holds another hash for v${version}`,
            note: undefined,
          });
          return;
        }
        last = `indexer at v${head.version}`;
      } else last = `indexer ${answer.status}`;
      if (performance.now() >= deadline) break;
      await sleep(pollIntervalMs);
    }
    if (this.#destroyed) return;
    edits.update(batch, {
      state: "failed",
      reason: `not confirmed by the indexer in ${Math.round(confirmTimeoutMs / 1000)} s (${last})`,
      note: undefined,
    });
  }
}
