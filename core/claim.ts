/**
 * Building a SeedingRewards claim from what a seeder collected: signed receipt batches, plus proofs that the
 * contents they name were anchored. The contract checks exactly what `planClaim` checks, so a plan that
 * builds is a claim that only fails for reasons the chain alone knows (eligibility, caps, windows).
 */
import {
  type Address,
  concatHex,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hexToBigInt,
  keccak256,
  sliceHex,
} from "viem";
import type { AnchoredLeaf, AnchorTree } from "./anchors.ts";
import { SeedcraftError } from "./errors.ts";
import { LEAF_COUNT } from "./merkle.ts";
import {
  InvalidReceiptError,
  type ReceiptDomain,
  receiptBatchDigest,
  type SignedReceiptBatch,
  validateReceiptBatch,
} from "./receipt.ts";

/** A content a claim pays for: the chunk version whose hash it is. */
export type ClaimContent = AnchoredLeaf;

/** Where a content was anchored: the batch's tree and the content's index in it. */
export type AnchoredAt = { tree: AnchorTree; index: number };

/** `SeedingRewards.claim`'s arguments (but the possession proof), in the contract's ABI shapes. */
export type ClaimArgs = {
  epoch: number;
  contents: ClaimContent[];
  anchorings: { count: bigint; proof: Hex[]; flags: boolean[] }[];
  /** Receipts packed as `content << 128 | bytes << 64 | nonce`. */
  batches: { leecher: Address; r: Hex; vs: Hex; receipts: bigint[] }[];
};

export type ClaimPlan = ClaimArgs & {
  seeder: Address;
  /** What `commit` binds: keccak256 of the batches' EIP-712 digests, in claim order. */
  commitment: Hex;
  receiptCount: number;
  totalBytes: bigint;
  /** The content hash of the claim's `index`-th receipt (the challenge names one). */
  contentAt(index: number): Hex;
};

export class ClaimError extends SeedcraftError {
  constructor(details: string) {
    super("CLAIM_INVALID", "Cannot build this claim.", details);
    this.name = "ClaimError";
  }
}

/** How a claim carries one receipt. */
export function packReceipt(content: number, bytes: bigint, nonce: bigint): bigint {
  return (BigInt(content) << 128n) | (bytes << 64n) | nonce;
}

function compareLeechers(a: SignedReceiptBatch, b: SignedReceiptBatch): number {
  const x = hexToBigInt(a.leecher);
  const y = hexToBigInt(b.leecher);
  if (x !== y) return x < y ? -1 : 1;
  const m = a.receipts[0]?.nonce ?? 0n;
  const n = b.receipts[0]?.nonce ?? 0n;
  return m < n ? -1 : m > n ? 1 : 0;
}

/**
 * Orders the batches as the contract wants (by leecher, then nonce), proves their contents anchored (one
 * multiproof per anchored batch) and computes the commitment. `anchored` maps a lower-case content hash
 * to where it was anchored.
 */
export function planClaim(options: {
  seeder: Address;
  epoch: number;
  batches: readonly SignedReceiptBatch[];
  anchored: ReadonlyMap<string, AnchoredAt>;
  domain: ReceiptDomain;
}): ClaimPlan {
  const seeder = getAddress(options.seeder);
  const batches = [...options.batches].sort(compareLeechers);
  if (batches.length === 0) throw new ClaimError("a claim needs at least one receipt");

  // Check every batch and group the distinct contents by the anchored batch that proves them.
  const groups = new Map<AnchorTree, number[]>();
  const seen = new Set<string>();
  let lastKey = -1n;
  for (const batch of batches) {
    validateReceiptBatch(batch);
    if (getAddress(batch.seeder) !== seeder) throw new ClaimError(`a batch names seeder ${batch.seeder}`);
    if (batch.epoch !== options.epoch) throw new ClaimError(`a batch is for epoch ${batch.epoch}`);
    if (!/^0x[0-9a-fA-F]{128}$/.test(batch.signature)) throw new InvalidReceiptError("expected a compact signature");
    for (const item of batch.receipts) {
      const key = (hexToBigInt(batch.leecher) << 64n) | item.nonce;
      if (key <= lastKey) throw new ClaimError(`leecher ${batch.leecher} repeats nonce ${item.nonce}`);
      lastKey = key;
      const hash = item.contentHash.toLowerCase();
      if (seen.has(hash)) continue;
      seen.add(hash);
      const at = options.anchored.get(hash);
      if (!at) throw new ClaimError(`no anchoring proof for content ${item.contentHash}`);
      groups.set(at.tree, [...(groups.get(at.tree) ?? []), at.index]);
    }
  }

  const contents: ClaimContent[] = [];
  const anchorings: ClaimArgs["anchorings"] = [];
  const contentIndex = new Map<string, number>();
  for (const [tree, indices] of groups) {
    const { leaves, proof, flags } = tree.multiProof(indices);
    for (const leaf of leaves) contentIndex.set(leaf.hash.toLowerCase(), contents.push(leaf) - 1);
    anchorings.push({ count: BigInt(leaves.length), proof, flags });
  }

  const digests: Hex[] = [];
  const order: Hex[] = [];
  let totalBytes = 0n;
  const args = batches.map((batch) => {
    digests.push(receiptBatchDigest(batch, options.domain));
    const receipts = batch.receipts.map((item) => {
      order.push(item.contentHash);
      totalBytes += item.bytes;
      return packReceipt(contentIndex.get(item.contentHash.toLowerCase()) as number, item.bytes, item.nonce);
    });
    return {
      leecher: getAddress(batch.leecher),
      r: sliceHex(batch.signature, 0, 32),
      vs: sliceHex(batch.signature, 32, 64),
      receipts,
    };
  });
  return {
    seeder,
    epoch: options.epoch,
    contents,
    anchorings,
    batches: args,
    commitment: keccak256(concatHex(digests)),
    receiptCount: order.length,
    totalBytes,
    contentAt(index) {
      const hash = order[index];
      if (hash === undefined) throw new ClaimError(`no receipt ${index} in a claim of ${order.length}`);
      return hash;
    },
  };
}

/** The challenge SeedingRewards derives from the challenge block's hash: which receipt, which leaf of its chunk. */
export function challengeOf(
  challengeBlockHash: Hex,
  seeder: Address,
  epoch: number,
  receiptCount: number,
): { receiptIndex: number; leafIndex: number } {
  const seed = hexToBigInt(
    keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "address" }, { type: "uint32" }],
        [challengeBlockHash, seeder, epoch],
      ),
    ),
  );
  return {
    receiptIndex: Number(seed % BigInt(receiptCount)),
    leafIndex: Number((seed >> 128n) % BigInt(LEAF_COUNT)),
  };
}
