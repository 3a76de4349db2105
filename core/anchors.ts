/**
 * The Merkle tree ChunkLedger builds over each anchored batch: leaves `(chunkId, version, hash)` in batch
 * order, hashed and laid out as OpenZeppelin's StandardMerkleTree does (unsorted leaves). Its root is
 * stored on chain, so a proof shows that a chunk hash was anchored, at which version.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Hex } from "viem";
import { SeedcraftError } from "./errors.ts";

export type AnchoredLeaf = { chunkId: bigint; version: number; hash: Hex };

export class AnchorProofError extends SeedcraftError {
  constructor(details: string) {
    super("ANCHOR_PROOF", "Cannot prove that chunk hash was anchored.", details);
    this.name = "AnchorProofError";
  }
}

const LEAF_ENCODING = ["uint256", "uint32", "bytes32"];

export class AnchorTree {
  readonly #tree: StandardMerkleTree<[bigint, number, Hex]>;

  /** `leaves` in the order of the batch's `ChunkAnchored` events. */
  constructor(leaves: readonly AnchoredLeaf[]) {
    if (leaves.length === 0) throw new AnchorProofError("an anchored batch has at least one chunk");
    this.#tree = StandardMerkleTree.of(
      leaves.map((leaf) => [leaf.chunkId, leaf.version, leaf.hash]),
      LEAF_ENCODING,
      { sortLeaves: false },
    );
  }

  get root(): Hex {
    return this.#tree.root as Hex;
  }

  /** The proof for the batch's `index`-th leaf. */
  proof(index: number): Hex[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.#tree.length)
      throw new AnchorProofError(`no leaf ${index} in a batch of ${this.#tree.length}`);
    return this.#tree.getProof(index) as Hex[];
  }

  /**
   * One proof for several leaves (by batch index), as SeedingRewards checks it: the leaves come back in
   * the order the proof needs them.
   */
  multiProof(indices: readonly number[]): { leaves: AnchoredLeaf[]; proof: Hex[]; flags: boolean[] } {
    if (indices.length === 0) throw new AnchorProofError("a multiproof needs at least one leaf");
    for (const index of indices) this.proof(index);
    const { leaves, proof, proofFlags } = this.#tree.getMultiProof([...indices]);
    return {
      leaves: leaves.map(([chunkId, version, hash]) => ({ chunkId: BigInt(chunkId), version: Number(version), hash })),
      proof: proof as Hex[],
      flags: proofFlags,
    };
  }

  /** The batch index of the leaf carrying `hash`, or -1. */
  indexOf(hash: Hex): number {
    for (const [index, [, , leafHash]] of this.#tree.entries()) {
      if (leafHash.toLowerCase() === hash.toLowerCase()) return index;
    }
    return -1;
  }

  /** The proof for the leaf carrying `hash`; throws AnchorProofError if the batch has none. */
  proofOf(hash: Hex): Hex[] {
    const index = this.indexOf(hash);
    if (index < 0) throw new AnchorProofError(`hash ${hash} is not in this batch`);
    return this.proof(index);
  }
}
