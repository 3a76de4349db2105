import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  blockIndex,
  CHUNK_BYTES,
  CHUNK_VOLUME,
  chunkCoordsOf,
  chunkIdOf,
  decodeChunk,
  encodeChunk,
  InvalidChunkError,
  localOf,
  locateBlock,
} from "../../core/chunk.ts";

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

describe("chunk ids", () => {
  it("round-trip any signed 32-bit coordinates", () => {
    fc.assert(
      fc.property(int32, int32, int32, (cx, cy, cz) => {
        assert.deepEqual(chunkCoordsOf(chunkIdOf(cx, cy, cz)), { cx, cy, cz });
      }),
    );
  });

  it("pack as uint32(cx) << 64 | uint32(cy) << 32 | uint32(cz)", () => {
    assert.equal(chunkIdOf(0, 0, 1), 1n);
    assert.equal(chunkIdOf(0, 1, 0), 1n << 32n);
    assert.equal(chunkIdOf(-1, 0, 0), 0xffffffffn << 64n);
    assert.equal(chunkIdOf(-(2 ** 31), 2 ** 31 - 1, -1), (0x80000000n << 64n) | (0x7fffffffn << 32n) | 0xffffffffn);
  });

  it("reject coordinates that are not int32 with a typed error", () => {
    for (const bad of [2 ** 31, -(2 ** 31) - 1, 0.5, Number.NaN])
      assert.throws(() => chunkIdOf(bad, 0, 0), InvalidChunkError);
    assert.throws(() => chunkCoordsOf(1n << 96n), InvalidChunkError);
    assert.throws(() => chunkCoordsOf(-1n), InvalidChunkError);
  });
});

describe("block positions", () => {
  it("index x fastest, then z, then y", () => {
    assert.equal(blockIndex(1, 0, 0), 1);
    assert.equal(blockIndex(0, 0, 1), 32);
    assert.equal(blockIndex(0, 1, 0), 1024);
    assert.deepEqual(localOf(blockIndex(3, 17, 30)), { x: 3, y: 17, z: 30 });
  });

  it("locate world blocks in their chunk, negative coordinates included", () => {
    assert.deepEqual(locateBlock(-1, 0, 32), { cx: -1, cy: 0, cz: 1, index: blockIndex(31, 0, 0) });
    assert.deepEqual(locateBlock(-32, -33, 5), { cx: -1, cy: -2, cz: 0, index: blockIndex(0, 31, 5) });
  });
});

describe("canonical encoding", () => {
  it("is 65,536 bytes, little-endian, and round-trips", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    blocks[0] = 0x0102;
    blocks[CHUNK_VOLUME - 1] = 0xfffe;
    const bytes = encodeChunk(blocks);
    assert.equal(bytes.length, CHUNK_BYTES);
    assert.deepEqual([bytes[0], bytes[1]], [0x02, 0x01]);
    assert.deepEqual(decodeChunk(bytes), blocks);
  });

  it("refuses wrong sizes with a typed error", () => {
    assert.throws(() => decodeChunk(new Uint8Array(CHUNK_BYTES - 1)), InvalidChunkError);
    assert.throws(() => encodeChunk(new Uint16Array(10)), InvalidChunkError);
  });
});
