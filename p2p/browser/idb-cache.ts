/**
 * Browser-only: the chunk cache in IndexedDB (through `idb`). Same contract as the Node file cache
 * (p2p/node/chunk-cache.ts): bounded and least-recently-used first, own constructions pinned, every read
 * checked against the entry's hash (a corrupt entry is dropped and fetched again), and it outlives the page.
 * Snapshots and their index entries are written in one transaction, so neither is ever seen without the other.
 */
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { Hex } from "viem";
import { CHUNK_BYTES, parseChunkId } from "../../core/chunk.ts";
import {
  type CachedChunk,
  type ChunkHead,
  type ChunkStore,
  ChunkStoreError,
  type ChunkStoreStats,
  checkSnapshot,
  snapshotHash,
} from "../chunk-store.ts";
import { dropOtherWorlds, worldDbName } from "./idb-worlds.ts";

/** The prefix of the chunk caches' databases: one per world (`seedcraft-chunks-<world>`). */
export const CHUNK_CACHE_DB = "seedcraft-chunks";

type IndexRecord = {
  key: string;
  chunkId: string;
  version: number;
  hash: Hex;
  infoHash: Hex;
  pinned: boolean;
  lastUsed: number;
};

interface CacheSchema extends DBSchema {
  index: { key: string; value: IndexRecord };
  snapshots: { key: string; value: Uint8Array };
}

export type IdbCacheLimits = { maxEntries: number };
export const DEFAULT_IDB_CACHE_LIMITS: IdbCacheLimits = { maxEntries: 4096 };

const keyOf = (chunkId: bigint, version: number) => `${chunkId}:${version}`;
const headOf = (record: IndexRecord): ChunkHead => ({
  chunkId: parseChunkId(record.chunkId),
  version: record.version,
  hash: record.hash,
  infoHash: record.infoHash,
});

export class IdbChunkCache implements ChunkStore {
  readonly #db: IDBPDatabase<CacheSchema>;
  readonly #limits: IdbCacheLimits;
  readonly #index = new Map<string, IndexRecord>();
  readonly #byInfoHash = new Map<string, string>();
  #clock = 0;
  #closed = false;
  #counts = { hits: 0, misses: 0, corrupt: 0, evicted: 0 };

  private constructor(db: IDBPDatabase<CacheSchema>, limits: IdbCacheLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  static async open(name = "seedcraft-chunks", limits: Partial<IdbCacheLimits> = {}): Promise<IdbChunkCache> {
    const db = await openDB<CacheSchema>(name, 1, {
      upgrade(database) {
        database.createObjectStore("index", { keyPath: "key" });
        database.createObjectStore("snapshots");
      },
    });
    const cache = new IdbChunkCache(db, { ...DEFAULT_IDB_CACHE_LIMITS, ...limits });
    for (const record of await db.getAll("index")) {
      cache.#index.set(record.key, record);
      cache.#byInfoHash.set(record.infoHash, record.key);
      cache.#clock = Math.max(cache.#clock, record.lastUsed);
    }
    return cache;
  }

  /**
   * The chunk cache of `world` (core/deployment.ts `worldKeyOf`): its own database; other worlds' chunk caches
   * are deleted, so a snapshot of an old world with the same id and version never comes back.
   */
  static async openForWorld(world: string, limits: Partial<IdbCacheLimits> = {}): Promise<IdbChunkCache> {
    await dropOtherWorlds(CHUNK_CACHE_DB, world);
    return await IdbChunkCache.open(worldDbName(CHUNK_CACHE_DB, world), limits);
  }

  get stats(): ChunkStoreStats {
    let pinned = 0;
    for (const record of this.#index.values()) if (record.pinned) pinned++;
    return { entries: this.#index.size, bytes: this.#index.size * CHUNK_BYTES, pinned, ...this.#counts };
  }

  has(infoHash: Hex): boolean {
    return this.#byInfoHash.has(infoHash.toLowerCase());
  }

  heads(): ChunkHead[] {
    const newest = new Map<string, IndexRecord>();
    for (const record of this.#index.values()) {
      const held = newest.get(record.chunkId);
      if (!held || held.version < record.version) newest.set(record.chunkId, record);
    }
    return [...newest.values()].map(headOf);
  }

  /** Every chunk version held (a claim proves the version a receipt names, not only the newest). */
  entries(): ChunkHead[] {
    this.#open();
    return [...this.#index.values()].map(headOf);
  }

  async get(chunkId: bigint, version?: number): Promise<CachedChunk | undefined> {
    this.#open();
    if (version !== undefined) return await this.#read(keyOf(chunkId, version));
    let newest: IndexRecord | undefined;
    for (const record of this.#index.values())
      if (record.chunkId === chunkId.toString() && (!newest || newest.version < record.version)) newest = record;
    return await this.#read(newest?.key);
  }

  async getByInfoHash(infoHash: Hex): Promise<CachedChunk | undefined> {
    this.#open();
    return await this.#read(this.#byInfoHash.get(infoHash.toLowerCase()));
  }

  async put(head: ChunkHead, bytes: Uint8Array, options: { pinned?: boolean; checked?: boolean } = {}): Promise<void> {
    this.#open();
    const { hash, infoHash } = checkSnapshot(head, bytes, options.checked);
    const key = keyOf(head.chunkId, head.version);
    const record: IndexRecord = {
      key,
      chunkId: head.chunkId.toString(),
      version: head.version,
      hash,
      infoHash,
      pinned: options.pinned === true || this.#index.get(key)?.pinned === true,
      lastUsed: ++this.#clock,
    };
    const tx = this.#db.transaction(["index", "snapshots"], "readwrite");
    await Promise.all([
      tx.objectStore("snapshots").put(bytes.slice(), key),
      tx.objectStore("index").put(record),
      tx.done,
    ]);
    this.#index.set(key, record);
    this.#byInfoHash.set(infoHash, key);
    await this.#evict();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new ChunkStoreError("CACHE_CLOSED", "The chunk cache is closed.");
  }

  async #read(key: string | undefined): Promise<CachedChunk | undefined> {
    const record = key === undefined ? undefined : this.#index.get(key);
    if (!record) {
      this.#counts.misses++;
      return undefined;
    }
    const stored = await this.#db.get("snapshots", record.key);
    const bytes = stored instanceof Uint8Array ? stored : undefined;
    if (!bytes || bytes.length !== CHUNK_BYTES || snapshotHash(bytes) !== record.hash) {
      this.#counts.corrupt++;
      await this.#remove(record);
      return undefined;
    }
    this.#counts.hits++;
    record.lastUsed = ++this.#clock;
    void this.#db.put("index", record).catch(() => undefined);
    return { head: headOf(record), bytes };
  }

  async #remove(record: IndexRecord): Promise<void> {
    this.#index.delete(record.key);
    if (this.#byInfoHash.get(record.infoHash) === record.key) this.#byInfoHash.delete(record.infoHash);
    const tx = this.#db.transaction(["index", "snapshots"], "readwrite");
    await Promise.all([
      tx.objectStore("index").delete(record.key),
      tx.objectStore("snapshots").delete(record.key),
      tx.done,
    ]);
  }

  async #evict(): Promise<void> {
    if (this.#index.size <= this.#limits.maxEntries) return;
    const unpinned = [...this.#index.values()].filter((r) => !r.pinned).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const record of unpinned) {
      if (this.#index.size <= this.#limits.maxEntries) break;
      this.#counts.evicted++;
      await this.#remove(record);
    }
  }
}
