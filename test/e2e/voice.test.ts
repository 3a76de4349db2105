/**
 * Voice between two players in Chromium, on the real local world on 127.0.0.1 (chain and contracts, indexer,
 * DHT, gateway, tracker, the app's dev server). Both players connect the local dev account; Chromium's fake
 * microphone beeps. Each page starts the app's own VoiceChat (what the voice panel's button does). A Web
 * Audio analyser per remote voice is what we read.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { Session } from "../../app/src/session.ts";
import type { VoiceChat, VoiceTiming } from "../../app/src/voice/VoiceChat.ts";
import { World } from "../../cli/world.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { localClients } from "../helpers/chain-clients.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";
import { waitFor } from "../helpers/world.ts";

const NETWORK = "e2e-voice";
const PORTS = { chain: 36301, indexer: 36302, dht: 36303, gateway: 36304, tracker: 36305, app: 36306 };
/** A beep heard from 2 blocks away is far above this; silence and a muted voice far below. */
const HEARD = 0.01;
const SILENT = 0.001;

type VoiceWindow = { seedcraft: { session: Session }; voice: VoiceChat };
type Player = { label: string; context: BrowserContext; page: Page; peerId: string; name: string };

/** Runs `fn` in the player's page with the session and the page's VoiceChat (serialized: it sees only its arguments). */
function inPage<A, R>(player: Player, fn: (session: Session, voice: VoiceChat, arg: A) => R | Promise<R>, arg: A) {
  return player.page.evaluate(
    ([source, value]) => {
      const w = window as unknown as VoiceWindow;
      const run = new Function("session", "voice", "arg", `return (${source})(session, voice, arg);`);
      return run(w.seedcraft.session, w.voice, value);
    },
    [fn.toString(), arg] as const,
  ) as Promise<R>;
}

describe("e2e: voice between two players in Chromium", { timeout: 300_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  let seed = 0;
  const players: Player[] = [];
  const pageErrors: string[] = [];

  async function openPlayer(label: string): Promise<Player> {
    const context = await (browser as Browser).newContext({ viewport: { width: 480, height: 320 } });
    await context.grantPermissions(["microphone", "camera"]);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
    page.on("console", (message) => {
      if (process.env.DEBUG?.includes("seedcraft")) process.stderr.write(`[${label}] ${message.text()}\n`);
    });
    await page.goto(world.urls.app);
    await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    const connect = page.getByTestId("connect-dev-account");
    if (await connect.isVisible()) await connect.click();
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    const facts = await page.evaluate(() => {
      const game = (window as unknown as VoiceWindow).seedcraft.session.game.get();
      return { peerId: game?.peer.id.toLowerCase() ?? "", name: game?.peer.mesh.identity.name ?? "" };
    });
    return { label, context, page, ...facts };
  }

  /** Puts the player on the ground at column (x, z). */
  const standAt = (player: Player, x: number, z: number) =>
    inPage(player, (session, _voice, [px, y, pz]) => session.world.controls.teleport(px + 0.5, y, pz + 0.5), [
      x,
      groundHeight(seed, x, z) + 1,
      z,
    ] as const);

  const level = (player: Player, of: Player) =>
    inPage(player, (_s, voice, id) => voice.level(id as `0x${string}`), of.peerId);
  const calls = (player: Player) => inPage(player, (_s, voice) => voice.calls, null);
  const timing = (player: Player, of: Player) =>
    inPage(
      player,
      (_s, voice, id) => voice.timing(id as `0x${string}`) ?? null,
      of.peerId,
    ) as Promise<VoiceTiming | null>;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-voice-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht", "gateway", "tracker", "app"],
      ports: PORTS,
    });
    await world.start();
    const clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Audio starts without a click (a player's click on "voice" does it in the app).
      args: [...CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
    });
  });

  after(async () => {
    for (const player of players) await inPage(player, (_s, voice) => voice?.destroy(), null).catch(() => {});
    await browser?.close();
    await world?.stop();
    releaseWebRtc();
  });

  it("two players hear each other when near, not when far, and not when muted; calls follow distance; video once turned on", async () => {
    players.push(await openPlayer("A"), await openPlayer("B"));
    const [a, b] = players as [Player, Player];
    const linked = (p: Player, q: Player) =>
      inPage(p, (session, _v, id) => session.game.get()?.peer.mesh.peer(id as `0x${string}`) !== undefined, q.peerId);
    await waitFor("A and B to link", async () => (await linked(a, b)) && (await linked(b, a)), 60_000);

    // Far apart (60 blocks) before voice starts: nobody is called.
    await standAt(a, 2, 2);
    await standAt(b, 62, 2);
    for (const player of players)
      await inPage(
        player,
        async (session) => {
          // The app's own voice, as the panel's "Join voice" button starts it.
          const voice = session.voice.get();
          if (!voice) throw new Error("not joined: the app sets up voice on joining");
          (window as unknown as { voice: VoiceChat }).voice = voice;
          voice.setMode("open");
          await voice.start();
        },
        null,
      );
    await waitFor(
      "both to know the other is far",
      async () =>
        (await inPage(a, (_s, voice) => voice.state.get().peers[0]?.distance ?? 0, null)) > 50 &&
        (await inPage(b, (_s, voice) => voice.state.get().peers[0]?.distance ?? 0, null)) > 50,
      10_000,
    );
    // A call made from where the other stood a moment ago ends once its grace (2 s) is over.
    await waitFor(
      "no calls 60 blocks apart",
      async () => (await calls(a)).length + (await calls(b)).length === 0,
      8_000,
    );
    await sleep(1000);
    assert.deepEqual(await calls(a), [], "60 blocks apart, A calls nobody");
    assert.deepEqual(await calls(b), [], "60 blocks apart, B calls nobody");

    // Near (2 blocks): each hears the other's beep.
    const connect = async (stage: string) => {
      await standAt(b, 4, 2);
      await waitFor(
        `${stage}: B to hear A and A to hear B`,
        async () => (await level(b, a)) > HEARD && (await level(a, b)) > HEARD,
        15_000,
      );
      const ms = [];
      for (const [p, q] of [
        [a, b],
        [b, a],
      ] as const) {
        const t = (await timing(p, q)) as VoiceTiming;
        assert.ok(t.flowingAt !== undefined && t.connectedAt !== undefined, `${p.label} has its timings`);
        const flow = (t.flowingAt as number) - t.decidedAt;
        process.stderr.write(
          `voice ${stage}: ${p.label} decided→connected ${((t.connectedAt as number) - t.decidedAt).toFixed(0)} ms, ` +
            `→track ${((t.trackAt as number) - t.decidedAt).toFixed(0)} ms, →audio flows ${flow.toFixed(0)} ms\n`,
        );
        ms.push(flow);
      }
      return Math.max(...ms);
    };
    const first = await connect("near");
    process.stderr.write(`voice_connect_ms ${first.toFixed(0)} (level B←A ${(await level(b, a)).toFixed(3)})\n`);

    // 34 blocks: still in the call, but beyond 32 blocks a voice is silent.
    await standAt(b, 36, 2);
    await sleep(1600);
    assert.deepEqual(await calls(b), [a.peerId], "at 34 blocks the call stays");
    assert.ok((await level(b, a)) < SILENT, `at 34 blocks B hears nothing of A (${await level(b, a)})`);

    // 60 blocks: both hang up.
    await standAt(b, 62, 2);
    await waitFor(
      "both to hang up",
      async () => (await calls(a)).length === 0 && (await calls(b)).length === 0,
      10_000,
    );
    assert.equal(await level(b, a), 0);

    // Back near: called again (after the retry pause a bye sets).
    const again = await connect("again");
    process.stderr.write(`voice_connect_ms (again) ${again.toFixed(0)}\n`);

    // B mutes A: nothing of A reaches B's speakers; A still hears B. Unmuted, A is back.
    await inPage(b, (_s, voice, id) => voice.setMuted(id as `0x${string}`, true), a.peerId);
    await sleep(1600);
    assert.ok((await level(b, a)) < SILENT, `muted, B hears nothing of A (${await level(b, a)})`);
    assert.ok((await level(a, b)) > HEARD, "A still hears B");
    await inPage(b, (_s, voice, id) => voice.setMuted(id as `0x${string}`, false), a.peerId);
    await waitFor("B to hear A again", async () => (await level(b, a)) > HEARD, 5_000);

    // A turns its camera on: B gets A's video on the call already up (no new offer).
    await inPage(a, (_s, voice) => voice.setVideo(true), null);
    await waitFor(
      "B to get A's video",
      () => inPage(b, (_s, voice, id) => voice.videoOf(id as `0x${string}`) !== undefined, a.peerId),
      10_000,
    );
    assert.equal(await inPage(a, (_s, voice, id) => voice.videoOf(id as `0x${string}`) !== undefined, b.peerId), false);

    // B blocks A: the call ends and A's calls are refused while they stand side by side.
    await inPage(b, (_s, voice, id) => voice.setBlocked(id as `0x${string}`, true), a.peerId);
    await waitFor("the call to end", async () => (await calls(a)).length === 0, 5_000);
    await sleep(4000);
    assert.deepEqual(await calls(b), [], "B calls nobody it blocked");
    assert.equal(await level(a, b), 0, "A hears nothing of B");
    assert.deepEqual(pageErrors, []);
  });
});
