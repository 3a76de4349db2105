/**
 * Seedcraft from ethers v6 alone: anchor chunks, sign seeding receipts, and claim energy, with addresses
 * and ABIs read from deployments/<network>.json. No Seedcraft code is imported: this is what an
 * integrator writes. The README quotes it; test/contracts/Ethers.test.ts runs it against a deployment.
 */
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  AbiCoder,
  type BytesLike,
  Contract,
  type ContractRunner,
  concat,
  keccak256,
  Signature,
  type Signer,
  TypedDataEncoder,
} from "ethers";

/** The four contracts of a deployment file, bound to a signer or provider. */
export function loadSeedcraft(deploymentFile: string, runner: ContractRunner) {
  const deployment = JSON.parse(readFileSync(deploymentFile, "utf8"));
  const at = (name: string) => new Contract(deployment.contracts[name].address, deployment.contracts[name].abi, runner);
  return {
    chainId: Number(deployment.chainId),
    ledger: at("ChunkLedger"),
    rewards: at("SeedingRewards"),
    energy: at("EnergyToken"),
    sessions: at("SessionRegistry"),
  };
}

export type ChunkUpdate = {
  chunkId: bigint;
  expectedVersion: number;
  newHash: string;
  infoHash: string;
  watermark: bigint;
};

/** Anchors a batch; returns the anchored leaves and the batch's Merkle tree (its root is now on chain). */
export async function anchorChunks(ledger: Contract, updates: ChunkUpdate[]) {
  const receipt = await (await ledger.getFunction("anchorBatch")(updates)).wait();
  const leaves: [bigint, number, string][] = [];
  for (const log of receipt.logs) {
    const event = ledger.interface.parseLog(log);
    if (event?.name === "ChunkAnchored") leaves.push([event.args.chunkId, Number(event.args.version), event.args.hash]);
  }
  return { leaves, tree: StandardMerkleTree.of(leaves, ["uint256", "uint32", "bytes32"], { sortLeaves: false }) };
}

/** The chunk hash: 64 leaves of 1 KiB, leaf = keccak256(0x00 ‖ bytes), node = keccak256(0x01 ‖ left ‖ right). */
export function chunkLevels(snapshot: Uint8Array): string[][] {
  const levels = [
    Array.from({ length: 64 }, (_, i) => keccak256(concat(["0x00", snapshot.subarray(i * 1024, (i + 1) * 1024)]))),
  ];
  while ((levels.at(-1) as string[]).length > 1) {
    const below = levels.at(-1) as string[];
    levels.push(
      below
        .filter((_, i) => i % 2 === 0)
        .map((left, i) => keccak256(concat(["0x01", left, below[2 * i + 1] as string]))),
    );
  }
  return levels;
}

const RECEIPT = [
  { name: "seeder", type: "address" },
  { name: "leecher", type: "address" },
  { name: "contentHash", type: "bytes32" },
  { name: "bytes", type: "uint64" },
  { name: "epoch", type: "uint32" },
  { name: "nonce", type: "uint64" },
];
const RECEIPT_TYPES = { ReceiptBatch: [{ name: "receipts", type: "Receipt[]" }], Receipt: RECEIPT };

export type ReceiptBatch = {
  seeder: string;
  leecher: string;
  epoch: number;
  receipts: { contentHash: string; bytes: bigint; nonce: bigint }[];
};

async function receiptDomain(rewards: Contract, chainId: number) {
  return { name: "Seedcraft", version: "1", chainId, verifyingContract: await rewards.getAddress() };
}

const receiptMessage = (batch: ReceiptBatch) => ({
  receipts: batch.receipts.map((r) => ({ ...r, seeder: batch.seeder, leecher: batch.leecher, epoch: batch.epoch })),
});

/** The leecher (its wallet or session key) signs what it received from a seeder, as one batch. */
export async function signReceipts(leecher: Signer, rewards: Contract, chainId: number, batch: ReceiptBatch) {
  const signature = await leecher.signTypedData(
    await receiptDomain(rewards, chainId),
    RECEIPT_TYPES,
    receiptMessage(batch),
  );
  return { ...batch, signature };
}

export type SignedReceiptBatch = ReceiptBatch & { signature: string };

/**
 * Step 1 of a claim: commit to the receipt batches (ordered by leecher address, nonces increasing).
 * Returns the commit's block: the claim must wait until the block after it exists.
 */
export async function commitClaim(rewards: Contract, chainId: number, epoch: number, batches: SignedReceiptBatch[]) {
  const domain = await receiptDomain(rewards, chainId);
  const digests = batches.map((b) => TypedDataEncoder.hash(domain, RECEIPT_TYPES, receiptMessage(b)));
  const receipt = await (await rewards.getFunction("commit")(epoch, keccak256(concat(digests)))).wait();
  return receipt.blockNumber as number;
}

/**
 * Step 2: prove the receipts and possession of the challenged leaf. `tree` is the anchored batch holding
 * every content; `snapshots` maps a content hash to the seeder's copy of that chunk (65,536 bytes).
 */
export async function proveClaim(
  rewards: Contract,
  options: {
    seeder: string;
    epoch: number;
    commitBlock: number;
    batches: SignedReceiptBatch[];
    tree: StandardMerkleTree<[bigint, number, string]>;
    snapshots: Map<string, Uint8Array>;
  },
) {
  const { batches, tree, epoch } = options;
  // Contents: one multiproof against the anchored batch root, leaves in the order the proof wants.
  const wanted = [...new Set(batches.flatMap((b) => b.receipts.map((r) => r.contentHash)))];
  const indices = wanted.map((hash) => [...tree.entries()].findIndex(([, leaf]) => leaf[2] === hash));
  const multi = tree.getMultiProof(indices);
  const contents = multi.leaves.map(([chunkId, version, hash]) => ({ chunkId, version, hash }));
  const position = new Map(contents.map((c, i) => [c.hash, BigInt(i)]));
  const claimBatches = batches.map((b) => {
    const signature = Signature.from(b.signature);
    const receipts = b.receipts.map(
      (r) => ((position.get(r.contentHash) as bigint) << 128n) | (r.bytes << 64n) | r.nonce,
    );
    return { leecher: b.leecher, r: signature.r, vs: signature.yParityAndS, receipts };
  });
  // The challenge: the hash of the block after the commit picks a receipt and a leaf of its chunk.
  const provider = rewards.runner?.provider;
  const block = await provider?.getBlock(options.commitBlock + 1);
  if (!block?.hash) throw new Error(`block ${options.commitBlock + 1} is not mined yet`);
  const coder = AbiCoder.defaultAbiCoder();
  const seed = BigInt(keccak256(coder.encode(["bytes32", "address", "uint32"], [block.hash, options.seeder, epoch])));
  const all = batches.flatMap((b) => b.receipts);
  const challenged = all[Number(seed % BigInt(all.length))]?.contentHash as string;
  const leafIndex = Number((seed >> 128n) % 64n);
  const snapshot = options.snapshots.get(challenged) as Uint8Array;
  const levels = chunkLevels(snapshot);
  const siblings = levels.slice(0, 6).map((level, depth) => level[(leafIndex >> depth) ^ 1] as string);
  const possession = { leaf: snapshot.subarray(leafIndex * 1024, (leafIndex + 1) * 1024) as BytesLike, siblings };
  const anchorings = [{ count: contents.length, proof: multi.proof, flags: multi.proofFlags }];
  const receipt = await (
    await rewards.getFunction("claim")(epoch, contents, anchorings, claimBatches, possession)
  ).wait();
  return receipt;
}
