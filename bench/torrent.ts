/**
 * bench:torrent — the data plane on a real local world: the hardhat chain with the contracts, the indexer,
 * a DHT bootstrap node, three `seedcraft seed` processes with filled caches, and a player peer in this
 * process that links with them over WebRTC and fetches chunk snapshots over WebTorrent wires.
 * - chunk_fetch: one anchored 64 KiB snapshot, asked of one seeder at a time (the seeders in turn), from
 *   the start of the fetch to the snapshot checked against its anchored hash and applied; p50 and p99.
 * - join_sync_81_chunks: the player's join sync of a 9×9 area of anchored chunks (heads from the
 *   indexer, snapshots from the three seeders), from the start of the sync (its first link) to the last
 *   snapshot applied.
 * - seeder_upload_mb_s: one seeder serving 256 snapshots (16 MiB), 32 at a time, to the player.
 * - seeder_rss_mb_10k_chunks: the resident memory of that seeder, whose cache holds 10,000 chunk versions
 *   (and which served all of the above).
 * - limit_error_pct: that seeder's upload limit set to 1 MiB/s while it serves 96 snapshots one after
 *   another; the steady rate (after the first second's burst the bucket allows) against the limit.
 * Usage: npm run bench:torrent   Last line: one JSON object.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anchorSnapshots, seedingEpochClock } from "../cli/local-chain.ts";
import type { SeederCommand, SeederReport } from "../cli/seed.ts";
import { ROOT, World } from "../cli/world.ts";
import { chunkIdOf, decodeChunk } from "../core/chunk.ts";
import { chunkHash } from "../core/merkle.ts";
import { groundHeight, terrainSeedOf } from "../core/terrain.ts";
import { chunkTorrent } from "../core/torrent.ts";
import type { ChunkHead } from "../p2p/chunk-store.ts";
import { type AnchoredHead, IndexerHeads } from "../p2p/heads.ts";
import { IndexerLedger } from "../p2p/ledger.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { WorldDht } from "../p2p/node/dht.ts";
import { NodePeer } from "../p2p/node/peer.ts";
import { releaseWebRtc } from "../p2p/node/rtc.ts";
import { createTorrentClient } from "../p2p/node/torrent-client.ts";
import { authorizeSessionKey, localClients, waitForIndexedBlock } from "../test/helpers/chain-clients.ts";
import { area, editedSnapshot } from "../test/helpers/data-plane.ts";
import { prng } from "../test/helpers/prng.ts";
import { percentile } from "./stats.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const network = "bench-torrent";
const world = new World({
  stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-torrent-")),
  network,
  parts: ["chain", "deploy", "indexer"],
  ports: { chain: 30545, indexer: 30069, app: 30173 },
});
const SEEDERS = 3;
const FETCHES = 120;
const EXTRA_CHUNKS = 10_000;
const THROUGHPUT_CHUNKS = 256;
const LIMIT = 1024 * 1024;
const LIMIT_CHUNKS = 96;

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

type Seeder = { process: ChildProcess; reports: SeederReport[]; id?: string; dir: string };

const seeders: Seeder[] = [];
let bootstrap: WorldDht | undefined;
let player: NodePeer | undefined;
let playerCache: NodeChunkCache | undefined;
try {
  log("starting chain, deploy, indexer and a DHT bootstrap node…");
  await world.start();
  bootstrap = await WorldDht.start({ bootstrap: false });
  const clients = await localClients(network, world.urls.chain);
  const terrain = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
  const random = prng(2026);

  // The world: a 9×9 area of edited chunks around (10, 10), and FETCHES more beyond the player's sync radius.
  const centre = { cx: 10, cz: 10 };
  const areaItems = area(centre.cx, centre.cz, 4).map((c) => editedSnapshot(terrain, c, random));
  const fetchItems = area(centre.cx, centre.cz + 12, 5)
    .slice(0, FETCHES)
    .map((c) => editedSnapshot(terrain, c, random));
  log(`anchoring ${areaItems.length + fetchItems.length} chunk versions…`);
  const { heads, blockNumber } = await anchorSnapshots(
    clients,
    [...areaItems, ...fetchItems].map((item) => ({
      ...item,
      expectedVersion: 0,
      watermark: { wallMs: Date.now(), logical: 0 },
    })),
  );
  await waitForIndexedBlock(world.urls.indexer, blockNumber);
  const areaHeads = heads.slice(0, areaItems.length);
  const fetchHeads = heads.slice(areaItems.length);
  const snapshots = [...areaItems, ...fetchItems].map((item) => item.snapshot);

  // Every seeder's cache holds the area and the fetch set; the first one also 10,000 more chunk versions
  // (underground chunks far away, not anchored: nobody asks for them here, it just holds them).
  const extra: { head: ChunkHead; snapshot: Uint8Array }[] = [];
  const base = editedSnapshot(terrain, { cx: 1000, cy: -3, cz: 1000 }, random, 0).snapshot;
  for (let s = 0; s < SEEDERS; s++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `seedcraft-bench-seeder-${s}-`));
    const cache = await NodeChunkCache.open(path.join(dir, "cache"));
    for (const [i, head] of heads.entries()) await cache.put(head, snapshots[i] as Uint8Array);
    if (s === 0) {
      for (let n = 0; n < EXTRA_CHUNKS; n++) {
        if (n % 2000 === 0) log(`filling seeder 0's cache: ${n}/${EXTRA_CHUNKS} chunk versions…`);
        const snapshot = base.slice();
        const view = new DataView(snapshot.buffer);
        view.setUint16(2 * Math.floor(random() * 32768), 1 + (n % 7), true);
        view.setUint16(2 * Math.floor(random() * 32768), 1 + (n % 5), true);
        const chunkId = chunkIdOf(1000 + (n % 100), -3, 1000 + Math.floor(n / 100));
        const head = {
          chunkId,
          version: 1,
          hash: bytesToHex(chunkHash(decodeChunk(snapshot))),
          infoHash: chunkTorrent(chunkId, 1, snapshot).infoHash,
        };
        await cache.put(head, snapshot);
        if (extra.length < THROUGHPUT_CHUNKS + LIMIT_CHUNKS) extra.push({ head, snapshot });
      }
    }
    await cache.close();
    seeders.push({ process: undefined as unknown as ChildProcess, reports: [], dir });
  }

  log(`starting ${SEEDERS} seeders…`);
  const env = {
    ...process.env,
    SEEDCRAFT_NETWORK: network,
    SEEDCRAFT_RPC_URL: world.urls.chain,
    SEEDCRAFT_INDEXER_URL: world.urls.indexer,
  };
  const x0 = centre.cx * 32;
  for (const [s, seeder] of seeders.entries()) {
    seeder.process = fork(
      path.join(ROOT, "cli", "seedcraft.ts"),
      [
        "seed",
        "--name",
        `bench-seeder-${s}`,
        "--at",
        `${x0 + 3 * s},${x0}`,
        "--cache",
        seeder.dir,
        "--bootstrap",
        `127.0.0.1:${bootstrap.address.port}`,
      ],
      {
        env: { ...env, ...(process.env.SEEDER_ENV ? JSON.parse(process.env.SEEDER_ENV) : {}) },
        stdio: ["ignore", "ignore", "inherit", "ipc"],
        // BENCH_PROFILE=<dir>: a V8 CPU profile of every seeder, written when it stops.
        execArgv: process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
      },
    );
    seeder.process.on("message", (report: SeederReport) => {
      seeder.reports.push(report);
      if (report.type === "ready") seeder.id = report.id;
    });
  }
  const waitUntil = async (what: string, predicate: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await waitUntil("the seeders to start", () => seeders.every((s) => s.id !== undefined), 120_000);
  const command = (seeder: Seeder, message: SeederCommand) => seeder.process.send(message);

  // The player: a fresh wallet and session key, an empty cache, standing in the middle of the area.
  const wallet = privateKeyToAccount(`0x${"b3".repeat(32)}`);
  const session = privateKeyToAccount(`0x${"b4".repeat(32)}`);
  await waitForIndexedBlock(world.urls.indexer, await authorizeSessionKey(clients, session, wallet));
  playerCache = await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-player-")));
  const epochs = await seedingEpochClock(clients);
  let synced: { ms: number; total: number; fetched: number; failed: number } | undefined;
  log("the player joins and syncs its 9×9 area…");
  player = await NodePeer.start({
    bootstrap: [`127.0.0.1:${bootstrap.address.port}`],
    domain: {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    },
    ledger: new IndexerLedger(world.urls.indexer),
    wallet: wallet.address,
    sessionKey: session,
    name: "bench-player",
    position: [x0 + 4.5, groundHeight(terrain, x0 + 4, x0 + 2) + 1, x0 + 2.5],
    data: {
      client: createTorrentClient(),
      store: playerCache,
      heads: new IndexerHeads(world.urls.indexer),
      syncRadius: 4,
      onSync: (result) => {
        synced = result;
      },
      receipts: {
        domain: {
          chainId: clients.deployment.chainId,
          verifyingContract: clients.deployment.contracts.SeedingRewards.address,
        },
        epoch: epochs.epoch,
      },
    },
  });
  await waitUntil("the join sync", () => synced !== undefined, 60_000);
  const join = synced as { ms: number; total: number; fetched: number; failed: number };
  if (join.total !== areaHeads.length || join.failed > 0)
    throw new Error(`the join sync got ${join.total} heads and failed ${join.failed}`);
  await waitUntil(
    "the player to link with every seeder",
    () => seeders.every((s) => player?.mesh.peer(s.id as `0x${string}`) !== undefined),
    30_000,
  );

  log(`fetching ${FETCHES} snapshots one at a time…`);
  const sync = player.sync;
  const torrents = player.torrents;
  if (!sync || !torrents) throw new Error("the player has no data plane");
  const fetchMs: number[] = [];
  for (const [i, head] of fetchHeads.entries()) {
    const from = seeders[i % SEEDERS]?.id as string;
    const started = performance.now();
    const outcome = await sync.load(head as AnchoredHead, [from]);
    if (outcome !== "fetched") throw new Error(`chunk ${head.chunkId} came ${outcome}`);
    fetchMs.push(performance.now() - started);
  }
  fetchMs.sort((a, b) => a - b);

  log(`one seeder serves ${THROUGHPUT_CHUNKS} snapshots, 32 at a time…`);
  const first = seeders[0] as Seeder;
  const throughputSet = extra.slice(0, THROUGHPUT_CHUNKS);
  const throughputStart = performance.now();
  for (let i = 0; i < throughputSet.length; i += 32)
    await Promise.all(
      throughputSet.slice(i, i + 32).map((item) => torrents.fetch(item.head, { from: [first.id as string] })),
    );
  const throughputS = (performance.now() - throughputStart) / 1000;
  const uploadMbS = (THROUGHPUT_CHUNKS * 65_536) / 1e6 / throughputS;

  log(`the same seeder limited to ${LIMIT / 1024} KiB/s serves ${LIMIT_CHUNKS} snapshots in a row…`);
  command(first, { type: "limits", upload: LIMIT, download: undefined });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const doneAt: number[] = [];
  for (const item of extra.slice(THROUGHPUT_CHUNKS, THROUGHPUT_CHUNKS + LIMIT_CHUNKS)) {
    await torrents.fetch(item.head, { from: [first.id as string] });
    doneAt.push(performance.now());
  }
  // A full bucket lets one second's worth through at once: the steady rate starts after it.
  const skip = Math.ceil(LIMIT / 65_536) + 1;
  const steady =
    ((doneAt.length - 1 - skip) * 65_536) / (((doneAt.at(-1) as number) - (doneAt[skip] as number)) / 1000);
  const limitErrorPct = (Math.abs(steady - LIMIT) / LIMIT) * 100;
  command(first, { type: "limits", upload: undefined, download: undefined });

  for (const seeder of seeders) command(seeder, { type: "stats" });
  await waitUntil("the seeders' stats", () => seeders.every((s) => s.reports.some((r) => r.type === "stats")), 10_000);
  const stats = seeders.map(
    (s) => s.reports.findLast((r) => r.type === "stats") as Extract<SeederReport, { type: "stats" }>,
  );
  const firstStats = stats[0] as Extract<SeederReport, { type: "stats" }>;

  const result = {
    chunk_fetch_p50_ms: round(percentile(fetchMs, 50)),
    chunk_fetch_p99_ms: round(percentile(fetchMs, 99)),
    join_sync_81_chunks_ms: Math.round(join.ms),
    seeder_upload_mb_s: round(uploadMbS, 1),
    seeder_rss_mb_10k_chunks: Math.round(firstStats.rssBytes / 1024 / 1024),
    limit_error_pct: round(limitErrorPct, 1),
    limit_steady_kib_s: Math.round(steady / 1024),
    seeders: SEEDERS,
    seeder_cached_chunks: stats.map((s) => s.cached),
    seeder_rss_mb: stats.map((s) => Math.round(s.rssBytes / 1024 / 1024)),
    seeder_heap_mb: stats.map((s) => Math.round(s.heapBytes / 1024 / 1024)),
    seeder_external_mb: stats.map((s) => Math.round(s.externalBytes / 1024 / 1024)),
    seeder_torrents: stats.map((s) => s.torrents.torrents),
    fetches: FETCHES,
    join_chunks: join.total,
    throughput_chunks: THROUGHPUT_CHUNKS,
    limit_kib_s: LIMIT / 1024,
    limit_chunks: LIMIT_CHUNKS,
    receipts_signed: player.receiptSigner?.signed ?? 0,
    receipts_acked: player.receiptSigner?.acked ?? 0,
    receipts_stored: stats.reduce((sum, s) => sum + s.receipts, 0),
    measured:
      "seeders are `seedcraft seed` processes on 127.0.0.1 with their caches filled beforehand; the player is a peer in the bench process linked with them over WebRTC; a snapshot is 64 KiB in 4 pieces over WebTorrent wires on the link's torrent channel; fetch = from asking one seeder to the snapshot checked against the indexer's anchored hash and applied (cache empty); join sync = from its start at the player's first link to the 81st snapshot applied; upload = 256 snapshots, 32 at a time, from one seeder; rss = that seeder, holding 10,000 chunk versions in its cache, after serving all of it; limit = the steady rate of 96 snapshots in a row, after the first second's burst",
    machine: { cores: os.availableParallelism(), node: process.version },
  };
  await player.stop();
  player = undefined;
  console.log(JSON.stringify(result));
} finally {
  for (const seeder of seeders) if (seeder.process?.connected) seeder.process.send({ type: "stop" });
  await Promise.all(
    seeders.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s.process || s.process.exitCode !== null) return resolve();
          const timer = setTimeout(() => {
            s.process.kill("SIGKILL");
            resolve();
          }, 10_000);
          s.process.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  await player?.stop();
  await playerCache?.close();
  await bootstrap?.destroy();
  await world.stop();
  releaseWebRtc();
}
