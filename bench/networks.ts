/**
 * bench:networks — the world across networks (root: Linux network namespaces, test/helpers/netns.ts): a world
 * host on 198.18.0.1 runs `seedcraft up --host 198.18.0.1 --public-host 198.18.0.1` (every part, coturn as
 * `turn`, a seeder), and Chromium players run inside homes behind NAT routers: A and B each behind its own
 * port-keeping NAT (MASQUERADE), C behind one that maps every flow to a new port (MASQUERADE --random, a
 * symmetric NAT). Every figure is the app's own page's clock (performance.timeOrigin + now; the pages share this
 * machine's clock, and the skew between them is measured and taken out).
 * - join_to_first_peer_ms: B, a fresh Chromium each run, joins while A plays: from its join's network part
 *   starting (the "joining" step, the session key ready) to A's hello verified in B's mesh (linked through both
 *   NATs); median over the runs. Every run after the first comes after the last B left (its browser closed), as
 *   players come and go. join_with_wallet_ms: the same from the join's first step (session key checked,
 *   authorized, indexed) on. join_joined_ms and join_any_peer_ms split it: "joining" → "joined" (the gateway's
 *   connection and the player's card put in the DHT), → the first peer of any kind (often the world's seeder).
 * - relay_join_to_first_peer_ms: the same for C, to its first link with A or B (through the world's TURN relay,
 *   which ICE stats confirm); median over the runs.
 * - edit_to_apply_p50_ms / _p99_ms: A edits blocks beside itself (place, break, in turn; a gap between edits);
 *   from just before A's game.edit call to A's op applied in B's mesh; matched by op key.
 * - signal_bytes_max: the largest mailbox item (p2p/signal-item.ts: an offer, an answer or a knock) any page put
 *   through the gateway during the run.
 * - asset_pack_fetch_s: a port-keeping-NATed player joining with an empty IndexedDB; the app's own timing from
 *   the start of its pack load to the pack fetched over torrent wires, checked and swapped in; median of A's and
 *   every B run's.
 * Usage: npm run bench:networks [-- --edits 120 --joins 3]   Last line: one JSON object.
 * BENCH_PROFILE=<dir>: CPU profiles of A's and B's pages while A edits (bench/profile.ts).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../cli/world.ts";
import { AIR, BLOCK_IDS } from "../core/blocks.ts";
import { readDeployment } from "../deploy/deployment-file.ts";
import { inApp, pageClockOffset, type SeedcraftWindow } from "../test/helpers/chromium.ts";
import { netnsUnavailable, TestNetwork } from "../test/helpers/netns.ts";
import {
  enterWorld,
  type LinkStats,
  linkedPeers,
  meshLinkStats,
  type NetnsPlayer,
  type NetnsWorld,
  openPlayer,
  probeTimes,
  signalBytes,
  startNetnsWorld,
} from "../test/helpers/netns-world.ts";
import { waitFor } from "../test/helpers/world.ts";
import { profiled } from "./profile.ts";
import { median, percentile } from "./stats.ts";

const startedAt = Date.now();
const log = (line: string) =>
  process.stderr.write(`[networks ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

const { values } = parseArgs({
  options: { edits: { type: "string", default: "120" }, joins: { type: "string", default: "3" } },
  strict: true,
});
const EDITS = Number(values.edits);
const JOINS = Number(values.joins);
if (!(Number.isInteger(EDITS) && EDITS >= 10 && EDITS <= 2000)) throw new Error(`--edits must be 10 to 2000`);
if (!(Number.isInteger(JOINS) && JOINS >= 1 && JOINS <= 10)) throw new Error(`--joins must be 1 to 10`);
const EDIT_GAP_MS = 150;
const unavailable = netnsUnavailable();
if (unavailable) throw new Error(`bench:networks ${unavailable}`);

type JoinRun = {
  /** "joining" → the first wanted peer in the mesh. */
  to_peer_ms: number;
  /** "joining" → "joined": the gateway's connection, our card put in the DHT, the peer started. */
  joined_ms: number;
  /** "joining" → the first peer of any kind in the mesh (the world's seeder, often). */
  any_peer_ms: number;
  /** The join's first step → the same. */
  with_wallet_ms: number;
  asset_pack_s: number | undefined;
  asset_from: string | undefined;
  pair?: LinkStats["pair"];
};

/** The link between two players as `p`'s ICE stats name it (matched by their ICE ufrags). */
async function pairWith(p: NetnsPlayer, q: NetnsPlayer): Promise<LinkStats["pair"]> {
  const theirs = await meshLinkStats(q);
  for (const at of await meshLinkStats(p))
    if (theirs.some((link) => link.localUfrag === at.remoteUfrag && link.remoteUfrag === at.localUfrag)) return at.pair;
  return undefined;
}

/** The player's asset pack once it is in (or failed): seconds and where from. */
async function assetPack(p: NetnsPlayer): Promise<{ s: number | undefined; from: string | undefined }> {
  await p.page
    .locator('[data-testid="asset-status"][data-state="ready"], [data-testid="asset-status"][data-state="failed"]')
    .waitFor({ timeout: 60_000 })
    .catch(() => undefined);
  const state = await p.page.evaluate(() =>
    (window as unknown as SeedcraftWindow).seedcraft.session.assets.state.get(),
  );
  // A try that gave up is worth a line: the pack's time is mostly the pause before the next.
  const failures = state.step === "ready" || state.step === "fetching" ? state.failures : [];
  for (const failure of failures) log(`  ${p.label}'s asset pack: a try gave up: ${failure}`);
  if (state.step === "ready" && state.timeline && state.ms > 2000)
    log(
      `  ${p.label}'s asset pack took ${(state.ms / 1000).toFixed(1)} s: the manifest on chain ${Math.round(state.manifestMs)} ms, then the fetch: ${state.timeline}`,
    );
  return state.step === "ready" ? { s: state.ms / 1000, from: state.from } : { s: undefined, from: state.step };
}

/** A fresh player joins in `home` until it is linked with one of `others`; what it took. */
async function joinOnce(
  network: TestNetwork,
  world: NetnsWorld,
  home: string,
  label: string,
  others: NetnsPlayer[],
): Promise<{ player: NetnsPlayer; run: JoinRun }> {
  const player = await openPlayer(network, world, home, label);
  await enterWorld(player, world);
  const ids = others.map((o) => o.peerId);
  await waitFor(
    `${label} to link with ${others.map((o) => o.label).join(" or ")}`,
    async () => (await linkedPeers(player)).some((id) => ids.includes(id)),
    60_000,
  );
  const times = await probeTimes(player);
  const linkedAt = Math.min(...ids.flatMap((id) => times.peers[id] ?? []));
  const steps = Object.entries(times.joinSteps).filter(([step]) => step !== "idle" && step !== "confirm");
  const firstStep = Math.min(...steps.map(([, at]) => at));
  const joining = times.joinSteps.joining as number;
  const linkedWith = others.find((o) => times.peers[o.peerId] === linkedAt) as NetnsPlayer;
  const pack = await assetPack(player);
  const run: JoinRun = {
    to_peer_ms: round(linkedAt - joining),
    joined_ms: round((times.joinSteps.joined as number) - joining),
    any_peer_ms: round(Math.min(...Object.values(times.peers)) - joining),
    with_wallet_ms: round(linkedAt - firstStep),
    asset_pack_s: pack.s === undefined ? undefined : round(pack.s, 2),
    asset_from: pack.from,
    pair: await pairWith(player, linkedWith).catch(() => undefined),
  };
  log(
    `  ${label}: joining → joined ${run.joined_ms} ms, → a first peer ${run.any_peer_ms} ms, → linked with ${linkedWith.label} ${run.to_peer_ms} ms (${run.with_wallet_ms} ms with the wallet's steps); asset pack ${run.asset_pack_s ?? "-"} s from ${run.asset_from}; pair ${run.pair?.local.type}→${run.pair?.remote.type}`,
  );
  return { player, run };
}

const network = TestNetwork.build({
  homes: [{ name: "home-a" }, { name: "home-b" }, { name: "home-c", nat: "random" }],
});
const players: NetnsPlayer[] = [];
let world: NetnsWorld | undefined;
const signals: number[] = [];
let exitCode = 0;
try {
  log(`network ${network.prefix}: world host ${network.world.address}, homes A, B (MASQUERADE), C (--random)`);
  const worldStarted = Date.now();
  world = await startNetnsWorld(network, "bench-networks");
  const worldUpS = (Date.now() - worldStarted) / 1000;
  const deployment = await readDeployment(world.network);
  const packBytes = deployment.assets?.packs[0]?.bytes;
  log(`world up in ${worldUpS.toFixed(1)} s (asset pack ${packBytes ?? "none"} bytes)`);

  const a = await openPlayer(network, world, "home-a", "A");
  players.push(a);
  await enterWorld(a, world);
  const aPack = await assetPack(a);
  const aTimes = await probeTimes(a);
  const aJoining = aTimes.joinSteps.joining as number;
  const aFirstPeer = Math.min(...Object.values(aTimes.peers));
  log(
    `A joined: joining → joined ${round((aTimes.joinSteps.joined as number) - aJoining)} ms, → its first peer (the seeder) ${round(aFirstPeer - aJoining)} ms; asset pack ${aPack.s?.toFixed(2) ?? "-"} s from ${aPack.from}`,
  );

  log(`B joins ${JOINS} times, each a fresh Chromium in home B…`);
  const bRuns: JoinRun[] = [];
  let b: NetnsPlayer | undefined;
  for (let i = 0; i < JOINS; i++) {
    if (b) {
      signals.push(...(await signalBytes(b)));
      await b.close();
      players.splice(players.indexOf(b), 1);
      // A notices B gone before the next one comes.
      await sleep(1500);
    }
    const joined = await joinOnce(network, world, "home-b", "B", [a]);
    b = joined.player;
    players.push(b);
    bRuns.push(joined.run);
  }
  const bPlayer = b as NetnsPlayer;

  log(`A makes ${EDITS} edits, ${EDIT_GAP_MS} ms apart; B notes when each is applied…`);
  const skew = (await pageClockOffset(bPlayer.page, 20)).offsetMs - (await pageClockOffset(a.page, 20)).offsetMs;
  // Frames each page draws meanwhile: under software compositing each one costs its main thread a read-back.
  const framesDrawn = (p: NetnsPlayer) =>
    p.page.evaluate(() => (window as unknown as SeedcraftWindow).seedcraft.session.world.stats().framesDrawn);
  const framesBefore = [await framesDrawn(a), await framesDrawn(bPlayer)];
  const editsStartedAt = Date.now();
  const made = await profiled(
    [a, bPlayer].map((p) => ({ name: p.label, browser: p.browser, page: p.page })),
    () =>
      inApp(
        a.page,
        async (session, { edits, gapMs, air, water, stone }) => {
          const game = session.game.get();
          if (!game) throw new Error("A has no game");
          const [x, y, z] = session.world.controls.position.map(Math.floor) as [number, number, number];
          const free = (bx: number, by: number, bz: number) => {
            const block = session.world.getBlock(bx, by, bz);
            return block === air || block === water;
          };
          const cells: [number, number, number][] = [];
          for (const [dx, dz] of [
            [2, 0],
            [0, 2],
            [-2, 0],
            [0, -2],
          ] as const)
            for (const dy of [0, 1]) if (free(x + dx, y + dy, z + dz)) cells.push([x + dx, y + dy, z + dz]);
          if (cells.length === 0) throw new Error(`no free cell next to A at ${x},${y},${z}`);
          const records: { key: string; startedAt: number; refused: string | undefined }[] = [];
          for (let i = 0; i < edits; i++) {
            const cell = cells[Math.floor(i / 2) % cells.length] as [number, number, number];
            const lastId = game.edits.entries.at(-1)?.id ?? 0;
            const startedAt = performance.timeOrigin + performance.now();
            const refused = await game.edit(i % 2 === 0 ? "place" : "break", cell, stone);
            const entry = game.edits.entries.find(
              (e) => e.own && e.id > lastId && e.position.every((v, k) => v === cell[k]),
            );
            const key = entry?.hlc
              ? `${entry.chunkId}:${entry.index}:${entry.block}:${entry.hlc.wallMs}:${entry.hlc.logical}`
              : "";
            records.push({ key, startedAt, refused: refused === undefined ? undefined : String(refused) });
            await new Promise((resolve) => setTimeout(resolve, gapMs));
          }
          return records;
        },
        { edits: EDITS, gapMs: EDIT_GAP_MS, air: AIR, water: BLOCK_IDS.water, stone: BLOCK_IDS.stone },
      ),
    log,
  );
  const editsS = (Date.now() - editsStartedAt) / 1000;
  const framesPerS = [
    round(((await framesDrawn(a)) - (framesBefore[0] as number)) / editsS, 1),
    round(((await framesDrawn(bPlayer)) - (framesBefore[1] as number)) / editsS, 1),
  ];
  const drawing = async (p: NetnsPlayer) => {
    const s = await p.page.evaluate(() => (window as unknown as SeedcraftWindow).seedcraft.session.world.stats());
    return `scale ${s.renderScale.toFixed(2)}, frame ${s.frameCostMs} ms, ${s.drawCalls} draws, ${s.triangles} triangles, view ${s.viewDistance}`;
  };
  log(
    `  frames drawn meanwhile: A ${framesPerS[0]}/s (${await drawing(a)}), B ${framesPerS[1]}/s (${await drawing(bPlayer)})`,
  );
  const wanted = made.filter((r) => r.key && r.refused === undefined);
  const deadline = Date.now() + 15_000;
  let applied = (await probeTimes(bPlayer)).ops;
  while (wanted.some((r) => applied[r.key] === undefined) && Date.now() < deadline) {
    await sleep(300);
    applied = (await probeTimes(bPlayer)).ops;
  }
  const timed = wanted.flatMap((r) =>
    applied[r.key] === undefined ? [] : [{ at: r.startedAt, ms: (applied[r.key] as number) - skew - r.startedAt }],
  );
  const latencies = timed.map((t) => t.ms).sort((x, y) => x - y);
  // Where a slow one's time went: a long task (over 50 ms) on A's or B's main thread while it was on its way.
  const [longA, longB] = [(await probeTimes(a)).longTasks, (await probeTimes(bPlayer)).longTasks];
  const slow = timed.filter((t) => t.ms > 60);
  const slowWithLongTask = slow.filter(({ at, ms }) =>
    [...longA, ...longB.map((task) => ({ ...task, at: task.at - skew }))].some(
      (task) => task.at < at + ms && task.at + task.ms > at,
    ),
  ).length;
  const inWindow = (tasks: { at: number; ms: number }[], from: number, to: number) =>
    tasks.filter((task) => task.at >= from && task.at <= to);
  const editWindow = [timed[0]?.at ?? 0, (timed.at(-1)?.at ?? 0) + 1000] as const;
  const longTasksA = inWindow(longA, ...editWindow);
  const longTasksB = inWindow(longB, editWindow[0] + skew, editWindow[1] + skew);
  log(
    `  slowest: ${latencies
      .slice(-5)
      .map((ms) => round(ms))
      .join(
        ", ",
      )} ms; ${slow.length} over 60 ms, ${slowWithLongTask} of them while A's or B's main thread ran a long task; long tasks meanwhile: A ${longTasksA.length} (longest ${round(Math.max(0, ...longTasksA.map((t) => t.ms)))} ms), B ${longTasksB.length} (longest ${round(Math.max(0, ...longTasksB.map((t) => t.ms)))} ms)`,
  );
  log(
    `  ${latencies.length}/${wanted.length} applied at B (${made.length - wanted.length} refused at A); B's clock − A's ${skew.toFixed(2)} ms`,
  );

  log(`C (behind --random) joins ${JOINS} times, each a fresh Chromium in home C…`);
  const cRuns: JoinRun[] = [];
  for (let i = 0; i < JOINS; i++) {
    const joined = await joinOnce(network, world, "home-c", "C", [a, bPlayer]);
    players.push(joined.player);
    cRuns.push(joined.run);
    signals.push(...(await signalBytes(joined.player)));
    await joined.player.close();
    players.splice(players.indexOf(joined.player), 1);
    await sleep(1500);
  }
  signals.push(...(await signalBytes(a)), ...(await signalBytes(bPlayer)));
  const relayed = cRuns.filter((run) => run.pair?.local.type === "relay" || run.pair?.remote.type === "relay").length;

  const packs = [aPack.s, ...bRuns.map((run) => run.asset_pack_s)]
    .filter((s): s is number => s !== undefined)
    .map((s) => round(s, 2));
  const errors = players.flatMap((p) => p.errors);
  const result = {
    join_to_first_peer_ms: median(bRuns.map((run) => run.to_peer_ms)),
    edit_to_apply_p50_ms: latencies.length ? round(percentile(latencies, 50), 1) : null,
    edit_to_apply_p99_ms: latencies.length ? round(percentile(latencies, 99), 1) : null,
    relay_join_to_first_peer_ms: median(cRuns.map((run) => run.to_peer_ms)),
    signal_bytes_max: signals.length ? Math.max(...signals) : null,
    asset_pack_fetch_s: packs.length ? round(median(packs), 2) : null,
    join_with_wallet_ms: median(bRuns.map((run) => run.with_wallet_ms)),
    relay_join_with_wallet_ms: median(cRuns.map((run) => run.with_wallet_ms)),
    join_runs_ms: bRuns.map((run) => run.to_peer_ms),
    relay_join_runs_ms: cRuns.map((run) => run.to_peer_ms),
    relay_pairs: `${relayed}/${cRuns.length}`,
    edits_applied: `${latencies.length}/${wanted.length}`,
    edits_refused: made.length - wanted.length,
    edits_over_60_ms: slow.length,
    edits_over_60_ms_with_long_task: slowWithLongTask,
    long_tasks_during_edits: { a: longTasksA.length, b: longTasksB.length },
    frames_per_s_during_edits: { a: framesPerS[0], b: framesPerS[1] },
    join_joined_ms: bRuns.map((run) => run.joined_ms),
    join_any_peer_ms: bRuns.map((run) => run.any_peer_ms),
    relay_join_joined_ms: cRuns.map((run) => run.joined_ms),
    signal_items: signals.length,
    asset_pack_runs_s: packs,
    asset_pack_bytes: packBytes,
    world_up_s: round(worldUpS, 1),
    page_errors: errors.length,
    measured: `world host 198.18.0.1 (seedcraft up, every part, coturn); A and B in Chromium each behind its own MASQUERADE NAT, C behind MASQUERADE --random; join: ${JOINS} fresh B joins while A plays (each but the first after the last B left), from the app's "joining" step to A's hello verified in B's mesh (median); relay join: ${JOINS} fresh C joins while A and B play (each after the last B or C left), to its first link with either, pair checked in ICE stats (median); edits: ${EDITS} edits by A (place/break beside itself, ${EDIT_GAP_MS} ms apart), from before A's game.edit to the op applied in B's mesh, B's clock skew taken out; signals: every salted BEP44 put (mailbox item) the pages sent the gateway; asset pack: the app's own fetch timing (empty IndexedDB, over torrent wires) for A and each B, median`,
  };
  for (const error of errors) log(`  page error: ${error}`);
  console.log(JSON.stringify(result));
} catch (error) {
  log(`failed: ${(error as Error).stack ?? error}`);
  if (world) log(world.output().slice(-2000));
  exitCode = 1;
} finally {
  for (const p of players) await p.close();
  await world?.stop();
  await network.destroy();
  log(`done (${path.relative(ROOT, import.meta.filename)})`);
}
process.exit(exitCode);
