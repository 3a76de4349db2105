import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { concatHex, type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { AnchorProofError, AnchorTree } from "../../core/anchors.ts";
import { type AnchoredAt, ClaimError, challengeOf, packReceipt, planClaim } from "../../core/claim.ts";
import { InvalidOpError } from "../../core/op.ts";
import {
  InvalidReceiptError,
  type ReceiptBatch,
  receiptBatchDigest,
  recoverReceiptBatchSigner,
  type SignedReceiptBatch,
  signReceiptBatch,
} from "../../core/receipt.ts";

const domain = { chainId: 31337, verifyingContract: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9" } as const;
const seeder = "0x90F79bf6EB2c4f870365E785982E1f101E93b906" as const;
const keys = [1, 2, 3].map((i) => privateKeyToAccount(`0x${i.toString(16).padStart(64, "0")}`));
const hash = (label: string) => keccak256(toHex(label));
const leaves = Array.from({ length: 10 }, (_, i) => ({
  chunkId: BigInt(i * 7),
  version: 1 + (i % 3),
  hash: hash(`c${i}`),
}));
const tree = new AnchorTree(leaves);
const anchored = new Map<string, AnchoredAt>(leaves.map((leaf, index) => [leaf.hash.toLowerCase(), { tree, index }]));

function batchOf(key: (typeof keys)[number], contents: number[], firstNonce = 0n, epoch = 4): ReceiptBatch {
  return {
    seeder,
    leecher: key.address,
    epoch,
    receipts: contents.map((c, i) => ({
      contentHash: hash(`c${c}`),
      bytes: 1000n + BigInt(c),
      nonce: firstNonce + BigInt(i),
    })),
  };
}

describe("anchor trees", () => {
  it("give OpenZeppelin's root, single proofs and multiproofs for an unsorted batch", () => {
    const reference = StandardMerkleTree.of(
      leaves.map((l) => [l.chunkId, l.version, l.hash]),
      ["uint256", "uint32", "bytes32"],
      { sortLeaves: false },
    );
    assert.equal(tree.root, reference.root);
    for (const [i, leaf] of leaves.entries()) {
      assert.deepEqual(tree.proof(i), tree.proofOf(leaf.hash));
      assert.ok(
        StandardMerkleTree.verify(
          tree.root,
          ["uint256", "uint32", "bytes32"],
          [leaf.chunkId, leaf.version, leaf.hash],
          tree.proof(i),
        ),
      );
    }
    const multi = tree.multiProof([7, 2, 3]);
    assert.deepEqual(
      new Set(multi.leaves.map((l) => l.hash)),
      new Set([leaves[7], leaves[2], leaves[3]].map((l) => l?.hash)),
    );
    assert.ok(
      StandardMerkleTree.verifyMultiProof(tree.root, ["uint256", "uint32", "bytes32"], {
        leaves: multi.leaves.map((l) => [l.chunkId, l.version, l.hash]),
        proof: multi.proof,
        proofFlags: multi.flags,
      }),
    );
  });

  it("refuse empty batches, missing leaves and bad indexes with a typed error", () => {
    assert.throws(() => new AnchorTree([]), AnchorProofError);
    assert.throws(() => tree.proof(10), AnchorProofError);
    assert.throws(() => tree.proof(-1), AnchorProofError);
    assert.throws(() => tree.proofOf(hash("nope")), AnchorProofError);
    assert.throws(() => tree.multiProof([]), AnchorProofError);
    assert.equal(tree.indexOf(hash("nope")), -1);
  });
});

describe("receipt batches", () => {
  it("recover the signing key, and someone else after any change", async () => {
    const signed = await signReceiptBatch(batchOf(keys[0] as never, [1, 2, 3]), keys[0] as never, domain);
    assert.equal(recoverReceiptBatchSigner(signed, domain), keys[0]?.address);
    const [first, ...rest] = signed.receipts;
    if (!first) throw new Error("unreachable");
    for (const changed of [
      { ...signed, epoch: 5 },
      { ...signed, receipts: [{ ...first, bytes: first.bytes + 1n }, ...rest] },
      { ...signed, receipts: [first, ...rest.slice(1)] },
      { ...signed, seeder: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc" as const },
    ])
      assert.notEqual(recoverReceiptBatchSigner(changed, domain), keys[0]?.address);
  });

  it("refuse empty batches, repeated or falling nonces and bad signatures", async () => {
    const key = keys[0] as never;
    await assert.rejects(signReceiptBatch({ ...batchOf(key, []) }, key, domain), InvalidReceiptError);
    const falling = batchOf(key, [1, 2]);
    falling.receipts.reverse();
    await assert.rejects(signReceiptBatch(falling, key, domain), InvalidReceiptError);
    await assert.rejects(signReceiptBatch({ ...batchOf(key, [1]), leecher: seeder }, key, domain), InvalidReceiptError);
    const signed = await signReceiptBatch(batchOf(key, [1]), key, domain);
    assert.throws(() => recoverReceiptBatchSigner({ ...signed, signature: "0x00" }, domain), InvalidOpError);
  });
});

describe("claim plans", () => {
  async function signedBatches(): Promise<SignedReceiptBatch[]> {
    return Promise.all([
      signReceiptBatch(batchOf(keys[2] as never, [1, 2]), keys[2] as never, domain),
      signReceiptBatch(batchOf(keys[0] as never, [2, 5, 9]), keys[0] as never, domain),
      signReceiptBatch(batchOf(keys[1] as never, [5]), keys[1] as never, domain),
    ]);
  }

  it("order batches by leecher, share contents, pack receipts and commit to the digests", async () => {
    const batches = await signedBatches();
    const plan = planClaim({ seeder, epoch: 4, batches, anchored, domain });
    const order = [...batches].sort((a, b) => (BigInt(a.leecher) < BigInt(b.leecher) ? -1 : 1));
    assert.deepEqual(
      plan.batches.map((b) => b.leecher.toLowerCase()),
      order.map((b) => b.leecher.toLowerCase()),
    );
    assert.equal(plan.contents.length, 4, "contents 1, 2, 5, 9 once each");
    assert.equal(plan.anchorings.length, 1);
    assert.equal(plan.anchorings[0]?.count, 4n);
    assert.equal(plan.receiptCount, 6);
    assert.equal(plan.totalBytes, 6000n + 1n + 2n + 2n + 5n + 9n + 5n);
    assert.equal(plan.commitment, keccak256(concatHex(order.map((b) => receiptBatchDigest(b, domain)))));
    // Each packed receipt points at its content and carries its size and nonce.
    for (const [b, batch] of order.entries()) {
      for (const [i, item] of batch.receipts.entries()) {
        const content = plan.contents.findIndex((c) => c.hash === item.contentHash);
        assert.equal(plan.batches[b]?.receipts[i], packReceipt(content, item.bytes, item.nonce));
      }
    }
    assert.equal(plan.contentAt(0), order[0]?.receipts[0]?.contentHash);
    assert.throws(() => plan.contentAt(6), ClaimError);
  });

  it("refuse what the contract would refuse: repeated nonces, unanchored contents, another seeder or epoch", async () => {
    const batches = await signedBatches();
    const again = await signReceiptBatch(batchOf(keys[0] as never, [3], 1n), keys[0] as never, domain);
    assert.throws(() => planClaim({ seeder, epoch: 4, batches: [...batches, again], anchored, domain }), ClaimError);
    const unanchored = await signReceiptBatch(
      { ...batchOf(keys[0] as never, [1]), receipts: [{ contentHash: hash("elsewhere"), bytes: 1n, nonce: 0n }] },
      keys[0] as never,
      domain,
    );
    assert.throws(() => planClaim({ seeder, epoch: 4, batches: [unanchored], anchored, domain }), ClaimError);
    assert.throws(() => planClaim({ seeder, epoch: 5, batches, anchored, domain }), ClaimError);
    assert.throws(
      () => planClaim({ seeder: keys[0]?.address as Hex, epoch: 4, batches, anchored, domain }),
      ClaimError,
    );
    assert.throws(() => planClaim({ seeder, epoch: 4, batches: [], anchored, domain }), ClaimError);
  });

  it("derive the challenge in range and deterministically from the block hash", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const challenge = challengeOf(hash(`block ${i}`), seeder, 4, 6);
      assert.ok(challenge.receiptIndex >= 0 && challenge.receiptIndex < 6);
      assert.ok(challenge.leafIndex >= 0 && challenge.leafIndex < 64);
      assert.deepEqual(challengeOf(hash(`block ${i}`), seeder, 4, 6), challenge);
      seen.add(challenge.leafIndex);
    }
    assert.ok(seen.size > 40, "leaves are spread over the chunk");
  });
});
