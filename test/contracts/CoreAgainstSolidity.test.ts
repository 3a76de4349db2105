/** core/ and the contracts agree: op signatures, batch signatures and Merkle proofs made in TypeScript verify on chain. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { bytesToHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { CHUNK_VOLUME, chunkIdOf } from "../../core/chunk.ts";
import { ChunkMerkle, LEAF_COUNT } from "../../core/merkle.ts";
import { type BlockOp, signOp, signOpBatch } from "../../core/op.ts";
import { signReceipt } from "../../core/receipt.ts";
import { generateChunk } from "../../core/terrain.ts";

const { viem } = await network.create();
const session = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

const toSolidity = (op: BlockOp) => ({
  chunk: op.chunk,
  index: op.index,
  blockId: op.block,
  wallMs: op.hlc.wallMs,
  logical: op.hlc.logical,
  author: op.author,
});
const split = (signature: Hex): [Hex, Hex] => [`0x${signature.slice(2, 66)}`, `0x${signature.slice(66)}`];

const op: BlockOp = {
  chunk: chunkIdOf(-2147483648, -1, 2147483647),
  index: 32767,
  block: 65535,
  hlc: { wallMs: 2 ** 48 - 1, logical: 65535 },
  author: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
};

describe("core/ against Solidity", () => {
  it("an op signed by core/ recovers to its session key on chain, and a changed op does not", async () => {
    const harness = await viem.deployContract("CoreHarness");
    const domain = { chainId: await (await viem.getPublicClient()).getChainId(), verifyingContract: harness.address };
    const signed = await signOp(op, session, domain);
    assert.equal(await harness.read.recoverOp([toSolidity(signed), ...split(signed.signature)]), session.address);
    const changed = toSolidity({ ...signed, block: 1 });
    assert.notEqual(await harness.read.recoverOp([changed, ...split(signed.signature)]), session.address);
  });

  it("a batch signed by core/ recovers on chain", async () => {
    const harness = await viem.deployContract("CoreHarness");
    const domain = { chainId: await (await viem.getPublicClient()).getChainId(), verifyingContract: harness.address };
    const ops = Array.from({ length: 16 }, (_, i) => ({ ...op, index: i, hlc: { wallMs: 1000 + i, logical: i } }));
    const batch = await signOpBatch(ops, session, domain);
    assert.equal(
      await harness.read.recoverBatch([batch.ops.map(toSolidity), ...split(batch.signature)]),
      session.address,
    );
  });

  it("a seeding receipt signed by core/ recovers on chain", async () => {
    const harness = await viem.deployContract("CoreHarness");
    const domain = { chainId: await (await viem.getPublicClient()).getChainId(), verifyingContract: harness.address };
    const receipt = await signReceipt(
      {
        seeder: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        leecher: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        contentHash: `0x${"ab".repeat(32)}`,
        bytes: 65_536n,
        epoch: 7,
        nonce: 3n,
      },
      session,
      domain,
    );
    const { seeder, leecher, contentHash, bytes, epoch, nonce, signature } = receipt;
    assert.equal(
      await harness.read.recoverReceipt([seeder, leecher, contentHash, bytes, epoch, nonce, ...split(signature)]),
      session.address,
    );
  });

  it("Merkle proofs made by core/ verify on chain for every leaf, and tampered ones fail", async () => {
    const harness = await viem.deployContract("CoreHarness");
    const blocks = generateChunk(99, 0, 0, 0);
    for (let i = 0; i < CHUNK_VOLUME; i += 97) blocks[i] = i & 0xff; // distinct leaves
    const tree = new ChunkMerkle(blocks);
    const root = bytesToHex(tree.root);
    for (let leaf = 0; leaf < LEAF_COUNT; leaf += 7) {
      const proof = tree.proof(leaf).map((node) => bytesToHex(node));
      const data = tree.leafBytes(leaf);
      assert.equal(await harness.read.verifyLeaf([root, BigInt(leaf), bytesToHex(data), proof]), true, `leaf ${leaf}`);
      data[5] = (data[5] as number) ^ 1;
      assert.equal(await harness.read.verifyLeaf([root, BigInt(leaf), bytesToHex(data), proof]), false);
    }
  });
});
