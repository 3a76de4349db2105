/**
 * The local cache of chunk snapshots, as the data plane sees it: files in Node (p2p/node/chunk-cache.ts),
 * IndexedDB in browsers (p2p/browser/idb-cache.ts). Every entry is an anchored chunk version; a read
 * checks the bytes against the entry's hash, so a corrupt entry is dropped (and fetched again) instead of
 * served. Isomorphic: the contract, and the check both caches make before they store anything.
 */
import { bytesToHex, type Hex } from "viem";
import { CHUNK_BYTES, decodeChunk, MAX_CHUNK_ID } from "../core/chunk.ts";
import { SeedcraftError } from "../core/errors.ts";
import { chunkHash } from "../core/merkle.ts";
import { chunkTorrent } from "../core/torrent.ts";

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

/** A snapshot's chunk hash (the keccak Merkle root the ledger anchors), lowercase. */
export function snapshotHash(bytes: Uint8Array): Hex {
  return bytesToHex(chunkHash(decodeChunk(bytes)));
}

function bad(head: ChunkHead, details: string): ChunkStoreError {
  const what = typeof head.chunkId === "bigint" ? `chunk ${head.chunkId} v${head.version}: ` : "";
  return new ChunkStoreError("CACHE_BAD_ENTRY", "Not a valid chunk snapshot for this head.", `${what}${details}`);
}

/**
 * What a store checks before it keeps a snapshot: a chunk id and version, 64 KiB that hash to `head.hash`
 * (not hashed again when the caller `checked` them just now) and make the torrent `head.infoHash`. Returns
 * both, lowercase; throws ChunkStoreError (CACHE_BAD_ENTRY).
 */
export function checkSnapshot(head: ChunkHead, bytes: Uint8Array, checked = false): { hash: Hex; infoHash: Hex } {
  if (typeof head.chunkId !== "bigint" || head.chunkId < 0n || head.chunkId > MAX_CHUNK_ID)
    throw bad(head, "the chunk id is outside 0..2^96-1");
  if (!Number.isSafeInteger(head.version) || head.version < 0)
    throw bad(head, `the version must be a non-negative integer, not ${head.version}`);
  if (!(bytes instanceof Uint8Array) || bytes.length !== CHUNK_BYTES)
    throw bad(head, `a snapshot is ${CHUNK_BYTES} bytes, not ${bytes?.length}`);
  if (typeof head.hash !== "string" || typeof head.infoHash !== "string")
    throw bad(head, "the head needs a hash and an infoHash");
  const hash = checked ? (head.hash.toLowerCase() as Hex) : snapshotHash(bytes);
  if (hash !== head.hash.toLowerCase()) throw bad(head, `the bytes hash to ${hash}, not ${head.hash}`);
  const infoHash = chunkTorrent(head.chunkId, head.version, bytes).infoHash.toLowerCase() as Hex;
  if (infoHash !== head.infoHash.toLowerCase())
    throw bad(head, `the bytes make the torrent ${infoHash}, not ${head.infoHash}`);
  return { hash, infoHash };
}
