import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meshChunk } from "../../app/src/world/mesher.ts";
import { editTarget, raycastVoxels } from "../../app/src/world/picking.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { blockIndex, CHUNK_VOLUME } from "../../core/chunk.ts";

const faces = (indices: Uint32Array) => indices.length / 6;

describe("app: meshing", () => {
  it("draws the six faces of a lone block and hides the faces two blocks share", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    blocks[blockIndex(5, 5, 5)] = BLOCK_IDS.stone;
    assert.equal(faces(meshChunk(blocks, {}).opaque.indices), 6);
    blocks[blockIndex(6, 5, 5)] = BLOCK_IDS.stone;
    assert.equal(faces(meshChunk(blocks, {}).opaque.indices), 10);
  });

  it("puts water in the translucent pass, and a solid neighbour hides the border faces", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    blocks[blockIndex(0, 0, 0)] = BLOCK_IDS.water;
    const mesh = meshChunk(blocks, { nx: "solid", ny: "solid", nz: "solid" });
    assert.equal(faces(mesh.opaque.indices), 0);
    assert.equal(faces(mesh.translucent.indices), 3);
  });
});

describe("app: picking", () => {
  const ground = (_x: number, y: number, _z: number) => y <= 0;

  it("finds the first solid block along a ray and the face it entered", () => {
    const hit = raycastVoxels([0.5, 10.5, 0.5], [0, -1, 0], 64, ground);
    assert.deepEqual(hit?.block, [0, 0, 0]);
    assert.deepEqual(hit?.normal, [0, 1, 0]);
    assert.ok(hit);
    assert.deepEqual(editTarget(hit, "place"), [0, 1, 0]);
    assert.deepEqual(editTarget(hit, "break"), [0, 0, 0]);
  });

  it("gives up beyond the reach and on a degenerate direction", () => {
    assert.equal(raycastVoxels([0.5, 100.5, 0.5], [0, -1, 0], 10, ground), undefined);
    assert.equal(raycastVoxels([0.5, 10.5, 0.5], [0, 0, 0], 64, ground), undefined);
  });
});
