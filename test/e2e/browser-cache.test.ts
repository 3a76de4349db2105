/**
 * The browser's chunk cache in real Chromium: IndexedDB behind p2p/browser/idb-cache.ts, served by the
 * app's dev server. Entries outlive a reload, the least recently used unpinned one goes first, a corrupt
 * entry is caught by its hash, and a snapshot that does not match its head is refused. A world's cache holds
 * that world's snapshots only: opening it deletes another world's database, whose snapshots are never read.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT, World } from "../../cli/world.ts";
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

  it("keeps one world's snapshots only: another world's database is deleted, and nothing of it is read", async () => {
    await open();
    const result = await page.evaluate(
      async (root) => {
        const at = (file: string) => `/@fs${root}/${file}`;
        const [{ IdbChunkCache }, chunk, merkle, terrain, torrent] = await Promise.all([
          import(at("p2p/browser/idb-cache.ts")),
          import(at("core/chunk.ts")),
          import(at("core/merkle.ts")),
          import(at("core/terrain.ts")),
          import(at("core/torrent.ts")),
        ]);
        // Chunk 0 version 1, as two worlds anchored it: the same id and version, other blocks, another hash.
        const snapshotOf = (block: number) => {
          const blocks = terrain.generateChunk(42, 0, 0, 0);
          blocks[7] = block;
          const bytes = chunk.encodeChunk(blocks).slice();
          const chunkId = chunk.chunkIdOf(0, 0, 0);
          const hash = `0x${Array.from(merkle.chunkHash(blocks) as Uint8Array, (b) => b.toString(16).padStart(2, "0")).join("")}`;
          return {
            bytes,
            head: { chunkId, version: 1, hash, infoHash: torrent.chunkTorrent(chunkId, 1, bytes).infoHash },
          };
        };
        const [oldWorld, freshWorld] = [
          "31337-5fbdb2315678afecb367f032d93f642f64180aa3-1111111111111111",
          "31337-5fbdb2315678afecb367f032d93f642f64180aa3-2222222222222222",
        ];
        const old = snapshotOf(3);
        let cache = await IdbChunkCache.openForWorld(oldWorld);
        await cache.put(old.head, old.bytes);
        await cache.close();
        cache = await IdbChunkCache.openForWorld(oldWorld);
        const kept = cache.stats.entries;
        await cache.close();

        cache = await IdbChunkCache.openForWorld(freshWorld);
        const freshEntries = cache.stats.entries;
        const oldRead = (await cache.get(old.head.chunkId, 1)) === undefined ? "absent" : "read";
        const fresh = snapshotOf(4);
        await cache.put(fresh.head, fresh.bytes);
        const freshHash = (await cache.get(fresh.head.chunkId, 1))?.head.hash;
        await cache.close();
        const names = async () =>
          (await indexedDB.databases())
            .map((db) => db.name ?? "")
            .filter((name) => name.startsWith("seedcraft-chunks-"));
        for (let i = 0; i < 50 && (await names()).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
        return {
          kept,
          freshEntries,
          oldRead,
          freshIsNew: freshHash === fresh.head.hash && fresh.head.hash !== old.head.hash,
          names: await names(),
          freshWorld,
        };
      },
      ROOT.replace(/\/$/, ""),
    );
    assert.equal(result.kept, 1, "reopened in its own world, a cache keeps its snapshot");
    assert.equal(result.freshEntries, 0, "the fresh world sees no snapshot of the old one");
    assert.equal(result.oldRead, "absent");
    assert.ok(result.freshIsNew, "the same id and version holds the fresh world's snapshot");
    assert.deepEqual(result.names, [`seedcraft-chunks-${result.freshWorld}`], "the old world's database is gone");
  });
});
