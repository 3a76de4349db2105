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
  const pieces = new Uint8Array((CHUNK_BYTES / PIECE_BYTES) * 20);
  for (let offset = 0, at = 0; offset < CHUNK_BYTES; offset += PIECE_BYTES, at += 20)
    pieces.set(sha1(snapshot.subarray(offset, offset + PIECE_BYTES)), at);
  const name = chunkTorrentName(chunkId, version);
  const info = { length: CHUNK_BYTES, name, "piece length": PIECE_BYTES, pieces };
  const encodedInfo = bencode.encode(info);
  return {
    infoHash: bytesToHex(sha1(encodedInfo)),
    torrentFile: bencode.encode({ info }),
    name,
  };
}
