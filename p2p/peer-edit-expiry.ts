/**
 * Peers' edits end: an op no anchored snapshot covered within the replica's bound (PEER_OP_TTL_MS) is checked
 * against the indexer first (its anchor may have passed us by: then the snapshot is loaded and settles it), and
 * is otherwise rolled back, so no peer's edit stays provisional, or drawn, for ever, and a long-running peer's
 * provisional set stays bounded. Every WorldPeer runs one (the seeder and `seedcraft peer` as the browser).
 * Isomorphic.
 */
import createDebug from "debug";
import type { BlockOp } from "../core/op.ts";
import type { ChunkSync } from "./chunk-sync.ts";
import type { HeadSource } from "./heads.ts";
import { PEER_OP_TTL_MS, type WorldReplica } from "./replica.ts";

const debug = createDebug("seedcraft:expiry");

export type PeerEditExpiryOptions = {
  replica: WorldReplica;
  /** The indexer's heads; without them (a peer with no data plane) an op past the bound is rolled back. */
  heads?: HeadSource | undefined;
  /** Loads a newer anchored snapshot the indexer knows of (the chunk metadata may never have reached us). */
  sync?: ChunkSync | undefined;
  /** How long a peer's op may stay provisional. Default PEER_OP_TTL_MS (60 s). */
  ttlMs?: number;
  /**
   * How long an op may stay provisional while the indexer cannot say whether a newer anchor covers it
   * (unreachable, behind, restarting). Default 5 × ttlMs: an edit still ends if the indexer never comes back.
   */
  hardCapMs?: number;
  /** How often to look. Default 5 s. */
  everyMs?: number;
};

/** A snapshot that takes longer than this to load is not waited for: the op is rolled back, the anchor redraws it. */
const LOAD_WAIT_MS = 10_000;

export class PeerEditExpiry {
  readonly #options: PeerEditExpiryOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  /** The pass under way: a second caller waits for it rather than starting another. */
  #running: Promise<void> | undefined;

  constructor(options: PeerEditExpiryOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.check(), options.everyMs ?? 5_000);
    // A Node process does not stay up for this timer alone.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Ends every peer's op past the bound: anchored if the indexer serves a version that covers it, else rolled
   * back. A chunk whose head the indexer could not give is left for the next pass, up to `hardCapMs`.
   */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<void> {
    const { replica } = this.#options;
    const ttlMs = this.#options.ttlMs ?? PEER_OP_TTL_MS;
    const hardCapMs = this.#options.hardCapMs ?? 5 * ttlMs;
    const byChunk = new Map<bigint, BlockOp[]>();
    for (const op of replica.stale(ttlMs)) byChunk.set(op.chunk, [...(byChunk.get(op.chunk) ?? []), op]);
    for (const [chunkId, ops] of byChunk) {
      const answered = await this.#catchUp(chunkId);
      // Whatever the newest snapshot did not cover stays unanchored: it ends here, unless the indexer could
      // not say (then only past the hard cap: rolling back an edit that was anchored would refuse it for good).
      const still = new Set(replica.stale(answered ? ttlMs : hardCapMs));
      for (const op of ops)
        if (still.has(op) && replica.retract(op)) debug("rolled back %s's op in chunk %s", op.author, chunkId);
    }
  }

  destroy(): void {
    clearInterval(this.#timer);
  }

  /**
   * Loads the chunk's newest anchored snapshot if the indexer serves one newer than ours (within LOAD_WAIT_MS).
   * False when the indexer did not answer (LedgerError, IndexBehindError): nothing can be concluded this pass.
   */
  async #catchUp(chunkId: bigint): Promise<boolean> {
    const { heads, sync, replica } = this.#options;
    if (!heads) return true;
    let head: Awaited<ReturnType<HeadSource["head"]>>;
    try {
      head = await heads.head(chunkId);
    } catch (error) {
      debug("chunk %s: no head from the indexer (%s); asking again next pass", chunkId, (error as Error).message);
      return false;
    }
    if (!sync || !head || head.version <= replica.version(chunkId)) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      sync.load(head).catch((error: Error) => debug("chunk %s v%d: %s", chunkId, head.version, error.message)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, LOAD_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    return true;
  }
}
