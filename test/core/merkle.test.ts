import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { bytesToHex, concatHex, keccak256 } from "viem";
import { CHUNK_VOLUME, encodeChunk } from "../../core/chunk.ts";
import { ChunkMerkle, chunkHash, LEAF_BYTES, LEAF_COUNT, verifyLeafProof } from "../../core/merkle.ts";
import { generateChunk } from "../../core/terrain.ts";

/** An independent, slow reference: the same tree built level by level with viem's keccak256. */
function referenceRoot(blocks: Uint16Array): string {
  const bytes = encodeChunk(blocks);
  let level: `0x${string}`[] = [];
  for (let i = 0; i < LEAF_COUNT; i++)
    level.push(keccak256(concatHex(["0x00", bytesToHex(bytes.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES))])));
  while (level.length > 1) {
    const next: `0x${string}`[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(keccak256(concatHex(["0x01", level[i] as `0x${string}`, level[i + 1] as `0x${string}`])));
    level = next;
  }
  return level[0] as string;
}

describe("chunk Merkle hash", () => {
  it("matches a reference built another way", () => {
    const blocks = generateChunk(42, 0, 0, 0);
    assert.equal(bytesToHex(chunkHash(blocks)), referenceRoot(blocks));
  });

  it("rehashes only the touched path, and ends equal to a full rehash", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: CHUNK_VOLUME - 1 }), fc.integer({ min: 0, max: 10 })), {
          maxLength: 20,
        }),
        (edits) => {
          const blocks = generateChunk(9, 1, 0, 1);
          const tree = new ChunkMerkle(blocks);
          for (const [index, block] of edits) {
            blocks[index] = block;
            tree.touch(index);
          }
          assert.deepEqual(tree.root, chunkHash(blocks));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("proofs verify for every leaf and fail after any change", () => {
    // Distinct leaves, so that a proof for one leaf cannot hold for another by coincidence.
    const blocks = Uint16Array.from({ length: CHUNK_VOLUME }, (_, i) => (i * 7919) & 0xffff);
    const tree = new ChunkMerkle(blocks);
    for (let leaf = 0; leaf < LEAF_COUNT; leaf++) {
      const data = tree.leafBytes(leaf);
      const proof = tree.proof(leaf);
      assert.ok(verifyLeafProof(tree.root, leaf, data, proof), `leaf ${leaf}`);
      const flipped = data.slice();
      flipped[leaf % LEAF_BYTES] = (flipped[leaf % LEAF_BYTES] as number) ^ 1;
      assert.ok(!verifyLeafProof(tree.root, leaf, flipped, proof));
      assert.ok(!verifyLeafProof(tree.root, (leaf + 1) % LEAF_COUNT, data, proof));
      const badProof = proof.map((p) => p.slice());
      const tampered = badProof[leaf % badProof.length] as Uint8Array;
      tampered[0] = (tampered[0] as number) ^ 1;
      assert.ok(!verifyLeafProof(tree.root, leaf, data, badProof));
    }
  });

  it("a leaf hash cannot pose as an inner node (domain separation)", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    const tree = new ChunkMerkle(blocks);
    assert.ok(!verifyLeafProof(tree.root, 0, new Uint8Array(LEAF_BYTES), tree.proof(0).slice(1)));
  });
});
