/**
 * The deterministic terrain generator: version 0 of every chunk. Same seed, same world, on every peer,
 * so untouched chunks never travel and never need anchoring.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { BLOCK_IDS } from "./blocks.ts";
import { blockIndex, CHUNK_SIZE, CHUNK_VOLUME } from "./chunk.ts";

export const SEA_LEVEL = 8;
/** The world's height limits, in blocks: [WORLD_MIN_Y, WORLD_MAX_Y). */
export const WORLD_MIN_Y = -64;
export const WORLD_MAX_Y = 192;

/** A 32-bit world seed derived from the deployment, so each deployed world has its own terrain. */
export function terrainSeedOf(chainId: number, ledgerAddress: string): number {
  const digest = keccak_256(new TextEncoder().encode(`seedcraft:terrain:${chainId}:${ledgerAddress.toLowerCase()}`));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false);
}

/** A 32-bit integer hash of lattice coordinates (a murmur3-style finalizer). */
function hash3(seed: number, x: number, y: number, z: number): number {
  let h = seed ^ Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(z, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function unit(seed: number, x: number, y: number, z: number): number {
  return hash3(seed, x, y, z) / 0x1_0000_0000;
}

const smooth = (t: number) => t * t * (3 - 2 * t);
const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

function valueNoise2(seed: number, x: number, z: number): number {
  const x0 = Math.floor(x);
  const z0 = Math.floor(z);
  const tx = smooth(x - x0);
  const tz = smooth(z - z0);
  const a = lerp(unit(seed, x0, 0, z0), unit(seed, x0 + 1, 0, z0), tx);
  const b = lerp(unit(seed, x0, 0, z0 + 1), unit(seed, x0 + 1, 0, z0 + 1), tx);
  return lerp(a, b, tz);
}

function valueNoise3(seed: number, x: number, y: number, z: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const z0 = Math.floor(z);
  const tx = smooth(x - x0);
  const ty = smooth(y - y0);
  const tz = smooth(z - z0);
  const plane = (yy: number) =>
    lerp(
      lerp(unit(seed, x0, yy, z0), unit(seed, x0 + 1, yy, z0), tx),
      lerp(unit(seed, x0, yy, z0 + 1), unit(seed, x0 + 1, yy, z0 + 1), tx),
      tz,
    );
  return lerp(plane(y0), plane(y0 + 1), ty);
}

/** Ground height (the y of the top solid block) of world column (wx, wz). */
export function groundHeight(seed: number, wx: number, wz: number): number {
  const hills = valueNoise2(seed, wx / 64, wz / 64) * 22;
  const bumps = valueNoise2(seed ^ 0x5bd1e995, wx / 16, wz / 16) * 6;
  return Math.floor(hills + bumps) - 2;
}

function isCave(seed: number, wx: number, wy: number, wz: number): boolean {
  return valueNoise3(seed ^ 0x68e31da4, wx / 12, wy / 8, wz / 12) > 0.78;
}

const TREE_TRUNK = 4;

/** Generates version 0 of chunk (cx, cy, cz). */
export function generateChunk(seed: number, cx: number, cy: number, cz: number): Uint16Array {
  const blocks = new Uint16Array(CHUNK_VOLUME);
  const baseY = cy * CHUNK_SIZE;
  if (baseY + CHUNK_SIZE <= WORLD_MIN_Y || baseY >= WORLD_MAX_Y) return blocks;
  for (let z = 0; z < CHUNK_SIZE; z++) {
    for (let x = 0; x < CHUNK_SIZE; x++) {
      const wx = cx * CHUNK_SIZE + x;
      const wz = cz * CHUNK_SIZE + z;
      const ground = groundHeight(seed, wx, wz);
      const beach = ground <= SEA_LEVEL + 1;
      for (let y = 0; y < CHUNK_SIZE; y++) {
        const wy = baseY + y;
        if (wy < WORLD_MIN_Y || wy >= WORLD_MAX_Y) continue;
        let block: number = BLOCK_IDS.air;
        if (wy <= ground) {
          if (wy === WORLD_MIN_Y) block = BLOCK_IDS.stone;
          else if (wy < ground - 3 && isCave(seed, wx, wy, wz)) block = BLOCK_IDS.air;
          else if (wy === ground) block = beach ? BLOCK_IDS.sand : BLOCK_IDS.grass;
          else if (wy > ground - 4) block = beach ? BLOCK_IDS.sand : BLOCK_IDS.dirt;
          else block = BLOCK_IDS.stone;
        } else if (wy <= SEA_LEVEL) {
          block = BLOCK_IDS.water;
        }
        blocks[blockIndex(x, y, z)] = block;
      }
    }
  }
  plantTrees(seed, blocks, cx, cy, cz);
  return blocks;
}

/** Trees stand wholly inside one chunk (local x, z in 2..29), so no chunk depends on its neighbours. */
function plantTrees(seed: number, blocks: Uint16Array, cx: number, cy: number, cz: number): void {
  const baseY = cy * CHUNK_SIZE;
  for (let z = 2; z < CHUNK_SIZE - 2; z++) {
    for (let x = 2; x < CHUNK_SIZE - 2; x++) {
      const wx = cx * CHUNK_SIZE + x;
      const wz = cz * CHUNK_SIZE + z;
      if (unit(seed ^ 0x1b873593, wx, 7, wz) > 0.006) continue;
      const ground = groundHeight(seed, wx, wz);
      if (ground <= SEA_LEVEL + 1) continue;
      const top = ground + TREE_TRUNK;
      for (let wy = ground + 1; wy <= top + 2; wy++) {
        const y = wy - baseY;
        if (y < 0 || y >= CHUNK_SIZE) continue;
        if (wy <= top) blocks[blockIndex(x, y, z)] = BLOCK_IDS.wood;
        if (wy >= top - 1) {
          const r = wy === top + 2 ? 1 : 2;
          for (let dz = -r; dz <= r; dz++)
            for (let dx = -r; dx <= r; dx++) {
              const i = blockIndex(x + dx, y, z + dz);
              if (blocks[i] === BLOCK_IDS.air) blocks[i] = BLOCK_IDS.leaves;
            }
        }
      }
    }
  }
}
