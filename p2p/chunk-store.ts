/**
 * The local cache of chunk snapshots, as the data plane sees it: files in Node (p2p/node/chunk-cache.ts),
 * IndexedDB in browsers (p2p/browser/idb-cache.ts). Every entry is an anchored chunk version; a read
 * checks the bytes against the entry's hash, so a corrupt entry is dropped (and fetched again) instead of
 * served. Isomorphic: types only.
 */
import type { Hex } from "viem";
import { SeedcraftError } from "../core/errors.ts";

/** A chunk version as the ledger anchors it. */
export type ChunkHead = { chunkId: bigint; version: number; hash: Hex; infoHash: Hex };

export type CachedChunk = { head: ChunkHead; bytes: Uint8Array };

export type ChunkStoreStats = {
  entries: number;
  bytes: number;
  pinned: number;
  hits: number;
  misses: number;
  /** Entries whose bytes no longer matched their hash (dropped). */
  corrupt: number;
  evicted: number;
};

export class ChunkStoreError extends SeedcraftError {
  constructor(code: "CACHE_BAD_ENTRY" | "CACHE_CLOSED", message: string, details?: string) {
    super(code, message, details);
    this.name = "ChunkStoreError";
  }
}

export interface ChunkStore {
  /** The cached copy of `(chunkId, version)`, or of the chunk's newest cached version; checked against its hash. */
  get(chunkId: bigint, version?: number): Promise<CachedChunk | undefined>;
  /** The cached copy whose torrent is `infoHash` (what a seeder serves); checked against its hash. */
  getByInfoHash(infoHash: Hex): Promise<CachedChunk | undefined>;
  /** Whether an entry for `infoHash` is indexed (no read, no check). */
  has(infoHash: Hex): boolean;
  /**
   * Stores a snapshot. Throws ChunkStoreError (CACHE_BAD_ENTRY) and stores nothing if the bytes are not a
   * chunk snapshot hashing to `head.hash` or do not make the torrent `head.infoHash`. `pinned` entries (the
   * player's own constructions) are never evicted. `checked`: the caller has just checked the bytes against
   * `head.hash` (a fetched snapshot), so the store need not hash them again.
   */
  put(head: ChunkHead, bytes: Uint8Array, options?: { pinned?: boolean; checked?: boolean }): Promise<void>;
  /** The newest head cached per chunk. */
  heads(): ChunkHead[];
  readonly stats: ChunkStoreStats;
  close(): Promise<void>;
}
