/**
 * Chunks: 32×32×32 blocks of one Uint16 id each. The canonical encoding is the ids little-endian,
 * x fastest, then z, then y (index = x + 32·(z + 32·y)): 65,536 bytes.
 */
import { SeedcraftError } from "./errors.ts";

export const CHUNK_SIZE = 32;
export const CHUNK_VOLUME = CHUNK_SIZE * CHUNK_SIZE * CHUNK_SIZE;
export const CHUNK_BYTES = CHUNK_VOLUME * 2;

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const UINT32_MASK = 0xffff_ffffn;

export type ChunkCoords = { cx: number; cy: number; cz: number };

export class InvalidChunkError extends SeedcraftError {
  constructor(details: string) {
    super("INVALID_CHUNK", "Not a valid chunk.", details);
    this.name = "InvalidChunkError";
  }
}

function assertInt32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX)
    throw new InvalidChunkError(`${name} must be a signed 32-bit integer, got ${value}`);
}

/**
 * Packs signed 32-bit chunk coordinates into one integer: uint32(cx) << 64 | uint32(cy) << 32 | uint32(cz).
 * ChunkLedger computes the same (a contract test compares them).
 */
export function chunkIdOf(cx: number, cy: number, cz: number): bigint {
  assertInt32("cx", cx);
  assertInt32("cy", cy);
  assertInt32("cz", cz);
  return (BigInt(cx >>> 0) << 64n) | (BigInt(cy >>> 0) << 32n) | BigInt(cz >>> 0);
}

export const MAX_CHUNK_ID = (1n << 96n) - 1n;

export function chunkCoordsOf(id: bigint): ChunkCoords {
  if (id < 0n || id > MAX_CHUNK_ID) throw new InvalidChunkError(`chunk id ${id} is outside 0..2^96-1`);
  return {
    cx: Number((id >> 64n) & UINT32_MASK) | 0,
    cy: Number((id >> 32n) & UINT32_MASK) | 0,
    cz: Number(id & UINT32_MASK) | 0,
  };
}

/** Index of a block inside its chunk, from local coordinates 0..31. */
export function blockIndex(x: number, y: number, z: number): number {
  return x + CHUNK_SIZE * (z + CHUNK_SIZE * y);
}

export function localOf(index: number): { x: number; y: number; z: number } {
  return { x: index & 31, z: (index >> 5) & 31, y: index >> 10 };
}

/** The chunk containing world block (wx, wy, wz), and the block's index inside it. */
export function locateBlock(wx: number, wy: number, wz: number): ChunkCoords & { index: number } {
  const cx = Math.floor(wx / CHUNK_SIZE);
  const cy = Math.floor(wy / CHUNK_SIZE);
  const cz = Math.floor(wz / CHUNK_SIZE);
  return {
    cx,
    cy,
    cz,
    index: blockIndex(wx - cx * CHUNK_SIZE, wy - cy * CHUNK_SIZE, wz - cz * CHUNK_SIZE),
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The canonical encoding of a chunk's blocks (a view, not a copy, on little-endian machines). */
export function encodeChunk(blocks: Uint16Array): Uint8Array {
  if (blocks.length !== CHUNK_VOLUME)
    throw new InvalidChunkError(`expected ${CHUNK_VOLUME} blocks, got ${blocks.length}`);
  if (LITTLE_ENDIAN) return new Uint8Array(blocks.buffer, blocks.byteOffset, CHUNK_BYTES);
  const out = new Uint8Array(CHUNK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < CHUNK_VOLUME; i++) view.setUint16(i * 2, blocks[i] as number, true);
  return out;
}

/** Decodes the canonical encoding into a fresh Uint16Array (never aliases the input). */
export function decodeChunk(bytes: Uint8Array): Uint16Array {
  if (bytes.length !== CHUNK_BYTES) throw new InvalidChunkError(`expected ${CHUNK_BYTES} bytes, got ${bytes.length}`);
  const blocks = new Uint16Array(CHUNK_VOLUME);
  if (LITTLE_ENDIAN) {
    new Uint8Array(blocks.buffer).set(bytes);
    return blocks;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < CHUNK_VOLUME; i++) blocks[i] = view.getUint16(i * 2, true);
  return blocks;
}

/** Parses a chunk id written in decimal or 0x-hex (as URLs and JSON carry it); throws `InvalidChunkError`. */
export function parseChunkId(text: string): bigint {
  if (!/^(0|[1-9][0-9]{0,28}|0x[0-9a-fA-F]{1,24})$/.test(text))
    throw new InvalidChunkError(`${JSON.stringify(text.slice(0, 40))} is not a decimal or 0x-hex chunk id`);
  const id = BigInt(text);
  if (id > MAX_CHUNK_ID) throw new InvalidChunkError(`chunk id ${text} is outside 0..2^96-1`);
  return id;
}
