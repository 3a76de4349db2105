/**
 * The data plane with real parts on 127.0.0.1: the hardhat chain with the contracts (chunks anchored
 * with their torrents' infoHashes), the indexer (the heads snapshots are checked against), a DHT
 * bootstrap node, and Node peers whose links carry WebTorrent wires over WebRTC. Only randomness is fixed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  advanceToNextEpoch as advanceChainToNextEpoch,
  anchorSnapshots,
  localChainClients,
  seedingEpochClock,
} from "../../cli/local-chain.ts";
import { World } from "../../cli/world.ts";
import { CHUNK_SIZE, decodeChunk } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import type { Position } from "../../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import { CAPABILITIES } from "../../core/wire.ts";
import { ledgerHeadsOf } from "../../p2p/chain-heads.ts";
import type { FetchResult, TorrentLimits } from "../../p2p/chunk-torrents.ts";
import { type AnchoredHead, type HeadSource, IndexerHeads } from "../../p2p/heads.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { WorldDht } from "../../p2p/node/dht.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { ReceiptStore } from "../../p2p/node/receipt-store.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import {
  authorizeSessionKey,
  type LocalClients,
  localClients,
  newPlayers,
  type TestPlayer,
  waitForIndexedBlock,
} from "../helpers/chain-clients.ts";
import { area, editedSnapshot } from "../helpers/data-plane.ts";
import { openDoor } from "../helpers/door.ts";
import { prng } from "../helpers/prng.ts";
import { runCli, waitFor } from "../helpers/world.ts";

const NETWORK = "p2p-torrents";
const PORTS = { chain: 29545, indexer: 29069, app: 29173 };

type Player = TestPlayer;
type Started = { peer: NodePeer; cache: NodeChunkCache; receipts: ReceiptStore; fetched: FetchResult[] };

describe("p2p: the data plane", { timeout: 300_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let bootstrap: WorldDht;
  let seed: number;
  let epochs: Awaited<ReturnType<typeof seedingEpochClock>>;
  const running: Started[] = [];

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-p2p-torrents-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    epochs = await seedingEpochClock(clients);
    bootstrap = await WorldDht.start({ bootstrap: false });
  });

  after(async () => {
    await Promise.all([...running].map((s) => stopPeer(s)));
    await bootstrap?.destroy();
    await world?.stop();
    // libdatachannel's teardown of its threads timed out once under CI's load ("cleanup timeout (possible
    // deadlock)"), after every test here had passed: said, not a failure of the data plane.
    try {
      releaseWebRtc();
    } catch (error) {
      console.log(`releasing WebRTC: ${(error as Error).message}`);
    }
  });

  const players = (count: number) => newPlayers(clients, world.urls.indexer, count);

  function standAt(x: number, z: number): Position {
    return [x + 0.5, groundHeight(seed, x, z) + 1, z + 0.5];
  }

  async function startPeer(
    player: Player,
    position: Position,
    options: {
      cacheDir?: string;
      receiptsDir?: string;
      syncRadius?: number;
      resyncMs?: number;
      limits?: Partial<TorrentLimits>;
      /** Where it reads the indexer (default the world's). */
      indexerUrl?: string;
      /** Its heads (default the indexer's at `indexerUrl`). */
      heads?: HeadSource;
      /** Its hello's CAPABILITIES bits (CAPABILITIES.seeds: a seeder, asked first). */
      capabilities?: number;
    } = {},
  ): Promise<Started> {
    const cache = await NodeChunkCache.open(options.cacheDir ?? mkdtempSync(path.join(os.tmpdir(), "seedcraft-c-")));
    const receipts = await ReceiptStore.open(
      options.receiptsDir ?? mkdtempSync(path.join(os.tmpdir(), "seedcraft-r-")),
    );
    const fetched: FetchResult[] = [];
    const peer = await NodePeer.start({
      bootstrap: [`${bootstrap.address.host}:${bootstrap.address.port}`],
      domain: {
        chainId: clients.deployment.chainId,
        verifyingContract: clients.deployment.contracts.ChunkLedger.address,
      },
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: player.wallet.address,
      sessionKey: player.session,
      name: `peer-${player.wallet.address.slice(2, 8).toLowerCase()}`,
      position,
      discoverEveryMs: 300,
      capabilities: options.capabilities,
      data: {
        client: createTorrentClient(),
        store: cache,
        heads: options.heads ?? new IndexerHeads(options.indexerUrl ?? world.urls.indexer),
        limits: options.limits,
        syncRadius: options.syncRadius,
        resyncMs: options.resyncMs,
        onFetched: (result) => fetched.push(result),
        receipts: {
          domain: {
            chainId: clients.deployment.chainId,
            verifyingContract: clients.deployment.contracts.SeedingRewards.address,
          },
          epoch: () => epochs.epoch(),
          sink: receipts,
        },
      },
    });
    const started = { peer, cache, receipts, fetched };
    running.push(started);
    return started;
  }

  async function stopPeer(started: Started): Promise<void> {
    const index = running.indexOf(started);
    if (index >= 0) running.splice(index, 1);
    await started.peer.stop();
    await started.cache.close();
    await started.receipts.close();
  }

  /** Moves the local chain's clock into the next seeding epoch (and the peers' epoch clock with it). */
  async function advanceToNextEpoch(): Promise<void> {
    await advanceChainToNextEpoch(clients);
    await epochs.refresh();
  }

  /** The snapshots anchored by `anchor` in this file, by hash. */
  const snapshots = new Map<string, Uint8Array>();
  async function snapshotOf(head: AnchoredHead): Promise<Uint8Array> {
    const bytes = snapshots.get(head.hash);
    assert.ok(bytes, `no snapshot for ${head.hash}`);
    return bytes;
  }

  async function linked(a: NodePeer, b: NodePeer): Promise<void> {
    await waitFor(
      "the two peers to link",
      () => a.mesh.peer(b.id) !== undefined && b.mesh.peer(a.id) !== undefined,
      30_000,
    );
  }

  /** Anchors snapshots (as the dev account) and waits for the indexer to serve their heads. */
  async function anchor(
    items: { chunkId: bigint; snapshot: Uint8Array }[],
    expectedVersion = 0,
  ): Promise<AnchoredHead[]> {
    const { heads, blockNumber } = await anchorSnapshots(
      clients,
      items.map((item) => ({ ...item, expectedVersion, watermark: { wallMs: Date.now(), logical: 0 } })),
    );
    await waitForIndexedBlock(world.urls.indexer, blockNumber);
    heads.forEach((head, i) => {
      snapshots.set(head.hash, (items[i] as { snapshot: Uint8Array }).snapshot);
    });
    return heads;
  }

  it("fetches a snapshot over torrent wires between Node peers, checks it against the ledger, and trades a receipt for it", async () => {
    const random = prng(11);
    const [seederPlayer, leecherPlayer] = (await players(2)) as [Player, Player];
    const seeder = await startPeer(seederPlayer, standAt(4, 4));
    const leecher = await startPeer(leecherPlayer, standAt(6, 4));
    await linked(seeder.peer, leecher.peer);

    const item = editedSnapshot(seed, { cx: 0, cy: 0, cz: 0 }, random);
    const [head] = (await anchor([item])) as [AnchoredHead];
    await seeder.peer.torrents?.seed(head, item.snapshot, { own: true });

    assert.equal(await leecher.peer.sync?.load(head), "fetched");
    assert.equal(leecher.peer.replica.version(head.chunkId), 1);
    assert.equal(leecher.peer.replica.hash(head.chunkId), head.hash);
    await leecher.peer.torrents?.settled();
    const cached = await leecher.cache.get(head.chunkId, 1);
    assert.equal(cached?.head.hash, head.hash, "the leecher caches what it fetched");
    assert.deepEqual(
      leecher.fetched[0]?.sources,
      [{ peerId: seeder.peer.id, bytes: 65_536 }],
      "every byte came from the seeder",
    );
    assert.ok((seeder.peer.torrents?.stats().served ?? 0) >= 1);

    // The leecher signs a receipt for the 64 KiB; the seeder stores it, then acknowledges.
    await waitFor("the receipt to be acknowledged", () => leecher.peer.receiptSigner?.acked === 1, 10_000);
    const [batch] = seeder.receipts.batches();
    assert.equal(batch?.leecher, leecherPlayer.wallet.address);
    assert.equal(batch?.seeder, seederPlayer.wallet.address);
    assert.deepEqual(
      batch?.receipts.map((r) => [r.contentHash, r.bytes]),
      [[head.hash, 65_536n]],
    );

    // A newer version anchored by the seeder reaches the leecher through chunk metadata.
    const next = editedSnapshot(seed, { cx: 0, cy: 0, cz: 0 }, random, 40);
    const [head2] = (await anchor([next], 1)) as [AnchoredHead];
    await seeder.peer.sync?.anchored(head2, next.snapshot);
    await waitFor("the leecher to take version 2", () => leecher.peer.replica.version(head.chunkId) === 2, 15_000);
    assert.equal(leecher.peer.replica.hash(head.chunkId), head2.hash);
    await waitFor("the second receipt", () => leecher.peer.receiptSigner?.acked === 2, 10_000);
    assert.equal(seeder.receipts.batches()[0]?.receipts.length, 2);
    // Peers stay up until the end: a stopped DHT node slows every later lookup by a timeout.
  });

  it("loads a version whose announcement never reached it on its next round of keeping up with the ledger", async () => {
    const random = prng(14);
    const [seederPlayer, leecherPlayer] = (await players(2)) as [Player, Player];
    const x0 = 90 * CHUNK_SIZE;
    const seeder = await startPeer(seederPlayer, standAt(x0, 4));
    const leecher = await startPeer(leecherPlayer, standAt(x0 + 2, 4), { syncRadius: 1, resyncMs: 400 });
    await linked(seeder.peer, leecher.peer);
    // The join sync is over (nothing anchored here yet) before the anchor lands.
    assert.equal((await leecher.peer.joined)?.total, 0);

    const item = editedSnapshot(seed, { cx: 90, cy: 0, cz: 0 }, random);
    const [head] = (await anchor([item])) as [AnchoredHead];
    // Seeded, never announced: only the leecher's own rounds can find it. And seeded late, once the leecher's
    // rounds have asked for it and been refused: the seeder is asked again within the same fetch, not 10 s on.
    // (anchor() returns once the indexer serves the head; the leecher's rounds come every 400 ms.)
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const seededAt = performance.now();
    await seeder.peer.torrents?.seed(head, item.snapshot, { own: true });
    await waitFor("the leecher to take version 1", () => leecher.peer.replica.version(head.chunkId) === 1, 10_000);
    const tookMs = performance.now() - seededAt;
    assert.ok(tookMs < 6000, `taken ${Math.round(tookMs)} ms after it was seeded`);
    assert.equal(leecher.peer.replica.hash(head.chunkId), head.hash);
    assert.deepEqual(
      leecher.fetched.map((result) => result.sources.map((source) => source.peerId)),
      [[seeder.peer.id]],
      "fetched once, from the seeder",
    );
  });

  it("asks a seeder before the other peers that hold a snapshot, and them at once when the seeder has none", async () => {
    const random = prng(16);
    const [seederPlayer, otherPlayer, leecherPlayer] = (await players(3)) as [Player, Player, Player];
    const x0 = 96 * CHUNK_SIZE;
    const seeder = await startPeer(seederPlayer, standAt(x0, 4), { capabilities: CAPABILITIES.seeds });
    const other = await startPeer(otherPlayer, standAt(x0 + 1, 4));
    const leecher = await startPeer(leecherPlayer, standAt(x0 + 2, 4));
    await linked(seeder.peer, leecher.peer);
    await linked(other.peer, leecher.peer);
    const items = [0, 1, 2, 3, 4, 5].map((k) => editedSnapshot(seed, { cx: 96 + k, cy: 0, cz: 0 }, random));
    const heads = await anchor(items);
    // Both hold every snapshot; the seeder is asked first, the other peer only if the seeder is slow.
    for (const [i, head] of heads.entries()) {
      await seeder.peer.torrents?.seed(head, (items[i] as { snapshot: Uint8Array }).snapshot);
      await other.peer.torrents?.seed(head, (items[i] as { snapshot: Uint8Array }).snapshot);
    }
    for (const head of heads) assert.equal(await leecher.peer.sync?.load(head), "fetched");
    const sent = (peerId: string) =>
      leecher.fetched
        .flatMap((result) => result.sources)
        .reduce((sum, s) => sum + (s.peerId === peerId ? s.bytes : 0), 0);
    console.log(`seeder sent ${sent(seeder.peer.id)} bytes, the other peer ${sent(other.peer.id)}`);
    // Asked together, each would send about half (a run without the seeder's head start: 1.5 to 4 of 6).
    assert.ok(
      sent(other.peer.id) <= 65_536,
      `the seeder sent nearly all of the 6 snapshots (${sent(seeder.peer.id)} bytes, the other peer ${sent(other.peer.id)})`,
    );
    await waitFor("the seeder's receipts", () => seeder.receipts.batches().length > 0, 10_000);

    // A snapshot only the other peer holds: the seeder refuses at once, and the other peer is asked then.
    const only = editedSnapshot(seed, { cx: 102, cy: 0, cz: 0 }, random);
    const [onlyHead] = (await anchor([only])) as [AnchoredHead];
    await other.peer.torrents?.seed(onlyHead, only.snapshot);
    const startedAt = performance.now();
    assert.equal(await leecher.peer.sync?.load(onlyHead), "fetched");
    assert.deepEqual(
      leecher.fetched.at(-1)?.sources.map((source) => source.peerId),
      [other.peer.id],
    );
    console.log(
      `fetched from the other peer in ${Math.round(performance.now() - startedAt)} ms, the seeder having none`,
    );
  });

  it("takes a version announced while it could not ask the ledger, once it can, with no announce again", async () => {
    const random = prng(15);
    const [seederPlayer, leecherPlayer] = (await players(2)) as [Player, Player];
    const x0 = 93 * CHUNK_SIZE;
    const door = await openDoor(world.urls.indexer);
    try {
      const seeder = await startPeer(seederPlayer, standAt(x0, 4));
      // No rounds of its own: only the announce, and its wait for the ledger, can bring it the version.
      const leecher = await startPeer(leecherPlayer, standAt(x0 + 2, 4), { syncRadius: 1, indexerUrl: door.url });
      await linked(seeder.peer, leecher.peer);
      assert.equal((await leecher.peer.joined)?.total, 0);

      const item = editedSnapshot(seed, { cx: 93, cy: 0, cz: 0 }, random);
      door.open = false;
      const [head] = (await anchor([item])) as [AnchoredHead];
      await seeder.peer.sync?.anchored(head, item.snapshot);
      // Longer than a claim's check waits for an indexer that lags (5 s).
      await new Promise((resolve) => setTimeout(resolve, 7000));
      assert.equal(leecher.peer.replica.version(head.chunkId), 0, "not taken while the ledger cannot say");

      door.open = true;
      await waitFor("the leecher to take version 1", () => leecher.peer.replica.version(head.chunkId) === 1, 10_000);
      assert.equal(leecher.peer.replica.hash(head.chunkId), head.hash);
    } finally {
      door.close();
    }
  });

  it("takes a version announced before its indexer serves it, from the chain's head", async () => {
    const random = prng(17);
    const [seederPlayer, leecherPlayer] = (await players(2)) as [Player, Player];
    const x0 = 104 * CHUNK_SIZE;
    const door = await openDoor(world.urls.indexer);
    try {
      const seeder = await startPeer(seederPlayer, standAt(x0, 4));
      // No rounds of its own: only the announce can bring it a version. Its indexer is behind the door.
      const leecher = await startPeer(leecherPlayer, standAt(x0 + 2, 4), {
        syncRadius: 1,
        heads: ledgerHeadsOf(door.url, clients.publicClient, clients.deployment),
      });
      await linked(seeder.peer, leecher.peer);
      assert.equal((await leecher.peer.joined)?.total, 0);
      const first = editedSnapshot(seed, { cx: 104, cy: 0, cz: 0 }, random);
      const [head1] = (await anchor([first])) as [AnchoredHead];
      await seeder.peer.sync?.anchored(head1, first.snapshot);
      await waitFor("the leecher to take version 1", () => leecher.peer.replica.version(head1.chunkId) === 1, 10_000);

      // Its indexer stays on version 1 (not behind, as far as it says); version 2 is announced.
      door.frozen = true;
      const second = editedSnapshot(seed, { cx: 104, cy: 0, cz: 0 }, random, 40);
      const [head2] = (await anchor([second], 1)) as [AnchoredHead];
      const announcedAt = performance.now();
      await seeder.peer.sync?.anchored(head2, second.snapshot);
      await waitFor("the leecher to take version 2", () => leecher.peer.replica.version(head1.chunkId) === 2, 4_000);
      console.log(`version 2 taken ${Math.round(performance.now() - announcedAt)} ms after its announce`);
      assert.equal(leecher.peer.replica.hash(head1.chunkId), head2.hash);
      assert.equal((await new IndexerHeads(door.url).head(head1.chunkId))?.version, 1, "its indexer still says 1");
    } finally {
      door.close();
    }
  });

  it("rejects a poisoned snapshot, bans the peer that sent it, and keeps the chunk as it was", async () => {
    const random = prng(12);
    const [badPlayer, leecherPlayer] = (await players(2)) as [Player, Player];
    const bad = await startPeer(badPlayer, standAt(40, 4));
    const leecher = await startPeer(leecherPlayer, standAt(42, 4));
    await linked(bad.peer, leecher.peer);

    // An author anchors the hash of one snapshot with the infoHash of another, which the bad peer serves.
    const real = editedSnapshot(seed, { cx: 1, cy: 0, cz: 0 }, random);
    const poison = editedSnapshot(seed, { cx: 1, cy: 0, cz: 0 }, random, 64);
    const realHash = bytesToHex(chunkHash(decodeChunk(real.snapshot)));
    const poisonHead = {
      chunkId: poison.chunkId,
      version: 1,
      hash: bytesToHex(chunkHash(decodeChunk(poison.snapshot))),
      infoHash: chunkTorrent(poison.chunkId, 1, poison.snapshot).infoHash,
    };
    await bad.peer.torrents?.seed(poisonHead, poison.snapshot);
    const ledger = clients.deployment.contracts.ChunkLedger;
    const tx = await clients.walletClient.writeContract({
      address: ledger.address,
      abi: ledger.abi,
      functionName: "anchor",
      args: [real.chunkId, 0, realHash, poisonHead.infoHash, BigInt(Date.now()) << 16n],
    });
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash: tx, pollingInterval: 20 });
    await waitForIndexedBlock(world.urls.indexer, receipt.blockNumber);
    const head = await new IndexerHeads(world.urls.indexer).head(real.chunkId);
    assert.ok(head);
    assert.equal(head.hash, realHash);

    const before = leecher.peer.replica.hash(real.chunkId);
    await assert.rejects(leecher.peer.sync?.load(head) as Promise<unknown>, { code: "SNAPSHOT_MISMATCH" });
    assert.ok(leecher.peer.mesh.isBanned(bad.peer.id), "the sender is banned");
    assert.equal(leecher.peer.mesh.peer(bad.peer.id), undefined, "and dropped");
    assert.equal(leecher.peer.replica.version(real.chunkId), 0);
    assert.equal(leecher.peer.replica.hash(real.chunkId), before);
    assert.equal(await leecher.cache.get(real.chunkId, 1), undefined, "nothing poisoned is cached");
    assert.equal(leecher.peer.receiptSigner?.signed, 0, "no receipt for a poisoned snapshot");
  });

  it("syncs a 9×9 chunk area from 3 seeders on joining, then from its cache after a restart (a corrupt entry fetched again)", async () => {
    const random = prng(13);
    const centre = { cx: 10, cz: 10 };
    const items = area(centre.cx, centre.cz, 4).map((coords) => editedSnapshot(seed, coords, random));
    const heads = await anchor(items);
    assert.equal(heads.length, 81);
    const team = await players(4);
    const x0 = centre.cx * CHUNK_SIZE;
    const seeders = await Promise.all(team.slice(0, 3).map((player, i) => startPeer(player, standAt(x0 + 2 * i, x0))));
    for (const seeder of seeders)
      for (const [i, head] of heads.entries())
        await seeder.peer.torrents?.seed(head, (items[i] as { snapshot: Uint8Array }).snapshot);

    const cacheDir = mkdtempSync(path.join(os.tmpdir(), "seedcraft-joiner-"));
    const joinerPlayer = team[3] as Player;
    // First with the three seeders linked before the sync starts (a join starts at its first link, and
    // on loopback one seeder can serve all 81 before the others link).
    let joiner = await startPeer(joinerPlayer, standAt(x0 + 3, x0 + 2), { cacheDir });
    await waitFor(
      "the joiner to link with the 3 seeders",
      () => seeders.every((s) => joiner.peer.mesh.peer(s.peer.id) !== undefined),
      30_000,
    );
    const first = await joiner.peer.sync?.syncAround(centre.cx, centre.cz, 4);
    assert.ok(first);
    assert.equal(first.total, 81);
    assert.equal(first.failed, 0, `failed: ${first.failed}`);
    assert.equal(first.fetched + first.fromCache, 81);
    for (const head of heads) {
      assert.equal(joiner.peer.replica.version(head.chunkId), 1);
      assert.equal(joiner.peer.replica.hash(head.chunkId), head.hash);
    }
    const sources = new Set(joiner.fetched.flatMap((result) => result.sources.map((s) => s.peerId)));
    assert.ok(sources.size >= 2, `snapshots came from ${sources.size} seeder(s)`);

    // Restart with the same cache, one entry corrupted on disk, and the join sync a peer runs by itself
    // at its first link: 80 from the cache, 1 fetched again.
    await stopPeer(joiner);
    const chunksDir = path.join(cacheDir, "chunks");
    const victim = readdirSync(chunksDir).find((name) => name.endsWith(".chunk")) as string;
    writeFileSync(path.join(chunksDir, victim), new Uint8Array(65_536).fill(7));
    joiner = await startPeer(joinerPlayer, standAt(x0 + 3, x0 + 2), { cacheDir, syncRadius: 4 });
    await waitFor("the restarted joiner to link", () => joiner.peer.mesh.peers.length >= 1, 30_000);
    const second = await joiner.peer.joined;
    assert.ok(second);
    assert.equal(second.failed, 0);
    assert.equal(second.fromCache, 80);
    assert.equal(second.fetched, 1);
    assert.equal(joiner.cache.stats.corrupt, 1);
    for (const head of heads) assert.equal(joiner.peer.replica.hash(head.chunkId), head.hash);

    // The upload limit holds: one seeder at 384 KiB/s serves a fresh leecher 30 snapshots in a row.
    const limited = seeders[0] as Started;
    const rate = 384 * 1024;
    limited.peer.torrents?.setRateLimits(rate, undefined);
    const [fresh] = (await players(1)) as [Player];
    const leecher = await startPeer(fresh, standAt(x0 + 1, x0 + 1));
    await linked(limited.peer, leecher.peer);
    const done: { at: number; fetched: boolean }[] = [];
    for (const head of heads.slice(0, 30)) {
      const outcome = await leecher.peer.sync?.load(head, [limited.peer.id]);
      done.push({ at: performance.now(), fetched: outcome === "fetched" });
    }
    // The bucket starts full (a second's worth): the steady rate is measured after it drained. Only fetched
    // snapshots count: one the leecher rebuilt from the ops it was caught up on costs the seeder nothing.
    const from = 8;
    const fetchedAfter = done.slice(from + 1).filter((load) => load.fetched).length;
    assert.ok(fetchedAfter >= 15, `only ${fetchedAfter} of the last ${done.length - from - 1} snapshots were fetched`);
    const seconds = ((done.at(-1)?.at as number) - (done[from]?.at as number)) / 1000;
    const measured = (fetchedAfter * 65_536) / seconds;
    const error = Math.abs(measured - rate) / rate;
    assert.ok(error <= 0.1, `measured ${Math.round(measured / 1024)} KiB/s against a limit of 384 KiB/s`);
    assert.equal(limited.peer.torrents?.stats().limits.uploadBytesPerSecond, rate);
  });
  it("end to end: a seeder serves, stores the receipts, and `seedcraft claim` turns them into energy on the chain", async () => {
    const random = prng(14);
    const seederKey = generatePrivateKey();
    const seederPlayer = { wallet: privateKeyToAccount(seederKey), session: privateKeyToAccount(generatePrivateKey()) };
    const leecherPlayer = {
      wallet: privateKeyToAccount(generatePrivateKey()),
      session: privateKeyToAccount(generatePrivateKey()),
    };
    // Sessions for a day: the claim moves the chain's clock past two epochs, and SeedingRewards accepts a
    // receipt signed by a session key only while that session is live.
    await authorizeSessionKey(clients, seederPlayer.session, seederPlayer.wallet, 86_400);
    const last = await authorizeSessionKey(clients, leecherPlayer.session, leecherPlayer.wallet, 86_400);
    await waitForIndexedBlock(world.urls.indexer, last);
    // Only a player who anchored before an epoch may sign receipts in it: the leecher builds something first.
    const leecherClients = localChainClients(clients.deployment, world.urls.chain, leecherPlayer.wallet);
    await anchorSnapshots(leecherClients, [
      {
        ...editedSnapshot(seed, { cx: 60, cy: 0, cz: 0 }, random),
        expectedVersion: 0,
        watermark: { wallMs: Date.now(), logical: 0 },
      },
    ]);
    await advanceToNextEpoch();
    const served = await anchor([0, 1, 2].map((cz) => editedSnapshot(seed, { cx: 70, cy: 0, cz }, random)));

    // The seeder keeps its wallet, cache and receipts in one directory, as `seedcraft seed` does.
    const dir = mkdtempSync(path.join(os.tmpdir(), "seedcraft-seeder-"));
    writeFileSync(path.join(dir, "seeder.json"), JSON.stringify({ walletKey: seederKey }));
    const seeder = await startPeer(seederPlayer, standAt(70 * CHUNK_SIZE, 4), {
      cacheDir: path.join(dir, "cache"),
      receiptsDir: path.join(dir, "receipts"),
    });
    const leecher = await startPeer(leecherPlayer, standAt(70 * CHUNK_SIZE + 2, 4));
    await linked(seeder.peer, leecher.peer);
    for (const head of served) {
      await seeder.peer.torrents?.seed(head, await snapshotOf(head));
      assert.equal(await leecher.peer.sync?.load(head), "fetched");
    }
    await waitFor("the receipts to be acknowledged", () => leecher.peer.receiptSigner?.acked === 3, 10_000);
    assert.equal(seeder.receipts.stats.receipts, 3);
    await stopPeer(seeder);

    const cli = runCli(["claim", "--cache", dir, "--advance-time"], {
      ...process.env,
      SEEDCRAFT_NETWORK: NETWORK,
      SEEDCRAFT_RPC_URL: world.urls.chain,
    });
    const code = await cli.exited;
    assert.equal(code, 0, `seedcraft claim failed:\n${cli.stdout()}\n${cli.stderr()}`);
    assert.match(cli.stdout(), /claimed \d+\.\d+ energy/);
    const energy = clients.deployment.contracts.EnergyToken;
    const rewards = clients.deployment.contracts.SeedingRewards;
    const balance = (await clients.publicClient.readContract({
      address: energy.address,
      abi: energy.abi,
      functionName: "balanceOf",
      args: [seederPlayer.wallet.address],
    })) as bigint;
    const expected = (await clients.publicClient.readContract({
      address: rewards.address,
      abi: rewards.abi,
      functionName: "rewardFor",
      args: [3n * 65_536n],
    })) as bigint;
    assert.ok(expected > 0n);
    assert.equal(balance, expected, "the seeder holds the energy for the 3 snapshots it served");
    // The epoch is marked claimed: a second run has nothing to claim.
    const again = runCli(["claim", "--cache", dir], {
      ...process.env,
      SEEDCRAFT_NETWORK: NETWORK,
      SEEDCRAFT_RPC_URL: world.urls.chain,
    });
    assert.equal(await again.exited, 0);
    assert.match(again.stdout(), /nothing to claim/);
  });
});
