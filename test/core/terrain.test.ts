import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BLOCK_IDS, BLOCKS, isKnownBlock } from "../../core/blocks.ts";
import { blockIndex, CHUNK_SIZE } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import { generateChunk, groundHeight, terrainSeedOf, WORLD_MAX_Y } from "../../core/terrain.ts";

describe("terrain generator", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    assert.deepEqual(chunkHash(generateChunk(11, 2, 0, -3)), chunkHash(generateChunk(11, 2, 0, -3)));
    assert.notDeepEqual(chunkHash(generateChunk(11, 2, 0, -3)), chunkHash(generateChunk(12, 2, 0, -3)));
  });

  it("derives the seed from the deployment", () => {
    const a = terrainSeedOf(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    assert.equal(a, terrainSeedOf(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3"));
    assert.notEqual(a, terrainSeedOf(1, "0x5FbDB2315678afecb367f032d93F642f64180aa3"));
  });

  it("puts the surface at the ground height and only known blocks everywhere", () => {
    const seed = 77;
    const blocks = generateChunk(seed, 0, 0, 0);
    for (const block of blocks) assert.ok(isKnownBlock(block));
    for (const [x, z] of [
      [0, 0],
      [13, 21],
      [31, 31],
    ] as const) {
      const ground = groundHeight(seed, x, z);
      if (ground < 0 || ground >= CHUNK_SIZE - 1) continue;
      const top = blocks[blockIndex(x, ground, z)] as number;
      assert.ok(
        [BLOCK_IDS.grass, BLOCK_IDS.sand].includes(top as 3 | 4),
        `surface at ${x},${z} is ${BLOCKS[top]?.name}`,
      );
    }
  });

  it("leaves the sky above the height limit empty", () => {
    const sky = generateChunk(5, 0, WORLD_MAX_Y / CHUNK_SIZE, 0);
    assert.ok(sky.every((block) => block === BLOCK_IDS.air));
  });
});
