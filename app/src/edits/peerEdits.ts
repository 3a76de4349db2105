/**
 * Peers' edits end here too: an op no anchored snapshot covered within the replica's bound (PEER_OP_TTL_MS) is
 * checked against the indexer first (its anchor may have passed us by: then the snapshot is loaded and settles
 * it), and is otherwise rolled back, so no peer's edit stays provisional, or drawn, for ever.
 */
import createDebug from "debug";
import type { BlockOp } from "../../../core/op.ts";
import type { ChunkSync } from "../../../p2p/chunk-sync.ts";
import type { HeadSource } from "../../../p2p/heads.ts";
import { PEER_OP_TTL_MS, type WorldReplica } from "../../../p2p/replica.ts";

const debug = createDebug("seedcraft:edits");

export type PeerEditExpiryOptions = {
  replica: WorldReplica;
  heads: HeadSource;
  /** Loads a newer anchored snapshot the indexer knows of (the chunk metadata may never have reached us). */
  sync: ChunkSync | undefined;
  /** How long a peer's op may stay provisional. Default PEER_OP_TTL_MS (60 s). */
  ttlMs?: number;
  /** How often to look. Default 5 s. */
  everyMs?: number;
};

/** A snapshot that takes longer than this to load is not waited for: the op is rolled back, the anchor redraws it. */
const LOAD_WAIT_MS = 10_000;

export class PeerEditExpiry {
  readonly #options: PeerEditExpiryOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #running = false;

  constructor(options: PeerEditExpiryOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.check(), options.everyMs ?? 5_000);
  }

  /** Ends every peer's op past the bound: anchored if the indexer serves a version that covers it, else rolled back. */
  async check(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const { replica } = this.#options;
      const byChunk = new Map<bigint, BlockOp[]>();
      for (const op of replica.stale(this.#options.ttlMs ?? PEER_OP_TTL_MS))
        byChunk.set(op.chunk, [...(byChunk.get(op.chunk) ?? []), op]);
      for (const [chunkId, ops] of byChunk) {
        await this.#catchUp(chunkId);
        // Whatever the newest snapshot did not cover stays unanchored: it ends here.
        const still = new Set(replica.stale(this.#options.ttlMs ?? PEER_OP_TTL_MS));
        for (const op of ops)
          if (still.has(op) && replica.retract(op)) debug("rolled back %s's op in chunk %s", op.author, chunkId);
      }
    } finally {
      this.#running = false;
    }
  }

  destroy(): void {
    clearInterval(this.#timer);
  }

  /** Loads the chunk's newest anchored snapshot if the indexer serves one newer than ours (within LOAD_WAIT_MS). */
  async #catchUp(chunkId: bigint): Promise<void> {
    const { heads, sync, replica } = this.#options;
    const head = await heads.head(chunkId).catch(() => undefined);
    if (!sync || !head || head.version <= replica.version(chunkId)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      sync.load(head).catch((error: Error) => debug("chunk %s v%d: %s", chunkId, head.version, error.message)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, LOAD_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }
}
