/**
 * The asset pack and voice, in Chromium, on one real local world on 127.0.0.1 (chain and contracts, indexer,
 * DHT, gateway, tracker, its `seedcraft seed`, the app's dev server); players connect the local dev account.
 *
 * - The pack: the world starts with its built-in textures, fetches the pack the deploy pinned from the seeder
 *   over torrent wires, checks it against the pin and swaps it in without a reload; a tampered copy in
 *   IndexedDB is refused and fetched again. Screenshots under test-results/assets/.
 * - Voice: Chromium's fake microphone beeps; each page starts the app's own VoiceChat (what the voice
 *   panel's button does), and a Web Audio analyser per remote voice is what we read. The seeder stands at
 *   the spawn, next to the players, and takes no calls: nobody calls it.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { Session } from "../../app/src/session.ts";
import type { VoiceChat, VoiceTiming } from "../../app/src/voice/VoiceChat.ts";
import { ROOT, World } from "../../cli/world.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { localClients } from "../helpers/chain-clients.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, joinWithDevAccount } from "../helpers/chromium.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "e2e-media";
const PORTS = worldPorts(14000);
const SHOTS = path.join(ROOT, "test-results", "assets");
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

describe("e2e: the asset pack and voice in Chromium, on the whole local world", { timeout: 400_000 }, () => {
  let world: World;
  let browser: Browser | undefined;
  let seed = 0;
  let assetPage: Page;
  const players: Player[] = [];
  const pageErrors: string[] = [];

  const watch = (page: Page, label: string) => {
    page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
    page.on("console", (message) => {
      if (process.env.DEBUG?.includes("seedcraft")) process.stderr.write(`[${label}] ${message.text()}\n`);
    });
  };

  const textureSize = () =>
    assetPage.evaluate(() => (window as unknown as VoiceWindow).seedcraft.session.world.textureSize);
  const assetState = () =>
    assetPage.evaluate(() => {
      const state = (window as unknown as VoiceWindow).seedcraft.session.assets.state.get();
      return JSON.parse(JSON.stringify(state)) as {
        step: string;
        from?: string;
        rejectedCache?: boolean;
        name?: string;
        ms?: number;
      };
    });

  async function joinAndWaitForPack(): Promise<void> {
    await joinWithDevAccount(assetPage);
    await assetPage
      .locator('[data-testid="asset-status"][data-state="ready"]')
      .waitFor({ timeout: 90_000 })
      .catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await assetState())}`);
      });
  }

  async function openPlayer(label: string): Promise<Player> {
    const context = await (browser as Browser).newContext({ viewport: { width: 480, height: 320 } });
    await context.grantPermissions(["microphone", "camera"]);
    const page = await context.newPage();
    watch(page, label);
    await page.goto(world.urls.app);
    await joinWithDevAccount(page);
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
    mkdirSync(SHOTS, { recursive: true });
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-media-")),
      network: NETWORK,
      ports: PORTS,
    });
    await world.start();
    const clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        ...CHROMIUM_ARGS,
        // Host candidates as plain addresses: the Node seeder cannot resolve mDNS names.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        // Audio starts without a click (a player's click on "voice" does it in the app).
        "--autoplay-policy=no-user-gesture-required",
      ],
    });
    const context = await browser.newContext({ viewport: { width: 640, height: 400 } });
    assetPage = await context.newPage();
    watch(assetPage, "pack");
  });

  after(async () => {
    for (const player of players) await inPage(player, (_s, voice) => voice?.destroy(), null).catch(() => {});
    await browser?.close();
    await world?.stop();
    releaseWebRtc();
  });

  it("starts with the built-in textures, then draws with the pinned pack fetched from the seeder", async () => {
    await assetPage.goto(world.urls.app);
    await assetPage.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    assert.equal(await textureSize(), 16, "the built-in atlas first");
    await assetPage.screenshot({ path: path.join(SHOTS, "1-built-in.png") });
    await joinAndWaitForPack();
    const state = await assetState();
    assert.equal(state.from, "peers", "fetched over torrent wires, not from a cache");
    const deployment = await readDeployment(NETWORK);
    assert.equal(state.name, deployment.assets?.packs[0]?.name);
    assert.equal(await textureSize(), 32, "the world draws with the pack's 32×32 tiles now, without a reload");
    assert.equal(
      await assetPage.evaluate(() => (window as unknown as VoiceWindow).seedcraft.session.sounds.source),
      state.name,
      "and plays its sounds",
    );
    await assetPage.waitForTimeout(300);
    await assetPage.screenshot({ path: path.join(SHOTS, "2-pack.png") });
    assert.deepEqual(pageErrors, []);
  });

  it("a tampered copy in the cache is refused and the pack fetched again", async () => {
    const deployment = await readDeployment(NETWORK);
    const hash = deployment.assets?.packs[0]?.hash.toLowerCase() as string;
    // Flip a byte of the cached pack, as a disk fault or another program might.
    await assetPage.evaluate(
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
    await assetPage.reload();
    await joinAndWaitForPack();
    const state = await assetState();
    assert.equal(state.rejectedCache, true, "the tampered copy was dropped");
    assert.equal(state.from, "peers", "and the pack fetched again from the seeder");
    assert.equal(await textureSize(), 32);
    await assetPage.screenshot({ path: path.join(SHOTS, "3-tampered-refused.png") });
    assert.deepEqual(pageErrors, []);
  });
  it("two players hear each other when near, not when far, and not when muted; calls follow distance; video once turned on", async () => {
    // The pack's player leaves: two players here.
    await assetPage.context().close();
    players.push(await openPlayer("A"), await openPlayer("B"));
    const [a, b] = players as [Player, Player];
    const linked = (p: Player, q: Player) =>
      inPage(p, (session, _v, id) => session.game.get()?.peer.mesh.peer(id as `0x${string}`) !== undefined, q.peerId);
    await waitFor("A and B to link", async () => (await linked(a, b)) && (await linked(b, a)), 60_000);
    // The seeder stands at the spawn, 3 blocks from where A will stand: A knows where it is.
    const seederAt = () =>
      inPage(
        a,
        (session) => session.game.get()?.peer.mesh.peers.find((p) => p.name.startsWith("seeder"))?.position ?? null,
        null,
      );
    await waitFor(
      "A to link with the seeder and know where it stands",
      async () => (await seederAt()) !== null,
      30_000,
    );

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
    assert.deepEqual(
      await calls(a),
      [],
      "60 blocks apart, A calls nobody (nor the seeder beside it: it takes no calls)",
    );
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
