/**
 * Chunk hashes: a keccak256 Merkle root over the canonical encoding cut into 1 KiB leaves.
 * Domain separation: leaf = keccak256(0x00 ‖ leafBytes), node = keccak256(0x01 ‖ left ‖ right).
 * SeedingRewards verifies possession proofs built here with the same rule.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { CHUNK_BYTES, encodeChunk } from "./chunk.ts";
import { SeedcraftError } from "./errors.ts";

export const LEAF_BYTES = 1024;
export const LEAF_COUNT = CHUNK_BYTES / LEAF_BYTES; // 64
export const TREE_DEPTH = Math.log2(LEAF_COUNT); // 6

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export class InvalidProofError extends SeedcraftError {
  constructor(details: string) {
    super("INVALID_PROOF", "Not a valid Merkle proof.", details);
    this.name = "InvalidProofError";
  }
}

export function hashLeaf(leaf: Uint8Array): Uint8Array {
  return keccak_256.create().update(Uint8Array.of(LEAF_PREFIX)).update(leaf).digest();
}

const nodeInput = new Uint8Array(65);
export function hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeInput[0] = NODE_PREFIX;
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return keccak_256(nodeInput);
}

/**
 * The Merkle tree of one chunk, kept so that an edit rehashes only its leaf's path (7 hashes, not 127).
 * Nodes live in heap order: the root at 0, node i's children at 2i+1 and 2i+2, leaves at 63..126.
 */
export class ChunkMerkle {
  readonly #nodes: Uint8Array[];
  readonly #bytes: Uint8Array;

  /** Builds the tree over `blocks`, which it keeps a view of: call `touch` after changing a block. */
  constructor(blocks: Uint16Array) {
    this.#bytes = encodeChunk(blocks);
    this.#nodes = new Array<Uint8Array>(2 * LEAF_COUNT - 1);
    for (let leaf = 0; leaf < LEAF_COUNT; leaf++) this.#nodes[LEAF_COUNT - 1 + leaf] = hashLeaf(this.#leafBytes(leaf));
    for (let i = LEAF_COUNT - 2; i >= 0; i--) this.#nodes[i] = hashNode(this.#node(2 * i + 1), this.#node(2 * i + 2));
  }

  get root(): Uint8Array {
    return this.#node(0);
  }

  /** Rehashes the path of the leaf that holds block `index`. */
  touch(index: number): void {
    this.touchLeaf(Math.floor((index * 2) / LEAF_BYTES));
  }

  /** Rehashes the path of leaf `leaf` (0..63). */
  touchLeaf(leaf: number): void {
    let i = LEAF_COUNT - 1 + leaf;
    this.#nodes[i] = hashLeaf(this.#leafBytes(leaf));
    while (i > 0) {
      i = (i - 1) >> 1;
      this.#nodes[i] = hashNode(this.#node(2 * i + 1), this.#node(2 * i + 2));
    }
  }

  /** The sibling hashes from leaf `leaf` up to the root. */
  proof(leaf: number): Uint8Array[] {
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= LEAF_COUNT)
      throw new InvalidProofError(`leaf ${leaf} is out of range`);
    const siblings: Uint8Array[] = [];
    for (let i = LEAF_COUNT - 1 + leaf; i > 0; i = (i - 1) >> 1) siblings.push(this.#node(i % 2 === 1 ? i + 1 : i - 1));
    return siblings;
  }

  leafBytes(leaf: number): Uint8Array {
    return this.#leafBytes(leaf).slice();
  }

  #leafBytes(leaf: number): Uint8Array {
    return this.#bytes.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES);
  }

  #node(i: number): Uint8Array {
    return this.#nodes[i] as Uint8Array;
  }
}

/** The Merkle root of a chunk's blocks. */
export function chunkHash(blocks: Uint16Array): Uint8Array {
  return new ChunkMerkle(blocks).root;
}

/** Checks that `leafData` is leaf number `leaf` of the chunk whose root is `root`. */
export function verifyLeafProof(
  root: Uint8Array,
  leaf: number,
  leafData: Uint8Array,
  siblings: readonly Uint8Array[],
): boolean {
  if (leafData.length !== LEAF_BYTES || siblings.length !== TREE_DEPTH || leaf < 0 || leaf >= LEAF_COUNT) return false;
  let hash = hashLeaf(leafData);
  let position = LEAF_COUNT - 1 + leaf;
  for (const sibling of siblings) {
    hash = position % 2 === 1 ? hashNode(hash, sibling) : hashNode(sibling, hash);
    position = (position - 1) >> 1;
  }
  return equalBytes(hash, root);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
