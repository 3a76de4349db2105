/**
 * bench:gas — what the contracts cost, measured on the in-process hardhat network (EDR) after a real
 * Ignition deploy:
 * - a single-chunk anchor in its own transaction (the baseline), then batches of 64 distinct chunks
 *   (a 4×4×4 area of real terrain with real edits, first anchors and re-anchors);
 * - per edit: the batch's gas over the edits its chunk hashes fold in (ops never go on chain one by one);
 * - a claim of 32 receipts (commit + claim with possession proof) from 4 eligible leechers signing with
 *   session keys, one signed batch each, over 8 anchored contents; and the same 32 receipts signed one by one;
 * - spending energy to unlock a premium block.
 * Usage: npm run bench:gas   Last line: one JSON object.
 */
import { network } from "hardhat";
import { parseEther } from "viem";
import type { ChunkMerkle } from "../core/merkle.ts";
import type { SignedReceiptBatch } from "../core/receipt.ts";
import {
  anchorBatch,
  anchoringProofs,
  authorizeSession,
  claimEpoch,
  cube,
  deploySeedcraft,
  editChunk,
  prng,
  receiptBatch,
  sessionKey,
  testWallets,
  travelToEpoch,
} from "../test/helpers/seeding.ts";

const EDITS_PER_CHUNK = 16;
const LEECHERS = 4;
const CONTENTS = 8;
const GOLD = 10n;
const STEADY_CLAIMS = 5;

const log = (line: string) => process.stderr.write(`${line}\n`);
const random = prng(42);
const connection = await network.create();
const world = await deploySeedcraft({ premiumPrice: parseEther("1") }, connection);
const wallets = await testWallets(world.viem, 2 + LEECHERS);
const [builder, seeder, ...leechers] = wallets as [(typeof wallets)[0], (typeof wallets)[0], ...typeof wallets];
const hardfork = await connection.provider.request({ method: "web3_clientVersion" });

// Everyone who anchors has anchored once before (the first anchor of a wallet also records when it began to play).
await anchorBatch(world, builder, [editChunk([100, 0, 100], 1, random)]);

log("single-chunk anchors…");
const lone = editChunk([-7, 2, 9], EDITS_PER_CHUNK, random);
const singleFirst = await anchorBatch(world, builder, [lone]);
const singleAgain = await anchorBatch(
  world,
  builder,
  [editChunk([-7, 2, 9], EDITS_PER_CHUNK, random, lone.blocks)],
  [1],
);

log("a batch of 64 chunks, first anchors…");
const area = cube(4, [0, 0, 0]);
const first = area.map((coords) => editChunk(coords, EDITS_PER_CHUNK, random));
const firstBatch = await anchorBatch(world, builder, first);
log("the same 64 chunks, re-anchored…");
const second = first.map((chunk, i) =>
  editChunk(area[i] as [number, number, number], EDITS_PER_CHUNK, random, chunk.blocks),
);
const secondBatch = await anchorBatch(
  world,
  builder,
  second,
  second.map(() => 1),
);

// Leechers play (anchor) in epoch 0 with session keys; receipts are for epoch 1, claimed in epoch 2.
log("leechers join, receipts, claims…");
const keys = leechers.map((_, i) => sessionKey(i));
for (const [i, leecher] of leechers.entries()) {
  await authorizeSession(world, leecher, keys[i] as (typeof keys)[0]);
  await anchorBatch(world, keys[i] as (typeof keys)[0], [editChunk([200 + i, 0, 0], 1, random)]);
}
const contents = second.slice(0, CONTENTS);
const chunks = new Map<string, ChunkMerkle>(contents.map((c) => [c.hash.toLowerCase(), c.merkle]));
const anchored = anchoringProofs([secondBatch]);
const hashes = contents.map((c) => c.hash);

async function receiptsFor(epoch: number, oneSigEach: boolean): Promise<SignedReceiptBatch[]> {
  const batches: SignedReceiptBatch[] = [];
  for (const [i, leecher] of leechers.entries()) {
    const common = {
      seeder: seeder.account.address,
      leecher: leecher.account.address,
      signer: keys[i] as (typeof keys)[0],
      epoch,
    };
    if (!oneSigEach) batches.push(await receiptBatch(world, { ...common, contents: hashes }));
    else
      for (const [n, hash] of hashes.entries())
        batches.push(await receiptBatch(world, { ...common, contents: [hash], firstNonce: BigInt(n) }));
  }
  return batches;
}

await travelToEpoch(world, 2);
const firstClaim = await claimEpoch(world, seeder, {
  epoch: 1,
  batches: await receiptsFor(1, false),
  anchored,
  chunks,
});
// The possession leaf the challenge picks changes the calldata a little: take the median of several epochs.
const steadyClaims = [];
for (let epoch = 2; epoch < 2 + STEADY_CLAIMS; epoch++) {
  await travelToEpoch(world, epoch + 1);
  steadyClaims.push(
    await claimEpoch(world, seeder, { epoch, batches: await receiptsFor(epoch, false), anchored, chunks }),
  );
}
for (const c of steadyClaims) log(`claim epoch ${c.plan.epoch}: commit ${c.commitGas} claim ${c.claimGas}`);
steadyClaims.sort((a, b) => Number(a.commitGas + a.claimGas - b.commitGas - b.claimGas));
const steadyClaim = steadyClaims[Math.floor(STEADY_CLAIMS / 2)] as (typeof steadyClaims)[number];
const worstClaim = steadyClaims.at(-1) as (typeof steadyClaims)[number];
const oneSigEpoch = 2 + STEADY_CLAIMS;
await travelToEpoch(world, oneSigEpoch + 1);
const oneSigClaim = await claimEpoch(world, seeder, {
  epoch: oneSigEpoch,
  batches: await receiptsFor(oneSigEpoch, true),
  anchored,
  chunks,
});

log("spending energy…");
const spendTx = await world.energyToken.write.spend([parseEther("1"), GOLD], { account: seeder.account });
const spendGas = (await world.publicClient.waitForTransactionReceipt({ hash: spendTx })).gasUsed;

const receipts = firstClaim.plan.receiptCount;
const total = (claim: typeof firstClaim) => Number(claim.commitGas + claim.claimGas);
const perChunk = (batch: typeof firstBatch) => Math.round(Number(batch.gasUsed) / area.length);
console.log(
  JSON.stringify({
    single_anchor_gas: Number(singleAgain.gasUsed),
    per_chunk_gas_batch64: perChunk(secondBatch),
    per_edit_gas_batch: Math.round(perChunk(secondBatch) / EDITS_PER_CHUNK),
    edits_per_chunk: EDITS_PER_CHUNK,
    per_receipt_gas_batch32: Math.round(total(steadyClaim) / receipts),
    claim_gas_total_batch32: total(steadyClaim),
    spend_gas: Number(spendGas),
    single_anchor_gas_first_anchor: Number(singleFirst.gasUsed),
    per_chunk_gas_batch64_first_anchor: perChunk(firstBatch),
    per_edit_gas_batch_first_anchor: Math.round(perChunk(firstBatch) / EDITS_PER_CHUNK),
    batch64_vs_single: Number((Number(singleAgain.gasUsed) / perChunk(secondBatch)).toFixed(2)),
    per_receipt_gas_batch32_first_claim: Math.round(total(firstClaim) / receipts),
    claim_gas_total_batch32_first_claim: total(firstClaim),
    per_receipt_gas_batch32_worst_of_runs: Math.round(total(worstClaim) / receipts),
    per_receipt_gas_batch32_one_sig_each: Math.round(total(oneSigClaim) / receipts),
    commit_gas: Number(steadyClaim.commitGas),
    claim_gas: Number(steadyClaim.claimGas),
    reward_energy_per_claim: Number(steadyClaim.reward) / 1e18,
    setup: {
      anchors:
        "64 distinct chunks (a 4x4x4 area of generated terrain) in one anchorBatch, each with 16 random edits folded into its hash; " +
        "the headline figures re-anchor chunks anchored before (v1->v2, a world's steady state), *_first_anchor ones anchor never-touched chunks (v0->v1: fresh storage slots); " +
        "single = one chunk alone in its own transaction, the baseline",
      receipts: `${receipts} receipts = ${LEECHERS} leechers x ${CONTENTS} anchored contents of 65536 bytes, one session-key signature per leecher batch, per-receipt = (commit + claim) / ${receipts}`,
      claims:
        `headline = median over ${STEADY_CLAIMS} epochs of a seeder's later claims, leechers attested before (worst_of_runs: the highest); *_first_claim = the seeder's first commitment and energy and the leechers' first attestations; ` +
        "one_sig_each = the same 32 receipts, each signed alone",
      gas_per_tx: "gasUsed of the mined transactions, 21000 intrinsic included",
      runs: `anchors 1 (gas is deterministic); claims ${STEADY_CLAIMS}`,
      chain: hardfork,
    },
  }),
);
