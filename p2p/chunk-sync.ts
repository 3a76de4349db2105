/**
 * Keeping a peer's chunks at their anchored versions: the join sync (the heads around the avatar from the
 * indexer, snapshots from the cache, then from torrents) and the live path (a peer's chunk metadata,
 * checked against the indexer, then the snapshot rebuilt from the ops we hold or else fetched by its infoHash).
 * A snapshot becomes the base of the replica's chunk only once it matched the anchored hash; the ops above its
 * watermark stay on top.
 * Isomorphic.
 */
import createDebug from "debug";
import type { Hex } from "viem";
import { chunkCoordsOf, decodeChunk, encodeChunk } from "../core/chunk.ts";
import { chunkTorrent } from "../core/torrent.ts";
import type { ChunkMetaMessage } from "../core/wire.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { ChunkTorrents, FetchResult } from "./chunk-torrents.ts";
import { type AnchoredHead, type HeadSource, regionsAround } from "./heads.ts";
import { LedgerError } from "./ledger-error.ts";
import type { Mesh, MeshPeer } from "./mesh.ts";
import type { WorldReplica } from "./replica.ts";

const log = createDebug("seedcraft:sync");
/** How long the join sync waits before trying again the chunks it could not get on its first pass. */
const RETRY_DELAY_MS = 250;
/** Chunk metadata from one peer checked against the ledger at once; more is dropped until one is done. */
const MAX_META_IN_FLIGHT_PER_PEER = 4;
/**
 * Chunk metadata the ledger could not judge (the indexer down or catching up) waits, the newest version per
 * chunk and peer, and is checked again every META_RETRY_MS until it can be, for META_WAIT_MS at most: the version a
 * player anchored meanwhile is fetched from it as soon as the ledger knows it, not left to the one copy.
 */
const META_WAITING_MAX = 256;
const META_WAITING_PER_PEER = 32;
const META_RETRY_MS = 2000;
const META_WAIT_MS = 180_000;

export type SyncProgress = { total: number; done: number; fromCache: number; fetched: number; failed: number };

export type SyncResult = SyncProgress & { ms: number; heads: AnchoredHead[] };

export type ChunkSyncOptions = {
  mesh: Mesh;
  replica: WorldReplica;
  torrents: ChunkTorrents;
  store: ChunkStore;
  heads: HeadSource;
  /** Snapshots fetched at once during a sync. Default 32. */
  parallel?: number;
  /** How long the indexer may lag behind a peer's chunk metadata before we give up on it. Default 5 s. */
  confirmMs?: number;
  /** Every snapshot fetched from peers (receipts are signed for them). */
  onFetched?: (result: FetchResult) => void;
  now?: () => number;
};

type WaitingMeta = { message: ChunkMetaMessage; from: MeshPeer; since: number };

export class ChunkSync {
  readonly #options: ChunkSyncOptions;
  readonly #now: () => number;
  /** chunk:version loaded (or announced by us): each is handled once. */
  readonly #seen = new Set<string>();
  /** chunk:version being checked or fetched now, and how many each peer has in flight. */
  readonly #inFlight = new Set<string>();
  readonly #perPeer = new Map<string, number>();
  /** Fetch results already reported (several loads may share one fetch). */
  readonly #reported = new WeakSet<FetchResult>();
  #stopMeta: () => void;
  #keepUpTimer: ReturnType<typeof setInterval> | undefined;
  /** Per chunk and peer, the newest metadata the ledger could not judge yet, oldest first (see META_WAITING_MAX). */
  readonly #waiting = new Map<string, WaitingMeta>();
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #retrying = false;
  #stopped = false;
  /** Peers' anchors taken by rebuilding them from the ops held, instead of fetching their snapshots. */
  readonly stats = { rebuilt: 0 };

  constructor(options: ChunkSyncOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#stopMeta = options.mesh.on("chunkMeta", (message, from) => void this.#onMeta(message, from));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#waitTimer);
    this.#waiting.clear();
    this.#stopMeta();
    clearInterval(this.#keepUpTimer);
    this.#keepUpTimer = undefined;
  }

  /**
   * Chunk metadata is a hint sent once: a peer that was not linked with the anchoring player when it
   * announced, or whose check of it found the indexer behind, would hold an old version until told again.
   * Every `everyMs`, the ledger's heads within `radius` chunk columns of `where()` are read again, and what
   * is behind them is loaded (one indexer read a round; nothing fetched when all is current). Replaces an
   * earlier call's rounds.
   */
  keepUp(where: () => { cx: number; cz: number }, radius: number, everyMs: number): void {
    clearInterval(this.#keepUpTimer);
    let running = false;
    this.#keepUpTimer = setInterval(() => {
      if (running) return;
      running = true;
      const { cx, cz } = where();
      this.syncAround(cx, cz, radius)
        .then((result) => {
          const caught = result.fetched + result.fromCache;
          if (caught > 0 || result.failed > 0)
            log(
              "kept up around %d,%d: %d versions the metadata missed loaded, %d failed",
              cx,
              cz,
              caught,
              result.failed,
            );
        })
        .catch((error: Error) => log("keeping up around %d,%d: %s", cx, cz, error.message))
        .finally(() => {
          running = false;
        });
    }, everyMs);
    (this.#keepUpTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Brings every anchored chunk within `radius` chunk columns of (cx, cz) to its anchored version: the
   * join sync. Reports progress as it goes; never throws for one chunk (it counts as failed).
   */
  async syncAround(
    cx: number,
    cz: number,
    radius: number,
    onProgress?: (progress: SyncProgress) => void,
  ): Promise<SyncResult> {
    const started = this.#now();
    const all = await this.#options.heads.regions(regionsAround(cx, cz, radius));
    const heads = all.filter((head) => {
      const c = chunkCoordsOf(head.chunkId);
      return Math.abs(c.cx - cx) <= radius && Math.abs(c.cz - cz) <= radius;
    });
    const progress: SyncProgress = { total: heads.length, done: 0, fromCache: 0, fetched: 0, failed: 0 };
    onProgress?.({ ...progress });
    const queue = heads.filter((head) => this.#options.replica.version(head.chunkId) < head.version);
    progress.done = heads.length - queue.length;
    const worker = async () => {
      for (let head = queue.shift(); head; head = queue.shift()) {
        try {
          const outcome = await this.load(head);
          if (outcome === "cache" || outcome === "folded") progress.fromCache++;
          else if (outcome === "fetched") progress.fetched++;
        } catch (error) {
          progress.failed++;
          log("chunk %s v%d: %s", head.chunkId, head.version, (error as Error).message);
        }
        progress.done++;
        onProgress?.({ ...progress });
      }
    };
    await Promise.all(Array.from({ length: this.#options.parallel ?? 32 }, worker));
    // A second pass for what failed: a join's links keep coming for a second or so.
    const failed = heads.filter((head) => this.#options.replica.version(head.chunkId) < head.version);
    if (failed.length > 0 && failed.length < heads.length) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      for (const head of failed) {
        try {
          const outcome = await this.load(head);
          progress.failed--;
          if (outcome === "cache" || outcome === "folded") progress.fromCache++;
          else if (outcome === "fetched") progress.fetched++;
          onProgress?.({ ...progress });
        } catch (error) {
          log("chunk %s v%d, again: %s", head.chunkId, head.version, (error as Error).message);
        }
      }
    }
    return { ...progress, ms: this.#now() - started, heads };
  }

  /**
   * Makes `head` (read from the ledger) the chunk's base: rebuilt from the ops held when they fold to its hash,
   * else from the cache, else from torrents (`from` first, if given). Throws SnapshotError when no peer
   * delivers a matching snapshot.
   */
  async load(head: AnchoredHead, from?: string[]): Promise<"held" | "cache" | "folded" | "fetched"> {
    const { replica, store, torrents } = this.#options;
    if (replica.version(head.chunkId) >= head.version) return "held";
    // Most often the mesh brought us every op the anchor folded: rebuild it here rather than fetch it.
    const folded = replica.anchorFromOps(head.chunkId, head.version, head.hash, head.watermark);
    if (folded) {
      const bytes = encodeChunk(folded);
      // Seeded like a fetched snapshot, if it is byte for byte the torrent the ledger names.
      if (chunkTorrent(head.chunkId, head.version, bytes).infoHash === head.infoHash.toLowerCase())
        void torrents
          .seed(head, bytes)
          .catch((error: Error) => log("chunk %s v%d: not seeded: %s", head.chunkId, head.version, error.message));
      this.stats.rebuilt++;
      log("chunk %s v%d: rebuilt from the ops held", head.chunkId, head.version);
      return "folded";
    }
    const cached = await store.get(head.chunkId, head.version);
    let bytes: Uint8Array;
    let outcome: "cache" | "fetched";
    if (cached && cached.head.hash === head.hash) {
      bytes = cached.bytes;
      outcome = "cache";
    } else {
      const result = await torrents.fetch(head, from ? { from } : {});
      if (!this.#reported.has(result)) {
        this.#reported.add(result);
        this.#options.onFetched?.(result);
      }
      bytes = result.bytes;
      outcome = result.fromCache ? "cache" : "fetched";
    }
    replica.anchor(head.chunkId, head.version, decodeChunk(bytes), head.watermark);
    return outcome;
  }

  /**
   * Our own anchor landed: keep the snapshot (pinned: our construction), seed it, and tell the peers.
   */
  async anchored(head: AnchoredHead, snapshot: Uint8Array): Promise<void> {
    await this.#options.torrents.seed(head, snapshot, { own: true });
    this.#seen.add(`${head.chunkId}:${head.version}`);
    this.#options.mesh.announceChunk(metaOf(head));
  }

  /**
   * Checks one claim and loads what it names. "waiting": the ledger could not say, and the claim waits (see
   * #wait). A retry of a waiting claim (`retry`) is not held to the per-peer cap: retries go one at a time.
   */
  async #onMeta(message: ChunkMetaMessage, from: MeshPeer, retry = false): Promise<"waiting" | undefined> {
    const key = `${message.chunk}:${message.version}`;
    const version = Number(message.version);
    if (this.#seen.has(key) || this.#inFlight.has(key) || this.#options.replica.version(message.chunk) >= version)
      return undefined;
    // Each claim costs indexer reads until the ledger confirms it: a peer gets a few in flight at once.
    const mine = this.#perPeer.get(from.id) ?? 0;
    if (mine >= MAX_META_IN_FLIGHT_PER_PEER && !retry) {
      log(
        "chunk %s v%d from %s: dropped, %d of its claims in flight",
        message.chunk,
        version,
        from.id.slice(0, 10),
        mine,
      );
      return undefined;
    }
    log("chunk %s v%d from %s: checking", message.chunk, version, from.id.slice(0, 10));
    this.#perPeer.set(from.id, mine + 1);
    this.#inFlight.add(key);
    try {
      return await this.#confirmAndLoad(message, from, key, version);
    } finally {
      this.#inFlight.delete(key);
      const left = (this.#perPeer.get(from.id) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(from.id, left);
      else this.#perPeer.delete(from.id);
    }
  }

  async #confirmAndLoad(
    message: ChunkMetaMessage,
    from: MeshPeer,
    key: string,
    version: number,
  ): Promise<"waiting" | undefined> {
    // The ledger, not the peer, says what the snapshot must hash to; the indexer may lag a little.
    const deadline = this.#now() + (this.#options.confirmMs ?? 5000);
    let head: AnchoredHead | undefined;
    let unanswered = false;
    while (this.#now() < deadline) {
      try {
        head = await this.#options.heads.head(message.chunk, version);
        unanswered = false;
      } catch (error) {
        head = undefined;
        unanswered = error instanceof LedgerError;
        // Down or catching up: no use asking every 100 ms. The claim waits for the ledger (see #wait).
        if (unanswered) break;
      }
      if (head && head.version >= version) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!head || head.version < version) {
      if (unanswered) {
        log("chunk %s v%d from %s: the ledger cannot say yet", message.chunk, version, from.id.slice(0, 10));
        this.#wait(message, from);
        return "waiting";
      }
      log("chunk %s v%d from %s: not on the ledger", message.chunk, version, from.id.slice(0, 10));
      return undefined;
    }
    try {
      await this.load(head);
      // Only a version loaded counts as seen: a false claim, or a fetch that failed, does not hide the real one.
      this.#seen.add(key);
      if (this.#seen.size > 100_000) this.#seen.clear();
      // Pass it on: the peers of our peers learn it the same way, each fetching from whoever told it.
      this.#options.mesh.announceChunk(metaOf(head), from.id);
    } catch (error) {
      log("chunk %s v%d: %s", message.chunk, head.version, (error as Error).message);
    }
    return undefined;
  }

  /**
   * Keeps a claim the ledger could not judge: the newest per chunk and peer (one peer's claim never pushes out
   * another's), META_WAITING_PER_PEER per peer, META_WAITING_MAX in all; and schedules the next look.
   */
  #wait(message: ChunkMetaMessage, from: MeshPeer, since = this.#now()): void {
    if (this.#stopped) return;
    const key = `${message.chunk}:${from.id}`;
    const held = this.#waiting.get(key);
    if (held && held.message.version >= message.version) return;
    if (!held) {
      const fromPeer = [...this.#waiting.entries()].filter(([, entry]) => entry.from.id === from.id);
      if (fromPeer.length >= META_WAITING_PER_PEER) this.#waiting.delete((fromPeer[0] as [string, unknown])[0]);
      if (this.#waiting.size >= META_WAITING_MAX) this.#waiting.delete(this.#waiting.keys().next().value as string);
    }
    this.#waiting.set(key, { message, from, since: held?.since ?? since });
    if (this.#waitTimer !== undefined || this.#retrying) return;
    this.#waitTimer = setTimeout(() => void this.#retryWaiting(), META_RETRY_MS);
    (this.#waitTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Checks the waiting claims again, oldest first and one at a time. The first that the ledger still cannot
   * judge ends the round (one indexer request every META_RETRY_MS while it is away); it and the rest wait on,
   * with the time they first came.
   */
  async #retryWaiting(): Promise<void> {
    this.#waitTimer = undefined;
    this.#retrying = true;
    try {
      while (!this.#stopped && this.#waiting.size > 0) {
        const [key, entry] = this.#waiting.entries().next().value as [string, WaitingMeta];
        this.#waiting.delete(key);
        const { message, from, since } = entry;
        if (this.#now() - since > META_WAIT_MS) continue;
        if ((await this.#onMeta(message, from, true)) === "waiting") {
          // #wait put it back (at the end): its first time stands.
          const again = this.#waiting.get(key);
          if (again) again.since = since;
          break;
        }
      }
    } catch (error) {
      log("waiting claims: %s", (error as Error).message);
    } finally {
      this.#retrying = false;
      if (this.#waiting.size > 0 && !this.#stopped && this.#waitTimer === undefined) {
        this.#waitTimer = setTimeout(() => void this.#retryWaiting(), META_RETRY_MS);
        (this.#waitTimer as { unref?: () => void }).unref?.();
      }
    }
  }
}

export function metaOf(head: AnchoredHead): ChunkMetaMessage {
  return {
    type: "chunkMeta",
    chunk: head.chunkId,
    version: BigInt(head.version),
    hash: head.hash as Hex,
    infoHash: head.infoHash,
    watermark: head.watermark,
  };
}
