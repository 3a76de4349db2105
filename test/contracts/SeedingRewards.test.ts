import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concatHex, getAddress, type Hex, keccak256, type LocalAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { AnchorTree } from "../../core/anchors.ts";
import { challengeOf } from "../../core/claim.ts";
import type { ChunkMerkle } from "../../core/merkle.ts";
import { receiptBatchDigest, type SignedReceiptBatch } from "../../core/receipt.ts";
import { localAccountOf } from "../helpers/accounts.ts";
import {
  type AnchoredBatch,
  anchorBatch,
  anchoringProofs,
  authorizeSession,
  claimEpoch,
  commitClaim,
  cube,
  deploySeedcraft,
  type EditedChunk,
  editChunk,
  planFor,
  possessionFor,
  prng,
  receiptBatch,
  type SeedcraftParameters,
  type SeedcraftWorld,
  sendClaim,
  sessionKey,
  type TestWallet,
  testWallets,
  travelToEpoch,
} from "../helpers/seeding.ts";

const CHUNK = 65_536n;

/**
 * A fresh chain: a builder anchored a 2×2×2 area (the contents), two leechers played in epoch 0 (one of
 * them through a session key), and the clock stands at the start of epoch 2, so epoch 1 is claimable.
 */
async function seededWorld(parameters: SeedcraftParameters = {}) {
  const world = await deploySeedcraft(parameters);
  const [builder, seeder, leecherA, leecherB, outsider, seederB] = await testWallets(world.viem, 6);
  if (!builder || !seeder || !leecherA || !leecherB || !outsider || !seederB) throw new Error("unreachable");
  const random = prng(11);
  const chunks = cube(2, [0, 0, 0]).map((coords) => editChunk(coords, 8, random));
  const anchoredBatch = await anchorBatch(world, builder, chunks);
  const keyB = sessionKey(1);
  await anchorBatch(world, leecherA, [editChunk([50, 0, 0], 1, random)]);
  await authorizeSession(world, leecherB, keyB);
  await anchorBatch(world, keyB, [editChunk([51, 0, 0], 1, random)]);
  await travelToEpoch(world, 2);
  return {
    world,
    builder,
    seeder,
    seederB,
    leecherA,
    leecherB,
    outsider,
    keyB,
    random,
    chunks,
    anchoredBatch,
    anchored: anchoringProofs([anchoredBatch]),
    held: heldChunks(chunks),
  };
}

/** The first leaf after `leaf` whose bytes differ from it. */
function differentLeaf(merkle: ChunkMerkle, leaf: number): number {
  const bytes = merkle.leafBytes(leaf);
  for (let step = 1; step < 64; step++) {
    const other = (leaf + step) % 64;
    const candidate = merkle.leafBytes(other);
    if (candidate.some((byte, i) => byte !== bytes[i])) return other;
  }
  throw new Error("every leaf of this chunk is the same");
}

function heldChunks(chunks: readonly EditedChunk[]): Map<string, ChunkMerkle> {
  return new Map(chunks.map((c) => [c.hash.toLowerCase(), c.merkle]));
}

/** A leecher's batch for `contents` from a test wallet (signing as itself) or a session key. */
async function receipts(
  world: SeedcraftWorld,
  seeder: TestWallet,
  leecher: TestWallet,
  signer: LocalAccount | TestWallet,
  contents: readonly Hex[],
  options: { epoch?: number; bytes?: bigint; firstNonce?: bigint } = {},
): Promise<SignedReceiptBatch> {
  const key = "account" in signer ? localAccountOf(signer) : signer;
  return await receiptBatch(world, {
    seeder: seeder.account.address,
    leecher: leecher.account.address,
    signer: key,
    epoch: options.epoch ?? 1,
    contents,
    bytes: options.bytes ?? CHUNK,
    firstNonce: options.firstNonce,
  });
}

/** Commits `plan`, mines the challenge block and returns the honest possession proof (or a tampered one). */
async function committed(
  world: SeedcraftWorld,
  seeder: TestWallet,
  plan: ReturnType<typeof planFor>,
  held: Map<string, ChunkMerkle>,
  tamper?: Parameters<typeof possessionFor>[4],
) {
  const { blockNumber } = await commitClaim(world, seeder, plan);
  await world.networkHelpers.mine(1);
  return { blockNumber, ...(await possessionFor(world, plan, blockNumber, held, tamper)) };
}

type RewardsError = Extract<SeedcraftWorld["seedingRewards"]["abi"][number], { type: "error" }>["name"];

/** Commits `plan`, proves it honestly, and expects the claim to revert with `error` (and `args`, if given). */
async function expectRefused(
  world: SeedcraftWorld,
  seeder: TestWallet,
  plan: ReturnType<typeof planFor>,
  held: Map<string, ChunkMerkle>,
  error: RewardsError,
  args?: unknown[],
): Promise<void> {
  const { possession } = await committed(world, seeder, plan, held);
  const claim = sendClaim(world, seeder, plan, possession);
  // The argument tuple's type depends on the error; the assertion checks it at run time.
  if (args)
    await world.viem.assertions.revertWithCustomErrorWithArgs(claim, world.seedingRewards, error, args as never);
  else await world.viem.assertions.revertWithCustomError(claim, world.seedingRewards, error);
}

describe("SeedingRewards", () => {
  it("pays bytes × rate, rounded down, for receipts signed by wallets and session keys", async () => {
    const t = await seededWorld({ rewardRate: 10n ** 18n / 3n });
    const hashes = t.chunks.map((c) => c.hash);
    const batches = [
      await receipts(t.world, t.seeder, t.leecherA, t.leecherA, hashes.slice(0, 4)),
      await receipts(t.world, t.seeder, t.leecherB, t.keyB, hashes.slice(2, 8), { bytes: 1000n }),
    ];
    const plan = planFor(t.world, t.seeder, 1, batches, t.anchored);
    const { blockNumber, possession } = await committed(t.world, t.seeder, plan, t.held);
    const total = 4n * CHUNK + 6n * 1000n;
    const reward = (total * (10n ** 18n / 3n)) / 10n ** 18n;
    await t.world.viem.assertions.emitWithArgs(
      sendClaim(t.world, t.seeder, plan, possession),
      t.world.seedingRewards,
      "RewardClaimed",
      [getAddress(t.seeder.account.address), 1, 10n, total, reward],
    );
    assert.equal(await t.world.energyToken.read.balanceOf([t.seeder.account.address]), reward);
    assert.equal(await t.world.seedingRewards.read.attestedBy([t.leecherA.account.address, 1]), 4n * CHUNK);
    assert.equal(await t.world.seedingRewards.read.attestedBy([t.leecherB.account.address, 1]), 6000n);
    // core/ derives the same challenge the contract does, and both digests agree.
    const [receiptIndex, leafIndex] = await t.world.seedingRewards.read.challengeOf([t.seeder.account.address, 10n]);
    const block = await t.world.publicClient.getBlock({ blockNumber: blockNumber + 1n });
    assert.deepEqual(challengeOf(block.hash, plan.seeder, 1, 10), {
      receiptIndex: Number(receiptIndex),
      leafIndex: Number(leafIndex),
    });
    const [first] = batches as [SignedReceiptBatch];
    assert.equal(
      await t.world.seedingRewards.read.batchDigest([
        first.seeder,
        first.leecher,
        first.epoch,
        first.receipts.map((r) => r.contentHash),
        first.receipts.map((r) => r.bytes),
        first.receipts.map((r) => r.nonce),
      ]),
      receiptBatchDigest(first, t.world.receiptDomain),
    );
  });

  it("emits ClaimCommitted naming the challenge block, and refuses a second commitment to the same epoch", async () => {
    const t = await seededWorld();
    const plan = planFor(
      t.world,
      t.seeder,
      1,
      [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex])],
      t.anchored,
    );
    const tx = t.world.seedingRewards.write.commit([1, plan.commitment], { account: t.seeder.account });
    const block = (await t.world.publicClient.getBlockNumber()) + 1n;
    await t.world.viem.assertions.emitWithArgs(tx, t.world.seedingRewards, "ClaimCommitted", [
      getAddress(t.seeder.account.address),
      1,
      plan.commitment,
      block + 1n,
    ]);
    await t.world.viem.assertions.revertWithCustomErrorWithArgs(
      t.world.seedingRewards.write.commit([1, plan.commitment], { account: t.seeder.account }),
      t.world.seedingRewards,
      "AlreadyCommitted",
      [getAddress(t.seeder.account.address), 1],
    );
  });

  describe("attacks that must fail", () => {
    it("a replayed receipt: the same claim twice, a receipt twice in one claim, last epoch's receipts again", async () => {
      const t = await seededWorld();
      const batch = await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex]);
      const result = await claimEpoch(t.world, t.seeder, {
        epoch: 1,
        batches: [batch],
        anchored: t.anchored,
        chunks: t.held,
      });
      assert.ok(result.reward > 0n);
      const plan = result.plan;
      const { possession } = await possessionFor(
        t.world,
        plan,
        (await t.world.publicClient.getBlockNumber()) - 2n,
        t.held,
      );
      await t.world.viem.assertions.revertWithCustomError(
        sendClaim(t.world, t.seeder, plan, possession),
        t.world.seedingRewards,
        "NotCommitted",
      );
      await t.world.viem.assertions.revertWithCustomError(
        t.world.seedingRewards.write.commit([1, plan.commitment], { account: t.seeder.account }),
        t.world.seedingRewards,
        "AlreadyCommitted",
      );
      // Epoch 2: the same batch twice in one claim repeats its nonces.
      await travelToEpoch(t.world, 3);
      const again = await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex], {
        epoch: 2,
      });
      const single = planFor(t.world, t.seeder, 2, [again], t.anchored);
      const [only] = single.batches;
      const digest = receiptBatchDigest(again, t.world.receiptDomain);
      const doubled = {
        ...single,
        batches: [only, only] as typeof single.batches,
        receiptCount: 2,
        commitment: keccak256(concatHex([digest, digest])),
        contentAt: () => again.receipts[0]?.contentHash as Hex,
      };
      await expectRefused(t.world, t.seeder, doubled, t.held, "ReceiptOutOfOrder", [
        getAddress(t.leecherA.account.address),
        0n,
      ]);
      // Epoch 3: epoch 1's signed batch relabelled as epoch 3 no longer matches its signature.
      await travelToEpoch(t.world, 4);
      const relabelled = { ...batch, epoch: 3 };
      const replay = planFor(t.world, t.seeder, 3, [relabelled], t.anchored);
      await expectRefused(t.world, t.seeder, replay, t.held, "BadReceiptSigner");
    });

    it("a receipt for a hash that was never anchored", async () => {
      const t = await seededWorld();
      // The seeder makes up a chunk and a one-leaf "batch" for it, and proves it against that fake root.
      const fake = editChunk([9, 9, 9], 3, t.random);
      const fakeBatch: AnchoredBatch = {
        ...t.anchoredBatch,
        leaves: [{ chunkId: fake.chunkId, version: 1, hash: fake.hash }],
      };
      fakeBatch.tree = new AnchorTree(fakeBatch.leaves);
      const anchored = new Map([...t.anchored, ...anchoringProofs([fakeBatch])]);
      const plan = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex, fake.hash])],
        anchored,
      );
      const held = new Map([...t.held, ...heldChunks([fake])]);
      const c = await committed(t.world, t.seeder, plan, held);
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        sendClaim(t.world, t.seeder, plan, c.possession),
        t.world.seedingRewards,
        "ContentNotAnchored",
        [fake.hash],
      );
    });

    it("a forged signature, and receipts the seeder signed to itself", async () => {
      const t = await seededWorld();
      const forger = privateKeyToAccount(generatePrivateKey());
      const forged = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, forger, [t.chunks[0]?.hash as Hex])],
        t.anchored,
      );
      await expectRefused(t.world, t.seeder, forged, t.held, "BadReceiptSigner", [
        getAddress(t.leecherA.account.address),
        forger.address,
      ]);
      // The seeder cannot be its own leecher (core/ refuses to sign such a receipt, so build it by hand).
      await travelToEpoch(t.world, 3);
      const honest = await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex], {
        epoch: 2,
      });
      const plan = planFor(t.world, t.seeder, 2, [honest], t.anchored);
      const self = {
        ...plan,
        batches: plan.batches.map((b) => ({ ...b, leecher: getAddress(t.seeder.account.address) })),
      };
      await expectRefused(t.world, t.seeder, self, t.held, "SelfReceipt", [getAddress(t.seeder.account.address)]);
    });

    it("receipts signed by a session key that has expired or been revoked", async () => {
      const t = await seededWorld();
      // Leecher A enrols a short-lived key in epoch 2; it expires before the claim.
      const shortKey = sessionKey(2);
      await authorizeSession(t.world, t.leecherA, shortKey, 60n);
      const expiring = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, shortKey, [t.chunks[0]?.hash as Hex])],
        t.anchored,
      );
      await t.world.networkHelpers.time.increase(61);
      await expectRefused(t.world, t.seeder, expiring, t.held, "BadReceiptSigner", [
        getAddress(t.leecherA.account.address),
        shortKey.address,
      ]);
      // Leecher B revokes its key: what the key signed no longer counts (epoch 2, so the seeder can commit again).
      await travelToEpoch(t.world, 3);
      const revoked = planFor(
        t.world,
        t.seeder,
        2,
        [await receipts(t.world, t.seeder, t.leecherB, t.keyB, [t.chunks[1]?.hash as Hex], { epoch: 2 })],
        t.anchored,
      );
      await t.world.sessionRegistry.write.revoke([t.keyB.address], { account: t.leecherB.account });
      await expectRefused(t.world, t.seeder, revoked, t.held, "BadReceiptSigner", [
        getAddress(t.leecherB.account.address),
        t.keyB.address,
      ]);
    });

    it("an over-cap claim: per leecher per epoch (across seeders) and per seeder per epoch", async () => {
      const t = await seededWorld({ leecherCap: 3n * CHUNK, seederCap: 4n * CHUNK });
      const hashes = t.chunks.map((c) => c.hash);
      // Seeder A takes 2 chunks' worth of leecher A's cap; seeder B then asks for 2 more: over 3.
      await claimEpoch(t.world, t.seeder, {
        epoch: 1,
        batches: [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, hashes.slice(0, 2))],
        anchored: t.anchored,
        chunks: t.held,
      });
      const overLeecher = planFor(
        t.world,
        t.seederB,
        1,
        [await receipts(t.world, t.seederB, t.leecherA, t.leecherA, hashes.slice(2, 4))],
        t.anchored,
      );
      await expectRefused(t.world, t.seederB, overLeecher, t.held, "LeecherCapExceeded", [
        getAddress(t.leecherA.account.address),
        1,
        4n * CHUNK,
        3n * CHUNK,
      ]);
      // Seeder B, epoch 2: 3 + 3 chunks from two leechers is within each leecher's cap but over the seeder's 4.
      await travelToEpoch(t.world, 3);
      const overSeeder = planFor(
        t.world,
        t.seederB,
        2,
        [
          await receipts(t.world, t.seederB, t.leecherA, t.leecherA, hashes.slice(0, 3), { epoch: 2 }),
          await receipts(t.world, t.seederB, t.leecherB, t.keyB, hashes.slice(3, 6), { epoch: 2 }),
        ],
        t.anchored,
      );
      await expectRefused(t.world, t.seederB, overSeeder, t.held, "SeederCapExceeded", [
        getAddress(t.seederB.account.address),
        2,
        6n * CHUNK,
        4n * CHUNK,
      ]);
      assert.equal(await t.world.energyToken.read.balanceOf([t.seederB.account.address]), 0n);
    });

    it("a possession proof for the wrong leaf, or from another chunk", async () => {
      const t = await seededWorld();
      const plan = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex])],
        t.anchored,
      );
      const wrongLeaf = await committed(t.world, t.seeder, plan, t.held, {
        // Another leaf with other bytes: two identical leaves (all air, say) would rightly prove each other.
        leafIndex: (leaf) => differentLeaf(t.chunks[0]?.merkle as ChunkMerkle, leaf),
      });
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        sendClaim(t.world, t.seeder, plan, wrongLeaf.possession),
        t.world.seedingRewards,
        "PossessionNotProven",
        [t.chunks[0]?.hash as Hex, BigInt(wrongLeaf.challenge.leafIndex)],
      );
      // The right leaf index, but of another (anchored) chunk.
      const other = await possessionFor(t.world, plan, wrongLeaf.blockNumber, t.held, {
        merkle: t.chunks[1]?.merkle,
      });
      await t.world.viem.assertions.revertWithCustomError(
        sendClaim(t.world, t.seeder, plan, other.possession),
        t.world.seedingRewards,
        "PossessionNotProven",
      );
      // The honest proof still goes through: a failed proof cost nothing but gas.
      const honest = await possessionFor(t.world, plan, wrongLeaf.blockNumber, t.held);
      await sendClaim(t.world, t.seeder, plan, honest.possession);
      assert.ok((await t.world.energyToken.read.balanceOf([t.seeder.account.address])) > 0n);
    });

    it("a claim outside its window: before the epoch ends, or after the window closes", async () => {
      const t = await seededWorld({ claimWindow: 2n });
      const batch = await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex], {
        epoch: 2,
      });
      const early = planFor(t.world, t.seeder, 2, [batch], t.anchored);
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        t.world.seedingRewards.write.commit([2, early.commitment], { account: t.seeder.account }),
        t.world.seedingRewards,
        "EpochNotOver",
        [2, 2n],
      );
      // Committed in time, proven too late.
      await travelToEpoch(t.world, 4);
      const c = await committed(t.world, t.seeder, early, t.held);
      await travelToEpoch(t.world, 5);
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        sendClaim(t.world, t.seeder, early, c.possession),
        t.world.seedingRewards,
        "ClaimWindowClosed",
        [2, 5n],
      );
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        t.world.seedingRewards.write.commit([1, early.commitment], { account: t.seeder.account }),
        t.world.seedingRewards,
        "ClaimWindowClosed",
        [1, 5n],
      );
    });

    it("receipts from a leecher that has not played, or began to play only in that epoch", async () => {
      const t = await seededWorld();
      const never = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.outsider, t.outsider, [t.chunks[0]?.hash as Hex])],
        t.anchored,
      );
      await expectRefused(t.world, t.seeder, never, t.held, "LeecherNotEligible", [
        getAddress(t.outsider.account.address),
        1,
      ]);
      // The outsider anchors now, in epoch 2: it is eligible from epoch 3 on, not for epoch 2.
      await anchorBatch(t.world, t.outsider, [editChunk([60, 0, 0], 1, t.random)]);
      await travelToEpoch(t.world, 3);
      const fresh = planFor(
        t.world,
        t.seeder,
        2,
        [await receipts(t.world, t.seeder, t.outsider, t.outsider, [t.chunks[0]?.hash as Hex], { epoch: 2 })],
        t.anchored,
      );
      await expectRefused(t.world, t.seeder, fresh, t.held, "LeecherNotEligible");
    });

    it("receipts that differ from the commitment, and proofs before or long after the challenge block", async () => {
      const t = await seededWorld();
      const hashes = t.chunks.map((c) => c.hash);
      const committedPlan = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, hashes.slice(0, 2))],
        t.anchored,
      );
      const bigger = planFor(
        t.world,
        t.seeder,
        1,
        [await receipts(t.world, t.seeder, t.leecherA, t.leecherA, hashes.slice(0, 3))],
        t.anchored,
      );
      const { blockNumber } = await commitClaim(t.world, t.seeder, committedPlan);
      // The very next block is the challenge block itself: its hash is not known inside it.
      const dummy = { leaf: toHex(new Uint8Array(1024)), siblings: Array<Hex>(6).fill(keccak256("0x")) };
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        sendClaim(t.world, t.seeder, committedPlan, dummy),
        t.world.seedingRewards,
        "ChallengeNotReady",
        [blockNumber + 1n],
      );
      await t.world.networkHelpers.mine(1);
      const { possession } = await possessionFor(t.world, bigger, blockNumber, t.held);
      await t.world.viem.assertions.revertWithCustomError(
        sendClaim(t.world, t.seeder, bigger, possession),
        t.world.seedingRewards,
        "CommitmentMismatch",
      );
      await t.world.networkHelpers.mine(300);
      await t.world.viem.assertions.revertWithCustomErrorWithArgs(
        sendClaim(t.world, t.seeder, committedPlan, possession),
        t.world.seedingRewards,
        "ChallengeExpired",
        [blockNumber + 1n],
      );
    });

    it("malformed claims: no receipts, a content index out of range, broken anchoring proofs, bad sizes", async () => {
      const t = await seededWorld();
      const batch = await receipts(t.world, t.seeder, t.leecherA, t.leecherA, [t.chunks[0]?.hash as Hex]);
      const plan = planFor(t.world, t.seeder, 1, [batch], t.anchored);
      const c = await committed(t.world, t.seeder, plan, t.held);
      const { seedingRewards } = t.world;
      const [only] = plan.batches;
      if (!only) throw new Error("unreachable");
      type ClaimError = "EmptyClaim" | "BadContentIndex" | "BadReceiptBytes" | "BadAnchoring";
      const cases: [ClaimError, typeof plan][] = [
        ["EmptyClaim", { ...plan, batches: [{ ...only, receipts: [] }] }],
        ["BadContentIndex", { ...plan, batches: [{ ...only, receipts: [(5n << 128n) | (CHUNK << 64n)] }] }],
        ["BadReceiptBytes", { ...plan, batches: [{ ...only, receipts: [0n] }] }],
        ["BadAnchoring", { ...plan, anchorings: plan.anchorings.map((a) => ({ ...a, count: 0n })) }],
        ["BadAnchoring", { ...plan, anchorings: [] }],
      ];
      for (const [error, bad] of cases) {
        await t.world.viem.assertions.revertWithCustomError(
          sendClaim(t.world, t.seeder, bad, c.possession),
          seedingRewards,
          error,
        );
      }
      await sendClaim(t.world, t.seeder, plan, c.possession);
    });
  });

  it("refuses a deployment with a zero epoch length, window or cap, and mismatched digest arrays", async () => {
    const t = await seededWorld();
    const { chunkLedger, sessionRegistry, energyToken, viem } = t.world;
    const base = [chunkLedger.address, sessionRegistry.address, energyToken.address] as const;
    const good = { epochLength: 3600n, claimWindow: 24n, rewardRate: 1n, leecherCap: 1n, seederCap: 1n };
    for (const parameter of ["epochLength", "claimWindow", "leecherCap", "seederCap"] as const) {
      const p = { ...good, [parameter]: 0n };
      await assert.rejects(
        viem.deployContract("SeedingRewards", [
          ...base,
          p.epochLength,
          p.claimWindow,
          p.rewardRate,
          p.leecherCap,
          p.seederCap,
        ]),
        (error: Error) => error.message.includes("InvalidConfig") && error.message.includes(parameter),
        parameter,
      );
    }
    await viem.assertions.revertWithCustomError(
      t.world.seedingRewards.read.batchDigest([
        t.seeder.account.address,
        t.leecherA.account.address,
        1,
        [t.chunks[0]?.hash as Hex],
        [],
        [0n],
      ]),
      t.world.seedingRewards,
      "LengthMismatch",
    );
  });

  it("is the only minter of energy", async () => {
    const t = await seededWorld();
    const minter = await t.world.energyToken.read.MINTER_ROLE();
    assert.equal(await t.world.energyToken.read.hasRole([minter, t.world.seedingRewards.address]), true);
    assert.equal(await t.world.energyToken.read.hasRole([minter, t.builder.account.address]), false);
    await t.world.viem.assertions.revertWithCustomError(
      t.world.energyToken.write.mint([t.builder.account.address, 1n], { account: t.builder.account }),
      t.world.energyToken,
      "AccessControlUnauthorizedAccount",
    );
  });
});
