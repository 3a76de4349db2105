/**
 * Node-only: the chunk cache as files (the ChunkStore of p2p/chunk-store.ts).
 * - Each snapshot is `<dir>/chunks/<chunkId hex>-<version>.chunk` (its raw 65,536 bytes); the metadata of
 *   every entry (hashes, pinned, last use) lives in memory and in `<dir>/index.json`, saved at most every
 *   500 ms and on `close`. Both are written to a temp file and renamed, so no name ever holds half a file.
 * - `open` trusts the index only as far as the files go: entries without a file are dropped, and files the
 *   index does not know (a crash before it was saved) are adopted, their hashes computed from the bytes.
 * - Every read checks the bytes against the entry's hash; a corrupt entry is deleted and reported as absent,
 *   so the caller fetches it again.
 * - Least-recently-used entries are evicted past `maxEntries` or `maxBytes`; pinned ones (the player's own
 *   constructions) never are. Snapshot bytes are never kept in memory.
 * One directory belongs to one process: `open` deletes the temp files it finds. And to one world: opened with
 *   `world`, it holds no other world's snapshot (p2p/node/world-dir.ts), so nothing is adopted across worlds.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import createDebug from "debug";
import type { Hex } from "viem";
import { CHUNK_BYTES, parseChunkId } from "../../core/chunk.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import {
  type CachedChunk,
  type ChunkHead,
  type ChunkStore,
  ChunkStoreError,
  type ChunkStoreStats,
  checkSnapshot,
  snapshotHash,
} from "../chunk-store.ts";
import { claimDirForWorld, type WorldOptions } from "./world-dir.ts";

const debug = createDebug("seedcraft:cache");

export type CacheLimits = { maxEntries: number; maxBytes: number };

export const DEFAULT_CACHE_LIMITS: Readonly<CacheLimits> = { maxEntries: 20_000, maxBytes: 1024 * 1024 * 1024 };

const CHUNKS_DIR = "chunks";
const INDEX_FILE = "index.json";
const INDEX_FORMAT = 1;
const SAVE_DELAY_MS = 500;
const CHUNK_FILE = /^([0-9a-f]{1,24})-(0|[1-9][0-9]{0,15})\.chunk$/;
const HASH = /^0x[0-9a-f]{64}$/;
const INFO_HASH = /^0x[0-9a-f]{40}$/;

type Entry = {
  chunkId: bigint;
  version: number;
  /** Lowercase, as every comparison uses them. */
  hash: Hex;
  infoHash: Hex;
  /**
   * SHA-256 of the file (node:crypto, some 20 times faster than the chunk's keccak Merkle root): what a
   * read checks. Set when the bytes were checked against `hash`; undefined until then (old indexes).
   */
  sum: string | undefined;
  pinned: boolean;
  /** A counter, not a time: only the order matters, and it survives restarts in the index. */
  lastUsed: number;
};

/** What index.json holds per entry (the chunk id as a decimal string). */
type IndexEntry = {
  chunkId: string;
  version: number;
  hash: string;
  infoHash: string;
  sum?: string;
  pinned: boolean;
  lastUsed: number;
};

const keyOf = (chunkId: bigint, version: number) => `${chunkId}:${version}`;
const fileNameOf = (chunkId: bigint, version: number) => `${chunkId.toString(16)}-${version}.chunk`;
const sumOf = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
const SUM = /^[0-9a-f]{64}$/;
const headOf = (entry: Entry): ChunkHead => ({
  chunkId: entry.chunkId,
  version: entry.version,
  hash: entry.hash,
  infoHash: entry.infoHash,
});

let tempCounter = 0;
const tempNameOf = (path: string) => `${path}.${process.pid}.${++tempCounter}.tmp`;

/** Writes `data` under `path` through a temp file and a rename (no fsync: a torn file fails its hash check). */
async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = tempNameOf(path);
  try {
    await writeFile(temp, data, { flag: "wx" });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") debug("could not delete %s: %s", path, error.message);
  });
}

/** A file's bytes, or undefined if it is gone. */
async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function checkLimits(limits: CacheLimits): void {
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

/** An index.json entry, checked; undefined if anything in it is off. */
function parseIndexEntry(value: unknown): Entry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { chunkId, version, hash, infoHash, sum, pinned, lastUsed } = value as Partial<
    Record<keyof IndexEntry, unknown>
  >;
  if (typeof chunkId !== "string" || typeof hash !== "string" || typeof infoHash !== "string") return undefined;
  if (!Number.isSafeInteger(version) || (version as number) < 0) return undefined;
  if (!Number.isSafeInteger(lastUsed) || (lastUsed as number) < 0 || typeof pinned !== "boolean") return undefined;
  const lowerHash = hash.toLowerCase();
  const lowerInfoHash = infoHash.toLowerCase();
  if (!HASH.test(lowerHash) || !INFO_HASH.test(lowerInfoHash)) return undefined;
  let id: bigint;
  try {
    id = parseChunkId(chunkId);
  } catch {
    return undefined;
  }
  return {
    chunkId: id,
    version: version as number,
    hash: lowerHash as Hex,
    infoHash: lowerInfoHash as Hex,
    sum: typeof sum === "string" && SUM.test(sum) ? sum : undefined,
    pinned,
    lastUsed: lastUsed as number,
  };
}

export class NodeChunkCache implements ChunkStore {
  readonly #chunksDir: string;
  readonly #indexPath: string;
  readonly #limits: CacheLimits;
  /** By `${chunkId}:${version}`, in least-recently-used-first order (a use moves an entry to the end). */
  readonly #entries = new Map<string, Entry>();
  /** Lowercase infoHash → key. */
  readonly #byInfoHash = new Map<string, string>();
  readonly #versions = new Map<bigint, Set<number>>();
  readonly #newest = new Map<bigint, number>();
  #clock = 0;
  #pinnedCount = 0;
  #hits = 0;
  #misses = 0;
  #corrupt = 0;
  #evicted = 0;
  #dirty = false;
  #saveTimer: NodeJS.Timeout | undefined;
  /** File and index changes run one at a time, so an eviction never deletes a file a put just renamed. */
  #tail: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  private constructor(dir: string, limits: CacheLimits) {
    this.#chunksDir = join(dir, CHUNKS_DIR);
    this.#indexPath = join(dir, INDEX_FILE);
    this.#limits = limits;
  }

  /**
   * Opens (creating `dir` if needed), reconciling its index with the files there. With `world` (core/deployment.ts `worldKeyOf`), a directory that holds
   * another world's snapshots is emptied first (p2p/node/world-dir.ts), and `log` hears of it.
   */
  static async open(dir: string, options: Partial<CacheLimits> & WorldOptions = {}): Promise<NodeChunkCache> {
    const { world, log, ...limits } = options;
    const merged = { ...DEFAULT_CACHE_LIMITS, ...limits };
    checkLimits(merged);
    if (world !== undefined) await claimDirForWorld(dir, world, log);
    const cache = new NodeChunkCache(dir, merged);
    await mkdir(cache.#chunksDir, { recursive: true });
    await cache.#load(dir);
    await cache.#evict();
    return cache;
  }

  async #load(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true }))
      if (entry.isFile() && entry.name.startsWith(`${INDEX_FILE}.`) && entry.name.endsWith(".tmp"))
        await unlinkQuietly(join(dir, entry.name));
    const files = new Set<string>();
    for (const entry of await readdir(this.#chunksDir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      if (entry.name.endsWith(".tmp")) await unlinkQuietly(join(this.#chunksDir, entry.name));
      else files.add(entry.name);
    }
    const indexed = await this.#readIndex();
    // Oldest use first, so the map's order is the LRU order again.
    indexed.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of indexed) {
      const name = fileNameOf(entry.chunkId, entry.version);
      const key = keyOf(entry.chunkId, entry.version);
      if (!files.has(name) || this.#entries.has(key) || this.#byInfoHash.has(entry.infoHash)) {
        debug("dropping index entry %s (no file or a duplicate)", key);
        this.#dirty = true;
        continue;
      }
      files.delete(name);
      this.#add(entry);
      this.#clock = Math.max(this.#clock, entry.lastUsed);
    }
    // What is left was written after the last index save: adopt it as the most recently used.
    for (const name of files) await this.#adopt(name);
    if (this.#dirty) this.#scheduleSave();
  }

  async #readIndex(): Promise<Entry[]> {
    const text = await readIfPresent(this.#indexPath);
    if (text === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString("utf8"));
    } catch (error) {
      debug("index.json is not valid JSON, rebuilding it from the files: %s", (error as Error).message);
      this.#dirty = true;
      return [];
    }
    const list = (parsed as { entries?: unknown } | null)?.entries;
    if (!Array.isArray(list)) {
      debug("index.json has no entries list, rebuilding it from the files");
      this.#dirty = true;
      return [];
    }
    const entries: Entry[] = [];
    for (const item of list) {
      const entry = parseIndexEntry(item);
      if (entry) entries.push(entry);
      else this.#dirty = true;
    }
    return entries;
  }

  async #adopt(name: string): Promise<void> {
    const path = join(this.#chunksDir, name);
    const match = CHUNK_FILE.exec(name);
    const chunkId = match ? BigInt(`0x${match[1]}`) : undefined;
    const version = match ? Number(match[2]) : undefined;
    // The name must be the canonical one (no leading zeros), or two files could claim one entry.
    if (chunkId === undefined || version === undefined || fileNameOf(chunkId, version) !== name) {
      debug("deleting %s: not a chunk file name", name);
      return await unlinkQuietly(path);
    }
    const bytes = await readIfPresent(path);
    if (!bytes || bytes.length !== CHUNK_BYTES) {
      debug("deleting %s: %d bytes, not %d", name, bytes?.length ?? 0, CHUNK_BYTES);
      return await unlinkQuietly(path);
    }
    const infoHash = chunkTorrent(chunkId, version, bytes).infoHash.toLowerCase() as Hex;
    if (this.#byInfoHash.has(infoHash)) return await unlinkQuietly(path);
    debug("adopting %s (not in the index)", name);
    this.#add({
      chunkId,
      version,
      hash: snapshotHash(bytes),
      infoHash,
      sum: sumOf(bytes),
      pinned: false,
      lastUsed: ++this.#clock,
    });
    this.#dirty = true;
  }

  async get(chunkId: bigint, version?: number): Promise<CachedChunk | undefined> {
    this.#checkOpen();
    const wanted = version ?? this.#newest.get(chunkId);
    return await this.#read(wanted === undefined ? undefined : keyOf(chunkId, wanted));
  }

  async getByInfoHash(infoHash: Hex): Promise<CachedChunk | undefined> {
    this.#checkOpen();
    return await this.#read(this.#byInfoHash.get(infoHash.toLowerCase()));
  }

  has(infoHash: Hex): boolean {
    this.#checkOpen();
    return this.#byInfoHash.has(infoHash.toLowerCase());
  }

  async put(head: ChunkHead, bytes: Uint8Array, options: { pinned?: boolean; checked?: boolean } = {}): Promise<void> {
    this.#checkOpen();
    const entry = this.#validate(head, bytes, options.checked === true);
    entry.pinned = options.pinned === true;
    // Queued synchronously, so a close() called after this put still waits for it.
    await this.#exclusive(async () => {
      await writeAtomic(join(this.#chunksDir, fileNameOf(entry.chunkId, entry.version)), bytes);
      const key = keyOf(entry.chunkId, entry.version);
      const old = this.#entries.get(key);
      // Pinning is sticky: a later unpinned put (a fetch of the same version) keeps it pinned.
      if (old) {
        entry.pinned ||= old.pinned;
        this.#remove(old);
      }
      entry.lastUsed = ++this.#clock;
      this.#add(entry);
      this.#changed();
      await this.#evict();
    });
  }

  heads(): ChunkHead[] {
    this.#checkOpen();
    const heads: ChunkHead[] = [];
    for (const [chunkId, version] of this.#newest) {
      const entry = this.#entries.get(keyOf(chunkId, version));
      if (entry) heads.push(headOf(entry));
    }
    return heads;
  }

  /** Every cached head, all versions (a seeder's claim looks up the snapshots its receipts name). */
  entries(): ChunkHead[] {
    this.#checkOpen();
    return [...this.#entries.values()].map(headOf);
  }

  /** Pins (or unpins) every cached version of `chunkId`; a chunk not cached is left alone. */
  pin(chunkId: bigint, pinned: boolean): void {
    this.#checkOpen();
    let changed = false;
    for (const version of this.#versions.get(chunkId) ?? []) {
      const entry = this.#entries.get(keyOf(chunkId, version));
      if (!entry || entry.pinned === pinned) continue;
      entry.pinned = pinned;
      this.#pinnedCount += pinned ? 1 : -1;
      changed = true;
    }
    if (!changed) return;
    this.#changed();
    // Unpinned entries may now be over the limits.
    if (!pinned) void this.#exclusive(() => this.#evict());
  }

  /** Readable after close too (for final logs). */
  get stats(): ChunkStoreStats {
    return {
      entries: this.#entries.size,
      bytes: this.#entries.size * CHUNK_BYTES,
      pinned: this.#pinnedCount,
      hits: this.#hits,
      misses: this.#misses,
      corrupt: this.#corrupt,
      evicted: this.#evicted,
    };
  }

  /** Waits for pending writes and saves the index; later calls are no-ops. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      await this.#exclusive(() => this.#saveIndex());
    })();
    await this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ChunkStoreError("CACHE_CLOSED", "The chunk cache is closed.");
  }

  /** Checks a put's input and returns its entry; throws CACHE_BAD_ENTRY, changing nothing. */
  #validate(head: ChunkHead, bytes: Uint8Array, checked: boolean): Entry {
    const { hash, infoHash } = checkSnapshot(head, bytes, checked);
    return {
      chunkId: head.chunkId,
      version: head.version,
      hash,
      infoHash,
      sum: sumOf(bytes),
      pinned: false,
      lastUsed: 0,
    };
  }

  /** Reads and checks the entry under `key`; a corrupt one is dropped. */
  async #read(key: string | undefined, retried = false): Promise<CachedChunk | undefined> {
    const entry = key === undefined ? undefined : this.#entries.get(key);
    if (key === undefined || !entry) {
      this.#misses++;
      return undefined;
    }
    const path = join(this.#chunksDir, fileNameOf(entry.chunkId, entry.version));
    const file = await readIfPresent(path);
    // The file's checksum when we have one, else (an older index) the chunk hash itself, once.
    const intact =
      file !== undefined &&
      file.length === CHUNK_BYTES &&
      (entry.sum !== undefined ? sumOf(file) === entry.sum : snapshotHash(file) === entry.hash);
    if (file && intact) {
      if (entry.sum === undefined) {
        entry.sum = sumOf(file);
        this.#dirty = true;
      }
      if (this.#entries.get(key) === entry) this.#touch(key, entry);
      this.#hits++;
      return { head: headOf(entry), bytes: new Uint8Array(file) };
    }
    const dropped = await this.#exclusive(async () => {
      // A put or an eviction may have replaced the entry while we read: only the entry we checked is corrupt.
      if (this.#entries.get(key) !== entry) return false;
      debug(
        "dropping corrupt %s (%s)",
        path,
        !file ? "file missing" : file.length !== CHUNK_BYTES ? `${file.length} bytes` : "hash mismatch",
      );
      this.#corrupt++;
      this.#remove(entry);
      this.#changed();
      await unlinkQuietly(path);
      return true;
    });
    if (!dropped && !retried) return await this.#read(key, true);
    if (!dropped) this.#misses++;
    return undefined;
  }

  #touch(key: string, entry: Entry): void {
    // Re-inserting moves the entry to the map's end (most recently used).
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    entry.lastUsed = ++this.#clock;
    // Saved with the next change or on close: a busy seeder's reads alone should not rewrite the index.
    this.#dirty = true;
  }

  #add(entry: Entry): void {
    const key = keyOf(entry.chunkId, entry.version);
    this.#entries.set(key, entry);
    this.#byInfoHash.set(entry.infoHash, key);
    const versions = this.#versions.get(entry.chunkId) ?? new Set<number>();
    versions.add(entry.version);
    this.#versions.set(entry.chunkId, versions);
    if ((this.#newest.get(entry.chunkId) ?? -1) < entry.version) this.#newest.set(entry.chunkId, entry.version);
    if (entry.pinned) this.#pinnedCount++;
  }

  /** Takes an entry out of the index (its file is the caller's to delete). */
  #remove(entry: Entry): void {
    this.#entries.delete(keyOf(entry.chunkId, entry.version));
    this.#byInfoHash.delete(entry.infoHash);
    if (entry.pinned) this.#pinnedCount--;
    const versions = this.#versions.get(entry.chunkId);
    versions?.delete(entry.version);
    if (!versions || versions.size === 0) {
      this.#versions.delete(entry.chunkId);
      this.#newest.delete(entry.chunkId);
    } else if (this.#newest.get(entry.chunkId) === entry.version) {
      this.#newest.set(entry.chunkId, Math.max(...versions));
    }
  }

  /** Evicts least-recently-used unpinned entries until within the limits. Call inside #exclusive. */
  async #evict(): Promise<void> {
    const over = () =>
      this.#entries.size > this.#limits.maxEntries || this.#entries.size * CHUNK_BYTES > this.#limits.maxBytes;
    if (!over()) return;
    const victims: Entry[] = [];
    for (const entry of this.#entries.values()) {
      if (!over()) break;
      if (entry.pinned) continue;
      victims.push(entry);
      this.#remove(entry);
    }
    if (victims.length === 0) return;
    this.#evicted += victims.length;
    this.#changed();
    for (const entry of victims) {
      debug("evicting %s", fileNameOf(entry.chunkId, entry.version));
      await unlinkQuietly(join(this.#chunksDir, fileNameOf(entry.chunkId, entry.version)));
    }
  }

  #changed(): void {
    this.#dirty = true;
    this.#scheduleSave();
  }

  #scheduleSave(): void {
    if (this.#saveTimer || this.#closing) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#exclusive(() => this.#saveIndex());
    }, SAVE_DELAY_MS);
    // A pending save must not keep the process alive; close() saves anyway.
    this.#saveTimer.unref();
  }

  async #saveIndex(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const entries: IndexEntry[] = [];
    for (const entry of this.#entries.values())
      entries.push({
        chunkId: entry.chunkId.toString(),
        version: entry.version,
        hash: entry.hash,
        infoHash: entry.infoHash,
        sum: entry.sum,
        pinned: entry.pinned,
        lastUsed: entry.lastUsed,
      });
    try {
      await writeAtomic(this.#indexPath, JSON.stringify({ format: INDEX_FORMAT, entries }));
    } catch (error) {
      // Not fatal: the next save retries, and open() adopts files the index misses.
      debug("could not save index.json: %s", (error as Error).message);
      this.#dirty = true;
    }
  }

  /** Runs `task` after every task queued before it; a failure does not block the queue. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }
}
