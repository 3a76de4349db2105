/**
 * Supervised parts, end to end: one `seedcraft up` world (every part) and one Chromium player. Each part but the
 * chain is killed in turn (SIGKILL to its process group); `seedcraft up` says so, starts it again on the same
 * ports, and the player places a block that ends anchored. Then the chain dies, and the world ends saying why.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, inApp, joinWithDevAccount } from "../helpers/chromium.ts";
import {
  isAlive,
  portsFree,
  type RunningCli,
  runFile,
  startCliWorld,
  stopCliWorld,
  testWorldEnv,
  waitFor,
} from "../helpers/world.ts";

type Cell = [number, number, number];

const inPage = inApp;

/** An empty cell resting on solid ground next to where the player stands, within reach and clear of its body. */
const freeCellNear = (page: Page) =>
  inPage(
    page,
    (session) => {
      const world = session.world;
      const [px, py, pz] = world.controls.position;
      const [fx, fy, fz] = [Math.floor(px), Math.floor(py), Math.floor(pz)];
      for (let r = 1; r <= 3; r++)
        for (let dx = -r; dx <= r; dx++)
          for (let dz = -r; dz <= r; dz++) {
            if (Math.max(Math.abs(dx), Math.abs(dz)) !== r) continue;
            const [x, z] = [fx + dx, fz + dz];
            for (let y = fy + 2; y >= fy - 3; y--) {
              const below = world.getBlock(x, y - 1, z);
              if (world.getBlock(x, y, z) !== 0 || below === undefined || below === 0 || below === 5) continue;
              const reach = Math.hypot(x + 0.5 - px, y + 0.5 - (py + 1.6), z + 0.5 - pz);
              if (reach < 7 && !world.controls.body.intersectsBlock(x, y, z)) return [x, y, z] as Cell;
              break;
            }
          }
      return null;
    },
    null,
  );

/** The state of the player's own latest edit at `cell`, as the edit list shows it. */
const editState = (page: Page, cell: Cell) =>
  inPage(
    page,
    (session, where) => session.edits.entries.findLast((e) => e.own && e.position.join(",") === where)?.state,
    cell.join(","),
  );

const PARTS = (process.env.SUPERVISE_PARTS?.split(",") ?? [
  "indexer",
  "dht",
  "gateway",
  "tracker",
  "seeder",
  "app",
]) as readonly string[];

describe("e2e: seedcraft up restarts each part that dies while a player builds", { timeout: 420_000 }, () => {
  const world = testWorldEnv("supervise", 18000);
  let cli: RunningCli;
  let browser: Browser | undefined;
  let page: Page;
  /** The page's last console lines, for the failure messages. */
  const consoleLines: string[] = [];

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    cli = await startCliWorld(world);
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Host candidates as plain addresses: the world's Node seeder cannot resolve mDNS names.
      args: [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"],
    });
    const context = await browser.newContext({ viewport: { width: 480, height: 320 } });
    await context.grantPermissions(["microphone", "camera"]);
    page = await context.newPage();
    page.on("console", (message) => {
      consoleLines.push(`${message.type()}: ${message.text()}`);
      if (consoleLines.length > 40) consoleLines.shift();
    });
    page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
    await page.goto(`http://127.0.0.1:${world.ports.app}`);
    await joinWithDevAccount(page);
  });

  after(async () => {
    await browser?.close();
    if (cli) await stopCliWorld(world, cli);
  });

  /** Places a block next to the player through the game, as a click would, and waits until it is anchored. */
  async function buildOne(after: string): Promise<number> {
    const started = performance.now();
    // Other work on the app's sources reloads the page (Vite): join again if it did.
    if (!(await page.locator('[data-testid="join-status"][data-state="joined"]').isVisible()))
      await joinWithDevAccount(page);
    const cell = await freeCellNear(page);
    assert.ok(cell, `a free cell next to the player (after the ${after} restart)`);
    const refused = await inPage(
      page,
      (session, target) => {
        const game = session.game.get();
        return game ? game.edit("place", target, 1) : "not joined";
      },
      cell,
    );
    assert.equal(refused, undefined, `the player may place at ${cell.join(",")}`);
    await waitFor(
      `the edit at ${cell.join(",")} to be anchored (after the ${after} restart)`,
      async () => (await editState(page, cell)) === "anchored",
      45_000,
    ).catch(async (error: Error) => {
      const entry = await inPage(
        page,
        (session, where) =>
          JSON.stringify(session.edits.entries.findLast((e) => e.own && e.position.join(",") === where)),
        cell.join(","),
      ).catch((e: Error) => e.message);
      throw new Error(`${error.message}\nthe edit: ${entry}\nthe page said:\n${consoleLines.join("\n")}`);
    });
    return Math.round(performance.now() - started);
  }

  it("each part but the chain comes back on its ports, and the player's edits end anchored", async () => {
    const timings: Record<string, { back_s: number; edit_ms: number }> = {};
    await buildOne("no");
    for (const part of PARTS) {
      const before = runFile(world).parts[part] as { pid: number; restarts?: number } | undefined;
      assert.ok(before, `${part} runs`);
      assert.equal(before.restarts ?? 0, 0);
      // The app's dev server going away makes the page reload itself once it is back (Vite's client).
      const reloaded = part === "app" ? page.waitForEvent("load", { timeout: 60_000 }) : undefined;
      process.kill(-before.pid, "SIGKILL");
      const back = new RegExp(`✔ ${part}: back up in ([\\d.]+) s`);
      await waitFor(`${part} to be back`, () => back.test(cli.stdout()), 90_000);
      assert.match(
        cli.stdout(),
        new RegExp(`✖ ${part}: exited \\(killed by SIGKILL\\), restarting in 0\\.5 s \\(restart 1\\)`),
      );
      const now = runFile(world).parts[part] as { pid: number; restarts?: number };
      assert.equal(now.restarts, 1, `run.json counts ${part}'s restart`);
      assert.notEqual(now.pid, before.pid);
      assert.ok(isAlive(now.pid), `${part}'s new process runs`);
      assert.ok(!isAlive(before.pid), `${part}'s old process is gone`);
      if (reloaded) {
        await reloaded;
        await joinWithDevAccount(page);
      }
      timings[part] = { back_s: Number(cli.stdout().match(back)?.[1]), edit_ms: await buildOne(part) };
    }
    assert.ok(isAlive(runFile(world).parts.chain?.pid as number), "the chain ran through it all");
    console.log(JSON.stringify({ supervise: timings }));
  });

  it("the chain's death ends the world, saying every anchored block is gone", async () => {
    const pids = Object.values(runFile(world).parts).map((part) => part.pid);
    process.kill(-(runFile(world).parts.chain?.pid as number), "SIGKILL");
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /chain: the local chain stopped \(killed by SIGKILL\); the world ends with it, every anchored block is gone — run npm start again/,
    );
    await waitFor("every part to exit", () => pids.every((pid) => !isAlive(pid)), 15_000);
    assert.ok(await portsFree(Object.values(world.ports)), "nothing is left listening");
  });
});
