/**
 * p2p/claim.ts on the in-process hardhat chain: the claim of an epoch from a real receipt store and chunk cache,
 * its progress in order, a batch the chain would refuse left out before the commit, an epoch with nothing to
 * pay refused without a commit, and an epoch claimed on the chain but not in the store marked claimed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type Abi, getAddress, type Hex, parseEventLogs } from "viem";
import { encodeChunk } from "../../core/chunk.ts";
import type { Deployment } from "../../core/deployment.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import type { ChunkHead } from "../../p2p/chunk-store.ts";
import {
  type ClaimChain,
  ClaimFailedError,
  type ClaimProgress,
  claimEpoch,
  epochState,
  epochsToClaim,
  rewardFor,
} from "../../p2p/claim.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { ReceiptStore } from "../../p2p/node/receipt-store.ts";
import { localAccountOf } from "../helpers/accounts.ts";
import {
  cube,
  deploySeedcraft,
  type EditedChunk,
  editChunk,
  prng,
  receiptBatch,
  type SeedcraftWorld,
  type TestWallet,
  testWallets,
  travelToEpoch,
} from "../helpers/seeding.ts";

describe("p2p/claim.ts: where an epoch stands", () => {
  it("follows SeedingRewards' window, the store and the seeder's commitment", () => {
    const at = { current: 10, window: 3 };
    assert.equal(epochState(10, at), "open");
    assert.equal(epochState(9, at), "claimable");
    assert.equal(epochState(7, at), "claimable");
    assert.equal(epochState(6, at), "closed");
    assert.equal(epochState(9, at, true), "claimed");
    assert.equal(epochState(8, { ...at, committed: { epoch: 8, claimed: true } }), "claimed");
    assert.equal(epochState(8, { ...at, committed: { epoch: 8, claimed: false } }), "claimable", "resumes its commit");
    assert.equal(epochState(8, { ...at, committed: { epoch: 9, claimed: false } }), "passed");
  });

  it("prices bytes as SeedingRewards.rewardFor does", () => {
    const rate = 10n ** 36n / 1_048_576n;
    assert.equal(rewardFor(1_048_576n, rate), (1_048_576n * rate) / 10n ** 18n);
    assert.equal(rewardFor(0n, rate), 0n);
  });
});

/** A Deployment (as deployments/<network>.json holds it) of the contracts the test deployed. */
function deploymentOf(world: SeedcraftWorld): Deployment {
  const entry = (contract: { address: Hex; abi: Abi }) => ({ address: contract.address, abi: contract.abi });
  return {
    network: "claim-test",
    chainId: world.receiptDomain.chainId,
    startBlock: 0,
    contracts: {
      ChunkLedger: entry(world.chunkLedger),
      SessionRegistry: entry(world.sessionRegistry),
      EnergyToken: entry(world.energyToken),
      SeedingRewards: entry(world.seedingRewards),
    },
  };
}

/** Anchors `chunks` (version 1 each) with their real torrents' infoHashes, as a player does. */
async function anchor(world: SeedcraftWorld, wallet: TestWallet, chunks: readonly EditedChunk[]): Promise<ChunkHead[]> {
  const torrents = chunks.map((chunk) => chunkTorrent(chunk.chunkId, 1, encodeChunk(chunk.blocks)));
  const updates = chunks.map((chunk, i) => ({
    chunkId: chunk.chunkId,
    expectedVersion: 0,
    newHash: chunk.hash,
    infoHash: torrents[i]?.infoHash as Hex,
    watermark: chunk.watermark,
  }));
  const hash = await world.chunkLedger.write.anchorBatch([updates], { account: wallet.account });
  const receipt = await world.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
  return parseEventLogs({ abi: world.chunkLedger.abi, logs: receipt.logs, eventName: "ChunkAnchored" }).map(
    (log, i) => ({
      chunkId: log.args.chunkId,
      version: log.args.version,
      hash: log.args.hash,
      infoHash: torrents[i]?.infoHash as Hex,
    }),
  );
}

describe("p2p/claim.ts on a chain", { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "seedcraft-claim-"));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("claims an epoch with progress, leaves out what the chain would refuse, and marks it claimed", async () => {
    const world = await deploySeedcraft();
    const [builder, seeder, leecher, newcomer] = await testWallets(world.viem, 4);
    if (!builder || !seeder || !leecher || !newcomer) throw new Error("unreachable");
    const random = prng(5);
    const chunks = cube(2)
      .slice(0, 3)
      .map((coords) => editChunk(coords, 6, random));
    const heads = await anchor(world, builder, chunks);
    // The leecher anchored before epoch 1, so it may attest; the newcomer never did.
    await anchor(world, leecher, [editChunk([40, 0, 0], 1, random)]);
    await travelToEpoch(world, 1);

    const store = await ReceiptStore.open(await tempDir());
    const cache = await NodeChunkCache.open(await tempDir());
    for (const [i, head] of heads.entries()) await cache.put(head, encodeChunk((chunks[i] as EditedChunk).blocks));
    const contents = heads.map((head) => head.hash);
    const seederAddress = seeder.account.address;
    const sign = (wallet: TestWallet, epoch: number, names: Hex[]) =>
      receiptBatch(world, {
        seeder: seederAddress,
        leecher: wallet.account.address,
        signer: localAccountOf(wallet),
        epoch,
        contents: names,
      });
    await store.put(await sign(leecher, 1, contents));
    await store.put(await sign(newcomer, 1, contents.slice(0, 1)));
    await store.put(await sign(newcomer, 2, contents.slice(0, 2)));
    await travelToEpoch(world, 3);

    const chain: ClaimChain = {
      deployment: deploymentOf(world),
      publicClient: world.publicClient,
      seeder: seederAddress,
      write: (request) => seeder.writeContract(request),
    };
    const before = await epochsToClaim(chain, store);
    assert.equal(before.window.current, 3);
    assert.deepEqual(
      before.epochs.map(({ epoch, state, leechers, receipts, bytes }) => [epoch, state, leechers, receipts, bytes]),
      [
        [1, "claimable", 2, 4, 4n * 65_536n],
        [2, "claimable", 1, 2, 2n * 65_536n],
      ],
    );

    const seen: ClaimProgress[] = [];
    const result = await claimEpoch({
      chain,
      receipts: store,
      chunks: cache,
      epoch: 1,
      onProgress: (progress) => seen.push(progress),
      blockPollingMs: 20,
    });
    const rate = await world.seedingRewards.read.rewardRate();
    assert.deepEqual(result, { epoch: 1, reward: rewardFor(3n * 65_536n, rate), receipts: 3, bytes: 3n * 65_536n });
    assert.equal(await world.energyToken.read.balanceOf([seederAddress]), result.reward);
    assert.ok(store.claimed(1));

    // Every step in order, the bar never going back, and the newcomer's batch left out before the commit.
    const steps = [...new Set(seen.map((progress) => progress.step))];
    assert.deepEqual(steps, ["filtering", "anchoring", "committing", "waiting", "proving", "claiming", "done"]);
    for (let i = 1; i < seen.length; i++)
      assert.ok((seen[i] as ClaimProgress).fraction >= (seen[i - 1] as ClaimProgress).fraction);
    assert.equal(seen.at(-1)?.fraction, 1);
    const lines = seen.flatMap((progress) => (progress.text === undefined ? [] : [progress.text]));
    assert.equal(
      lines[0],
      `epoch 1: leaving out 1 receipt(s) from ${getAddress(newcomer.account.address)}: it had not anchored anything before the epoch`,
    );
    assert.match(lines[1] ?? "", /^epoch 1: 1 leecher\(s\), proving 3 snapshot\(s\) anchored…$/);
    assert.match(lines[2] ?? "", /^epoch 1: 3 receipts, 196608 bytes; committing…$/);

    // Epoch 2 holds only the newcomer's receipts: refused before any commit.
    await assert.rejects(
      claimEpoch({ chain, receipts: store, chunks: cache, epoch: 2 }),
      (error: unknown) => error instanceof ClaimFailedError && error.code === "CLAIM_NOTHING",
    );
    const [, committedEpoch] = await world.seedingRewards.read.commitmentOf([seederAddress]);
    assert.equal(committedEpoch, 1, "nothing committed for epoch 2");
    const afterwards = await epochsToClaim(chain, store);
    assert.deepEqual(
      afterwards.epochs.map(({ epoch, state }) => [epoch, state]),
      [
        [1, "claimed"],
        [2, "claimable"],
      ],
    );

    // A store that missed the claim (a run stopped right after it) learns it from the chain, paying nothing twice.
    const stale = await ReceiptStore.open(await tempDir());
    await stale.put(await sign(leecher, 1, contents));
    const again = await claimEpoch({ chain, receipts: stale, chunks: cache, epoch: 1 });
    assert.deepEqual(again, result);
    assert.ok(stale.claimed(1));
    assert.equal(await world.energyToken.read.balanceOf([seederAddress]), result.reward);

    await Promise.all([store.close(), stale.close(), cache.close()]);
  });
});
