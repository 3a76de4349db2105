/**
 * A Seedcraft deployment on the in-process hardhat network, and the steps of the seeding economy on it:
 * anchor edited chunks in batches, have leechers sign receipt batches, commit and claim. The contract
 * tests and `bench:gas` share it, so both exercise the real Ignition module and the real core/ code.
 */
import { network } from "hardhat";
import { type Address, bytesToHex, type Hex, parseEventLogs } from "viem";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { type AnchoredLeaf, AnchorTree } from "../../core/anchors.ts";
import { BLOCKS } from "../../core/blocks.ts";
import { CHUNK_VOLUME, chunkIdOf } from "../../core/chunk.ts";
import { type AnchoredAt, type ClaimPlan, challengeOf, planClaim } from "../../core/claim.ts";
import { ChunkMerkle } from "../../core/merkle.ts";
import { type ReceiptBatch, type SignedReceiptBatch, signReceiptBatch } from "../../core/receipt.ts";
import { signSessionConsent } from "../../core/session.ts";
import { generateChunk } from "../../core/terrain.ts";
import SeedcraftModule, { type SEEDCRAFT_DEFAULTS } from "../../deploy/ignition/modules/Seedcraft.ts";
import { type TestWallet, testWallets } from "./accounts.ts";
import { prng } from "./prng.ts";

export { prng };

export const TERRAIN_SEED = 1234;

type Connection = Awaited<ReturnType<typeof network.create>>;
export type SeedcraftParameters = Partial<Record<keyof typeof SEEDCRAFT_DEFAULTS, bigint>>;

/** Deploys every contract through the Ignition module, as `npm run deploy` does. */
export async function deploySeedcraft(parameters: SeedcraftParameters = {}, connection?: Connection) {
  const conn = connection ?? (await network.create());
  const contracts = await conn.ignition.deploy(SeedcraftModule, {
    displayUi: false,
    parameters: { Seedcraft: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, v.toString()])) },
  });
  const publicClient = await conn.viem.getPublicClient();
  const chainId = await publicClient.getChainId();
  return {
    ...contracts,
    connection: conn,
    viem: conn.viem,
    networkHelpers: conn.networkHelpers,
    publicClient,
    receiptDomain: { chainId, verifyingContract: contracts.seedingRewards.address },
  };
}

export type SeedcraftWorld = Awaited<ReturnType<typeof deploySeedcraft>>;
export { type TestWallet, testWallets };

/** One chunk's new state, ready to anchor. */
export type EditedChunk = {
  chunkId: bigint;
  blocks: Uint16Array;
  merkle: ChunkMerkle;
  hash: Hex;
  /** The HLC watermark of its newest edit: `wallMs << 16 | logical`. */
  watermark: bigint;
};

const PLAIN_BLOCKS = BLOCKS.filter((b) => !b.premium && b.id !== 0).map((b) => b.id);

/** Terrain for `(cx, cy, cz)` with `edits` random block placements on top of `base` (or of fresh terrain). */
export function editChunk(
  coords: readonly [number, number, number],
  edits: number,
  random: () => number,
  base?: Uint16Array,
): EditedChunk {
  const blocks = base ? base.slice() : generateChunk(TERRAIN_SEED, ...coords);
  const merkle = new ChunkMerkle(blocks);
  for (let i = 0; i < edits; i++) {
    const index = Math.floor(random() * CHUNK_VOLUME);
    blocks[index] = PLAIN_BLOCKS[Math.floor(random() * PLAIN_BLOCKS.length)] as number;
    merkle.touch(index);
  }
  return {
    chunkId: chunkIdOf(...coords),
    blocks,
    merkle,
    hash: bytesToHex(merkle.root),
    watermark: (BigInt(Date.UTC(2026, 10, 25)) << 16n) | BigInt(edits),
  };
}

/** The chunk coordinates of an n×n×n cube starting at `origin`. */
export function cube(n: number, origin: readonly [number, number, number] = [0, 0, 0]): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let y = 0; y < n; y++)
    for (let z = 0; z < n; z++) for (let x = 0; x < n; x++) out.push([origin[0] + x, origin[1] + y, origin[2] + z]);
  return out;
}

export type AnchoredBatch = {
  gasUsed: bigint;
  root: Hex;
  tree: AnchorTree;
  leaves: AnchoredLeaf[];
};

/** Anchors `chunks` (each on `expectedVersion`) in one `anchorBatch` transaction from `wallet`. */
export async function anchorBatch(
  world: SeedcraftWorld,
  wallet: TestWallet | LocalAccount,
  chunks: readonly EditedChunk[],
  expectedVersions: readonly number[] = chunks.map(() => 0),
): Promise<AnchoredBatch> {
  const updates = chunks.map((chunk, i) => ({
    chunkId: chunk.chunkId,
    expectedVersion: expectedVersions[i] ?? 0,
    newHash: chunk.hash,
    infoHash: chunk.hash.slice(0, 42) as Hex,
    watermark: chunk.watermark,
  }));
  const account = "account" in wallet ? wallet.account : wallet;
  const txHash = await world.chunkLedger.write.anchorBatch([updates], { account });
  const receipt = await world.publicClient.waitForTransactionReceipt({ hash: txHash });
  if (receipt.status !== "success") throw new Error(`anchorBatch reverted in ${txHash}`);
  const leaves = parseEventLogs({ abi: world.chunkLedger.abi, logs: receipt.logs, eventName: "ChunkAnchored" }).map(
    (log) => ({ chunkId: log.args.chunkId, version: log.args.version, hash: log.args.hash }),
  );
  const tree = new AnchorTree(leaves);
  return { gasUsed: receipt.gasUsed, root: tree.root, tree, leaves };
}

/** A deterministic session key for tests and benchmarks (randomness is the one thing allowed to be fixed). */
export function sessionKey(label: number): LocalAccount {
  return privateKeyToAccount(`0x${(0x5eed0000 + label).toString(16).padStart(64, "0")}`);
}

/** Authorizes `key` as a session key of `wallet` (for a day), and gives it gas money to send its own anchors. */
export async function authorizeSession(
  world: SeedcraftWorld,
  wallet: TestWallet,
  key: LocalAccount,
  seconds = 86_400n,
): Promise<void> {
  await world.networkHelpers.setBalance(key.address, 10n ** 18n);
  const expiresAt = (await world.publicClient.getBlock()).timestamp + seconds;
  const consent = await signSessionConsent(key, wallet.account.address, expiresAt, {
    chainId: world.receiptDomain.chainId,
    verifyingContract: world.sessionRegistry.address,
  });
  const hash = await world.sessionRegistry.write.authorize([key.address, expiresAt, consent], {
    account: wallet.account,
  });
  await world.publicClient.waitForTransactionReceipt({ hash });
}

/** Moves the chain's clock to the start of `epoch` + `offset` seconds (and mines a block there). */
export async function travelToEpoch(world: SeedcraftWorld, epoch: number, offset = 1): Promise<void> {
  const start = await world.seedingRewards.read.epochStart([epoch]);
  await world.networkHelpers.time.increaseTo(start + BigInt(offset));
}

/** A leecher's signed batch: one receipt per content, `bytes` each, nonces from `firstNonce`. */
export async function receiptBatch(
  world: SeedcraftWorld,
  options: {
    seeder: Address;
    leecher: Address;
    signer: LocalAccount;
    epoch: number;
    contents: readonly Hex[];
    bytes?: bigint;
    firstNonce?: bigint;
  },
): Promise<SignedReceiptBatch> {
  const batch: ReceiptBatch = {
    seeder: options.seeder,
    leecher: options.leecher,
    epoch: options.epoch,
    receipts: options.contents.map((contentHash, i) => ({
      contentHash,
      bytes: options.bytes ?? 65_536n,
      nonce: (options.firstNonce ?? 0n) + BigInt(i),
    })),
  };
  return await signReceiptBatch(batch, options.signer, world.receiptDomain);
}

/** Where every leaf of the given batches was anchored, keyed by lower-case hash, as `planClaim` wants it. */
export function anchoringProofs(batches: readonly AnchoredBatch[]): Map<string, AnchoredAt> {
  const proofs = new Map<string, AnchoredAt>();
  for (const batch of batches) {
    batch.leaves.forEach((leaf, index) => {
      proofs.set(leaf.hash.toLowerCase(), { tree: batch.tree, index });
    });
  }
  return proofs;
}

export type ClaimResult = { commitGas: bigint; claimGas: bigint; reward: bigint; plan: ClaimPlan };

/** Plans a claim from signed batches (as the headless seeder does). */
export function planFor(
  world: SeedcraftWorld,
  seeder: TestWallet,
  epoch: number,
  batches: readonly SignedReceiptBatch[],
  anchored: ReadonlyMap<string, AnchoredAt>,
): ClaimPlan {
  return planClaim({ seeder: seeder.account.address, epoch, batches, anchored, domain: world.receiptDomain });
}

/** Step 1: commit to a plan. Returns the commit's block and gas. */
export async function commitClaim(world: SeedcraftWorld, seeder: TestWallet | LocalAccount, plan: ClaimPlan) {
  const account = "account" in seeder ? seeder.account : seeder;
  const tx = await world.seedingRewards.write.commit([plan.epoch, plan.commitment], { account });
  const receipt = await world.publicClient.waitForTransactionReceipt({ hash: tx });
  return { blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
}

/** The possession proof a seeder holding `chunks` gives for a commitment made in `commitBlock`. */
export async function possessionFor(
  world: SeedcraftWorld,
  plan: ClaimPlan,
  commitBlock: bigint,
  chunks: ReadonlyMap<string, ChunkMerkle>,
  tamper: { leafIndex?: (challenged: number) => number; merkle?: ChunkMerkle } = {},
) {
  const challengeBlock = await world.publicClient.getBlock({ blockNumber: commitBlock + 1n });
  const challenge = challengeOf(challengeBlock.hash, plan.seeder, plan.epoch, plan.receiptCount);
  const contentHash = plan.contentAt(challenge.receiptIndex);
  const merkle = tamper.merkle ?? chunks.get(contentHash.toLowerCase());
  if (!merkle) throw new Error(`the seeder does not hold content ${contentHash}`);
  const leafIndex = tamper.leafIndex?.(challenge.leafIndex) ?? challenge.leafIndex;
  return {
    challenge,
    possession: {
      leaf: bytesToHex(merkle.leafBytes(leafIndex)),
      siblings: merkle.proof(leafIndex).map((node) => bytesToHex(node)),
    },
  };
}

/** Step 2's call, as a promise the tests can expect to revert. */
export function sendClaim(
  world: SeedcraftWorld,
  seeder: TestWallet | LocalAccount,
  plan: ClaimPlan,
  possession: { leaf: Hex; siblings: Hex[] },
) {
  const account = "account" in seeder ? seeder.account : seeder;
  return world.seedingRewards.write.claim([plan.epoch, plan.contents, plan.anchorings, plan.batches, possession], {
    account,
  });
}

/**
 * The whole claim: plan, commit, wait for the challenge block, prove the challenged leaf, claim.
 * `chunks` maps a lower-case content hash to the seeder's copy of the chunk (for the possession proof).
 */
export async function claimEpoch(
  world: SeedcraftWorld,
  seeder: TestWallet,
  options: {
    epoch: number;
    batches: readonly SignedReceiptBatch[];
    anchored: ReadonlyMap<string, AnchoredAt>;
    chunks: ReadonlyMap<string, ChunkMerkle>;
  },
): Promise<ClaimResult> {
  const plan = planFor(world, seeder, options.epoch, options.batches, options.anchored);
  const committed = await commitClaim(world, seeder, plan);
  // The challenge is the hash of the block after the commit: it must be mined before the claim.
  await world.networkHelpers.mine(1);
  const { possession } = await possessionFor(world, plan, committed.blockNumber, options.chunks);
  const claimTx = await sendClaim(world, seeder, plan, possession);
  const claimed = await world.publicClient.waitForTransactionReceipt({ hash: claimTx });
  if (claimed.status !== "success") throw new Error(`claim reverted in ${claimTx}`);
  const [event] = parseEventLogs({ abi: world.seedingRewards.abi, logs: claimed.logs, eventName: "RewardClaimed" });
  return { commitGas: committed.gasUsed, claimGas: claimed.gasUsed, reward: event?.args.reward ?? 0n, plan };
}
