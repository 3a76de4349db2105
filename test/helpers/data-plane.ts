/** Chunk snapshots for data-plane tests and benchmarks: real terrain with edits on top. Node-only. */
import { BLOCKS } from "../../core/blocks.ts";
import { CHUNK_VOLUME, chunkIdOf, encodeChunk } from "../../core/chunk.ts";
import { generateChunk } from "../../core/terrain.ts";

const PLAIN = BLOCKS.filter((b) => !b.premium && b.id !== 0).map((b) => b.id);

/** The terrain of chunk (cx, cy, cz) with `edits` random plain blocks placed on it, encoded. */
export function editedSnapshot(
  seed: number,
  coords: { cx: number; cy: number; cz: number },
  random: () => number,
  edits = 16,
): { chunkId: bigint; snapshot: Uint8Array } {
  const blocks = generateChunk(seed, coords.cx, coords.cy, coords.cz);
  for (let i = 0; i < edits; i++)
    blocks[Math.floor(random() * CHUNK_VOLUME)] = PLAIN[Math.floor(random() * PLAIN.length)] as number;
  return { chunkId: chunkIdOf(coords.cx, coords.cy, coords.cz), snapshot: encodeChunk(blocks).slice() };
}

/** The chunk coordinates of the (2r+1)×(2r+1) columns around (cx, cz), at height cy. */
export function area(cx: number, cz: number, radius: number, cy = 0): { cx: number; cy: number; cz: number }[] {
  const out: { cx: number; cy: number; cz: number }[] = [];
  for (let dz = -radius; dz <= radius; dz++)
    for (let dx = -radius; dx <= radius; dx++) out.push({ cx: cx + dx, cy, cz: cz + dz });
  return out;
}
