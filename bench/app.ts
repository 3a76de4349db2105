/**
 * bench:app — the dApp as a player meets it: greedy meshing in Node, then real Chromium (SwiftShader software
 * GL, a small viewport) against a real local world on 127.0.0.1 (the hardhat chain with the contracts, the
 * indexer, a DHT bootstrap node, the DHT gateway, the tracker) and the app's production build served by
 * `vite preview`.
 * - mesh_chunk: meshChunk of generated terrain chunks with their neighbours (bench/mesh.ts); p50 and p99.
 * - first_frame: page load (navigation start) → the first frame drawn with a chunk mesh, the canvas's
 *   data-first-frame-ms; each load in a fresh browser context (cold HTTP cache and IndexedDB, warm server);
 *   the median over the loads, and every run.
 * - chunks_visible_at_5s: the canvas's data-chunks-visible when the page's clock reaches 5 s; median over the loads.
 * - edit_to_peer_render: tabs A and B connect the local dev account, join and link; A edits blocks next to
 *   itself (place stone, break it, at a few free cells); from just before A's game.edit call (A's
 *   timeOrigin + now) to the frame in B that showed it (B's game.rendered); p50 and p99, matched by op key.
 *   edit_to_peer_pixels: to the end of that frame's main-thread work in B, the canvas's readback included (under
 *   software compositing the pixels exist only then); breakdown: A's call, B's op checked, B's frame issued.
 * - lone_tab_redraw: one tab redrawing its whole view every frame: what a frame costs under SwiftShader.
 * Usage: npm run bench:app [-- --browsers 2 (A and B each in its own Chromium)]   BENCH_PROFILE=<dir>: CPU profiles
 * and Chrome traces of the edit phase.   Last line: one JSON object.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { Session } from "../app/src/session.ts";
import { ROOT, World } from "../cli/world.ts";
import { AIR, BLOCK_IDS } from "../core/blocks.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, pageClockOffset } from "../test/helpers/chromium.ts";
import { worldPorts } from "../test/helpers/world.ts";
import { benchMeshing } from "./mesh.ts";
import { profiled } from "./profile.ts";
import { median, percentile } from "./stats.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const network = "bench-app";
const PORTS = worldPorts(31000);
const VIEWPORT = { width: 800, height: 500 };
const LOADS = 5;
const EDITS = 48;
const EDIT_GAP_MS = 150;
/** How long B may take to draw the last edit before the missing ones are counted as never rendered. */
const RENDER_WAIT_MS = 15_000;
const { values } = parseArgs({ options: { browsers: { type: "string", default: "1" } }, strict: true });
/** 1: A and B are two contexts of one Chromium (one GPU process draws both); 2: each its own Chromium. */
const BROWSERS = Number(values.browsers);
if (BROWSERS !== 1 && BROWSERS !== 2) throw new Error(`--browsers must be 1 or 2, got ${values.browsers}`);
// Host candidates as plain addresses: another browser process cannot resolve this one's mDNS names.
const BROWSER_ARGS =
  BROWSERS === 2 ? [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"] : CHROMIUM_ARGS;

const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The page's handle on the app (app/src/main.tsx), and what the bench adds to it. */
type PageWindow = {
  seedcraft?: { session: Session };
  benchAt5s?: { at: number; chunks: number; wanted: number | undefined };
  benchFrames?: number[];
  benchArrived?: Map<string, number>;
  benchPixels?: Map<string, number>;
  benchFirstPixels?: number;
};

/** Runs a node_modules CLI under this Node in its own process group, so stopping it reaches its children. */
function startCli(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const bin = realpathSync(path.join(ROOT, "node_modules", ".bin", name));
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  (child as ChildProcess & { output: () => string }).output = () => output;
  return child;
}
const outputOf = (child: ChildProcess) => (child as ChildProcess & { output?: () => string }).output?.() ?? "";

async function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.spawnfile} ran past ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), name);
    } catch {
      // the group is gone already
    }
  };
  signal("SIGTERM");
  await exited(child, 5000).catch(() => signal("SIGKILL"));
  signal("SIGKILL");
}

async function waitUntil(what: string, predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  // Loopback WebRTC gathers no candidates without it.
  await context.grantPermissions(["microphone", "camera"]);
  return context;
}

/** Page errors go to stderr and are counted: a bench of a broken page is no bench. */
function watchErrors(page: Page, name: string, errors: string[]): void {
  page.on("pageerror", (error) => {
    errors.push(`${name}: ${error.message}`);
    log(`  ${name} page error: ${error.message.slice(0, 300)}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") log(`  ${name} console error: ${message.text().slice(0, 300)}`);
  });
}

type LoadRun = {
  first_frame_ms: number;
  first_frame_pixels_ms: number | undefined;
  ready_ms: number | undefined;
  chunks_visible_at_5s: number;
  chunks_wanted_at_5s: number | undefined;
  read_at_ms: number;
  html_ms: number;
  dom_content_loaded_ms: number;
  config_ms: number | undefined;
  worker_script_ms: number | undefined;
};

/** One cold page load: its first frame with a chunk mesh, and what it shows at 5 s. */
async function loadOnce(browser: Browser, url: string, errors: string[], n: number): Promise<LoadRun> {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    watchErrors(page, `load ${n}`, errors);
    // Read at the page's own 5 s, whatever the bench's polling does.
    await page.addInitScript(() => {
      const read = () => {
        const w = window as unknown as PageWindow;
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="world-canvas"]');
        w.benchAt5s = {
          at: performance.now(),
          chunks: Number(canvas?.dataset.chunksVisible ?? 0),
          wanted: w.seedcraft?.session.world.stats().chunksWanted,
        };
      };
      setTimeout(read, Math.max(0, 5000 - performance.now()));
      // The first frame's attribute is set as its GL commands are issued; the task after it, once it is composited.
      const observer = new MutationObserver(() => {
        observer.disconnect();
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          (window as unknown as PageWindow).benchFirstPixels = performance.now();
          channel.port1.close();
        };
        channel.port2.postMessage(0);
      });
      observer.observe(document, { subtree: true, attributes: true, attributeFilter: ["data-first-frame-ms"] });
    });
    await page.goto(url, { waitUntil: "commit" });
    await page.waitForFunction(() => (window as unknown as PageWindow).benchAt5s !== undefined, undefined, {
      timeout: 60_000,
      polling: 200,
    });
    await page
      .locator('[data-testid="world-canvas"][data-first-frame-ms]')
      .waitFor({ state: "attached", timeout: 60_000 });
    return await page.evaluate(() => {
      const w = window as unknown as PageWindow;
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="world-canvas"]');
      const navigation = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const resources = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
      const ended = (suffix: RegExp) => resources.find((r) => suffix.test(r.name))?.responseEnd;
      const at5s = w.benchAt5s as NonNullable<PageWindow["benchAt5s"]>;
      return {
        first_frame_ms: Number(canvas?.dataset.firstFrameMs),
        first_frame_pixels_ms: w.benchFirstPixels === undefined ? undefined : Math.round(w.benchFirstPixels),
        ready_ms: canvas?.dataset.readyMs === undefined ? undefined : Number(canvas.dataset.readyMs),
        chunks_visible_at_5s: at5s.chunks,
        chunks_wanted_at_5s: at5s.wanted,
        read_at_ms: Math.round(at5s.at),
        html_ms: Math.round(navigation.responseEnd),
        dom_content_loaded_ms: Math.round(navigation.domContentLoadedEventEnd),
        config_ms: Math.round(ended(/\/seedcraft\.json$/) ?? Number.NaN) || undefined,
        worker_script_ms: Math.round(ended(/mesher\.worker[^/]*\.js$/) ?? Number.NaN) || undefined,
      };
    });
  } finally {
    await context.close();
  }
}

type RedrawCost = { frames: number; p50_ms: number; p90_ms: number; draw_calls: number; triangles: number };

/** A lone tab made to redraw the whole view every frame for 3 s: what one frame costs it, readback included. */
async function redrawCost(browser: Browser, url: string, errors: string[]): Promise<RedrawCost> {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    watchErrors(page, "redraw", errors);
    await page.goto(url);
    await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    return await page.evaluate(async () => {
      const world = (window as unknown as PageWindow).seedcraft?.session.world;
      if (!world) throw new Error("no world");
      const times: number[] = [];
      await new Promise<void>((resolve) => {
        const tick = (t: number) => {
          times.push(t);
          world.invalidate();
          if (t - (times[0] as number) < 3000) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      gaps.sort((a, b) => a - b);
      const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] as number;
      const stats = world.stats();
      return {
        frames: gaps.length,
        p50_ms: Math.round(at(0.5) * 10) / 10,
        p90_ms: Math.round(at(0.9) * 10) / 10,
        draw_calls: stats.drawCalls,
        triangles: stats.triangles,
      };
    });
  } finally {
    await context.close();
  }
}

type Player = { name: string; browser: Browser; context: BrowserContext; page: Page; peerId: string };

/** A tab that connects the local dev account and joins the world. */
async function joinAs(browser: Browser, url: string, name: string, errors: string[]): Promise<Player> {
  const context = await newContext(browser);
  const page = await context.newPage();
  watchErrors(page, name, errors);
  await page.goto(url);
  await page.getByTestId("connect-dev-account").click({ timeout: 60_000 });
  const joined = page.locator('[data-testid="join-status"][data-state="joined"]');
  await joined.waitFor({ timeout: 120_000 }).catch(async (error: unknown) => {
    const status = await page
      .getByTestId("join-status")
      .textContent()
      .catch(() => "?");
    throw new Error(`${name} did not join (${status}): ${(error as Error).message}`);
  });
  const peerId = await page.evaluate(() => {
    const state = (window as unknown as PageWindow).seedcraft?.session.join.get();
    return state?.step === "joined" ? state.peerId.toLowerCase() : "";
  });
  return { name, browser, context, page, peerId };
}

const linkedWith = (page: Page, peerId: string) =>
  page.evaluate(
    (id) =>
      (window as unknown as PageWindow).seedcraft?.session.game
        .get()
        ?.peer.mesh.peers.some((p) => p.id.toLowerCase() === id) ?? false,
    peerId,
  );

/** Counts animation frames (their times) so the report can say how often each tab could draw. */
async function countFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as PageWindow;
    w.benchFrames = [];
    const tick = (t: number) => {
      w.benchFrames?.push(t);
      if ((w.benchFrames?.length ?? 0) < 20_000) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}
const frameIntervals = (page: Page) =>
  page.evaluate(() => {
    const frames = (window as unknown as PageWindow).benchFrames ?? [];
    const gaps = frames.slice(1).map((t, i) => t - (frames[i] as number));
    gaps.sort((a, b) => a - b);
    const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] ?? Number.NaN;
    return { frames: frames.length, p50_ms: at(0.5), p99_ms: at(0.99) };
  });

type EditRecord = { key: string; startedAt: number; resolvedAt: number; refused: string | undefined };

const buildDir = mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-app-build-"));
const world = new World({
  stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-app-")),
  network,
  // No seeder: the two tabs are all the load on the machine there is (the asset pack stays unfetched).
  parts: ["chain", "deploy", "indexer", "dht", "gateway", "tracker"],
  ports: PORTS,
});
world.on("progress", (p) => {
  if (p.phase === "ready") log(`  ${p.part} ready in ${p.seconds.toFixed(1)} s`);
});
let preview: ChildProcess | undefined;
let browser: Browser | undefined;
let browserB: Browser | undefined;
try {
  const loadBefore = round(os.loadavg()[0] ?? 0, 2);
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);

  log("meshing generated terrain chunks…");
  const mesh = await benchMeshing();
  log(`  mesh p50 ${mesh.mesh_chunk_p50_ms} ms, p99 ${mesh.mesh_chunk_p99_ms} ms over ${mesh.calls} calls`);

  log("building the app (vite build)…");
  const build = startCli(
    "vite",
    ["build", "--config", "app/vite.config.ts", "--outDir", buildDir, "--emptyOutDir"],
    {},
  );
  if ((await exited(build, 120_000)) !== 0) throw new Error(`vite build failed:\n${outputOf(build)}`);

  log("starting the local world (chain, deploy, indexer, dht, gateway, tracker)…");
  await world.start();

  const appUrl = `http://127.0.0.1:${PORTS.app}/`;
  log(`serving the build with vite preview on ${appUrl}…`);
  preview = startCli(
    "vite",
    ["preview", "--config", "app/vite.config.ts", "--outDir", buildDir, "--port", String(PORTS.app), "--strictPort"],
    {
      SEEDCRAFT_NETWORK: network,
      SEEDCRAFT_RPC_URL: world.urls.chain,
      SEEDCRAFT_INDEXER_URL: world.urls.indexer,
      SEEDCRAFT_GATEWAY_URLS: world.urls.gateway,
      SEEDCRAFT_TRACKERS: world.urls.tracker,
      SEEDCRAFT_APP_PORT: String(PORTS.app),
    },
  );
  const served = preview;
  await waitUntil(
    "vite preview to serve the app and its config",
    async () => {
      if (served.exitCode !== null) throw new Error(`vite preview exited:\n${outputOf(served)}`);
      const ok = async (url: string) => (await fetch(url).catch(() => undefined))?.status === 200;
      return (await ok(appUrl)) && (await ok(`${appUrl}seedcraft.json`));
    },
    30_000,
  );

  browser = await chromium.launch({ executablePath, headless: true, args: BROWSER_ARGS });
  const errors: string[] = [];

  log(`${LOADS} cold page loads…`);
  const runs: LoadRun[] = [];
  for (let n = 1; n <= LOADS; n++) {
    const run = await loadOnce(browser, appUrl, errors, n);
    runs.push(run);
    log(
      `  load ${n}: first frame ${run.first_frame_ms} ms (pixels ${run.first_frame_pixels_ms ?? "-"} ms), ready ${run.ready_ms ?? "-"} ms, ${run.chunks_visible_at_5s}/${run.chunks_wanted_at_5s ?? "?"} chunks at ${run.read_at_ms} ms`,
    );
  }

  log("a lone tab redraws its view every frame for 3 s…");
  const redraw = await redrawCost(browser, appUrl, errors);
  log(
    `  frame interval p50 ${redraw.p50_ms} ms, p90 ${redraw.p90_ms} ms; ${redraw.draw_calls} draw calls, ${redraw.triangles} triangles`,
  );

  log("tabs A and B join…");
  const a = await joinAs(browser, appUrl, "A", errors);
  if (BROWSERS === 2) browserB = await chromium.launch({ executablePath, headless: true, args: BROWSER_ARGS });
  const b = await joinAs(browserB ?? browser, appUrl, "B", errors);
  await waitUntil(
    "A and B to link",
    async () => (await linkedWith(a.page, b.peerId)) && (await linkedWith(b.page, a.peerId)),
    60_000,
  );
  const skewA = await pageClockOffset(a.page, 30);
  const skewB = await pageClockOffset(b.page, 30);
  log(`  linked; B's clock − A's ${round(skewB.offsetMs - skewA.offsetMs, 2)} ms`);

  // B notes when each of A's ops passed its checks, to split the figure into network and drawing.
  await b.page.evaluate(() => {
    const w = window as unknown as PageWindow;
    const game = w.seedcraft?.session.game.get();
    w.benchArrived = new Map();
    w.benchPixels = new Map();
    game?.peer.mesh.on("op", (verdict) => {
      const op = verdict.op;
      w.benchArrived?.set(
        `${op.chunk}:${op.index}:${op.block}:${op.hlc.wallMs}:${op.hlc.logical}`,
        performance.timeOrigin + performance.now(),
      );
    });
    // drawnAt is taken when the frame's GL commands are issued; a task posted then runs once the frame's main-thread
    // work is over, the canvas's readback (software compositing waits there for the GPU process) included.
    const rendered = game?.rendered;
    if (rendered)
      rendered.push = (...items) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          for (const item of items) w.benchPixels?.set(item.key, performance.timeOrigin + performance.now());
          channel.port1.close();
        };
        channel.port2.postMessage(0);
        return Array.prototype.push.apply(rendered, items);
      };
  });
  await countFrames(a.page);
  await countFrames(b.page);

  log(`A makes ${EDITS} edits, ${EDIT_GAP_MS} ms apart…`);
  const edits = await profiled([a, b], () =>
    a.page.evaluate(
      async ({ edits, gapMs, air, water, stone, avoid }) => {
        const session = (window as unknown as PageWindow).seedcraft?.session;
        const game = session?.game.get();
        if (!session || !game) throw new Error("A has no game");
        const [x, y, z] = session.world.controls.position.map(Math.floor) as [number, number, number];
        const free = (bx: number, by: number, bz: number) => {
          const block = session.world.getBlock(bx, by, bz);
          return block === air || block === water;
        };
        const others = game.peer.mesh.peers.map((p) => p.position).filter((p) => p !== undefined);
        // Two blocks from A's feet so A's body is never in the way; not where B stands.
        const cells: [number, number, number][] = [];
        for (const [dx, dz] of [
          [2, 0],
          [0, 2],
          [-2, 0],
          [0, -2],
          [2, 2],
          [-2, 2],
          [2, -2],
          [-2, -2],
        ] as const)
          for (const dy of [0, 1]) {
            const cell: [number, number, number] = [x + dx, y + dy, z + dz];
            const nearOther = others.some(
              (p) => Math.abs(p[0] - cell[0] - 0.5) < avoid && Math.abs(p[2] - cell[2] - 0.5) < avoid,
            );
            if (cells.length < 4 && free(...cell) && !nearOther) cells.push(cell);
          }
        if (cells.length === 0) throw new Error(`no free cell next to A at ${x},${y},${z}`);
        const records: EditRecord[] = [];
        for (let i = 0; i < edits; i++) {
          const cell = cells[Math.floor(i / 2) % cells.length] as [number, number, number];
          const mode = i % 2 === 0 ? "place" : "break";
          const lastId = game.edits.entries.at(-1)?.id ?? 0;
          const startedAt = performance.timeOrigin + performance.now();
          const refused = await game.edit(mode, cell, stone);
          const resolvedAt = performance.timeOrigin + performance.now();
          const entry = game.edits.entries.find(
            (e) => e.own && e.id > lastId && e.position.every((v, k) => v === cell[k]),
          );
          const key = entry?.hlc
            ? `${entry.chunkId}:${entry.index}:${entry.block}:${entry.hlc.wallMs}:${entry.hlc.logical}`
            : "";
          records.push({ key, startedAt, resolvedAt, refused });
          await new Promise((resolve) => setTimeout(resolve, gapMs));
        }
        return { cells, records };
      },
      { edits: EDITS, gapMs: EDIT_GAP_MS, air: AIR, water: BLOCK_IDS.water, stone: BLOCK_IDS.stone, avoid: 1.5 },
    ),
  );
  const made = edits.records.filter((r) => r.key && r.refused === undefined);
  const wanted = new Set(made.map((r) => r.key));
  const renderedOnB = () =>
    b.page.evaluate(
      (keys) => {
        const game = (window as unknown as PageWindow).seedcraft?.session.game.get();
        const { benchArrived, benchPixels } = window as unknown as PageWindow;
        return (game?.rendered ?? [])
          .filter((r) => keys.includes(r.key))
          .map((r) => ({
            key: r.key,
            drawnAt: r.drawnAt,
            arrivedAt: benchArrived?.get(r.key),
            pixelsAt: benchPixels?.get(r.key),
          }));
      },
      [...wanted],
    );
  let rendered = await renderedOnB();
  const deadline = Date.now() + RENDER_WAIT_MS;
  while (new Set(rendered.map((r) => r.key)).size < wanted.size && Date.now() < deadline) {
    await sleep(200);
    rendered = await renderedOnB();
  }
  const framesA = await frameIntervals(a.page);
  const framesB = await frameIntervals(b.page);
  // The resolution B drew at (dynamic resolution follows what frames cost) and that cost.
  const viewB = await b.page.evaluate(() => {
    const session = (window as unknown as PageWindow).seedcraft?.session;
    const stats = session?.world.stats();
    const pack = session?.assets.state.get();
    return {
      render_scale: stats?.renderScale,
      software_gl: stats?.softwareGl,
      frame_cost_ms: stats?.frameCostMs,
      texture_px: session?.world.textureSize,
      asset_pack: pack ? `${pack.step}${"from" in pack && pack.from ? ` from ${pack.from}` : ""}` : undefined,
    };
  });
  const drawn = new Map<string, (typeof rendered)[number]>();
  for (const r of rendered) if (!drawn.has(r.key)) drawn.set(r.key, r);
  const spans = { render: [], pixels: [], arrive: [], arriveToRender: [], renderToPixels: [], call: [] } as Record<
    string,
    number[]
  >;
  const add = (span: string, ms: number | undefined) => {
    if (ms !== undefined && Number.isFinite(ms)) spans[span]?.push(ms);
  };
  for (const record of made) {
    add("call", record.resolvedAt - record.startedAt);
    const seen = drawn.get(record.key);
    if (!seen) continue;
    add("render", seen.drawnAt - record.startedAt);
    add("pixels", seen.pixelsAt === undefined ? undefined : seen.pixelsAt - record.startedAt);
    add("arrive", seen.arrivedAt === undefined ? undefined : seen.arrivedAt - record.startedAt);
    add("arriveToRender", seen.arrivedAt === undefined ? undefined : seen.drawnAt - seen.arrivedAt);
    add("renderToPixels", seen.pixelsAt === undefined ? undefined : seen.pixelsAt - seen.drawnAt);
  }
  for (const list of Object.values(spans)) list.sort((x, y) => x - y);
  const p = (span: string, q: number) => round(percentile(spans[span] ?? [], q));
  const latencies = spans.render as number[];
  const refused = edits.records.filter((r) => r.refused !== undefined);
  log(
    `  ${latencies.length}/${made.length} drawn on B: p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms; ${refused.length} refused`,
  );
  await a.context.close();
  await b.context.close();

  const firstFrames = runs.map((r) => r.first_frame_ms);
  const result = {
    mesh_chunk_p50_ms: mesh.mesh_chunk_p50_ms,
    mesh_chunk_p99_ms: mesh.mesh_chunk_p99_ms,
    first_frame_ms: median(firstFrames),
    first_frame_max_ms: Math.max(...firstFrames),
    first_frame_pixels_ms: median(runs.map((r) => r.first_frame_pixels_ms ?? Number.NaN)),
    chunks_visible_at_5s: median(runs.map((r) => r.chunks_visible_at_5s)),
    chunks_wanted: runs[0]?.chunks_wanted_at_5s,
    ready_ms: median(runs.map((r) => r.ready_ms ?? Number.NaN)),
    edit_to_peer_render_p50_ms: round(percentile(latencies, 50)),
    edit_to_peer_render_p99_ms: round(percentile(latencies, 99)),
    edit_to_peer_render_max_ms: round(latencies.at(-1) ?? Number.NaN),
    edit_to_peer_pixels_p50_ms: p("pixels", 50),
    edit_to_peer_pixels_p99_ms: p("pixels", 99),
    breakdown_p50_ms: {
      a_edit_call: p("call", 50),
      a_edit_to_b_op_checked: p("arrive", 50),
      b_op_checked_to_render: p("arriveToRender", 50),
      b_render_to_pixels: p("renderToPixels", 50),
    },
    breakdown_p99_ms: {
      a_edit_call: p("call", 99),
      a_edit_to_b_op_checked: p("arrive", 99),
      b_op_checked_to_render: p("arriveToRender", 99),
      b_render_to_pixels: p("renderToPixels", 99),
    },
    edits: {
      made: made.length,
      refused: refused.length,
      refusals: [...new Set(refused.map((r) => r.refused))],
      rendered_on_b: latencies.length,
      never_rendered_on_b: made.length - latencies.length,
      gap_ms: EDIT_GAP_MS,
      cells: edits.cells,
    },
    frames: {
      a_raf_p50_ms: round(framesA.p50_ms),
      a_raf_p99_ms: round(framesA.p99_ms),
      b_raf_p50_ms: round(framesB.p50_ms),
      b_raf_p99_ms: round(framesB.p99_ms),
    },
    lone_tab_redraw: redraw,
    b_view: viewB,
    tab_clock_skew_ms: {
      b_minus_a: round(skewB.offsetMs - skewA.offsetMs, 2),
      uncertainty: round(skewA.uncertaintyMs + skewB.uncertaintyMs, 2),
    },
    page_errors: errors.length,
    runs,
    viewport: VIEWPORT,
    browsers: BROWSERS,
    compositing: "software (--disable-gpu: the WebGL canvas is read back each drawn frame), WebGL on SwiftShader",
    served: "vite preview of a vite build (production bundle), warm server",
    measured: `mesh: benchMeshing() (bench/mesh.ts) in Node, single meshChunk calls after warm-up; first_frame: ${LOADS} loads, each in a fresh Chromium context (cold HTTP cache, storage and IndexedDB; one browser process, so the GPU process is warm after the first), the canvas's data-first-frame-ms (performance.now() from navigation start of the first frame drawn with a chunk mesh), median; chunks_visible_at_5s: data-chunks-visible read by a timer at the page's performance.now() ≥ 5000 (read_at_ms), median of the loads; edit_to_peer_render: tabs A and B (${BROWSERS === 1 ? "two contexts of one headless Chromium" : "one headless Chromium each"}, SwiftShader) joined with the local dev account and linked over loopback WebRTC; A calls game.edit ${EDITS} times ${EDIT_GAP_MS} ms apart (place stone / break, alternating, at free cells two blocks from A's feet); from A's timeOrigin+now just before the call to B's game.rendered drawnAt (timeOrigin+now once the frame that showed it is on screen: the world takes it in a task posted at the frame, which runs after the frame's main-thread work, the WebGL canvas's readback under software compositing included), matched by op key; pixels = another task the bench posts at that point (so pixels − render is only the bench's own delay now); b_view = B's render scale (dynamic resolution) and its frames' cost at the end; op_checked = B's mesh 'op' event (the op passed its checks); the tabs' clocks are not corrected (tab_clock_skew_ms says how far apart they are); other processes may share the machine (machine.load_avg, before and after)`,
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
      chromium: browser.version(),
      load_avg: [loadBefore, round(os.loadavg()[0] ?? 0, 2)],
    },
  };
  console.log(JSON.stringify(result));
} finally {
  await browser?.close().catch(() => undefined);
  await browserB?.close().catch(() => undefined);
  await stopGroup(preview);
  await world.stop();
  rmSync(buildDir, { recursive: true, force: true });
}
