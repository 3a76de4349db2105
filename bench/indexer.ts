/**
 * bench:indexer — the read path's speed on a real local world (hardhat node, Ignition deploy, Ponder):
 * - anchor → check: a single-chunk anchor is mined (eth_sendTransaction returns with the block), then
 *   `POST /v1/check` is polled until it answers `anchored`; p50 and p99 over the anchors;
 * - checks_per_s: batches of 1,000 items (half anchored, half pending) sent back to back by 2 clients;
 * - rss_mb: the resident memory of the indexer's processes at the end.
 * Anchors are sent at a steady pace (default one every 200 ms): Ponder fetches each block through an
 * adaptive rate limit that starts at 20 requests a second, so faster than ~9 blocks a second its
 * fetches queue for hundreds of milliseconds.
 * With --postgres it starts a throwaway Postgres server (Debian's package) and indexes into it.
 * Usage: npm run bench:indexer [-- --anchors N --interval-ms MS --postgres]   Last line: one JSON object.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Hex, keccak256, toHex } from "viem";
import { World } from "../cli/world.ts";
import { chunkIdOf } from "../core/chunk.ts";
import { localClients } from "../test/helpers/chain-clients.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { percentile } from "./stats.ts";

const { values } = parseArgs({
  options: {
    anchors: { type: "string", default: "200" },
    "interval-ms": { type: "string", default: "200" },
    postgres: { type: "boolean", default: false },
  },
  strict: true,
});
/** One anchor every this many ms: five anchor transactions a second, a busy local world. */
const INTERVAL_MS = Number(values["interval-ms"]);
if (!Number.isInteger(INTERVAL_MS) || INTERVAL_MS < 0 || INTERVAL_MS > 10_000)
  throw new Error(`--interval-ms must be 0..10000, got ${values["interval-ms"]}`);
const ANCHORS = Number(values.anchors);
if (!Number.isInteger(ANCHORS) || ANCHORS < 10 || ANCHORS > 5000)
  throw new Error(`--anchors must be 10..5000, got ${values.anchors}`);
const BATCH = 1000;
const BATCH_REQUESTS = 40;
const CLIENTS = 2;
const POLL_MS = 2;

const log = (line: string) => process.stderr.write(`${line}\n`);
const postgres = values.postgres ? await startPostgres(26432) : undefined;
if (postgres) process.env.DATABASE_URL = postgres.url;
const network = "bench-indexer";
const world = new World({
  stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-indexer-")),
  network,
  parts: ["chain", "deploy", "indexer"],
  ports: { chain: 26545, indexer: 26069, app: 26173 },
});

/** Resident memory of a process and its descendants (the indexer runs Ponder plus esbuild). */
function rssMb(pid: number): number {
  const all = new Map<number, { ppid: number; rssKb: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const ppid = Number(status.match(/^PPid:\s+(\d+)/m)?.[1] ?? 0);
      const rssKb = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
      all.set(Number(name), { ppid, rssKb });
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const current = stack.pop() as number;
    total += all.get(current)?.rssKb ?? 0;
    for (const [child, info] of all) if (info.ppid === current) stack.push(child);
  }
  return Math.round(total / 1024);
}

try {
  log("starting chain, deploy, indexer…");
  await world.start();
  const { deployment, walletClient: wallet } = await localClients(network, world.urls.chain);
  const { address, abi } = deployment.contracts.ChunkLedger;
  const check = async (body: unknown) => {
    const response = await fetch(`${world.urls.indexer}/v1/check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) throw new Error(`/v1/check answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as { status: string; results?: { status: string }[] };
  };

  log(`${ANCHORS} anchors, each until /v1/check says anchored…`);
  const latencies: number[] = [];
  const anchored: { chunkId: string; version: number; hash: Hex }[] = [];
  for (let i = 0; i < ANCHORS; i++) {
    const slot = performance.now();
    const chunkId = chunkIdOf(i % 64, 0, Math.floor(i / 64));
    const hash = keccak256(toHex(`bench ${i}`));
    await wallet.writeContract({
      address,
      abi,
      functionName: "anchor",
      args: [chunkId, 0, hash, `0x${"00".repeat(20)}`, BigInt(i)],
    });
    const mined = performance.now();
    const item = { chunkId: chunkId.toString(), version: 1, hash };
    for (;;) {
      const answer = await check(item);
      if (answer.status === "anchored") break;
      if (performance.now() - mined > 10_000) throw new Error(`anchor ${i} not seen as anchored in 10 s`);
      // A short pause, so the polling itself does not starve the indexer it measures (one process, one thread).
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    latencies.push(performance.now() - mined);
    anchored.push(item);
    const wait = INTERVAL_MS - (performance.now() - slot);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${ANCHORS}`);
  }
  latencies.sort((a, b) => a - b);
  log(
    `  latency ms: min ${latencies[0]?.toFixed(1)} p50 ${percentile(latencies, 50).toFixed(1)} p90 ${percentile(latencies, 90).toFixed(1)} max ${latencies.at(-1)?.toFixed(1)}`,
  );

  log(`${BATCH_REQUESTS} batches of ${BATCH} checks from ${CLIENTS} clients…`);
  const items = Array.from({ length: BATCH }, (_, i) =>
    i % 2 === 0
      ? (anchored[i % anchored.length] as (typeof anchored)[number])
      : { chunkId: chunkIdOf(5000 + i, 1, 2).toString(), version: 1, hash: keccak256(toHex(`pending ${i}`)) },
  );
  await check({ items }); // warm-up
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (sent < BATCH_REQUESTS) {
        sent++;
        const answer = await check({ items });
        if (answer.results?.length !== BATCH) throw new Error("a batch answer is short");
      }
    }),
  );
  const checksPerS = (BATCH_REQUESTS * BATCH) / ((performance.now() - started) / 1000);
  const runFile = JSON.parse(readFileSync(path.join(world.stateDir, "run.json"), "utf8")) as {
    parts: { indexer: { pid: number } };
  };
  console.log(
    JSON.stringify({
      anchor_to_check_anchored_p50_ms: Number(percentile(latencies, 50).toFixed(1)),
      anchor_to_check_anchored_p99_ms: Number(percentile(latencies, 99).toFixed(1)),
      checks_per_s: Math.round(checksPerS),
      rss_mb: rssMb(runFile.parts.indexer.pid),
      db: process.env.DATABASE_URL ? "postgres" : "pglite",
      anchors: ANCHORS,
      anchor_interval_ms: INTERVAL_MS,
      batch_items: BATCH,
      batch_requests: BATCH_REQUESTS,
      clients: CLIENTS,
      measured: `mined = eth_sendTransaction returned (automine); then /v1/check polled every ${POLL_MS} ms until anchored; checks: 1,000-item batches, half anchored, half pending`,
      machine: { cores: os.cpus().length, node: process.version },
    }),
  );
} finally {
  await world.stop();
  await postgres?.stop();
}
