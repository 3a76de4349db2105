/**
 * End to end, through the UI of the real local world in real Chromium: connect the local dev account,
 * place a block, see it provisional at once, then anchored once the indexer reports the new version.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { createPublicClient, http } from "viem";
import { ROOT } from "../../cli/world.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";
import { type RunningCli, startCliWorld, stopCliWorld, testWorldEnv } from "../helpers/world.ts";

const RESULTS = path.join(ROOT, "test-results");

describe("e2e: a first block edit through every layer", { timeout: 300_000 }, () => {
  const world = testWorldEnv("e2e", 24000);
  let cli: RunningCli | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    cli = await startCliWorld(world);
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 640, height: 400 } });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    if (cli) await stopCliWorld(world, cli);
  });

  it("places a block: provisional at once, then anchored on chain and in the indexer", async () => {
    await page.goto(`http://127.0.0.1:${world.ports.app}/`);
    await page.getByTestId("connect-dev-account").click();
    await page
      .getByTestId("wallet-status")
      .filter({ hasText: /connected/i })
      .waitFor({ timeout: 30_000 });
    const canvas = page.locator('[data-testid="world-canvas"][data-world-ready="true"]');
    await canvas.waitFor({ timeout: 60_000 });
    // Joining: the session key authorized, the peer on the DHT.
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });

    // Look down ahead, take the pointer with a click, then right-click to place at the crosshair.
    await page.evaluate(() =>
      (
        window as unknown as {
          seedcraft: { session: { world: { controls: { setLook(y: number, p: number): void } } } };
        }
      ).seedcraft.session.world.controls.setLook(0, -0.65),
    );
    const box = await canvas.boundingBox();
    assert.ok(box);
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => document.pointerLockElement !== null, undefined, { timeout: 5000 });
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2, { button: "right" });

    const edit = page.getByTestId("edit-status").first();
    await edit.waitFor({ timeout: 5_000 });
    const firstState = await edit.getAttribute("data-state");
    assert.ok(
      firstState === "provisional" || firstState === "anchoring",
      `the edit shows before it is anchored (was ${firstState})`,
    );
    await page.locator('[data-testid="edit-status"][data-state="anchored"]').first().waitFor({ timeout: 60_000 });
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, "e2e-first-edit.png") });

    // The ledger and the indexer agree on the new version of the edited chunk.
    const chunkId = BigInt((await edit.getAttribute("data-chunk-id")) ?? "-1");
    const version = Number(await edit.getAttribute("data-version"));
    assert.ok(version >= 1);
    const deployment = await readDeployment("test-e2e");
    const client = createPublicClient({ transport: http(`http://127.0.0.1:${world.ports.chain}`) });
    const { address, abi } = deployment.contracts.ChunkLedger;
    const onChainVersion = await client.readContract({ address, abi, functionName: "versionOf", args: [chunkId] });
    // The chain keeps versions; the hash of each version is in its ChunkAnchored event.
    const events = await client.getContractEvents({
      address,
      abi,
      eventName: "ChunkAnchored",
      args: { chunkId },
      fromBlock: BigInt(deployment.startBlock),
    });
    const anchored = events
      .map((e) => e.args as { version: number; hash: `0x${string}` })
      .find((a) => a.version === version);
    const onChainHash = anchored?.hash;
    assert.equal(onChainVersion, version);
    const indexed = (await (await fetch(`http://127.0.0.1:${world.ports.indexer}/v1/chunks/${chunkId}`)).json()) as {
      version: number;
      hash: string;
    };
    assert.equal(indexed.version, version);
    assert.equal(indexed.hash, onChainHash);
    assert.deepEqual(consoleErrors, [], "no errors in the browser console");
  });
});
