/**
 * The deployment's asset pack in the browser: the real local world (its `seedcraft seed` seeds the pack the
 * deploy pinned), Chromium joining with the dev account. The world starts with its built-in textures, fetches
 * the pack from the seeder over torrent wires, checks it against the pin and swaps it in without a reload; a
 * tampered copy in IndexedDB is refused and fetched again. Screenshots under test-results/assets/.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import type { Session } from "../../app/src/session.ts";
import { ROOT, World } from "../../cli/world.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";

const NETWORK = "e2e-assets";
const BASE = 37000;
const PORTS = {
  chain: BASE + 545,
  indexer: BASE + 69,
  dht: BASE + 881,
  gateway: BASE + 880,
  tracker: BASE + 969,
  app: BASE + 173,
};
const SHOTS = path.join(ROOT, "test-results", "assets");

type SeedcraftWindow = { seedcraft: { session: Session } };

describe("e2e: the asset pack streamed from the Node seeder into the browser", { timeout: 300_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  let page: Page;
  const errors: string[] = [];

  const textureSize = () =>
    page.evaluate(() => (window as unknown as SeedcraftWindow).seedcraft.session.world.textureSize);
  const assetState = () =>
    page.evaluate(() => {
      const state = (window as unknown as SeedcraftWindow).seedcraft.session.assets.state.get();
      return JSON.parse(JSON.stringify(state)) as {
        step: string;
        from?: string;
        rejectedCache?: boolean;
        name?: string;
        ms?: number;
      };
    });

  async function joinAndWaitForPack(): Promise<void> {
    await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    const connect = page.getByTestId("connect-dev-account");
    if (await connect.isVisible()) await connect.click();
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    await page
      .locator('[data-testid="asset-status"][data-state="ready"]')
      .waitFor({ timeout: 90_000 })
      .catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await assetState())}`);
      });
  }

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    mkdirSync(SHOTS, { recursive: true });
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-assets-")),
      network: NETWORK,
      ports: PORTS,
    });
    await world.start();
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Host candidates as plain addresses: the Node seeder cannot resolve mDNS names.
      args: [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"],
    });
    const context = await browser.newContext({ viewport: { width: 640, height: 400 } });
    await context.grantPermissions(["microphone", "camera"]);
    page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await world?.stop();
  });

  it("starts with the built-in textures, then draws with the pinned pack fetched from the seeder", async () => {
    await page.goto(world.urls.app);
    await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    assert.equal(await textureSize(), 16, "the built-in atlas first");
    await page.screenshot({ path: path.join(SHOTS, "1-built-in.png") });
    await joinAndWaitForPack();
    const state = await assetState();
    assert.equal(state.from, "peers", "fetched over torrent wires, not from a cache");
    const deployment = await readDeployment(NETWORK);
    assert.equal(state.name, deployment.assets?.packs[0]?.name);
    assert.equal(await textureSize(), 32, "the world draws with the pack's 32×32 tiles now, without a reload");
    assert.equal(
      await page.evaluate(() => (window as unknown as SeedcraftWindow).seedcraft.session.sounds.source),
      state.name,
      "and plays its sounds",
    );
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SHOTS, "2-pack.png") });
    assert.deepEqual(errors, []);
  });

  it("a tampered copy in the cache is refused and the pack fetched again", async () => {
    const deployment = await readDeployment(NETWORK);
    const hash = deployment.assets?.packs[0]?.hash.toLowerCase() as string;
    // Flip a byte of the cached pack, as a disk fault or another program might.
    await page.evaluate(
      (key) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open("seedcraft-assets");
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction("packs", "readwrite");
            const store = tx.objectStore("packs");
            const get = store.get(key);
            get.onsuccess = () => {
              const bytes = new Uint8Array(get.result as Uint8Array);
              bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
              store.put(bytes, key);
            };
            tx.oncomplete = () => {
              db.close();
              resolve();
            };
            tx.onerror = () => reject(tx.error);
          };
        }),
      hash,
    );
    await page.reload();
    await joinAndWaitForPack();
    const state = await assetState();
    assert.equal(state.rejectedCache, true, "the tampered copy was dropped");
    assert.equal(state.from, "peers", "and the pack fetched again from the seeder");
    assert.equal(await textureSize(), 32);
    await page.screenshot({ path: path.join(SHOTS, "3-tampered-refused.png") });
    assert.deepEqual(errors, []);
  });
});
