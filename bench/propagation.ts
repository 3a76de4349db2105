/**
 * bench:propagation — how fast a block edit reaches the peers around it, on a real local world: the
 * hardhat chain with the contracts, the indexer, a DHT bootstrap node, and N `seedcraft peer` processes
 * standing within a few blocks of each other (every one's area of interest holds every edit), linked
 * by WebRTC that they signal through the DHT.
 * - edit_to_apply: the bench asks peers in turn to edit a block next to them; each other peer reports
 *   when the op passed its checks and was applied. Times are wall-clock ms from each process
 *   (performance.timeOrigin + performance.now()), comparable on one machine. p50 and p99 over every
 *   (edit, receiving peer) pair.
 * - dc_rtt: a raw data-channel round trip (two node-datachannel peers in this process, 200 pings).
 * - join_to_first_peer: for the last peers started (the others already up), from the start of joining
 *   (before its DHT node starts) to its first verified hello.
 * - msgs_per_s_per_peer: messages received and sent by a peer a second, while all walk (10 Hz
 *   movement) and edit; rss_mb_per_peer: the peers' resident memory, averaged.
 * Usage: npm run bench:propagation [-- --peers N --edits-per-s R --seconds S]   Last line: one JSON object.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { PeerCommand, PeerReport } from "../cli/peer.ts";
import { ROOT, World } from "../cli/world.ts";
import { BLOCK_IDS } from "../core/blocks.ts";
import { WorldDht } from "../p2p/node/dht.ts";
import { releaseWebRtc } from "../p2p/node/rtc.ts";
import { loopbackPair } from "../test/helpers/rtc.ts";
import { percentile } from "./stats.ts";

const { values } = parseArgs({
  options: {
    peers: { type: "string", default: "16" },
    "edits-per-s": { type: "string", default: "20" },
    seconds: { type: "string", default: "10" },
  },
  strict: true,
});
const PEERS = Number(values.peers);
// The first PEERS - LATE peers must each link with two others before the late ones start.
if (!Number.isInteger(PEERS) || PEERS < 6 || PEERS > 64) throw new Error(`--peers must be 6..64, got ${values.peers}`);
const EDITS_PER_S = Number(values["edits-per-s"]);
if (!Number.isFinite(EDITS_PER_S) || EDITS_PER_S <= 0 || EDITS_PER_S > 200)
  throw new Error(`--edits-per-s must be in (0, 200], got ${values["edits-per-s"]}`);
const SECONDS = Number(values.seconds);
if (!Number.isFinite(SECONDS) || SECONDS < 2 || SECONDS > 600)
  throw new Error(`--seconds must be 2..600, got ${values.seconds}`);
/** The last peers started, once the others are linked: their joins are measured. */
const LATE = 3;

const log = (line: string) => process.stderr.write(`${line}\n`);
const network = "bench-propagation";
const world = new World({
  stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-propagation-")),
  network,
  parts: ["chain", "deploy", "indexer"],
  ports: { chain: 27545, indexer: 27069, app: 27173 },
});

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

type Child = { process: ChildProcess; reports: PeerReport[]; id?: string; joinMs?: number };

/**
 * A raw data-channel round trip, p50 over `pings` pings (after 20 warm-up ones): back to back, or
 * `gapMs` apart (threads that have gone to sleep between messages, as between a peer's edits).
 */
async function dataChannelRtt(pings = 200, gapMs = 0): Promise<number> {
  const { a, b } = await loopbackPair();
  b.on("data", (data: Uint8Array) => b.send(data));
  const rtts: number[] = [];
  const ping = new Uint8Array(111); // the size of one signed op message
  for (let i = 0; i < pings + 20; i++) {
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    const sent = performance.now();
    await new Promise<void>((resolve) => {
      a.once("data", () => resolve());
      a.send(ping);
    });
    if (i >= 20) rtts.push(performance.now() - sent);
  }
  a.destroy();
  b.destroy();
  rtts.sort((x, y) => x - y);
  return percentile(rtts, 50);
}

const children: Child[] = [];
let bootstrap: WorldDht | undefined;
try {
  log("starting chain, deploy, indexer and a DHT bootstrap node…");
  await world.start();
  bootstrap = await WorldDht.start({ bootstrap: false });
  const env = {
    ...process.env,
    SEEDCRAFT_NETWORK: network,
    SEEDCRAFT_RPC_URL: world.urls.chain,
    SEEDCRAFT_INDEXER_URL: world.urls.indexer,
  };
  const start = (i: number): Child => {
    // Standing on a 4-wide grid 3 blocks apart, each walking a 1-block circle: all within reach of view.
    const at = `${3 * (i % 4)},${3 * Math.floor(i / 4)}`;
    const child: Child = {
      process: fork(
        path.join(ROOT, "cli", "seedcraft.ts"),
        [
          "peer",
          "--name",
          `bench-${i}`,
          "--at",
          at,
          "--walk",
          "1",
          "--edits-per-s",
          "0",
          // Propagation is measured on ops alone: no anchor transactions or snapshot seeding beside them.
          "--no-anchor",
          "--bootstrap",
          `127.0.0.1:${bootstrap?.address.port}`,
        ],
        {
          env,
          stdio: ["ignore", "ignore", "inherit", "ipc"],
          // BENCH_PROFILE=<dir>: a V8 CPU profile of every peer, written when it stops.
          execArgv: process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
        },
      ),
      reports: [],
    };
    child.process.on("message", (reports: PeerReport[]) => {
      for (const report of reports) {
        child.reports.push(report);
        if (report.type === "ready") child.id = report.id;
        if (report.type === "linked" && child.joinMs === undefined) child.joinMs = report.joinMs;
      }
    });
    children.push(child);
    return child;
  };
  const waitUntil = async (what: string, predicate: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const linked = (child: Child) => child.reports.filter((r) => r.type === "linked").length;

  log(`starting ${PEERS - LATE} peers…`);
  for (let i = 0; i < PEERS - LATE; i++) start(i);
  await waitUntil("the first peers to join", () => children.every((c) => c.id !== undefined), 120_000);
  await waitUntil("the first peers to link", () => children.every((c) => linked(c) >= 2), 60_000);
  log(`starting the last ${LATE}, one by one (their joins are measured)…`);
  for (let i = PEERS - LATE; i < PEERS; i++) {
    const child = start(i);
    await waitUntil(`peer ${i} to link`, () => child.joinMs !== undefined, 60_000);
  }
  // Let the mesh settle: every peer linked with as many as it keeps.
  await new Promise((resolve) => setTimeout(resolve, 3000));

  // Warm-up, not measured: each peer edits once (first uses of code paths in every process).
  for (const [i, child] of children.entries())
    child.process.send({ type: "edit", dx: 0, dy: 1, dz: i % 2, block: BLOCK_IDS.glass } satisfies PeerCommand);
  await new Promise((resolve) => setTimeout(resolve, 1500));

  log(`edits: ${EDITS_PER_S} a second across ${PEERS} peers for ${SECONDS} s…`);
  const statsBefore = await stats();
  const measuredFrom = performance.timeOrigin + performance.now();
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < SECONDS * 1000) {
    const child = children[sent % PEERS] as Child;
    const command: PeerCommand = {
      type: "edit",
      dx: (sent % 3) - 1,
      dy: 1 + (Math.floor(sent / 3) % 2),
      dz: (Math.floor(sent / 6) % 3) - 1,
      block: sent % 2 === 0 ? BLOCK_IDS.stone : BLOCK_IDS.air,
    };
    child.process.send(command);
    sent++;
    const next = started + (sent * 1000) / EDITS_PER_S;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  }
  const elapsedS = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 1000)); // the last ones land
  const statsAfter = await stats();

  // edit → applied, for every receiving peer.
  const editedAt = new Map<string, number>();
  for (const child of children)
    for (const report of child.reports)
      if (report.type === "edited" && report.atMs >= measuredFrom) editedAt.set(report.op, report.atMs);
  const latencies: number[] = [];
  let missing = 0;
  for (const child of children) {
    const applied = new Map<string, number>();
    for (const report of child.reports) if (report.type === "applied") applied.set(report.op, report.atMs);
    const own = new Set<string>(child.reports.flatMap((r) => (r.type === "edited" ? [r.op] : [])));
    for (const [op, at] of editedAt) {
      if (own.has(op)) continue;
      const when = applied.get(op);
      if (when === undefined) missing++;
      else {
        latencies.push(when - at);
        if (process.env.DEBUG?.includes("seedcraft") && when - at > 20)
          log(
            `  slow: ${(when - at).toFixed(1)} ms, edit at +${(at - measuredFrom).toFixed(0)} ms, to peer ${children.indexOf(child)}`,
          );
      }
    }
  }
  latencies.sort((a, b) => a - b);
  const messages = children.reduce((sum, child) => {
    const before = statsBefore.get(child);
    const after = statsAfter.get(child);
    return sum + (after && before ? after.messagesIn - before.messagesIn + after.messagesOut - before.messagesOut : 0);
  }, 0);
  const rss = [...statsAfter.values()].map((s) => s.rssBytes / 2 ** 20);
  const cpuMs = children.reduce(
    (sum, child) => sum + ((statsAfter.get(child)?.cpuMs ?? 0) - (statsBefore.get(child)?.cpuMs ?? 0)),
    0,
  );
  const joins = children
    .slice(PEERS - LATE)
    .map((c) => c.joinMs as number)
    .sort((a, b) => a - b);

  log("measuring a raw data-channel round trip…");
  const rtt = await dataChannelRtt();
  const pacedRtt = await dataChannelRtt(100, 50);
  const p50 = percentile(latencies, 50);
  log(
    `  edit→apply ms: p50 ${p50.toFixed(2)} p99 ${percentile(latencies, 99).toFixed(2)} max ${latencies.at(-1)?.toFixed(2)}; missing ${missing}`,
  );
  console.log(
    JSON.stringify({
      edit_to_apply_p50_ms: round(p50),
      edit_to_apply_p99_ms: round(percentile(latencies, 99)),
      dc_rtt_p50_ms: round(rtt, 3),
      edit_to_apply_p50_over_rtt: round(p50 / rtt, 1),
      dc_rtt_paced_p50_ms: round(pacedRtt, 3),
      join_to_first_peer_ms: Math.round(percentile(joins, 50)),
      msgs_per_s_per_peer: Math.round(messages / elapsedS / PEERS),
      rss_mb_per_peer: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length),
      cpu_pct_per_peer: round((100 * cpuMs) / 1000 / elapsedS / PEERS, 1),
      peers: PEERS,
      edits: editedAt.size,
      deliveries: latencies.length,
      missing_deliveries: missing,
      edits_per_s: EDITS_PER_S,
      seconds: SECONDS,
      measured:
        "after one warm-up edit per peer (not counted), peers are separate `seedcraft peer` processes on 127.0.0.1 standing within a few blocks; edit = signed op applied at its author, apply = the op passed signature, ledger session, rules and fold at a receiver; wall-clock ms across processes; dc_rtt = 111-byte ping-pong on one loopback data channel in the bench process while the peers run, back to back (dc_rtt_paced: 50 ms apart); join = from the start of joining (before the DHT node starts) to the first verified hello, median of the last 3 peers started",
      machine: { cores: os.cpus().length, node: process.version },
    }),
  );

  async function stats(): Promise<Map<Child, Extract<PeerReport, { type: "stats" }>>> {
    const marks = new Map(children.map((c) => [c, c.reports.length]));
    for (const child of children) child.process.send({ type: "stats" } satisfies PeerCommand);
    await waitUntil(
      "stats",
      () => children.every((c) => c.reports.slice(marks.get(c)).some((r) => r.type === "stats")),
      10_000,
    );
    return new Map(
      children.map((c) => [
        c,
        c.reports.slice(marks.get(c)).find((r) => r.type === "stats") as Extract<PeerReport, { type: "stats" }>,
      ]),
    );
  }
} finally {
  for (const child of children) if (child.process.connected) child.process.send({ type: "stop" } satisfies PeerCommand);
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.process.exitCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.process.kill("SIGKILL");
            resolve();
          }, 5000);
          child.process.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  await bootstrap?.destroy();
  await world.stop();
  releaseWebRtc();
}
