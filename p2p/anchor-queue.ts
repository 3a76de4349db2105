/**
 * The anchor queue: the player's edits go to the ledger in batches. Every `batchDelayMs` the chunks holding
 * edits not yet anchored are snapshotted from the replica (the folded state: our edits and the peers' we
 * hold) and anchored in one `anchorBatch`, each on the version the replica builds on (compare-and-swap).
 * A lost race (StaleChunkVersion) rebases: the winner's snapshot is fetched and checked against the ledger
 * (asked again with backoff while no peer has it yet, as during the join sync), our newer edits stay on top
 * of it, and the batch goes again. An edit is accepted once the indexer serves an anchored version that
 * holds it; one that cannot be anchored fails and is taken back from the replica, so no ghost stays drawn. The
 * confirmation clock stops while the indexer is unreachable or behind the chain (a mined anchor is not failed
 * for the indexer's restart), up to a hard cap. Isomorphic: the app and `seedcraft peer` anchor through it.
 */
import createDebug from "debug";
import type { Address, Hex } from "viem";
import { decodeChunk, encodeChunk } from "../core/chunk.ts";
import { compareHlc, type Hlc, packHlc } from "../core/hlc.ts";
import type { BlockOp } from "../core/op.ts";
import { chunkTorrent } from "../core/torrent.ts";
import type { AnchorChain, AnchorUpdate } from "./anchor-chain.ts";
import { type AnchorEdits, isOpen, lostEdit } from "./anchor-edits.ts";
import { toAnchorError } from "./anchor-errors.ts";
import type { ChunkSync } from "./chunk-sync.ts";
import type { AnchoredHead, HeadSource } from "./heads.ts";
import { describeIndexBehind, IndexBehindError } from "./index-behind.ts";
import { LedgerError } from "./ledger-error.ts";
import type { WorldReplica } from "./replica.ts";

const debug = createDebug("seedcraft:anchor");

export type AnchorQueueOptions = {
  replica: WorldReplica;
  chain: AnchorChain;
  heads: HeadSource;
  /** Seeds and announces our snapshots, and fetches a winner's when we lose a race. */
  sync: ChunkSync | undefined;
  /** Where the queue writes what became of each edit (the app's EditList, a headless player's HeadlessEdits). */
  edits: AnchorEdits;
  /** Our wallet: the author of the edits we queue. */
  author: Address;
  /** Edits within this window share one transaction. Default 400 ms. */
  batchDelayMs?: number;
  /**
   * How long the indexer has to serve an anchored version before its edits count as failed, counting only the
   * time it answers (unreachable or behind, it cannot). Default 30 s.
   */
  confirmTimeoutMs?: number;
  /** However long the indexer is down, a confirmation gives up after this long. Default 5 minutes. */
  confirmCapMs?: number;
  /** Milliseconds, for the confirmation clock. Default performance.now. */
  now?: () => number;
  /**
   * How many lost races in a row a batch rebases before giving up. Default 12: under contention a race is
   * lost every block or so, and each rebase is cheap (most often rebuilt from the ops held, not fetched); the
   * wait below bounds the time.
   */
  maxRebases?: number;
  /** How long a batch's rebases wait for winners' snapshots (the join sync may still be looking for a peer). Default 40 s. */
  rebaseWaitMs?: number;
  /** At most this many chunks in one transaction (the contract takes up to 256). Default 64. */
  maxBatch?: number;
};

type Waiting = { editId: number; hlc: Hlc };

/** Once the indexer serves the version a batch lost to, its snapshot has at least this long to arrive. */
const REBASE_AFTER_SERVED_MS = 20_000;

export class AnchorQueue {
  readonly #options: AnchorQueueOptions;
  /** Per chunk, our edits applied but not yet in an anchor. */
  readonly #pending = new Map<bigint, Waiting[]>();
  readonly #stopAnchored: () => void;
  /**
   * Per chunk, our edits in the transaction on its way (the batch's own lists): a peer's anchor taken
   * meanwhile may cover them, or drop them, and must settle them as it does the waiting ones.
   */
  readonly #inFlight = new Map<bigint, Waiting[]>();
  /** The chunk whose anchor we are taking into the replica ourselves (not a peer's snapshot). */
  #ownAnchor: bigint | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing = false;
  #destroyed = false;
  /** Transactions sent, and anchors of ours that landed (for the HUD and the tests). */
  readonly stats = { batches: 0, anchors: 0, rebases: 0 };

  constructor(options: AnchorQueueOptions) {
    this.#options = options;
    this.#stopAnchored = options.replica.onAnchored((id, version, dropped) => {
      if (id !== this.#ownAnchor) this.#onPeerAnchor(id, version, dropped);
    });
  }

  /** Queues our edit `editId`, already applied to the replica as an op stamped `hlc`. */
  record(editId: number, chunkId: bigint, hlc: Hlc): void {
    const list = this.#pending.get(chunkId) ?? [];
    list.push({ editId, hlc });
    this.#pending.set(chunkId, list);
    this.#schedule();
  }

  /** Our edit `editId` no longer stands (a tie bounced it): it waits for no anchor. */
  drop(editId: number): void {
    for (const [chunkId, list] of this.#pending) {
      const left = list.filter((w) => w.editId !== editId);
      if (left.length === list.length) continue;
      if (left.length > 0) this.#pending.set(chunkId, left);
      else this.#pending.delete(chunkId);
    }
  }

  /** Chunks with edits waiting for an anchor. */
  get waiting(): number {
    return this.#pending.size;
  }

  destroy(): void {
    this.#destroyed = true;
    clearTimeout(this.#timer);
    this.#stopAnchored();
  }

  #schedule(): void {
    if (this.#destroyed || this.#timer || this.#flushing || this.#pending.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushing = true;
      void this.#flush().finally(() => {
        this.#flushing = false;
        this.#schedule();
      });
    }, this.#options.batchDelayMs ?? 400);
  }

  async #flush(): Promise<void> {
    const { edits, replica, chain } = this.#options;
    const maxRebases = this.#options.maxRebases ?? 12;
    // One wait for every rebase of this flush: an edit ends within about a minute, whatever the races.
    const rebaseDeadline = performance.now() + (this.#options.rebaseWaitMs ?? 40_000);
    for (let attempt = 0; !this.#destroyed; attempt++) {
      const chunkIds = [...this.#pending.keys()].slice(0, this.#options.maxBatch ?? 64);
      if (chunkIds.length === 0) return;
      // Everything each snapshot covers now; edits made after this go in the next batch.
      const batch = chunkIds.map((chunkId) => {
        const included = this.#pending.get(chunkId) ?? [];
        this.#pending.delete(chunkId);
        const state = replica.chunk(chunkId);
        const snapshot = encodeChunk(state.blocks).slice();
        const expectedVersion = replica.version(chunkId);
        const hash = replica.hash(chunkId);
        // The watermark covers every op the replica holds: the snapshot is final up to it.
        const watermark = replica.clock.send();
        const infoHash = chunkTorrent(chunkId, expectedVersion + 1, snapshot).infoHash;
        return { chunkId, included, snapshot, expectedVersion, hash, watermark, infoHash };
      });
      for (const item of batch) this.#inFlight.set(item.chunkId, item.included);
      const ids = batch.flatMap((item) => item.included.map((w) => w.editId));
      edits.update(ids, { note: `anchoring ${batch.length} chunk${batch.length === 1 ? "" : "s"} in one transaction` });
      const updates: AnchorUpdate[] = batch.map((item) => ({
        chunkId: item.chunkId,
        expectedVersion: item.expectedVersion,
        newHash: item.hash,
        infoHash: item.infoHash,
        watermark: packHlc(item.watermark),
      }));
      try {
        this.stats.batches++;
        const receipt = await chain.anchorBatch(updates).finally(() => this.#inFlight.clear());
        for (const item of batch) {
          const version = receipt.versions.get(item.chunkId) ?? item.expectedVersion + 1;
          const head: AnchoredHead = {
            chunkId: item.chunkId,
            version,
            hash: item.hash,
            infoHash: item.infoHash,
            watermark: item.watermark,
          };
          this.#takeOwnAnchor(head, item.snapshot);
          this.stats.anchors++;
          // An edit bounced while its anchor was on the way is not in it: it keeps its bounce.
          const included = this.#standing(item.included.map((w) => w.editId));
          edits.update(included, {
            state: "anchoring",
            version: BigInt(version),
            txHash: receipt.txHash,
            note: `in block ${receipt.blockNumber} · awaiting the indexer`,
          });
          void this.#confirm(head, included, receipt.blockNumber);
        }
        return;
      } catch (error) {
        const failure = toAnchorError(error);
        // Put the batch back in front: its edits are still ours to anchor.
        for (const item of batch.reverse()) this.#requeue(item.chunkId, item.included);
        if (failure.code === "STALE_CHUNK_VERSION" && failure.stale && attempt >= maxRebases) {
          // Only the chunk that keeps losing fails: the batch's other chunks go again without it.
          this.#fail(failure.stale.chunkId, `${failure.reason} (lost ${attempt + 1} races in a row)`);
          continue;
        }
        if (failure.code === "STALE_CHUNK_VERSION" && failure.stale) {
          this.stats.rebases++;
          const { chunkId, actual } = failure.stale;
          edits.update(this.#ids(chunkId), { note: `lost a race to v${actual}: rebasing` });
          const rebased = await this.#rebase(chunkId, actual, rebaseDeadline);
          if (!rebased) {
            this.#fail(chunkId, `lost a race to v${actual}, and its snapshot could not be fetched`);
          }
          // Players who lost to the same winner would otherwise all go again in the same block.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * (this.#options.batchDelayMs ?? 400)));
          continue;
        }
        debug("anchor batch failed: %s", failure.message);
        for (const item of batch) this.#fail(item.chunkId, failure.reason);
        return;
      }
    }
  }

  /** Our anchor landed: its snapshot becomes the chunk's base here, is cached, seeded and announced. */
  #takeOwnAnchor(head: AnchoredHead, snapshot: Uint8Array): void {
    const blocks = decodeChunk(snapshot);
    this.#ownAnchor = head.chunkId;
    try {
      this.#options.replica.anchor(head.chunkId, head.version, blocks, head.watermark);
    } finally {
      this.#ownAnchor = undefined;
    }
    void this.#options.sync
      ?.anchored(head, snapshot)
      .catch((error: Error) => debug("could not seed chunk %s v%d: %s", head.chunkId, head.version, error.message));
  }

  /**
   * The ledger moved past our version: take the winner's snapshot (checked against the ledger's hash),
   * rebuilt from the ops we hold when they fold to it, else fetched. No peer may hold it yet (we are still
   * joining, or the winner has not seeded it): ask again with backoff, and stop as soon as the chunk is at
   * `version`, whoever brought it (the join sync, a peer's announce).
   */
  async #rebase(chunkId: bigint, version: number, deadline: number): Promise<boolean> {
    const { heads, sync, replica } = this.#options;
    let loading = false;
    let retryAt = 0;
    let backoffMs = 250;
    // As with a confirmation, the wait's clock stops while the indexer does not serve (down, restarting, or
    // behind the chain: it cannot say which snapshot won), up to the same hard cap.
    const cap = performance.now() + (this.#options.confirmCapMs ?? 300_000);
    let pausedMs = 0;
    let downSince: number | undefined;
    // From the moment the indexer first serves the winner, the peers who hold its snapshot get a fair
    // time to be found, however much of the batch's budget went before (an indexer back from a restart).
    let servedUntil = 0;
    const waitEnds = () =>
      Math.max(servedUntil, deadline + pausedMs + (downSince === undefined ? 0 : performance.now() - downSince));
    const load = async () => {
      const head = await heads.head(chunkId, version);
      if (downSince !== undefined) pausedMs += performance.now() - downSince;
      downSince = undefined;
      if (!head || head.version < version) throw new Error(`the indexer serves v${head?.version ?? 0} so far`);
      if (servedUntil === 0) servedUntil = performance.now() + REBASE_AFTER_SERVED_MS;
      // The winner folded the ops the mesh brought us too, most often: then its snapshot is rebuilt here.
      if (sync) await sync.load(head);
      else if (!replica.anchorFromOps(chunkId, head.version, head.hash, head.watermark))
        throw new Error(`the ops held do not rebuild v${head.version}, and there is no peer to fetch it from`);
    };
    // The hard cap bounds the wait, except the floor once the indexer serves the winner.
    while (!this.#destroyed && performance.now() < Math.max(Math.min(waitEnds(), cap), servedUntil)) {
      if (replica.version(chunkId) >= version) return true;
      if (!loading && performance.now() >= retryAt) {
        loading = true;
        void load()
          .catch((error: Error) => {
            if (error instanceof LedgerError) downSince ??= performance.now();
            debug("rebase of chunk %s on v%d: %s (again in %d ms)", chunkId, version, error.message, backoffMs);
            retryAt = performance.now() + backoffMs;
            backoffMs = Math.min(backoffMs * 2, 5_000);
          })
          .finally(() => {
            loading = false;
          });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return replica.version(chunkId) >= version;
  }

  /**
   * A peer's snapshot became the chunk's base: our waiting edits it covers are settled. Those it dropped were
   * rolled back; the others are in it, anchored by someone else.
   */
  #onPeerAnchor(chunkId: bigint, version: number, dropped: readonly { hlc: Hlc; author: string }[]): void {
    const watermark = this.#options.replica.chunk(chunkId).watermark;
    if (!watermark) return;
    const ours = this.#options.author.toLowerCase();
    const droppedStamps = new Set(
      dropped.filter((op) => op.author.toLowerCase() === ours).map((op) => `${op.hlc.wallMs}:${op.hlc.logical}`),
    );
    const list = this.#pending.get(chunkId);
    if (list) {
      const left = this.#settle(list, version, watermark, droppedStamps);
      if (left.length > 0) this.#pending.set(chunkId, left);
      else this.#pending.delete(chunkId);
    }
    // The batch on its way loses the settled edits: were it requeued after a lost race, they would be
    // anchored again (or, dropped from the replica, claimed anchored in a snapshot without them).
    const sent = this.#inFlight.get(chunkId);
    if (sent) sent.splice(0, sent.length, ...this.#settle(sent, version, watermark, droppedStamps));
  }

  /** Settles the edits of `list` the peer's anchor at `watermark` covers; returns the others. */
  #settle(list: readonly Waiting[], version: number, watermark: Hlc, droppedStamps: ReadonlySet<string>): Waiting[] {
    const left: Waiting[] = [];
    for (const waiting of list) {
      if (compareHlc(waiting.hlc, watermark) > 0) {
        left.push(waiting);
        continue;
      }
      const entry = this.#options.edits.entries.find((e) => e.id === waiting.editId);
      if (droppedStamps.has(`${waiting.hlc.wallMs}:${waiting.hlc.logical}`)) {
        if (entry)
          this.#options.edits.update(waiting.editId, lostEdit(this.#options.edits.entries, entry, version, watermark));
      } else
        this.#options.edits.update(waiting.editId, {
          state: "anchored",
          version: BigInt(version),
          note: `in v${version}, anchored by another player`,
        });
    }
    return left;
  }

  #standing(ids: readonly number[]): number[] {
    const wanted = new Set(ids);
    return this.#options.edits.entries
      .filter((entry) => wanted.has(entry.id) && isOpen(entry.state))
      .map((entry) => entry.id);
  }

  #requeue(chunkId: bigint, included: Waiting[]): void {
    const later = this.#pending.get(chunkId) ?? [];
    this.#pending.set(chunkId, [...included, ...later]);
  }

  #ids(chunkId: bigint): number[] {
    return (this.#pending.get(chunkId) ?? []).map((w) => w.editId);
  }

  /** The chunk's waiting edits will not be anchored: they fail, and leave the replica (the block shows what stands). */
  #fail(chunkId: bigint, reason: string): void {
    const { edits, replica, author } = this.#options;
    const waiting = this.#pending.get(chunkId) ?? [];
    this.#pending.delete(chunkId);
    edits.update(
      waiting.map((w) => w.editId),
      { state: "failed", reason, note: undefined },
    );
    const wanted = new Map(waiting.map((w) => [w.editId, w.hlc]));
    for (const entry of edits.entries) {
      const hlc = wanted.get(entry.id);
      if (!hlc) continue;
      const op: BlockOp = { chunk: chunkId, index: entry.index, block: entry.block, hlc, author };
      replica.retract(op);
    }
  }

  /**
   * Polls the indexer until it serves `head.version` (or later) with our hash. The timeout counts only the time
   * the indexer answers: while it is unreachable or behind the chain the clock stops (the note says why), up to
   * the hard cap, so every edit still ends.
   */
  async #confirm(head: AnchoredHead, editIds: number[], blockNumber: bigint): Promise<void> {
    const { edits, heads } = this.#options;
    const now = this.#options.now ?? (() => performance.now());
    const timeoutMs = this.#options.confirmTimeoutMs ?? 30_000;
    const capMs = this.#options.confirmCapMs ?? 300_000;
    const startedAt = now();
    let lookedAt = startedAt;
    let answering = 0;
    let down: string | undefined;
    let last = "no answer";
    let pollMs = 150;
    while (!this.#destroyed) {
      let served: AnchoredHead | undefined;
      let unavailable: string | undefined;
      try {
        served = await heads.head(head.chunkId);
      } catch (error) {
        unavailable = error instanceof IndexBehindError ? describeIndexBehind(error) : "the indexer does not answer";
        last = (error as Error).message;
      }
      if (this.#destroyed) return;
      const at = now();
      // Only the time the indexer answered counts against it: down or behind, it could not serve our anchor.
      if (!unavailable) answering += at - lookedAt;
      lookedAt = at;
      if (unavailable !== down) {
        down = unavailable;
        const standing = this.#standing(editIds);
        edits.update(standing, {
          note: down
            ? `in block ${blockNumber} · waiting for the indexer (${down})`
            : `in block ${blockNumber} · awaiting the indexer`,
        });
        if (down) debug("confirmation of chunk %s v%d paused: %s", head.chunkId, head.version, last);
      }
      if (served) {
        if (served.version > head.version || (served.version === head.version && sameHash(served.hash, head.hash))) {
          edits.update(editIds, { state: "anchored", note: undefined });
          return;
        }
        if (served.version === head.version) {
          edits.update(editIds, { state: "failed", reason: `the indexer holds another hash for v${head.version}` });
          return;
        }
        last = `indexer at v${served.version}`;
      }
      if (answering >= timeoutMs || at - startedAt >= capMs) break;
      // An anchor is indexed a few hundred ms after it is mined: look soon, then less and less often (every
      // client asking every 100 ms for each anchor in flight was a load the indexer felt).
      await new Promise((resolve) => setTimeout(resolve, down ? 250 : pollMs));
      pollMs = Math.min(pollMs * 1.3, 1_000);
    }
    if (this.#destroyed) return;
    const waited = Math.round((now() - startedAt) / 1000);
    edits.update(editIds, {
      state: "failed",
      reason:
        answering >= timeoutMs
          ? `not confirmed by the indexer in ${Math.round(timeoutMs / 1000)} s (${last})`
          : `not confirmed in ${waited} s: the indexer was down or behind (${last})`,
      note: undefined,
    });
  }
}

function sameHash(a: Hex | string, b: Hex | string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
