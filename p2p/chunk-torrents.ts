/**
 * The data plane: chunk snapshots as torrents (WebTorrent), their wires on the links of the mesh
 * (p2p/torrent-mux.ts), and the local cache behind them. Isomorphic: the WebTorrent client and the store
 * come from outside (p2p/node/torrent-client.ts and p2p/node/chunk-cache.ts in Node).
 *
 * - Serving: a peer that opens a wire for an infoHash we hold gets it from a torrent made on demand from
 *   the cache; torrents nobody asked for in a while are dropped, except the ones the seeding policy keeps
 *   (own constructions, chunks popular nearby), which are also announced to the trackers.
 * - Fetching: a wire to every linked peer that may hold the snapshot (and the trackers as a fallback);
 *   WebTorrent checks pieces against the torrent, and the whole snapshot is then checked against the
 *   anchored hash. A snapshot that does not match is dropped, and every peer that sent any of it is banned.
 * - Limits: upload and download rates (WebTorrent's token buckets), wires at once, and CPU for hashing.
 */
import createDebug from "debug";
import MemoryChunkStore from "memory-chunk-store";
import { bytesToHex, type Hex, keccak256 } from "viem";
import { CHUNK_BYTES, decodeChunk } from "../core/chunk.ts";
import { SeedcraftError } from "../core/errors.ts";
import { chunkHash } from "../core/merkle.ts";
import { chunkTorrent, type FileTorrent, fileTorrent, PIECE_BYTES } from "../core/torrent.ts";
import type { ChunkHead, ChunkStore } from "./chunk-store.ts";
import { CpuBudget } from "./cpu-budget.ts";
import {
  type FrameChannel,
  MAX_STREAM_BYTES_IN,
  type MuxViolation,
  TorrentMux,
  type WireStream,
} from "./torrent-mux.ts";

const log = createDebug("seedcraft:torrents");

export type TorrentLimits = {
  /** Bytes a second for all uploads; undefined: no limit. */
  uploadBytesPerSecond: number | undefined;
  downloadBytesPerSecond: number | undefined;
  /** Wires (one per torrent and peer) open at once, both ways. */
  maxWires: number;
  /** CPU for checking snapshots against their anchored hash, in ms a second. */
  hashMsPerSecond: number;
  /** Torrents kept seeding by the policy (own constructions first, then the most requested). */
  maxSeeded: number;
};

export const DEFAULT_TORRENT_LIMITS: TorrentLimits = {
  uploadBytesPerSecond: undefined,
  downloadBytesPerSecond: undefined,
  maxWires: 1024,
  hashMsPerSecond: 250,
  maxSeeded: 128,
};

/** What the data plane needs of a WebTorrent client (the package's own class in Node and browsers). */
export type TorrentClient = import("webtorrent").default;
type Torrent = import("webtorrent").Torrent;
type Wire = import("webtorrent").Wire;

export class SnapshotError extends SeedcraftError {
  constructor(
    code: "SNAPSHOT_MISMATCH" | "SNAPSHOT_TIMEOUT" | "SNAPSHOT_NO_SOURCE",
    message: string,
    details?: string,
  ) {
    super(code, message, details);
    this.name = "SnapshotError";
  }
}

/** A file torrent (an asset pack) that could not be fetched, or whose bytes were not the ones pinned. */
export class FileFetchError extends SeedcraftError {
  constructor(
    code: "FILE_MISMATCH" | "FILE_TIMEOUT" | "FILE_NO_SOURCE" | "FILE_TOO_LARGE",
    message: string,
    details?: string,
  ) {
    super(code, message, details);
    this.name = "FileFetchError";
  }
}

export type FileFetchResult = {
  infoHash: Hex;
  bytes: Uint8Array;
  /** Bytes each linked peer sent. */
  sources: { peerId: string; bytes: number }[];
  ms: number;
  /** What happened when, from the start (ms): peers asked, refusals, the first wire, metadata, done. */
  timeline: string;
};

/** The most bytes a file fetch takes unless told otherwise (asset packs are at most 8 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;

export type FetchResult = {
  head: ChunkHead;
  bytes: Uint8Array;
  /** Bytes of the snapshot each linked peer sent (receipts are signed for them). */
  sources: { peerId: string; bytes: number }[];
  fromCache: boolean;
  ms: number;
};

export type TorrentStats = {
  links: number;
  wires: number;
  /** Torrents alive now (serving or fetching), and the ones the seeding policy keeps. */
  torrents: number;
  seeded: number;
  uploadBytesPerSecond: number;
  downloadBytesPerSecond: number;
  uploadedBytes: number;
  downloadedBytes: number;
  served: number;
  fetched: number;
  rejected: number;
  banned: number;
  hashing: { usedMs: number; waitedMs: number };
  limits: TorrentLimits;
};

export type ChunkTorrentsOptions = {
  client: TorrentClient;
  store: ChunkStore;
  /** WebSocket trackers: the fallback for finding peers (browsers reach seeders through them). */
  trackers?: string[];
  limits?: Partial<TorrentLimits>;
  /** A torrent served on demand is dropped after this long without a wire. Default 5 s. */
  idleMs?: number;
  banMs?: number;
  now?: () => number;
  /** A linked peer broke the torrent channel's protocol or sent a poisoned snapshot. */
  onStrike?: (peerId: string, code: string) => void;
  /** A linked peer opened a wire and we served it (what a seeder counts). */
  onServe?: (peerId: string, head: ChunkHead) => void;
  /** A control message from a linked peer (receipts and their acknowledgements). */
  onControl?: (peerId: string, bytes: Uint8Array) => void;
};

type Live = { torrent: Promise<Torrent | undefined>; head: ChunkHead; lastUsedMs: number };

const noPrefix = (hex: Hex) => hex.slice(2).toLowerCase();
/** A chunk asked for this many times lately is popular: it is seeded (kept live, announced). */
const POPULAR_REQUESTS = 3;
const POPULARITY_HALF_LIFE_MS = 60_000;
/**
 * When a fetch with no peer yet first announces to the trackers again (offers take ~5 s to make in Node);
 * each later round waits twice as long, up to TRACKER_RETRY_MAX_MS. Every round sends 5 WebRTC offers that
 * live 50 s: a file nobody serves must not keep a browser making them every few seconds.
 */
const TRACKER_RETRY_MS = 6_000;
/**
 * A linked peer that closed our stream (it did not hold the torrent yet: an author seeds its snapshot a moment
 * after the anchor lands, and a keep-up round may ask first) is asked again after this, doubling, within the
 * fetch's time.
 */
const REASK_MS = 500;
/**
 * A fetch asks the linked seeders (peers that serve as their job, `seedcraft seed`, and are paid for it in
 * receipts) first, and the other linked peers this much later, or as soon as every seeder refused: a player's
 * upload is spared when a seeder has the snapshot, and the seeder earns what it serves. A peer that only says it
 * is a seeder costs a fetch this long at most.
 */
export const SEEDERS_FIRST_MS = 300;
const REASK_MAX_MS = 4_000;
const TRACKER_RETRY_MAX_MS = 48_000;
/** Snapshots are 64 KiB: torrents keep them in memory (the cache is the durable copy), never in WebTorrent's temp files. */
const IN_MEMORY = { store: MemoryChunkStore, destroyStoreOnDestroy: true };

export class ChunkTorrents {
  readonly limits: TorrentLimits;
  readonly #client: TorrentClient;
  readonly #store: ChunkStore;
  readonly #trackers: string[];
  readonly #idleMs: number;
  readonly #banMs: number;
  readonly #now: () => number;
  readonly #options: ChunkTorrentsOptions;
  readonly #hashing: CpuBudget;
  readonly #links = new Map<string, TorrentMux>();
  /** The linked peers that seed as their job (asked first, see SEEDERS_FIRST_MS). */
  readonly #seeders = new Set<string>();
  /** Open fetches in flight: told when a link is added, so they ask it too. */
  readonly #linkListeners = new Set<() => void>();
  /** Torrents we serve, by infoHash (lowercase, 0x). */
  readonly #live = new Map<string, Live>();
  readonly #fetching = new Map<string, Promise<FetchResult>>();
  /** Files we seed (asset packs), by infoHash: always live and announced, never swept. */
  readonly #files = new Map<string, { file: FileTorrent; bytes: Uint8Array; torrent: Promise<Torrent | undefined> }>();
  readonly #fetchingFiles = new Map<string, Promise<FileFetchResult>>();
  readonly #banned = new Map<string, number>();
  /** Wires opened to us per infoHash: what "popular nearby" means. */
  readonly #requests = new Map<string, number>();
  /** Own constructions: always seeded (the newest version of each chunk). */
  readonly #own = new Set<string>();
  readonly #ownByChunk = new Map<bigint, { version: number; key: string }>();
  #seeded = new Set<string>();
  #decayedAtMs: number;
  #served = 0;
  #fetched = 0;
  #rejected = 0;
  #sweeper: ReturnType<typeof setInterval>;
  #destroyed = false;

  constructor(options: ChunkTorrentsOptions) {
    this.#options = options;
    this.#client = options.client;
    this.#store = options.store;
    this.#trackers = options.trackers ?? [];
    this.#idleMs = options.idleMs ?? 5_000;
    this.#banMs = options.banMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#decayedAtMs = this.#now();
    this.limits = { ...DEFAULT_TORRENT_LIMITS, ...options.limits };
    this.#hashing = new CpuBudget(this.limits.hashMsPerSecond);
    this.setRateLimits(this.limits.uploadBytesPerSecond, this.limits.downloadBytesPerSecond);
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(1000, this.#idleMs));
    this.#sweeper.unref?.();
  }

  /** Changes the upload and download limits (bytes a second; undefined: none), effective at once. */
  setRateLimits(upload: number | undefined, download: number | undefined): void {
    this.limits.uploadBytesPerSecond = upload;
    this.limits.downloadBytesPerSecond = download;
    this.#client.throttleUpload(upload === undefined ? -1 : Math.round(upload));
    this.#client.throttleDownload(download === undefined ? -1 : Math.round(download));
  }

  /** A link's hello was verified: its torrent channel now carries wires. `seeder`: its hello says it seeds as its job. */
  addLink(peerId: string, channel: FrameChannel, options: { seeder?: boolean } = {}): TorrentMux {
    this.#links.get(peerId)?.close();
    if (options.seeder) this.#seeders.add(peerId);
    else this.#seeders.delete(peerId);
    const mux = new TorrentMux(peerId, channel, {
      onStream: (stream, infoHash) => void this.#serve(peerId, stream, infoHash),
      onControl: (bytes) => this.#options.onControl?.(peerId, bytes),
      onViolation: (code: MuxViolation, details) => {
        log("%s broke the torrent channel: %s %s", peerId.slice(0, 10), code, details);
        this.#options.onStrike?.(peerId, code);
      },
      onClose: () => {
        if (this.#links.get(peerId) !== mux) return;
        this.#links.delete(peerId);
        this.#seeders.delete(peerId);
      },
    });
    this.#links.set(peerId, mux);
    for (const listener of this.#linkListeners) listener();
    return mux;
  }

  removeLink(peerId: string): void {
    this.#links.get(peerId)?.close();
    this.#links.delete(peerId);
    this.#seeders.delete(peerId);
  }

  /** Sends a control message to a linked peer; false if it is not linked. */
  async control(peerId: string, bytes: Uint8Array): Promise<boolean> {
    const mux = this.#links.get(peerId);
    if (!mux || mux.closed) return false;
    await mux.control(bytes);
    return true;
  }

  isBanned(peerId: string): boolean {
    const until = this.#banned.get(peerId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#banned.delete(peerId);
    return false;
  }

  /**
   * Stores a snapshot we made or received elsewhere and serves it. `own`: the player's construction,
   * always seeded and never evicted from the cache.
   */
  async seed(head: ChunkHead, bytes: Uint8Array, options: { own?: boolean } = {}): Promise<void> {
    await this.#store.put(head, bytes, { pinned: options.own });
    if (options.own) {
      // Only the newest own version of a chunk is seeded as ours; older ones are like any other.
      const key = head.infoHash.toLowerCase();
      const previous = this.#ownByChunk.get(head.chunkId);
      if (previous && previous.version < head.version) this.#own.delete(previous.key);
      if (!previous || previous.version < head.version)
        this.#ownByChunk.set(head.chunkId, { version: head.version, key });
      this.#own.add(key);
    }
    this.#applyPolicy();
  }

  /**
   * The snapshot `head` names, from the cache or from peers: `from` (linked peer ids) or every linked peer
   * not banned, with the trackers as a fallback. Throws SnapshotError.
   */
  fetch(head: ChunkHead, options: { from?: string[]; timeoutMs?: number } = {}): Promise<FetchResult> {
    const key = head.infoHash.toLowerCase();
    const pending = this.#fetching.get(key);
    if (pending) return pending;
    const fetching = this.#fetch(head, options).finally(() => this.#fetching.delete(key));
    this.#fetching.set(key, fetching);
    return fetching;
  }

  /**
   * Seeds a file torrent (an asset pack) over the links and to the trackers until destroyed. `file` must be
   * `fileTorrent(file.name, bytes)`: the bytes are checked against it, so we never serve what we would not fetch.
   */
  async seedFile(file: FileTorrent, bytes: Uint8Array): Promise<void> {
    const key = file.infoHash.toLowerCase();
    const made = fileTorrent(file.name, bytes);
    if (made.infoHash !== key)
      throw new FileFetchError(
        "FILE_MISMATCH",
        "These bytes are not the file this torrent names.",
        `${key} ≠ ${made.infoHash}`,
      );
    if (this.#files.has(key)) return;
    const entry = { file: made, bytes, torrent: this.#preloaded(made, bytes, this.#trackers) };
    this.#files.set(key, entry);
    await entry.torrent;
  }

  /**
   * A file torrent (an asset pack) from the linked peers (`from`, or every one not banned) and the trackers,
   * resolved only once its keccak256 is `expectedHash`; a mismatch bans every peer that sent any of it.
   * Throws FileFetchError. A file we seed ourselves resolves at once.
   */
  fetchFile(
    infoHash: Hex,
    expectedHash: Hex,
    options: { from?: string[]; timeoutMs?: number; maxBytes?: number } = {},
  ): Promise<FileFetchResult> {
    const key = infoHash.toLowerCase();
    const pending = this.#fetchingFiles.get(key);
    if (pending) return pending;
    const fetching = this.#fetchFile(key as Hex, expectedHash, options).finally(() => this.#fetchingFiles.delete(key));
    this.#fetchingFiles.set(key, fetching);
    return fetching;
  }

  async #fetchFile(
    key: Hex,
    expectedHash: Hex,
    options: { from?: string[]; timeoutMs?: number; maxBytes?: number },
  ): Promise<FileFetchResult> {
    const started = this.#now();
    const own = this.#files.get(key);
    if (own && keccak256(own.bytes) === expectedHash.toLowerCase())
      return { infoHash: key, bytes: own.bytes, sources: [], ms: this.#now() - started, timeline: "seeded here" };
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    const { bytes, sources, marks } = await this.#download(key, {
      ...options,
      // A wire carries the metadata and protocol messages besides the file itself.
      maxBytesIn: maxBytes + MAX_STREAM_BYTES_IN,
      maxBytes,
      error: (code, message, details) =>
        new FileFetchError(`FILE_${code}`, message.replace("snapshot", "file"), details),
    });
    const hash = await this.#hashing.run(() => keccak256(bytes));
    if (hash !== expectedHash.toLowerCase()) {
      this.#rejected++;
      for (const { peerId } of sources) this.#ban(peerId, "FILE_MISMATCH");
      throw new FileFetchError(
        "FILE_MISMATCH",
        "A file did not match the hash pinned for it: dropped, and its senders banned.",
        `infoHash ${key}: expected ${expectedHash}, received ${hash} from ${sources.map((s) => s.peerId.slice(0, 10)).join(", ") || "the trackers' peers"}`,
      );
    }
    this.#fetched++;
    const timeline = marks.map(([what, at]) => `${what} +${Math.round(at - started)}`).join(", ");
    log(
      "fetched file %s (%d bytes) in %d ms from %s (%s)",
      key.slice(0, 10),
      bytes.length,
      this.#now() - started,
      sources.map((s) => `${s.peerId.slice(0, 10)} ${s.bytes} B`).join(", ") || "the trackers' peers",
      timeline,
    );
    return { infoHash: key, bytes, sources, ms: this.#now() - started, timeline };
  }

  stats(): TorrentStats {
    const wires = this.#wires();
    let banned = 0;
    for (const peerId of this.#banned.keys()) if (this.isBanned(peerId)) banned++;
    let uploaded = 0;
    let downloaded = 0;
    for (const torrent of this.#client.torrents) {
      uploaded += torrent.uploaded;
      downloaded += torrent.downloaded;
    }
    return {
      links: this.#links.size,
      wires,
      torrents: this.#client.torrents.length,
      seeded: this.#seeded.size,
      uploadBytesPerSecond: Math.round(this.#client.uploadSpeed),
      downloadBytesPerSecond: Math.round(this.#client.downloadSpeed),
      uploadedBytes: uploaded + this.#droppedUploaded,
      downloadedBytes: downloaded + this.#droppedDownloaded,
      served: this.#served,
      fetched: this.#fetched,
      rejected: this.#rejected,
      banned,
      hashing: this.#hashing.stats,
      limits: { ...this.limits },
    };
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    clearInterval(this.#sweeper);
    await this.settled();
    for (const mux of this.#links.values()) mux.close();
    this.#links.clear();
    await new Promise<void>((resolve) => this.#client.destroy(() => resolve()));
  }

  // Bytes of torrents already dropped, so the totals in stats only grow.
  #droppedUploaded = 0;
  #droppedDownloaded = 0;

  #drop(torrent: Torrent): void {
    this.#droppedUploaded += torrent.uploaded;
    this.#droppedDownloaded += torrent.downloaded;
    torrent.destroy({ destroyStore: true });
  }

  #wires(): number {
    let wires = 0;
    for (const mux of this.#links.values()) wires += mux.streams;
    return wires;
  }

  async #serve(peerId: string, stream: WireStream, infoHash: Hex): Promise<void> {
    if (this.#destroyed || this.isBanned(peerId) || this.#wires() > this.limits.maxWires) {
      log(
        "refusing %s to %s: %s",
        infoHash.slice(0, 10),
        peerId.slice(0, 10),
        this.#destroyed ? "stopped" : "banned or full",
      );
      stream.refuse();
      return;
    }
    const key = infoHash.toLowerCase();
    const started = this.#now();
    const torrent = await this.#torrentFor(key);
    if (!torrent || torrent.destroyed || stream.destroyed) {
      log(
        "refusing %s to %s: %s",
        key.slice(0, 10),
        peerId.slice(0, 10),
        torrent ? "its torrent or wire closed" : "not held",
      );
      stream.refuse();
      return;
    }
    if (this.#now() - started > 1000) log("serving %s took %d ms to start", key.slice(0, 10), this.#now() - started);
    else log("serving %s to %s", key.slice(0, 10), peerId.slice(0, 10));
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#served++;
    if (!torrent.addPeer(stream)) {
      log("refusing %s to %s: WebTorrent did not take the wire", key.slice(0, 10), peerId.slice(0, 10));
      stream.refuse();
    }
    const live = this.#live.get(key);
    if (live) {
      live.lastUsedMs = this.#now();
      this.#options.onServe?.(peerId, live.head);
    }
  }

  /** The torrent that serves `key`: one being fetched or served already, or a new one from the cache. */
  async #torrentFor(key: string): Promise<Torrent | undefined> {
    const file = this.#files.get(key);
    if (file) {
      const torrent = await file.torrent;
      if (torrent && !torrent.destroyed) return torrent;
      file.torrent = this.#preloaded(file.file, file.bytes, this.#trackers);
      return await file.torrent;
    }
    const live = this.#live.get(key);
    if (live) {
      const torrent = await live.torrent;
      if (torrent && !torrent.destroyed) return torrent;
      this.#live.delete(key);
    }
    const fetching = await this.#client.get(key.slice(2));
    if (fetching && !fetching.destroyed) return fetching;
    if (!this.#store.has(key as Hex)) return undefined;
    const cached = await this.#store.getByInfoHash(key as Hex);
    if (!cached) return undefined;
    const made = this.#live.get(key);
    if (made) return await made.torrent;
    const entry: Live = { head: cached.head, lastUsedMs: this.#now(), torrent: Promise.resolve(undefined) };
    entry.torrent = this.#seedTorrent(cached.head, cached.bytes);
    this.#live.set(key, entry);
    return await entry.torrent;
  }

  /**
   * A torrent serving a cached snapshot: built from our own metadata with the pieces already in its store,
   * so WebTorrent neither creates nor checks anything (the cache checked the bytes against their hash).
   */
  #seedTorrent(head: ChunkHead, bytes: Uint8Array): Promise<Torrent | undefined> {
    const key = head.infoHash.toLowerCase();
    const made = chunkTorrent(head.chunkId, head.version, bytes);
    if (made.infoHash !== key) {
      log("cached %s makes torrent %s: not served", key, made.infoHash);
      return Promise.resolve(undefined);
    }
    const announce = this.#seeded.has(key) || this.#own.has(key) ? this.#trackers : [];
    return this.#preloaded(made, bytes, announce);
  }

  /** A torrent of `bytes` from our own metadata with every piece already in its store: nothing to create or check. */
  #preloaded(made: FileTorrent, bytes: Uint8Array, announce: string[]): Promise<Torrent | undefined> {
    const key = made.infoHash;
    const store = new MemoryChunkStore(PIECE_BYTES, { length: bytes.length });
    for (let piece = 0; piece * PIECE_BYTES < bytes.length; piece++)
      store.put(piece, bytes.subarray(piece * PIECE_BYTES, (piece + 1) * PIECE_BYTES));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        log("seeding %s: WebTorrent never got ready", key.slice(0, 10));
        this.#drop(torrent);
        resolve(undefined);
      }, 5000);
      const torrent = this.#client.add(
        made.torrentFile,
        { preloadedStore: store, skipVerify: true, destroyStoreOnDestroy: true, announce },
        (ready) => {
          clearTimeout(timer);
          resolve(ready);
        },
      );
      torrent.once("error", (error: Error) => {
        clearTimeout(timer);
        log("seeding %s failed: %s", key, error.message);
        resolve(undefined);
      });
    });
  }

  async #fetch(head: ChunkHead, options: { from?: string[]; timeoutMs?: number }): Promise<FetchResult> {
    const started = this.#now();
    const key = head.infoHash.toLowerCase();
    const cached = this.#store.has(head.infoHash) ? await this.#store.getByInfoHash(head.infoHash) : undefined;
    if (cached && cached.head.hash.toLowerCase() === head.hash.toLowerCase())
      return { head, bytes: cached.bytes, sources: [], fromCache: true, ms: this.#now() - started };
    const { bytes, sources, marks } = await this.#download(key as Hex, {
      ...options,
      error: (code, message, details) =>
        new SnapshotError(`SNAPSHOT_${code as "TIMEOUT" | "NO_SOURCE"}`, message, details),
    }).catch((error: unknown) => {
      this.#applyPolicy();
      throw error;
    });
    try {
      const hash =
        bytes.length === CHUNK_BYTES ? await this.#hashing.run(() => bytesToHex(chunkHash(decodeChunk(bytes)))) : "";
      if (hash.toLowerCase() !== head.hash.toLowerCase()) {
        this.#rejected++;
        for (const { peerId } of sources) this.#ban(peerId, "SNAPSHOT_MISMATCH");
        throw new SnapshotError(
          "SNAPSHOT_MISMATCH",
          "A snapshot did not match the hash anchored for it: dropped, and its senders banned.",
          `chunk ${head.chunkId} v${head.version}: anchored ${head.hash}, received ${hash || `${bytes.length} bytes`} from ${sources.map((s) => s.peerId.slice(0, 10)).join(", ") || "the trackers' peers"}`,
        );
      }
      marks.push(["verified", this.#now()]);
      // Cached in the background: the snapshot is usable now, and a cache write waits its turn on the disk.
      this.#storing(this.#store.put(head, bytes, { checked: true }));
      this.#fetched++;
      if (log.enabled)
        log(
          "fetched %s in %d ms: %s",
          key.slice(0, 10),
          this.#now() - started,
          marks.map(([what, at]) => `${what} +${Math.round(at - started)}`).join(", "),
        );
      return { head, bytes, sources, fromCache: false, ms: this.#now() - started };
    } finally {
      this.#applyPolicy();
    }
  }

  /**
   * The bytes of torrent `key` from the linked peers and the trackers, checked piece by piece against its
   * metadata (the caller checks the whole). `error` makes the chunk's or the file's typed error.
   */
  async #download(
    key: Hex,
    options: {
      from?: string[];
      timeoutMs?: number;
      maxBytesIn?: number;
      maxBytes?: number;
      error: (code: "TIMEOUT" | "NO_SOURCE" | "TOO_LARGE", message: string, details: string) => Error;
    },
  ): Promise<{ bytes: Uint8Array; sources: { peerId: string; bytes: number }[]; marks: [string, number][] }> {
    const started = this.#now();
    const peers = (options.from ?? [...this.#links.keys()]).filter(
      (peerId) => this.#links.has(peerId) && !this.isBanned(peerId),
    );
    if (peers.length === 0 && this.#trackers.length === 0)
      throw options.error("NO_SOURCE", "No peer to fetch this snapshot from.", `infoHash ${key}`);

    const torrent = this.#client.add(noPrefix(key), { ...IN_MEMORY, announce: this.#trackers });
    const marks: [string, number][] = [["add", started]];
    torrent.once("metadata", () => marks.push(["metadata", this.#now()]));
    // Bytes each linked peer sent: counted as they come (WebTorrent drops seeders' wires once done). Each wire's
    // handshake is marked with whose it is: a linked peer's (over the mesh) or one the trackers found.
    const received = new Map<string, number>();
    torrent.on("wire", (wire: Wire) => {
      let linked: string | undefined;
      for (const [peerId, peer] of torrent._peers) {
        if (peer.wire !== wire || !this.#links.has(peerId)) continue;
        linked = peerId;
        wire.on("download", (bytes: number) => received.set(peerId, (received.get(peerId) ?? 0) + bytes));
      }
      marks.push([linked ? `wire ${linked.slice(0, 8)}` : "wire (trackers' peer)", this.#now()]);
    });
    const opened = new Set<string>();
    const streams: WireStream[] = [];
    let giveUp: ((error: Error) => void) | undefined;
    let finished = false;
    const reasks = new Map<string, { delayMs: number; timer: ReturnType<typeof setTimeout> }>();
    // Seeders first (SEEDERS_FIRST_MS), unless the caller named whom to ask.
    const seederStreams: WireStream[] = [];
    let everyone = options.from !== undefined || !peers.some((peerId) => this.#seeders.has(peerId));
    let everyoneTimer: ReturnType<typeof setTimeout> | undefined;
    const askEveryone = () => {
      if (everyone || finished) return;
      everyone = true;
      clearTimeout(everyoneTimer);
      if (torrent.infoHash) openWires();
    };
    if (!everyone) {
      everyoneTimer = setTimeout(askEveryone, SEEDERS_FIRST_MS);
      (everyoneTimer as { unref?: () => void }).unref?.();
    }
    const openWires = () => {
      // An open fetch also asks the peers linked since it started (a join's links come over a second or so).
      if (!options.from)
        for (const peerId of this.#links.keys())
          if (!peers.includes(peerId) && !this.isBanned(peerId)) peers.push(peerId);
      for (const peerId of peers) {
        const mux = this.#links.get(peerId);
        if (!mux || mux.closed || opened.has(peerId)) continue;
        const seeder = this.#seeders.has(peerId);
        if (!everyone && !seeder) continue;
        opened.add(peerId);
        marks.push([`ask ${peerId.slice(0, 8)}${seeder ? " (seeder)" : ""}`, this.#now()]);
        const stream = mux.open(key, { maxBytesIn: options.maxBytesIn });
        streams.push(stream);
        if (seeder) seederStreams.push(stream);
        stream.once("close", () => {
          if (finished || torrent.done) return;
          marks.push([`closed ${peerId.slice(0, 8)}`, this.#now()]);
          // Every seeder refused (it does not hold the snapshot) or left: the others need not wait.
          if (!everyone && seederStreams.every((s) => s.destroyed)) askEveryone();
          // Every peer named refused or left, and no tracker can find others: give up now, not at the timeout.
          if (options.from && this.#trackers.length === 0) {
            if (streams.every((s) => s.destroyed))
              giveUp?.(
                options.error(
                  "NO_SOURCE",
                  "Every peer asked for this snapshot refused or left.",
                  `infoHash ${key}, ${opened.size} linked peers asked`,
                ),
              );
            return;
          }
          // Otherwise the peer may hold it in a moment: ask it again while it stays linked.
          const delayMs = Math.min((reasks.get(peerId)?.delayMs ?? REASK_MS / 2) * 2, REASK_MAX_MS);
          const timer = setTimeout(() => {
            if (finished || torrent.done) return;
            opened.delete(peerId);
            openWires();
          }, delayMs);
          (timer as { unref?: () => void }).unref?.();
          reasks.set(peerId, { delayMs, timer });
        });
        torrent.addPeer(stream);
      }
    };
    if (torrent.infoHash) openWires();
    else torrent.once("infoHash", openWires);
    const onLink = () => {
      if (torrent.infoHash) openWires();
    };
    if (!options.from) this.#linkListeners.add(onLink);

    const timeoutMs = options.timeoutMs ?? 10_000;
    // With no peer yet, ask the trackers again now and then: their next round is minutes away, and a
    // connection they signaled may have failed.
    let reannounce: ReturnType<typeof setTimeout> | undefined;
    const scheduleAnnounce = (delayMs: number) => {
      reannounce = setTimeout(() => {
        if (torrent.numPeers === 0) torrent.discovery?.tracker?.update();
        scheduleAnnounce(Math.min(delayMs * 2, TRACKER_RETRY_MAX_MS));
      }, delayMs);
      (reannounce as { unref?: () => void }).unref?.();
    };
    if (this.#trackers.length > 0) scheduleAnnounce(TRACKER_RETRY_MS);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              options.error(
                "TIMEOUT",
                "No peer delivered this snapshot in time.",
                `infoHash ${key}, ${opened.size} linked peers asked, ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        giveUp = (error) => {
          clearTimeout(timer);
          reject(error);
        };
        if (torrent.done) finish();
        else torrent.once("done", finish);
        torrent.once("error", (error: Error) => {
          clearTimeout(timer);
          reject(error);
        });
        // A file bigger than the caller takes is refused once its metadata says so, before its pieces come.
        const { maxBytes } = options;
        if (maxBytes !== undefined) {
          const checkLength = () => {
            if (torrent.length > maxBytes)
              giveUp?.(
                options.error(
                  "TOO_LARGE",
                  "This file is larger than allowed.",
                  `${torrent.length} bytes, at most ${maxBytes}`,
                ),
              );
          };
          if (torrent.metadata) checkLength();
          else torrent.once("metadata", checkLength);
        }
      });
      marks.push(["done", this.#now()]);
      const file = torrent.files[0];
      const bytes = file ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array(0);
      return { bytes, sources: [...received].map(([peerId, bytes]) => ({ peerId, bytes })), marks };
    } finally {
      finished = true;
      clearTimeout(everyoneTimer);
      for (const { timer } of reasks.values()) clearTimeout(timer);
      this.#linkListeners.delete(onLink);
      clearTimeout(reannounce);
      this.#drop(torrent);
    }
  }

  /** Cache writes in flight: `settled()` waits for them. */
  readonly #writes = new Set<Promise<void>>();

  #storing(write: Promise<void>): void {
    const tracked = write.catch((error: Error) => log("could not cache a snapshot: %s", error.message));
    this.#writes.add(tracked);
    void tracked.finally(() => this.#writes.delete(tracked));
  }

  /** Resolves once every fetched snapshot so far is in the cache (or failed to get there). */
  async settled(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  #ban(peerId: string, code: string): void {
    this.#banned.set(peerId, this.#now() + this.#banMs);
    this.#options.onStrike?.(peerId, code);
    this.removeLink(peerId);
  }

  /**
   * Which cached snapshots to seed (kept live and announced to the trackers): own constructions, then the
   * chunks asked for at least POPULAR_REQUESTS times lately, most asked first, up to `maxSeeded` in all.
   */
  #applyPolicy(): void {
    const ranked = [...this.#requests.entries()]
      .filter(([key, count]) => count >= POPULAR_REQUESTS && !this.#own.has(key) && this.#store.has(key as Hex))
      .sort((a, b) => b[1] - a[1])
      .map(([key]) => key);
    this.#seeded = new Set([...this.#own, ...ranked].slice(0, Math.max(this.limits.maxSeeded, this.#own.size)));
    if (this.#destroyed) return;
    for (const key of this.#seeded) if (!this.#live.has(key)) void this.#torrentFor(key);
  }

  /**
   * Drops torrents served on demand once nobody has used them for `idleMs` (the policy's are kept): one
   * is made again from the cache in a few milliseconds, while a live one holds its snapshot in memory.
   */
  #sweep(): void {
    const now = this.#now();
    for (const [key, live] of this.#live) {
      if (this.#seeded.has(key) || now - live.lastUsedMs < this.#idleMs) continue;
      void live.torrent.then((torrent) => {
        if (torrent && !torrent.destroyed && torrent.wires.length > 0) {
          live.lastUsedMs = now;
          return;
        }
        if (this.#live.get(key) === live) this.#live.delete(key);
        if (torrent && !torrent.destroyed) this.#drop(torrent);
      });
    }
    // Popularity fades: counts halve every minute, so "popular" means popular lately.
    if (now - this.#decayedAtMs >= POPULARITY_HALF_LIFE_MS) {
      this.#decayedAtMs = now;
      for (const [key, count] of this.#requests) {
        if (count <= 1) this.#requests.delete(key);
        else this.#requests.set(key, count >> 1);
      }
      this.#applyPolicy();
    }
  }
}
