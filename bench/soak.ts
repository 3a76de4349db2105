/**
 * bench:soak — the local world as it lives for a while: `seedcraft up` (every part, supervised) with four
 * headless players (`seedcraft peer`) and one Chromium player building near the world's seeder. Along the
 * way the indexer's chain subscription is stalled once (a WebSocket proxy between the indexer and the chain
 * stops forwarding newHeads and keeps the socket open, as a node that drops a subscription does) and one part
 * is killed once (SIGKILL to its process group; `seedcraft up` must bring it back).
 * - stall_recovery_s: from the stall to the indexer serving, within 2 blocks of the head, the first block
 *   mined after the stall.
 * - indexer_lag_max_blocks: the largest lag (chain head over HTTP − /v1/status's indexed block, both asked at
 *   the same moment, the head never cached) sampled every second once both the stall and the kill are recovered.
 * - edits_final_pct, edits_failed: every edit in a final state (anchored, bounced, overwritten, rolled back,
 *   failed) at the end, and how many failed: the Chromium player's own and the headless players' edits as it
 *   listed them (its own edits still on their way at its reload as the next page listed and settled them; its
 *   peers' edits still on their way then are counted where they end, by their authors), and each headless
 *   player's own edits of the run as it reports them. open_at_end says where any open edit was seen.
 * - seeder_energy_claimed: the world's seeder's energy balance at the end (its claims landed).
 * - rss_growth_pct: per part (process group), from the first sample after warm-up (or after its restart) to
 *   the last; restarts: per part, from run.json.
 * Usage: npm run bench:soak [-- --minutes 4 --players 4 --kill indexer --block-time 1]   Last line: one JSON object.
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { appendFileSync, openSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatWithOptions, parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { createPublicClient, type Hex, http } from "viem";
import type { PeerCommand, PeerReport } from "../cli/peer.ts";
import { type PART_NAMES, ROOT } from "../cli/world.ts";
import { BLOCK_IDS } from "../core/blocks.ts";
import { groundHeight, terrainSeedOf } from "../core/terrain.ts";
import { readDeployment } from "../deploy/deployment-file.ts";
import {
  CHROMIUM_ARGS,
  chromiumPath,
  INSTALL_COMMAND,
  joinWithDevAccount,
  type SeedcraftWindow,
} from "../test/helpers/chromium.ts";
import { StallProxy } from "../test/helpers/stall-proxy.ts";
import { runFile, startCliWorld, stopCliWorld, testWorldEnv } from "../test/helpers/world.ts";

const log = (line: string) => process.stderr.write(`[soak ${clock()}] ${line}\n`);
const startedAt = Date.now();
const clock = () => `${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "4" },
    players: { type: "string", default: "4" },
    kill: { type: "string", default: "indexer" },
    // As `npm start` runs the world: a block a second once deployed (0: a block per transaction).
    "block-time": { type: "string", default: "1" },
  },
  strict: true,
});
const MINUTES = Number(values.minutes);
const HEADLESS = Number(values.players);
const KILLED = values.kill as (typeof PART_NAMES)[number];
const BLOCK_TIME = values["block-time"];
if (!(MINUTES >= 2 && MINUTES <= 600)) throw new Error(`--minutes must be 2 to 600, got ${values.minutes}`);
if (!(Number.isInteger(HEADLESS) && HEADLESS >= 0 && HEADLESS <= 16))
  throw new Error(`--players must be 0 to 16, got ${values.players}`);
if (!["indexer", "dht", "gateway", "tracker", "seeder", "app"].includes(KILLED))
  throw new Error(`--kill must be one of indexer, dht, gateway, tracker, seeder, app; got ${values.kill}`);
const executable = chromiumPath();
if (!executable) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);

const DURATION_MS = MINUTES * 60_000;
const STALL_AT = 0.25;
const KILL_AT = 0.5;
const WARM_AT = 0.15;
/** The Chromium player comes back with an empty chunk cache: its join sync leeches from the seeder. */
const RELOAD_AT = 0.7;
/** After the run, how long the seeder's auto-claim has to land (an epoch, a quarter more, the two transactions). */
const CLAIM_WAIT_MS = 150_000;
/** A part that came back is weighed from this long after it was ready again. */
const RESTART_WARM_MS = 30_000;
/** After the run, how long edits still in flight have to reach a final state. */
const SETTLE_MS = 90_000;
/** `key`: chunk, index and clock stamp (one edit's, on either page of a reload); `carried`: listed again after one. */
type Entry = {
  own: boolean;
  state: string;
  reason: string | undefined;
  key?: string;
  carried?: boolean;
  /** For an edit still open at the end: what the HUD says of it, and its version if it was being anchored. */
  note?: string;
  version?: string;
};
/**
 * Every entry the page listed since it loaded, as it last stood: the HUD's list keeps only the newest 100, and
 * an edit that ended and went from it is counted all the same (the page's list is watched from its start).
 */
const listEntries = (): Entry[] => {
  type Seen = Map<number, import("../app/src/edits/editList.ts").EditEntry>;
  const edits = (window as unknown as SeedcraftWindow).seedcraft.session.edits;
  const holder = window as unknown as { soakSeen?: Seen };
  let seen = holder.soakSeen;
  if (!seen) {
    const kept: Seen = new Map();
    edits.subscribe(() => {
      for (const entry of edits.entries) kept.set(entry.id, entry);
    });
    for (const entry of edits.entries) kept.set(entry.id, entry);
    seen = holder.soakSeen = kept;
  }
  return [...seen.values()].map((e) => ({
    own: e.own,
    state: e.state as string,
    reason: (e as { reason?: string }).reason,
    key: e.hlc ? `${e.chunkId}:${e.index}:${e.hlc.wallMs}:${e.hlc.logical}` : undefined,
    carried: (e as { carried?: boolean }).carried === true,
    note: e.note,
    version: e.version?.toString(),
  }));
};
const entries = async (page: Page) => (await page.evaluate(listEntries, null)) as Entry[];
/** A console line as Node would print it, without the %c placeholders and the CSS they take. */
function withoutStyles(format: string, args: unknown[]): string {
  const kept: unknown[] = [];
  let next = 0;
  const text = format.replace(/%([%csdifjoO])/g, (match, kind: string) => {
    if (kind === "%") return match;
    const arg = args[next++];
    if (kind === "c") return "";
    kept.push(arg);
    return match;
  });
  return formatWithOptions({ colors: false }, text, ...kept, ...args.slice(next));
}
const FINAL_STATES = new Set(["anchored", "bounced", "overwritten", "rolled-back", "failed"]);

const world = testWorldEnv("soak", 3000);
const proxy = await StallProxy.start(`ws://127.0.0.1:${world.ports.chain}`);
// The indexer reads the chain's WebSocket through the proxy; everything else talks to the chain directly.
world.env.SEEDCRAFT_RPC_WS_URL = proxy.url;
world.env.SEEDCRAFT_NETWORK = "bench-soak";
// Minute-long seeding epochs, as the developer's own local world has, so the seeder can be paid within the run.
world.env.SEEDCRAFT_DEPLOY_PARAMETERS = JSON.stringify({ epochLength: "60" });

const rpcUrl = `http://127.0.0.1:${world.ports.chain}`;
const indexerUrl = `http://127.0.0.1:${world.ports.indexer}`;
// Every head read is fresh: viem caches getBlockNumber for 4 s by default, so the lag samples and the recovery
// check read a head up to 4 s (~7 blocks) old, which made the index look closer to the chain than it was.
const chain = createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });

async function indexedBlock(): Promise<number | undefined> {
  try {
    const response = await fetch(`${indexerUrl}/v1/status`, { signal: AbortSignal.timeout(1500) });
    const status = (await response.json()) as { indexedBlock?: number | null };
    return status.indexedBlock ?? undefined;
  } catch {
    return undefined;
  }
}

async function indexerReady(): Promise<boolean> {
  try {
    return (await fetch(`${indexerUrl}/v1/ready`, { signal: AbortSignal.timeout(1500) })).status === 200;
  } catch {
    return false;
  }
}

/** A process group's resident memory (MB) and the CPU time its live processes have used (s). */
function groupUse(pgid: number): { mb: number; cpuS: number } | undefined {
  try {
    const out = execFileSync("ps", ["-o", "rss=,times=", "-g", String(pgid)], { encoding: "utf8" });
    let kb = 0;
    let cpuS = 0;
    for (const line of out.split("\n")) {
      const [rss, times] = line.trim().split(/\s+/).map(Number);
      if (rss !== undefined && Number.isFinite(rss) && rss > 0) kb += rss;
      if (times !== undefined && Number.isFinite(times)) cpuS += times;
    }
    return kb > 0 ? { mb: kb / 1024, cpuS } : undefined;
  } catch {
    return undefined;
  }
}

/** The machine's busy CPU time so far (s), all cores together, from /proc/stat. */
function machineBusyS(): number {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

type RunFile = ReturnType<typeof runFile> & {
  parts: Record<string, { pid: number; kind: string; restarts?: number }>;
};

const cleanups: (() => Promise<unknown> | unknown)[] = [];
let stopped: Promise<void> | undefined;
// Interrupted, it leaves nothing running behind it (the world's parts and the players are process groups).
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    log(`${signal}: stopping the world`);
    void stopAll().finally(() => process.exit(130));
  });
let cli: Awaited<ReturnType<typeof startCliWorld>> | undefined;
try {
  log(`starting the world (state ${world.stateDir})`);
  cli = await startCliWorld(world, ["--block-time", BLOCK_TIME]);
  const deployment = await readDeployment("bench-soak");
  log("world up; starting the players");

  // Headless players, each its own process, walking and editing around the spawn.
  const headless: ChildProcess[] = [];
  const headlessLinks: number[] = [];
  const headlessEdits: number[] = [];
  /** Each headless player's edits: op → its state (provisional until the player reports it final). */
  const headlessOps: Map<string, { state: string; reason: string | undefined; madeAt: number }>[] = [];
  for (let i = 0; i < HEADLESS; i++) {
    // Its output goes to <state>/logs/peer-<i>.log, beside the parts' logs.
    const out = openSync(path.join(world.stateDir, "logs", `peer-${i}.log`), "a");
    const child = fork(
      path.join(ROOT, "cli", "seedcraft.ts"),
      ["peer", "--name", `soak-${i}`, `--at=${i * 3 - 4},2`, "--walk", "3", "--edits-per-s", "0.5"],
      { env: world.env, stdio: ["ignore", out, out, "ipc"], detached: true },
    );
    headlessLinks.push(0);
    headlessEdits.push(0);
    const ops = new Map<string, { state: string; reason: string | undefined; madeAt: number }>();
    headlessOps.push(ops);
    child.on("message", (reports: PeerReport[]) => {
      for (const report of reports) {
        if (report.type === "linked") headlessLinks[i] = report.peers;
        if (report.type === "edited") {
          headlessEdits[i] = (headlessEdits[i] ?? 0) + 1;
          if (!ops.has(report.op)) ops.set(report.op, { state: "provisional", reason: undefined, madeAt: report.atMs });
        }
        if (report.type === "final") {
          const made = ops.get(report.op);
          ops.set(report.op, { state: report.state, reason: report.reason, madeAt: made?.madeAt ?? report.atMs });
        }
      }
    });
    child.on("exit", (code, signal) => {
      if (!stopped) log(`headless player ${i} exited (${signal ?? `exit code ${code}`}): see logs/peer-${i}.log`);
    });
    headless.push(child);
  }
  cleanups.push(() => {
    for (const child of headless) if (child.pid) killGroup(child.pid);
  });

  const browser = await chromium.launch({ executablePath: executable, args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 640, height: 400 } });
  await context.grantPermissions(["microphone", "camera"]);
  const page = await context.newPage();
  // Under DEBUG, the page logs the same namespaces (the debug package reads localStorage) into
  // logs/chromium.log, beside the parts' and the headless players' logs.
  if (process.env.DEBUG) {
    const pageLog = openSync(path.join(world.stateDir, "logs", "chromium.log"), "a");
    await context.addInitScript((namespaces) => localStorage.setItem("debug", namespaces), process.env.DEBUG);
    // The debug package styles its lines (%c and CSS arguments): formatted here without them.
    page.on("console", (message) => {
      void Promise.all(message.args().map((arg) => arg.jsonValue().catch(() => "?"))).then((args) => {
        const [format, ...rest] = args as unknown[];
        const line = typeof format === "string" ? withoutStyles(format, rest) : message.text();
        appendFileSync(pageLog, `${new Date().toISOString()} ${line}\n`);
      });
    });
  }
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const appUrl = `http://127.0.0.1:${world.ports.app}`;
  await page.goto(appUrl);
  await joinWithDevAccount(page);
  await entries(page);
  // It plays beside the seeder (which stands at 0,0) and the headless players, not at its random spawn.
  const seed = terrainSeedOf(deployment.chainId, deployment.contracts.ChunkLedger.address);
  const standBySeeder = () =>
    page.evaluate(
      ([x, y, z]) => (window as unknown as SeedcraftWindow).seedcraft.session.world.controls.teleport(x, y, z),
      [0.5, groundHeight(seed, 0, 4) + 1, 4.5] as const,
    );
  await standBySeeder();
  log("the Chromium player joined");

  const run0 = Date.now();
  const framesDrawn = () =>
    page.evaluate(() => (window as unknown as SeedcraftWindow).seedcraft.session.world.stats().framesDrawn, null);
  const frames0 = await framesDrawn();
  /** Frames the Chromium page drew a second from the start to its reload (it draws only when something changed). */
  let framesPerS: number | undefined;
  const samples: {
    at: number;
    rss: Record<string, number>;
    cpuS: Record<string, number>;
    pids: Record<string, number>;
    busyS: number;
  }[] = [];
  const lagSamples: { at: number; lag: number | undefined }[] = [];
  let stallAt: number | undefined;
  let stallRecoveredAt: number | undefined;
  let killAt: number | undefined;
  let killRecoveredAt: number | undefined;
  let editsMade = 0;
  let editsRefused = 0;
  let reloadedAt: number | undefined;
  /** The edit list of the Chromium player's sessions before the current one (a reload starts a new list). */
  const earlier: Entry[] = [];

  const sample = () => {
    const run = runFile(world) as RunFile;
    const rss: Record<string, number> = {};
    const cpuS: Record<string, number> = {};
    const pids: Record<string, number> = {};
    const groups: [string, number][] = Object.entries(run.parts)
      .filter(([, info]) => info.kind === "service")
      .map(([part, info]) => [part, info.pid]);
    // The headless players' CPU is counted too (their memory is not a part's).
    for (const [i, child] of headless.entries()) if (child.pid !== undefined) groups.push([`player-${i}`, child.pid]);
    for (const [part, pid] of groups) {
      const use = groupUse(pid);
      pids[part] = pid;
      if (!use) continue;
      cpuS[part] = use.cpuS;
      if (!part.startsWith("player-")) rss[part] = use.mb;
    }
    samples.push({ at: Date.now(), rss, cpuS, pids, busyS: machineBusyS() });
  };

  // The Chromium player builds: a block placed next to it every 3 s, broken again on the next round.
  const edit = () =>
    page.evaluate(async (stone) => {
      const session = (window as unknown as SeedcraftWindow).seedcraft.session;
      const world = session.world;
      const [px, py, pz] = world.controls.position;
      const [fx, fy, fz] = [Math.floor(px), Math.floor(py), Math.floor(pz)];
      for (let r = 2; r <= 3; r++)
        for (let dx = -r; dx <= r; dx++)
          for (let dz = -r; dz <= r; dz++) {
            if (Math.max(Math.abs(dx), Math.abs(dz)) !== r) continue;
            for (let y = fy + 2; y >= fy - 2; y--) {
              const block = world.getBlock(fx + dx, y, fz + dz);
              const below = world.getBlock(fx + dx, y - 1, fz + dz);
              if (block === undefined || below === undefined || below === 0) continue;
              if (block === stone) {
                return (await session.game.get()?.edit("break", [fx + dx, y, fz + dz], 0)) === undefined;
              }
              if (block === 0 && !world.controls.body.intersectsBlock(fx + dx, y, fz + dz)) {
                return (await session.game.get()?.edit("place", [fx + dx, y, fz + dz], stone)) === undefined;
              }
            }
          }
      return false;
    }, BLOCK_IDS.stone);

  let nextSample = 0;
  let nextLag = 0;
  let nextEdit = 0;
  let lastProgress = 0;
  while (Date.now() - run0 < DURATION_MS) {
    const now = Date.now();
    const elapsed = now - run0;
    if (now >= nextEdit) {
      nextEdit = now + 3000;
      const made = await edit().catch(() => false);
      if (made) editsMade++;
      else editsRefused++;
    }
    if (now >= nextSample) {
      nextSample = now + 10_000;
      sample();
    }
    if (stallAt === undefined && elapsed >= STALL_AT * DURATION_MS) {
      stallAt = Date.now();
      const headAtStall = Number(await chain.getBlockNumber());
      proxy.stall();
      log(`stalled the indexer's newHeads at block ${headAtStall}`);
      // Recovered: the indexer serves, within 2 blocks of the head, a block mined after the stall.
      void (async () => {
        while (Date.now() - (stallAt as number) < 120_000) {
          const [head, indexed] = [Number(await chain.getBlockNumber()), await indexedBlock()];
          if (indexed !== undefined && indexed > headAtStall && head - indexed <= 2) {
            stallRecoveredAt = Date.now();
            log(
              `indexer recovered from the stall in ${((stallRecoveredAt - (stallAt as number)) / 1000).toFixed(1)} s`,
            );
            return;
          }
          await sleep(200);
        }
        log("indexer did not recover from the stall within 120 s");
      })();
    }
    if (killAt === undefined && elapsed >= KILL_AT * DURATION_MS) {
      const before = (runFile(world) as RunFile).parts[KILLED];
      if (before) {
        killAt = Date.now();
        killGroup(before.pid);
        log(`killed ${KILLED} (pid ${before.pid})`);
        void (async () => {
          while (Date.now() - (killAt as number) < 180_000) {
            const part = (runFile(world) as RunFile).parts[KILLED];
            if (part && part.pid !== before.pid && (KILLED !== "indexer" || (await indexerReady()))) {
              killRecoveredAt = Date.now();
              log(
                `${KILLED} back (pid ${part.pid}) in ${((killRecoveredAt - (killAt as number)) / 1000).toFixed(1)} s`,
              );
              return;
            }
            await sleep(250);
          }
          log(`${KILLED} did not come back within 180 s`);
        })();
      }
    }
    if (reloadedAt === undefined && elapsed >= RELOAD_AT * DURATION_MS) {
      reloadedAt = Date.now();
      // What it listed before leaving: edits still in flight as it leaves are listed again by the next page
      // (carried), which settles them; any it does not carry are counted as they stand.
      framesPerS = ((await framesDrawn()) - frames0) / ((Date.now() - run0) / 1000);
      // The list is read as the page goes (pagehide), not before: an edit that ends between the two would be
      // counted open, yet not carried by the next page, which only carries what was open as the page went.
      await page.evaluate(
        (list) =>
          addEventListener("pagehide", () =>
            sessionStorage.setItem("soak:entries", JSON.stringify(new Function(`return (${list})()`)())),
          ),
        listEntries.toString(),
      );
      // Off the app but on its origin (its config file), so no open connection holds the database.
      await page.goto(`${appUrl}/seedcraft.json`);
      const left = await page.evaluate(() => sessionStorage.getItem("soak:entries"), null);
      if (left === null) throw new Error("the Chromium page did not list its edits as it went (pagehide)");
      earlier.push(...(JSON.parse(left) as Entry[]));
      await page.evaluate(async () => {
        for (const { name } of await indexedDB.databases())
          if (name?.startsWith("seedcraft-chunks-"))
            await new Promise((resolve) => {
              const request = indexedDB.deleteDatabase(name);
              request.onsuccess = request.onerror = request.onblocked = resolve;
            });
      });
      await page.goto(appUrl);
      await joinWithDevAccount(page);
      await entries(page);
      await standBySeeder();
      log(
        `the Chromium player came back with an empty chunk cache in ${((Date.now() - reloadedAt) / 1000).toFixed(1)} s`,
      );
    }
    if (now >= nextLag) {
      nextLag = now + 1000;
      const recovered = stallRecoveredAt !== undefined && (killAt === undefined || killRecoveredAt !== undefined);
      if (recovered) {
        // Both asked at the same moment: read one after the other, the later would be newer than the other.
        const [head, indexed] = await Promise.all([chain.getBlockNumber().then(Number), indexedBlock()]);
        // An unanswered status (undefined) is counted apart: JSON has no Infinity, and it would hide the figure.
        lagSamples.push({ at: now, lag: indexed === undefined ? undefined : head - indexed });
      }
    }
    if (now - lastProgress >= 30_000) {
      lastProgress = now;
      log(`${Math.round(elapsed / 1000)} of ${MINUTES * 60} s; ${editsMade} edits by the Chromium player`);
    }
    await sleep(200);
  }

  log(`run over; waiting up to ${SETTLE_MS / 1000} s for edits in flight to end`);
  const runEndedAt = Date.now();
  // The headless players stop editing; what they have under way ends and is reported.
  for (const child of headless) if (child.connected) child.send({ type: "pause" } satisfies PeerCommand);
  // Only what they made during the run is counted.
  const headlessList = () =>
    headlessOps.flatMap((ops) =>
      [...ops.values()]
        .filter((op) => op.madeAt <= runEndedAt)
        .map((op): Entry => ({ own: true, state: op.state, reason: op.reason })),
    );
  const settleDeadline = Date.now() + SETTLE_MS;
  let current = await entries(page);
  while ([...current, ...headlessList()].some((e) => !FINAL_STATES.has(e.state)) && Date.now() < settleDeadline) {
    await sleep(1000);
    current = await entries(page);
  }
  // An edit still on its way when the player reloaded is listed again by the next page (carried), which settles
  // it: it counts once, as the next page left it.
  const carriedKeys = new Set(current.filter((e) => e.carried && e.key).map((e) => e.key));
  // A peer's edit the page showed still on its way when it left is not counted from that page: the page is gone,
  // and the edit is counted where it ends, by its author (the headless player's own report, below), and again
  // by the next page if a neighbour replays it there.
  const peersOpenAtReload = earlier.filter((e) => !e.own && !FINAL_STATES.has(e.state)).length;
  const chromiumList = [
    ...earlier.filter((e) => !(e.key && carriedKeys.has(e.key)) && (e.own || FINAL_STATES.has(e.state))),
    ...current,
  ];
  const headlessFinal = headlessList();
  const chromiumOpen = chromiumList.filter((e) => !FINAL_STATES.has(e.state));
  // Every edit: the Chromium player's own, the headless players' as the Chromium player saw them, and the
  // headless players' own as they report them.
  const list = [...chromiumList, ...headlessFinal];
  const chromiumLinks = await page.evaluate(
    () => (window as unknown as SeedcraftWindow).seedcraft.session.game.get()?.peer.mesh.peers.length ?? 0,
    null,
  );
  sample();

  // The seeder's claims: its address is in its log; its balance is what its claims paid.
  const seederLine = readFileSync(path.join(world.stateDir, "logs", "seeder.log"), "utf8").match(
    /seeder \S+ as (0x[0-9a-fA-F]{40})/,
  );
  const energy = deployment.contracts.EnergyToken;
  const balance = async () =>
    seederLine
      ? ((await chain.readContract({
          address: energy.address,
          abi: energy.abi,
          functionName: "balanceOf",
          args: [seederLine[1] as Hex],
        })) as bigint)
      : 0n;
  const claimDeadline = Date.now() + CLAIM_WAIT_MS;
  let seederEnergy = await balance();
  if (seederEnergy === 0n) log(`waiting up to ${CLAIM_WAIT_MS / 1000} s for the seeder's claim to land`);
  while (seederEnergy === 0n && Date.now() < claimDeadline) {
    await sleep(2000);
    seederEnergy = await balance();
  }

  const run = runFile(world) as RunFile;
  const restarts = Object.fromEntries(
    Object.entries(run.parts)
      .filter(([, info]) => info.kind === "service")
      .map(([part, info]) => [part, info.restarts ?? 0]),
  );
  // Growth per part: from its first sample past warm-up (and, for the killed part, past its warm-up after it
  // came back) to its last.
  const growth: Record<string, number> = {};
  const warmAt = run0 + WARM_AT * DURATION_MS;
  const last = samples.at(-1);
  /** The part's first sample of the span measured, by the same process as the last, with `field` taken. */
  const firstOf = (part: string, field: "rss" | "cpuS") => {
    const from = part === KILLED && killRecoveredAt !== undefined ? killRecoveredAt + RESTART_WARM_MS : warmAt;
    return samples.find((s) => s.at >= from && s.pids[part] === last?.pids[part] && s[field][part] !== undefined);
  };
  for (const part of Object.keys(last?.rss ?? {})) {
    const first = firstOf(part, "rss");
    const start = first?.rss[part];
    const end = last?.rss[part];
    if (start !== undefined && end !== undefined && first !== last) growth[part] = round(((end - start) / start) * 100);
  }
  // CPU per part and headless player (% of one core) over the same span, and what the rest used (Chromium, this
  // bench): where the machine's two cores went.
  const cpu: Record<string, number> = {};
  let partsCpu = 0;
  const firstWarm = samples.find((sample) => sample.at >= warmAt);
  for (const part of Object.keys(last?.cpuS ?? {})) {
    const first = firstOf(part, "cpuS");
    const [start, end] = [first?.cpuS[part], last?.cpuS[part]];
    if (!first || !last || first === last || start === undefined || end === undefined) continue;
    cpu[part] = round(((end - start) / ((last.at - first.at) / 1000)) * 100);
    partsCpu += cpu[part];
  }
  if (firstWarm && last && firstWarm !== last) {
    cpu.machine = round(((last.busyS - firstWarm.busyS) / ((last.at - firstWarm.at) / 1000)) * 100);
    cpu.rest = round(cpu.machine - partsCpu);
  }
  const counts: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  for (const entry of list) {
    counts[entry.state] = (counts[entry.state] ?? 0) + 1;
    if (entry.state !== "anchored" && entry.reason) {
      // One line per kind of reason: numbers (versions, seconds) left out.
      const kind = `${entry.state}: ${entry.reason.replace(/\d+/g, "N").slice(0, 100)}`;
      reasons[kind] = (reasons[kind] ?? 0) + 1;
    }
  }
  const finalCount = list.filter((e) => FINAL_STATES.has(e.state)).length;
  const lags = lagSamples.flatMap((s) => (s.lag === undefined ? [] : [s.lag]));
  const unanswered = lagSamples.length - lags.length;
  // Where the largest lag sat: a moment (a reload, a restart's replay) or the run's usual state.
  const sortedLags = [...lags].sort((a, b) => a - b);
  const lagAt = (q: number) => sortedLags[Math.min(sortedLags.length - 1, Math.floor(q * sortedLags.length))] ?? null;
  const worst = lagSamples.find((s) => s.lag !== undefined && s.lag === sortedLags.at(-1));
  const result = {
    indexer_lag_max_blocks: lags.length > 0 ? Math.max(...lags) : null,
    stall_recovery_s:
      stallAt !== undefined && stallRecoveredAt !== undefined ? round((stallRecoveredAt - stallAt) / 1000) : null,
    edits_final_pct: list.length > 0 ? round((finalCount / list.length) * 100) : null,
    edits_failed: counts.failed ?? 0,
    seeder_energy_claimed: Number(seederEnergy) / 1e18,
    rss_growth_pct: growth,
    restarts,
    killed: { part: KILLED, back_s: killAt && killRecoveredAt ? round((killRecoveredAt - killAt) / 1000) : null },
    edits: {
      counted: list.length,
      chromium_own: chromiumList.filter((e) => e.own).length,
      chromium_saw_of_peers: chromiumList.filter((e) => !e.own).length,
      headless_own: headlessFinal.length,
      states: counts,
      reasons,
      across_reload: earlier.length,
      carried_across_reload: carriedKeys.size,
      peers_open_at_reload: peersOpenAtReload,
      open_at_end: {
        chromium_own: chromiumOpen.filter((e) => e.own).length,
        chromium_saw_of_peers: chromiumOpen.filter((e) => !e.own).length,
        headless_own: headlessFinal.filter((e) => !FINAL_STATES.has(e.state)).length,
        chromium: chromiumOpen.map((e) => ({
          own: e.own,
          state: e.state,
          before_reload: !current.includes(e),
          carried: e.carried === true,
          version: e.version ?? null,
          note: e.note ?? null,
        })),
      },
      made_by_chromium: editsMade,
      no_free_cell: editsRefused,
    },
    // When in the run the headless players made the edits that did not end anchored, by tenth of the run: a
    // failure beside the stall, the kill or the reload tells another story than one spread evenly.
    headless_not_anchored_by_tenth: Object.fromEntries(
      ["failed", "rolled-back", "provisional"].map((state) => {
        const tenths = Array.from({ length: 10 }, () => 0);
        for (const ops of headlessOps)
          for (const op of ops.values())
            if (op.state === state && op.madeAt <= runEndedAt) {
              const tenth = Math.floor(((op.madeAt - run0) / DURATION_MS) * 10);
              const at = Math.max(0, Math.min(9, tenth));
              tenths[at] = (tenths[at] ?? 0) + 1;
            }
        return [state, tenths];
      }),
    ),
    links: { chromium_end: chromiumLinks, headless_last: headlessLinks, headless_edits: headlessEdits },
    stall: { newheads_dropped: proxy.dropped, newheads_forwarded: proxy.forwarded },
    cpu_pct_of_a_core: cpu,
    rss_mb_end: Object.fromEntries(Object.entries(last?.rss ?? {}).map(([part, mb]) => [part, round(mb)])),
    // Each part's RSS once a minute (MB), to tell a steady climb from the noise of two samples.
    rss_mb_by_minute: Object.fromEntries(
      Object.keys(last?.rss ?? {}).map((part) => [
        part,
        samples
          .filter((_, i) => i % 6 === 0)
          .map((sample) => (sample.rss[part] === undefined ? null : Math.round(sample.rss[part]))),
      ]),
    ),
    lag_samples: lags.length,
    lag_samples_unanswered: unanswered,
    lag_blocks: {
      p50: lagAt(0.5),
      p90: lagAt(0.9),
      over_2: lags.filter((lag) => lag > 2).length,
      max_at_s: worst ? round((worst.at - run0) / 1000, 0) : null,
    },
    page_errors: pageErrors.length,
    chromium_frames_per_s: framesPerS === undefined ? null : round(framesPerS),
    measured: `${MINUTES} min of seedcraft up --block-time ${BLOCK_TIME} (every part, as npm start runs it) with ${HEADLESS} headless players (seedcraft peer, 0.5 edits/s each, walking 3 blocks) and 1 Chromium player (a block placed or broken every 3 s) near the world's seeder; at ${STALL_AT * 100}% the proxy between the indexer and the chain's WebSocket stops forwarding newHeads (sockets stay open) until the end; at ${KILL_AT * 100}% ${KILLED} is killed (SIGKILL to its process group); lag sampled every 1 s once both recovered (the killed part back, and ready for the indexer; chain head over HTTP vs /v1/status); the Chromium player stands 4 blocks from the seeder and at ${RELOAD_AT * 100}% comes back with its chunk cache emptied (its join sync leeches from the seeder); seeding epochs of 60 s; the seeder's balance is read once its auto-claim lands (up to ${CLAIM_WAIT_MS / 1000} s after the run); RSS of each part's process group every 10 s, growth from the first sample after ${WARM_AT * 100}% of the run (for the killed part, ${RESTART_WARM_MS / 1000} s after it was back) to the end; edits settle for up to ${SETTLE_MS / 1000} s after the run`,
    machine: { cores: os.cpus().length, node: process.version, load_avg: os.loadavg().map((v) => round(v, 2)) },
  };
  console.log(JSON.stringify(result));
} finally {
  await stopAll();
}

/** Stops the players, the browser and the world, once (the run's end, or Ctrl-C). */
function stopAll(): Promise<void> {
  stopped ??= (async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    if (cli) await stopCliWorld(world, cli);
    await proxy.close();
  })();
  return stopped;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone already
  }
}
