/**
 * Players across networks, for real: a world host namespace runs `seedcraft up --host 198.18.0.1 --public-host
 * 198.18.0.1` (chain, deploy, indexer, DHT, gateway, tracker, coturn as `turn`, a seeder, the app), and
 * Chromium players run inside home namespaces, each home behind its own NAT router (test/helpers/netns.ts,
 * test/helpers/netns-world.ts). Two homes NAT with MASQUERADE (port-keeping): their players join, punch
 * through to each other (server-reflexive candidates from the world's STUN), see each other's avatars, chat,
 * and A's block edit is applied and drawn at B; A and B hear each other in voice; a headless `seedcraft peer`
 * in A's home joins too, and B sees its edits. A third home NATs with
 * MASQUERADE --random, like a symmetric NAT: its player's links run through the world's TURN relay (ICE
 * stats). A TURN relay that refuses the credential or does not answer is told in the join panel within 10 s,
 * and `seedcraft up --host` with an address not the machine's fails at once. Last, B comes back
 * after a while (A gone) and fetches A's anchored snapshot over torrents through its NAT. Every namespace (and
 * so every link, rule and process in them) is removed afterwards, even on failure. Root only: skipped otherwise.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import type { IceServer } from "../../core/ice-servers.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { inApp, newestOwnEditAnchored } from "../helpers/chromium.ts";
import { namespacesWithPrefix, netnsUnavailable, TestNetwork } from "../helpers/netns.ts";
import {
  enterWorld,
  type LinkStats,
  linkedPeers,
  meshLinkStats,
  type NetnsPlayer,
  type NetnsWorld,
  openPlayer,
  signalBytes,
  startNetnsWorld,
} from "../helpers/netns-world.ts";
import { waitFor } from "../helpers/world.ts";

const unavailable = netnsUnavailable();
/** Every failure must be told within this. */
const CLEAR_ERROR_MS = 10_000;
/** A beep heard from a few blocks away is far above this (test/e2e/media.test.ts measures the same). */
const HEARD = 0.01;

type Cell = [number, number, number];

describe("players in three homes behind NATs play together on a world host", {
  skip: unavailable && `skipped: ${unavailable}`,
  timeout: 300_000,
}, () => {
  let network: TestNetwork;
  let world: NetnsWorld | undefined;
  let seed = 0;
  const players: NetnsPlayer[] = [];
  const player = (label: string) => players.find((p) => p.label === label) as NetnsPlayer;

  before(async () => {
    network = TestNetwork.build({
      // "silent" stands for a TURN server that does not answer: its host drops everything that comes in.
      publicHosts: ["world", "silent"],
      homes: [{ name: "home-a" }, { name: "home-b" }, { name: "home-c", nat: "random" }],
    });
    for (const protocol of ["udp", "tcp"]) {
      const drop = await network.run("silent", "iptables", ["-A", "INPUT", "-p", protocol, "-j", "DROP"]);
      assert.equal(drop.code, 0, drop.stderr);
    }
    world = await startNetnsWorld(network, "net-players");
    const deployment = await readDeployment(world.network);
    seed = terrainSeedOf(deployment.chainId, deployment.contracts.ChunkLedger.address);
  });

  after(async () => {
    if (!network) return;
    for (const p of players) await p.close();
    await world?.stop();
    const prefix = network.prefix;
    await network.destroy();
    assert.deepEqual(namespacesWithPrefix(prefix), [], "every namespace of this run is gone");
    const errors = players.flatMap((p) => p.errors);
    assert.deepEqual(errors, [], "no page error");
  });

  /** Puts a player on the ground at column (x, z). */
  const standAt = (p: NetnsPlayer, x: number, z: number) =>
    inApp(p.page, (session, [px, pz, y]) => session.world.controls.teleport(px + 0.5, y, pz + 0.5), [
      x,
      z,
      groundHeight(seed, x, z) + 1,
    ] as const);

  const blockAt = (p: NetnsPlayer, cell: Cell) =>
    inApp(p.page, (session, [x, y, z]) => session.world.getBlock(x, y, z), cell);

  /** An empty cell resting on solid ground beside the player, within reach and clear of its body. */
  const freeCellNear = (p: NetnsPlayer) =>
    inApp(
      p.page,
      (session) => {
        const w = session.world;
        const [px, py, pz] = w.controls.position;
        const [fx, fy, fz] = [Math.floor(px), Math.floor(py), Math.floor(pz)];
        for (let r = 1; r <= 3; r++)
          for (let dx = -r; dx <= r; dx++)
            for (let dz = -r; dz <= r; dz++) {
              if (Math.max(Math.abs(dx), Math.abs(dz)) !== r) continue;
              const [x, z] = [fx + dx, fz + dz];
              for (let y = fy + 2; y >= fy - 3; y--) {
                const below = w.getBlock(x, y - 1, z);
                if (w.getBlock(x, y, z) !== 0 || below === undefined || below === 0 || below === 5) continue;
                if (!w.controls.body.intersectsBlock(x, y, z)) return [x, y, z] as [number, number, number];
                break;
              }
            }
        return undefined;
      },
      null,
    );

  /** The link between two players as each side's ICE stats name it (matched by their ICE ufrags). */
  async function linkBetween(p: NetnsPlayer, q: NetnsPlayer): Promise<{ at: LinkStats; other: LinkStats }> {
    let found: { at: LinkStats; other: LinkStats } | undefined;
    await waitFor(
      `${p.label}'s link with ${q.label} in ICE stats`,
      async () => {
        const [mine, theirs] = [await meshLinkStats(p), await meshLinkStats(q)];
        for (const at of mine) {
          const other = theirs.find((link) => link.localUfrag === at.remoteUfrag && link.remoteUfrag === at.localUfrag);
          if (other && at.pair && other.pair) found = { at, other };
        }
        return found !== undefined;
      },
      20_000,
    );
    return found as { at: LinkStats; other: LinkStats };
  }

  it("seedcraft up --host with another host's address fails at once, saying so, and starts nothing", async () => {
    // The world host's own address, from a home: not an address of that machine.
    const started = Date.now();
    const result = await network.run(
      "home-a",
      process.execPath,
      [path.join(ROOT, "cli", "seedcraft.ts"), "up", "--host", network.world.address],
      CLEAR_ERROR_MS,
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--host 198\.18\.0\.1 is not an address of this machine: nothing was started/);
    assert.match(result.stderr, /198\.19\.1\.2/, "it names the home host's own addresses");
    assert.ok(Date.now() - started < CLEAR_ERROR_MS, `told after ${Date.now() - started} ms`);
  });

  it("A and B, each behind its own NAT, join, punch through to each other, see each other and chat", async () => {
    const started = Date.now();
    for (const [home, label] of [
      ["home-a", "A"],
      ["home-b", "B"],
    ] as const) {
      const p = await openPlayer(network, world as NetnsWorld, home, label);
      players.push(p);
      await enterWorld(p, world as NetnsWorld);
    }
    const [a, b] = [player("A"), player("B")];
    // What the app was given names the world host, never loopback.
    const config = await inApp(
      a.page,
      (session) => ({
        urls: [
          session.config.rpcUrl,
          session.config.indexerUrl,
          ...session.config.gateways,
          ...session.config.trackers,
        ],
        ice: session.config.iceServers.flatMap((server) => server.urls),
      }),
      null,
    );
    for (const url of [...config.urls, ...config.ice])
      assert.match(url, /^[a-z]+:(\/\/)?198\.18\.0\.1:\d+/, `${url} names the world host`);
    assert.ok(
      config.ice.some((url) => url.startsWith("turn:")),
      `the gateway's TURN entry: ${config.ice}`,
    );

    await waitFor(
      "A and B to link",
      async () => (await linkedPeers(a)).includes(b.peerId) && (await linkedPeers(b)).includes(a.peerId),
      30_000,
    );
    console.log(`  A and B joined and linked ${((Date.now() - started) / 1000).toFixed(1)} s after A opened the app`);
    // Hole punching worked: each side talks to the other's NAT mapping (server-reflexive), not through the relay.
    const { at, other } = await linkBetween(a, b);
    console.log(`  A–B pair at A: ${JSON.stringify(at.pair)}`);
    for (const [link, home] of [
      [at, "home-b"],
      [other, "home-a"],
    ] as const) {
      assert.notEqual(link.pair?.local.type, "relay", JSON.stringify(link));
      assert.notEqual(link.pair?.remote.type, "relay", JSON.stringify(link));
      assert.equal(link.pair?.remote.address, network.homes.find((h) => h.name === home)?.router.wanAddress);
    }

    // Side by side; A walks, and B draws A where A stopped.
    await standAt(a, 3, 3);
    await standAt(b, 6, 3);
    const aAt = await inApp(a.page, (session) => [...session.world.controls.position] as number[], null);
    await waitFor(
      "B to draw A's avatar where A stands",
      async () => {
        const shown = await inApp(b.page, (session, id) => session.world.avatars.shownAt(id) ?? null, a.peerId);
        return shown !== null && Math.hypot(shown[0] - (aAt[0] as number), shown[2] - (aAt[2] as number)) < 0.5;
      },
      15_000,
    );

    await a.page.getByTestId("chat-input").fill("hello from home A");
    await a.page.getByTestId("chat-input").press("Enter");
    await b.page.locator('[data-testid="chat-line"]', { hasText: "hello from home A" }).waitFor({ timeout: 10_000 });
    await b.page.getByTestId("chat-input").fill("hi A, B here behind my NAT");
    await b.page.getByTestId("chat-input").press("Enter");
    await a.page
      .locator('[data-testid="chat-line"]', { hasText: "hi A, B here behind my NAT" })
      .waitFor({ timeout: 10_000 });

    // Every signal item a page put through the gateway fits one BEP44 value.
    const sizes = [...(await signalBytes(a)), ...(await signalBytes(b))];
    assert.ok(sizes.length > 0, "the pages signaled through the gateway");
    assert.ok(Math.max(...sizes) < 1000, `signal items ${sizes.join(", ")} bytes`);
    console.log(`  signal items: ${sizes.join(", ")} bytes`);
  });

  it("A's block edit is applied and drawn at B, then anchored", async () => {
    const [a, b] = [player("A"), player("B")];
    const cell = await freeCellNear(a);
    assert.ok(cell, "a free cell next to A");
    const refused = await inApp(a.page, (session, target) => session.game.get()?.edit("place", target, 1), cell);
    assert.equal(refused, undefined, `A may place at ${cell.join(",")}`);
    await waitFor("B to draw A's stone", async () => (await blockAt(b, cell)) === BLOCK_IDS.stone, 10_000);
    await a.page
      .locator('[data-testid="edit-status"][data-own="true"][data-state="anchored"]')
      .first()
      .waitFor({ timeout: 60_000 });
    await b.page
      .locator('[data-testid="edit-status"][data-own="false"][data-state="anchored"]')
      .first()
      .waitFor({ timeout: 30_000 });
  });

  it("A and B hear each other in voice, through their NATs", async () => {
    const [a, b] = [player("A"), player("B")];
    // The app's own voice, as the voice panel's button starts it; Chromium's fake microphone beeps.
    for (const p of [a, b])
      await inApp(
        p.page,
        async (session) => {
          const voice = session.voice.get();
          if (!voice) throw new Error("not joined: the app sets up voice on joining");
          voice.setMode("open");
          await voice.start();
        },
        null,
      );
    const level = (p: NetnsPlayer, of: NetnsPlayer) =>
      inApp(p.page, (session, id) => session.voice.get()?.level(id as `0x${string}`) ?? 0, of.peerId);
    try {
      const state = (p: NetnsPlayer) =>
        inApp(
          p.page,
          (session) => JSON.stringify({ ...session.voice.get()?.state.get(), calls: session.voice.get()?.calls }),
          null,
        );
      await waitFor(
        "A and B to hear each other",
        async () => (await level(a, b)) > HEARD && (await level(b, a)) > HEARD,
        30_000,
      ).catch(async (error: Error) => {
        throw new Error(
          `${error.message}; A: ${await state(a)}; B: ${await state(b)}; levels ${await level(a, b)} ${await level(b, a)}`,
        );
      });
      console.log(
        `  voice levels: A hears B ${(await level(a, b)).toFixed(3)}, B hears A ${(await level(b, a)).toFixed(3)}`,
      );
    } finally {
      for (const p of [a, b]) await inApp(p.page, (session) => session.voice.get()?.stop(), null);
    }
  });

  it("a headless `seedcraft peer` in A's home joins through its NAT; B links with it and sees its edits", async () => {
    const b = player("B");
    const home = network.host("home-a");
    const live = world as NetnsWorld;
    const child = network.spawn(
      home,
      process.execPath,
      [
        path.join(ROOT, "cli", "seedcraft.ts"),
        "peer",
        ...["--name", "home-peer", "--host", home.address, "--at", "5,6", "--walk", "1", "--edits-per-s", "1"],
        ...["--ice-servers", JSON.stringify([{ urls: `stun:${live.address}:3478` }])],
      ],
      {
        cwd: ROOT,
        // The world as its players find it: its public host, the default ports.
        env: {
          ...process.env,
          SEEDCRAFT_NETWORK: live.network,
          SEEDCRAFT_PUBLIC_HOST: live.address,
          SEEDCRAFT_HOST: "",
        },
      },
    );
    let output = "";
    for (const stream of [child.stdout, child.stderr])
      stream?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const peerOf = () =>
        inApp(
          b.page,
          (session) => session.game.get()?.peer.mesh.peers.find((peer) => peer.name === "home-peer")?.wallet ?? null,
          null,
        );
      await waitFor(
        "B linked with the headless peer",
        async () => {
          if (child.exitCode !== null) throw new Error(`seedcraft peer exited with ${child.exitCode}:\n${output}`);
          return (await peerOf()) !== null;
        },
        90_000,
      );
      const wallet = ((await peerOf()) as string).toLowerCase();
      const seen = () =>
        inApp(
          b.page,
          (session, prefix) =>
            session.edits.entries.filter(
              (entry) => !entry.own && (entry.author === "home-peer" || entry.author?.toLowerCase().startsWith(prefix)),
            ).length,
          wallet.slice(0, 6),
        );
      await waitFor("B to see the headless peer's edits", async () => (await seen()) > 0, 30_000);
      console.log(`  B sees ${await seen()} edits of the headless peer in A's home`);
    } finally {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    }
  });

  it("C, behind a symmetric NAT, joins and its links with A and B run through the world's TURN relay", async () => {
    const [a, b] = [player("A"), player("B")];
    const c = await openPlayer(network, world as NetnsWorld, "home-c", "C");
    players.push(c);
    await enterWorld(c, world as NetnsWorld);
    await standAt(c, 4, 5);
    await waitFor(
      "C to link with A and B",
      async () => {
        const linked = await linkedPeers(c);
        return linked.includes(a.peerId) && linked.includes(b.peerId);
      },
      30_000,
    );
    for (const q of [a, b]) {
      const { at, other } = await linkBetween(c, q);
      console.log(`  C–${q.label} pair at C: ${JSON.stringify(at.pair)}; at ${q.label}: ${JSON.stringify(other.pair)}`);
      // Through the relay: at each side, one end of the pair in use is a relay candidate on the world host.
      for (const link of [at, other]) {
        const relay = [link.pair?.local, link.pair?.remote].find((end) => end?.type === "relay");
        assert.equal(relay?.address, network.world.address, JSON.stringify(link));
      }
    }
    await c.page.getByTestId("chat-input").fill("C here, through the relay");
    await c.page.getByTestId("chat-input").press("Enter");
    await a.page
      .locator('[data-testid="chat-line"]', { hasText: "C here, through the relay" })
      .waitFor({ timeout: 10_000 });
  });

  it("a TURN relay that refuses the credential, or does not answer, is told in the join panel within 10 s; the game plays on", async () => {
    const [a, b] = [player("A"), player("B")];
    // Checked on joining, with the gateway's credentials: the world's relay works for A.
    await waitFor(
      "A's TURN check on joining",
      async () => (await inApp(a.page, (s) => s.turn.get(), null)).state === "ok",
      10_000,
    );
    const servers = await inApp(a.page, (session) => session.config.iceServers, null);
    const entry = servers.find((server) => server.credential) as IceServer & { credential: string };
    assert.ok(entry, JSON.stringify(servers));
    const wrong = {
      ...entry,
      credential: `${entry.credential.startsWith("A") ? "B" : "A"}${entry.credential.slice(1)}`,
    };
    const warning = a.page.locator('[data-testid="turn-warning"]');
    /** The app's own check with these servers, and what the join panel then says. */
    const check = async (list: IceServer[] | undefined) => {
      const started = performance.now();
      const status = await inApp(a.page, (session, given) => session.checkTurn(given ?? undefined), list ?? null);
      const ms = performance.now() - started;
      const said = (await warning.count()) > 0 ? await warning.textContent() : null;
      return { status, ms, said };
    };
    const refused = await check([wrong]);
    assert.equal(refused.status.state, "refused", JSON.stringify(refused));
    assert.ok(refused.ms < CLEAR_ERROR_MS, JSON.stringify(refused));
    assert.match(refused.said ?? "", /refused this tab's credentials/);
    console.log(`  the wrong credential told after ${Math.round(refused.ms)} ms: ${refused.said}`);
    // A TURN server that does not answer: told within 10 s too.
    const silentAt = network.host("silent").address;
    const silent = await check([{ ...entry, urls: [`turn:${silentAt}:3478?transport=udp`] }]);
    assert.equal(silent.status.state, "unreachable", JSON.stringify(silent));
    assert.ok(silent.ms < CLEAR_ERROR_MS, JSON.stringify(silent));
    assert.match(silent.said ?? "", /did not answer/);
    console.log(`  a silent TURN server told after ${Math.round(silent.ms)} ms: ${silent.said}`);
    // The world's relay again, with the tab's own credentials: it works, and the panel says nothing more.
    const again = await check(undefined);
    assert.equal(again.status.state, "ok", JSON.stringify(again));
    assert.equal(again.said, null);
    // Nothing else stopped: A and B are still linked, and an edit still reaches B.
    assert.ok((await linkedPeers(b)).includes(a.peerId));
    const cell = await freeCellNear(a);
    assert.ok(cell);
    assert.equal(
      await inApp(a.page, (session, target) => session.game.get()?.edit("place", target, 1), cell),
      undefined,
    );
    await waitFor("B to draw A's stone", async () => (await blockAt(b, cell)) === BLOCK_IDS.stone, 10_000);
  });

  it("B, back after a while, fetches A's anchored snapshot over torrents through its NAT", async () => {
    const [a, b] = [player("A"), player("B")];
    // B leaves; A builds on a chunk B holds, and anchors it.
    await b.page.goto("about:blank");
    const cell = await freeCellNear(a);
    assert.ok(cell, "a free cell next to A");
    assert.equal(
      await inApp(a.page, (session, target) => session.game.get()?.edit("place", target, 6), cell),
      undefined,
    );
    const { chunkId, version } = await newestOwnEditAnchored(a.page);
    // The world's seeder picks the new version up (from A's chunk metadata, or reading the ledger's heads).
    const file = path.join(
      (world as NetnsWorld).stateDir,
      "seeder",
      "cache",
      "chunks",
      `${chunkId.toString(16)}-${version}.chunk`,
    );
    await waitFor(`the seeder to cache ${path.basename(file)}`, () => existsSync(file), 45_000);
    // A leaves too, so that B cannot rebuild the version from A's ops: it must fetch the snapshot.
    await a.page.goto("about:blank");
    await enterWorld(b, world as NetnsWorld);
    const sync = b.page.locator('[data-testid="sync-status"][data-state="done"]');
    await sync.waitFor({ timeout: 60_000 });
    const fetched = Number(await sync.getAttribute("data-fetched"));
    assert.ok(fetched >= 1, `B fetched the version it missed over torrents (${await sync.textContent()})`);
    await waitFor("B to draw A's newest block", async () => (await blockAt(b, cell)) === BLOCK_IDS.wood, 20_000);
  });
});
