/**
 * A seeder's receipt store in real Chromium: IndexedDB behind p2p/browser/idb-receipts.ts, served by the app's
 * dev server. Batches outlive a reload, a grown batch replaces the shorter one, a re-send stores nothing, an
 * epoch marked claimed stays so, and a batch that would change or drop a stored receipt is refused with
 * nothing lost. A world's store holds that world's receipts only: opening it deletes another world's database.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT, World } from "../../cli/world.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";

const PORTS = { app: 11273 };

type Summary = {
  batches: { leecher: string; epoch: number; receipts: string[] }[];
  epochs: number[];
  claimed: number[];
  stats: { batches: number; receipts: number; bytes: string; leechers: number };
};

type ReceiptsHarness = {
  fill(): Promise<Summary & { puts: { stored: boolean; receipts: number }[]; notified: number }>;
  read(): Promise<Summary>;
  markClaimed(epoch: number): Promise<Summary>;
  putBad(): Promise<Summary & { codes: Record<string, string | undefined>; closed: string | undefined }>;
};

describe("e2e: the receipt store in IndexedDB", { timeout: 120_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    const executablePath = chromiumPath();
    if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-browser-receipts-")),
      network: "browser-receipts",
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
    await page.goto(`${world.urls.app}/harness/receipts.html`);
    await page.waitForSelector("body[data-ready='1']");
  };

  /** Calls the page's harness (window.seedcraftReceipts). */
  async function call<K extends keyof ReceiptsHarness>(name: K, arg?: number) {
    const result = await page.evaluate(
      ([method, value]) =>
        (
          window as unknown as { seedcraftReceipts: Record<string, (value?: number) => Promise<unknown>> }
        ).seedcraftReceipts[method]?.(value),
      [name, arg] as const,
    );
    return result as Awaited<ReturnType<ReceiptsHarness[K]>>;
  }

  it("keeps batches across a reload, grows them, marks epochs claimed, refuses bad batches losing nothing", async () => {
    await open();
    const filled = await call("fill");
    assert.deepEqual(filled.puts, [
      { stored: true, receipts: 2 },
      { stored: true, receipts: 1 },
      { stored: true, receipts: 1 },
      { stored: true, receipts: 3 },
      { stored: false, receipts: 3 },
    ]);
    assert.equal(filled.notified, 4, "a re-send changes nothing and tells nobody");

    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    const read = await call("read");
    // The grown batch replaced the shorter one; batches come by epoch, then leecher address.
    assert.deepEqual(read.batches.map((batch) => [batch.epoch, batch.receipts.length]).sort(), [
      [3, 1],
      [3, 3],
      [4, 1],
    ]);
    assert.deepEqual(
      read.batches.map((batch) => batch.epoch),
      [3, 3, 4],
    );
    assert.deepEqual(
      read.batches[2]?.receipts.map((r) => r.split(":").slice(1).join(":")),
      ["1000:0"],
    );
    assert.deepEqual(read.epochs, [3, 4]);
    assert.deepEqual(read.claimed, []);
    assert.deepEqual(read.stats, { batches: 3, receipts: 5, bytes: `${4 * 65_536 + 1000}`, leechers: 2 });

    const claimed = await call("markClaimed", 3);
    assert.deepEqual(claimed.claimed, [3]);
    assert.deepEqual(claimed.stats, { batches: 1, receipts: 1, bytes: "1000", leechers: 1 });

    const refused = await call("putBad");
    assert.deepEqual(refused.codes, {
      shorter: "RECEIPTS_BAD_BATCH",
      changed: "RECEIPTS_BAD_BATCH",
      otherSeeder: "RECEIPTS_BAD_BATCH",
      notABatch: "RECEIPTS_BAD_BATCH",
      numberBytes: "RECEIPTS_BAD_BATCH",
      empty: "RECEIPTS_BAD_BATCH",
    });
    assert.equal(refused.closed, "RECEIPTS_CLOSED");

    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    const kept = await call("read");
    assert.deepEqual(kept, claimed, "every refused batch left the store as it was, across a reload");
    assert.deepEqual(refused.batches, claimed.batches);
  });

  it("keeps one world's receipts only: another world's store is deleted, and nothing of it is read", async () => {
    await open();
    const result = await page.evaluate(
      async (root) => {
        const { IdbReceiptStore } = await import(`/@fs${root}/p2p/browser/idb-receipts.ts`);
        const wallet = "0x00000000000000000000000000000000000000aa";
        const [oldWorld, freshWorld] = [
          "31337-5fbdb2315678afecb367f032d93f642f64180aa3-1111111111111111",
          "31337-5fbdb2315678afecb367f032d93f642f64180aa3-2222222222222222",
        ];
        const batch = {
          seeder: wallet,
          leecher: "0x00000000000000000000000000000000000000bb",
          epoch: 1,
          receipts: [{ contentHash: `0x${"11".repeat(32)}`, bytes: 1000n, nonce: 0n }],
          signature: `0x${"22".repeat(65)}`,
        };
        let store = await IdbReceiptStore.openForWorld(oldWorld, wallet);
        await store.put(batch);
        await store.close();
        store = await IdbReceiptStore.openForWorld(oldWorld, wallet);
        const kept = store.stats.receipts;
        await store.close();
        store = await IdbReceiptStore.openForWorld(freshWorld, wallet);
        const fresh = { receipts: store.stats.receipts, epochs: store.epochs() };
        await store.close();
        const names = async () =>
          (await indexedDB.databases())
            .map((db) => db.name ?? "")
            .filter((name) => name.startsWith("seedcraft-receipts-"));
        for (let i = 0; i < 50 && (await names()).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
        return { kept, fresh, names: await names(), expected: `seedcraft-receipts-${freshWorld}-${wallet}` };
      },
      ROOT.replace(/\/$/, ""),
    );
    assert.equal(result.kept, 1, "reopened in its own world, the store keeps its receipts");
    assert.deepEqual(result.fresh, { receipts: 0, epochs: [] }, "the fresh world reads no receipt of the old one");
    assert.deepEqual(result.names, [result.expected], "the old world's database is gone");
  });
});
