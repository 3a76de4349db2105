/**
 * The first minutes as a new player sees them, in Chromium on one real local world (chain and contracts,
 * indexer, DHT, gateway, tracker, the app's dev server): a short first panel with the details hidden until
 * asked, a spawn that looks at the horizon, a drawn padlock, the chat said before a newcomer came shown to it,
 * and other players drawn as characters with their parts, a name label and a walk. Screenshots of each stage
 * go to test-results/look/, to look at.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT, World } from "../../cli/world.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, inApp, joinWithDevAccount } from "../helpers/chromium.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "e2e-look";
const PORTS = worldPorts(2000);
const SHOTS = path.join(ROOT, "test-results", "look");

const inPage = inApp;

describe("e2e: the first minutes look and read well", { timeout: 180_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];

  async function open(label: string): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 720, height: 440 } });
    await context.grantPermissions(["microphone", "camera"]);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
    await page.goto(world.urls.app);
    await joinWithDevAccount(page);
    return page;
  }

  const facts = (page: Page) =>
    inPage(
      page,
      (session) => {
        const game = session.game.get();
        return {
          id: game?.peer.id ?? "",
          name: game?.peer.mesh.identity.name ?? "",
          pitch: session.world.controls.pitch,
        };
      },
      null,
    );

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    mkdirSync(SHOTS, { recursive: true });
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-look-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht", "gateway", "tracker", "app"],
      ports: PORTS,
    });
    await world.start();
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await world?.stop();
    releaseWebRtc();
  });

  it("a short first panel, details on request, a horizon view, a chat history for the newcomer, and characters", async () => {
    const a = await open("A");
    const fromA = await facts(a);
    await a.screenshot({ path: path.join(SHOTS, "1-joined.png") });

    // The first panel: a few plain lines; the seeding and claims figures are behind Details.
    const panel = a.getByTestId("status-panel");
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is what shows
    const lines = (await panel.innerText()).split("\n").filter((line) => line.trim() !== "");
    // About ten rows of 20 px at most (a row's label and value count as one).
    const height = (await panel.boundingBox())?.height ?? Number.POSITIVE_INFINITY;
    assert.ok(height <= 240, `the first panel is short (${Math.round(height)} px):\n${lines.join("\n")}`);
    assert.doesNotMatch(lines.join(" "), /epoch|receipt/i, "no seeding jargon before it is asked for");
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is what shows
    assert.match(await a.getByTestId("seeding-summary").innerText(), /^Seeding\s+\d+ peers? · \d+ (B|KB|MB) served$/);
    assert.equal(await a.getByTestId("hud-details").isVisible(), false);
    await a.keyboard.press("h");
    await a.getByTestId("seeding-status").waitFor({ state: "visible", timeout: 5_000 });
    await a.screenshot({ path: path.join(SHOTS, "2-details.png") });
    await a.getByTestId("hud-details-toggle").click();
    assert.equal(await a.getByTestId("hud-details").isVisible(), false);

    // Eyes near the horizon, and the locked premium slot shows a drawn padlock.
    assert.ok(Math.abs(fromA.pitch) < 0.2, `the spawn looks at the horizon (pitch ${fromA.pitch})`);
    assert.equal(await a.locator('[data-testid="hotbar-slot-8"][data-locked="true"] svg').count(), 1);

    // A talks before B arrives; B hears it when it links with A.
    await a.getByTestId("chat-input").fill("welcome to the hills");
    await a.getByTestId("chat-input").press("Enter");
    await a.getByTestId("chat-input").fill("the seeder is by the spawn");
    await a.getByTestId("chat-input").press("Enter");
    const b = await open("B");
    const fromB = await facts(b);
    await b
      .locator('[data-testid="chat-line"]', { hasText: "the seeder is by the spawn" })
      .waitFor({ timeout: 20_000 });
    const heard = await b.locator('[data-testid="chat-line"]').allInnerTexts();
    assert.deepEqual(
      heard.filter((line) => line.includes("welcome") || line.includes("seeder")),
      [`${fromA.name} welcome to the hills`, `${fromA.name} the seeder is by the spawn`],
      "each line once, oldest first, under its author's name",
    );

    // A stands in front of B; B draws A as a character with its name, and its legs swing as A walks.
    const [bx, by, bz] = (await inPage(b, (session) => [...session.world.controls.position], null)) as [
      number,
      number,
      number,
    ];
    // A stands on the ground 5 blocks ahead of B and 2 to the right, facing −x: its walk crosses B's view.
    await inPage(
      a,
      (session, [bx, by, bz]) => {
        const world = session.world;
        const [x, z] = [Math.floor(bx) + 2, Math.floor(bz) - 5];
        for (let y = Math.floor(by) + 8; y > by - 8; y--)
          if (world.getBlock(x, y - 1, z) && !world.getBlock(x, y, z) && !world.getBlock(x, y + 1, z)) {
            world.controls.teleport(x + 0.5, y, z + 0.5);
            break;
          }
        world.controls.setLook(Math.PI / 2, 0);
      },
      [bx, by, bz] as const,
    );
    // B looks at A's chest (A may stand higher or lower than B).
    const at = await inPage(a, (session) => [...session.world.controls.position], null);
    await inPage(
      b,
      (session, [x, y, z]) => session.world.controls.lookAt(x, y + 1.1, z),
      at as [number, number, number],
    );
    await waitFor(
      "B to draw A",
      async () => (await inPage(b, (session, id) => session.world.avatars.look(id) ?? null, fromA.id)) !== null,
      20_000,
    );
    const look = await inPage(b, (session, id) => session.world.avatars.look(id), fromA.id);
    assert.deepEqual(look?.parts.sort(), ["arm-left", "arm-right", "body", "head", "leg-left", "leg-right"]);
    assert.equal(look?.label, fromA.name);
    await b.waitForTimeout(800);
    await b.screenshot({ path: path.join(SHOTS, "3-character.png") });
    await b.locator(".avatar-name", { hasText: fromA.name }).waitFor({ state: "visible", timeout: 5_000 });
    await inPage(
      a,
      (session) => {
        session.world.controls.input.forward = true;
      },
      null,
    );
    let swung = 0;
    const aFrom = await inPage(a, (session) => [...session.world.controls.position], null);
    await waitFor(
      "A's legs to swing on B's screen as A walks",
      async () => {
        swung = Math.max(
          swung,
          (await inPage(b, (session, id) => session.world.avatars.look(id)?.swing ?? 0, fromA.id)) ?? 0,
        );
        return swung > 0.2;
      },
      10_000,
    ).catch(async (error: Error) => {
      // Whether A moved at all (terrain in the way?), and what B draws of it.
      const aTo = await inPage(a, (session) => [...session.world.controls.position], null);
      const seen = await inPage(b, (session, id) => session.world.avatars.look(id), fromA.id);
      throw new Error(
        `${error.message}; A went from ${aFrom.map((v) => v.toFixed(2))} to ${aTo.map((v) => v.toFixed(2))}; B draws A with swing ${seen?.swing.toFixed(3)} and speed ${seen?.speed.toFixed(2)} (largest swing seen ${swung.toFixed(3)})`,
      );
    });
    await b.screenshot({ path: path.join(SHOTS, "4-walking.png") });
    await inPage(
      a,
      (session) => {
        session.world.controls.input.forward = false;
      },
      null,
    );
    await waitFor(
      "A's legs to come to rest once A stops",
      async () => (await inPage(b, (session, id) => session.world.avatars.look(id)?.speed ?? 1, fromA.id)) === 0,
      10_000,
    );
    assert.ok(fromB.name !== fromA.name);
    assert.deepEqual(pageErrors, []);
  });

  it("a chunk set to the blocks it shows already is neither meshed nor drawn again; a change is", async () => {
    const page = await open("C");
    const result = await inPage(
      page,
      async (session) => {
        const world = session.world;
        const [px, py, pz] = world.controls.position;
        // The nearest chunk at or below the player's feet that holds something solid.
        const [cx, cz] = [Math.floor(px / 16), Math.floor(pz / 16)];
        let cy = Math.floor(py / 16);
        while (cy > -8 && !world.chunkBlocks(cx, cy, cz)?.some((block) => block !== 0)) cy--;
        const shown = world.chunkBlocks(cx, cy, cz);
        if (!shown) throw new Error("no chunk with ground under the player is loaded");
        // Resolving with 0 means it was taken as shown already: a change resolves once a frame drew it.
        const same = await world.setChunk(cx, cy, cz, shown.slice());
        const before = world.stats().framesDrawn;
        const changed = shown.slice();
        const top = changed.findLastIndex((block) => block !== 0);
        changed[top] = 0;
        const drawnMs = await world.setChunk(cx, cy, cz, changed);
        return { same, drawnMs, drawnChanged: world.stats().framesDrawn - before };
      },
      null,
    );
    assert.equal(result.same, 0, "the same blocks were not meshed and drawn again");
    assert.ok(result.drawnChanged >= 1 && result.drawnMs > 0, JSON.stringify(result));
    assert.deepEqual(pageErrors, []);
  });
});
