/**
 * A chunk version as a torrent. Every holder of a snapshot builds the same metadata from the same bytes
 * (no creation date, no trackers inside `info`), so the infoHash the author anchors is the one every seeder
 * serves, and a leecher can ask anyone for it. One file, `CHUNK_BYTES` long, cut into 16 KiB pieces
 * (BitTorrent's usual block size), so one snapshot can come from several seeders at once.
 */
import { sha1 } from "@noble/hashes/legacy.js";
import bencode from "bencode";
import { bytesToHex, type Hex } from "viem";
import { CHUNK_BYTES, InvalidChunkError } from "./chunk.ts";

export const PIECE_BYTES = 16_384;

export type ChunkTorrent = {
  /** 20 bytes, as ChunkLedger anchors it. */
  infoHash: Hex;
  /** A whole .torrent file (bencoded `{info}`), which WebTorrent can seed from a store it is given. */
  torrentFile: Uint8Array;
  name: string;
};

/** The file name inside a chunk's torrent: it names the chunk and version, so two versions never share one. */
export function chunkTorrentName(chunkId: bigint, version: number): string {
  return `seedcraft-${chunkId.toString(16)}-v${version}.chunk`;
}

/** The torrent of `(chunkId, version)` holding `snapshot` (a canonical chunk encoding). */
export function chunkTorrent(chunkId: bigint, version: number, snapshot: Uint8Array): ChunkTorrent {
  if (snapshot.length !== CHUNK_BYTES)
    throw new InvalidChunkError(`a chunk snapshot is ${CHUNK_BYTES} bytes, not ${snapshot.length}`);
  return fileTorrent(chunkTorrentName(chunkId, version), snapshot);
}

export type FileTorrent = ChunkTorrent;

/**
 * The single-file torrent of any bytes under `name`, built alike by everyone who holds them: `info` has only
 * length, name, piece length and pieces (a chunk's torrent is this one with the chunk's name).
 */
export function fileTorrent(name: string, bytes: Uint8Array, pieceBytes = PIECE_BYTES): FileTorrent {
  if (bytes.length === 0) throw new RangeError("a torrent needs at least one byte");
  const count = Math.ceil(bytes.length / pieceBytes);
  const pieces = new Uint8Array(count * 20);
  for (let piece = 0; piece < count; piece++)
    pieces.set(sha1(bytes.subarray(piece * pieceBytes, (piece + 1) * pieceBytes)), piece * 20);
  const info = { length: bytes.length, name, "piece length": pieceBytes, pieces };
  return { infoHash: bytesToHex(sha1(bencode.encode(info))), torrentFile: bencode.encode({ info }), name };
}
