/**
 * The browser's chunk cache in real Chromium: IndexedDB behind p2p/browser/idb-cache.ts, served by the
 * app's dev server. Entries outlive a reload, the least recently used unpinned one goes first, a corrupt
 * entry is caught by its hash, and a snapshot that does not match its head is refused.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { World } from "../../cli/world.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";

const PORTS = { app: 29273 };

type CacheHarness = {
  fill(count: number, maxEntries: number): Promise<number>;
  check(count: number): Promise<{ intact: number[]; stats: { corrupt: number; entries: number; pinned: number } }>;
  corrupt(n: number): Promise<void>;
  putBad(): Promise<{ code: string | undefined; entries: number }>;
};

describe("e2e: the chunk cache in IndexedDB", { timeout: 120_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    const executablePath = chromiumPath();
    if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-browser-cache-")),
      network: "browser-cache",
      parts: ["app"],
      ports: PORTS,
    });
    await world.start();
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await world?.stop();
  });

  const open = async () => {
    await page.goto(`${world.urls.app}/harness/cache.html`);
    await page.waitForSelector("body[data-ready='1']");
  };

  it("keeps snapshots across a reload, evicts least recently used first, drops a corrupt entry, refuses a bad one", async () => {
    await open();
    const entries = await page.evaluate(() =>
      (window as unknown as { seedcraftCache: CacheHarness }).seedcraftCache.fill(5, 4),
    );
    assert.equal(entries, 4, "bounded at 4 entries");

    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    const after = await page.evaluate(() =>
      (window as unknown as { seedcraftCache: CacheHarness }).seedcraftCache.check(5),
    );
    // Snapshot 0 is pinned (an own construction); 1 was the least recently used unpinned one.
    assert.deepEqual(after.intact, [0, 2, 3, 4]);
    assert.equal(after.stats.pinned, 1);

    await page.evaluate(() => (window as unknown as { seedcraftCache: CacheHarness }).seedcraftCache.corrupt(3));
    const corrupted = await page.evaluate(() =>
      (window as unknown as { seedcraftCache: CacheHarness }).seedcraftCache.check(5),
    );
    assert.deepEqual(corrupted.intact, [0, 2, 4]);
    assert.equal(corrupted.stats.corrupt, 1);
    assert.equal(corrupted.stats.entries, 3, "the corrupt entry is gone, to be fetched again");

    const refused = await page.evaluate(() =>
      (window as unknown as { seedcraftCache: CacheHarness }).seedcraftCache.putBad(),
    );
    assert.deepEqual(refused, { code: "CACHE_BAD_ENTRY", entries: 3 });
  });
});
