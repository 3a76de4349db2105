/**
 * Chromium joins the mesh through the DHT gateway and exchanges block ops with Node peers, with real
 * parts on 127.0.0.1: the chain and the contracts, the indexer, a DHT bootstrap node, the gateway, the
 * app's dev server (serving the P2P harness page) and two Node peers. The browser keeps its own keys.
 * A peer holding edits older than the clock's skew bound is linked with, not banned, when it arrives
 * and when the browser reloads (its history replay got it banned by everyone, for ten minutes).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ROOT, World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { CHUNK_SIZE, chunkIdOf, locateBlock } from "../../core/chunk.ts";
import type { Position } from "../../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { authorizeSessionKey, type LocalClients, localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";
import { waitFor } from "../helpers/world.ts";

const PORTS = { chain: 28545, indexer: 28069, dht: 28881, gateway: 28880, app: 28173 };
const SHOTS = path.join(ROOT, "test-results", "browser-peer");

type Harness = {
  start(config: object): Promise<string>;
  gateways(): string[];
  peers(): string[];
  edit(chunk: string, index: number, block: number): Promise<string>;
  hash(chunk: string): string;
  applied(): string[];
};

describe("e2e: a browser peer through the DHT gateway", { timeout: 300_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let browser: Browser | undefined;
  let page: Page;
  const peers: NodePeer[] = [];
  let extra: DhtGateway;
  /** What the first test sets up and the second reuses. */
  let setup: {
    domain: { chainId: number; verifyingContract: `0x${string}` };
    standAt: (x: number, z: number) => Position;
    browserSpot: Position;
    browserConfig: object;
    late: { wallet: ReturnType<typeof privateKeyToAccount>; sessionKey: `0x${string}` };
    browserId: string;
  };

  before(async () => {
    const executablePath = chromiumPath();
    if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-browser-peer-")),
      network: "browser-peer",
      parts: ["chain", "deploy", "indexer", "dht", "gateway", "app"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients("browser-peer", world.urls.chain);
    extra = await DhtGateway.start({ bootstrap: [world.urls.dht] });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Host candidates as plain addresses: the Node side cannot resolve mDNS names.
      args: [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"],
    });
    page = await browser.newPage();
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await Promise.all(peers.map((peer) => peer.stop()));
    await browser?.close();
    await extra?.close();
    await world?.stop();
    releaseWebRtc();
  });

  it("Chromium joins through the gateway, links with Node peers and exchanges ops with them", async () => {
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const seed = terrainSeedOf(domain.chainId, domain.verifyingContract);
    const standAt = (x: number, z: number): Position => [x + 0.5, groundHeight(seed, x, z) + 1, z + 0.5];
    // The fourth joins late, in the second test.
    const players = Array.from({ length: 4 }, () => ({
      wallet: privateKeyToAccount(generatePrivateKey()),
      sessionKey: generatePrivateKey(),
    }));
    let last = 0n;
    for (const player of players)
      last = await authorizeSessionKey(clients, privateKeyToAccount(player.sessionKey), player.wallet);
    await waitForIndexedBlock(world.urls.indexer, last);

    const spots = [standAt(CHUNK_SIZE + 2, CHUNK_SIZE + 2), standAt(CHUNK_SIZE + 6, CHUNK_SIZE + 2)];
    for (const [i, player] of players.slice(0, 2).entries())
      peers.push(
        await NodePeer.start({
          bootstrap: [world.urls.dht],
          domain,
          ledger: new IndexerLedger(world.urls.indexer),
          wallet: player.wallet.address,
          sessionKey: privateKeyToAccount(player.sessionKey),
          name: `node-${i}`,
          position: spots[i] as Position,
          discoverEveryMs: 300,
        }),
      );

    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    if (process.env.DEBUG?.includes("seedcraft")) {
      page.on("console", (message) => process.stderr.write(`[chromium] ${message.text()}\n`));
      await page.addInitScript((namespaces) => localStorage.setItem("debug", namespaces), process.env.DEBUG);
    }
    await page.goto(`${world.urls.app}/harness/p2p.html`);
    await page.waitForFunction(() => "seedcraftHarness" in window, undefined, { timeout: 30_000 });
    const browserPlayer = players[2] as (typeof players)[number];
    const browserSpot = standAt(CHUNK_SIZE + 4, CHUNK_SIZE + 5);
    const browserConfig = {
      // The world's gateway and a second one: the browser uses both.
      gateways: [world.urls.gateway, extra.url],
      indexer: world.urls.indexer,
      domain,
      wallet: browserPlayer.wallet.address,
      sessionPrivateKey: browserPlayer.sessionKey,
      name: "chromium",
      position: browserSpot,
    };
    const late = players[3] as (typeof players)[number];
    const browserId = await page.evaluate(
      (config) => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.start(config),
      browserConfig,
    );
    setup = { domain, standAt, browserSpot, browserConfig, late, browserId: browserId.toLowerCase() };
    assert.deepEqual(
      await page.evaluate(() => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.gateways()),
      [world.urls.gateway, extra.url],
      "the browser holds both gateways",
    );
    const linkedInBrowser = () =>
      page.evaluate(() => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.peers().length);
    const appliedInBrowser = () =>
      page.evaluate(() => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.applied());

    await waitFor(
      "the browser and both Node peers to link",
      async () =>
        (await linkedInBrowser()) === 2 &&
        peers.every((peer) => peer.mesh.peers.some((p) => p.id === browserId.toLowerCase())),
      30_000,
    );
    await page.screenshot({ path: path.join(SHOTS, "linked.png") });

    // The browser edits next to itself; both Node peers apply it.
    const near = (at: Position, dx: number, dz: number) => {
      const { cx, cy, cz, index } = locateBlock(Math.floor(at[0] + dx), Math.floor(at[1]), Math.floor(at[2] + dz));
      return { chunk: chunkIdOf(cx, cy, cz), index };
    };
    const fromBrowser = near(browserSpot, 1, 0);
    const status = await page.evaluate(
      ([chunk, index, block]) =>
        (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.edit(chunk, index, block),
      [fromBrowser.chunk.toString(), fromBrowser.index, BLOCK_IDS.stone] as [string, number, number],
    );
    assert.equal(status, "applied");
    await waitFor(
      "the Node peers to apply the browser's op",
      () => peers.every((peer) => peer.replica.chunk(fromBrowser.chunk).blocks[fromBrowser.index] === BLOCK_IDS.stone),
      10_000,
    );

    // A Node peer edits; the browser applies it.
    const fromNode = near(spots[0] as Position, 0, 1);
    await (peers[0] as NodePeer).mesh.edit(fromNode.chunk, fromNode.index, BLOCK_IDS.wood);
    await waitFor(
      "the browser to apply the Node peer's op",
      async () => (await appliedInBrowser()).includes(`${fromNode.chunk}:${fromNode.index}`),
      10_000,
    );

    // Everyone holds the same chunks.
    for (const chunk of new Set([fromBrowser.chunk, fromNode.chunk])) {
      const inBrowser = await page.evaluate(
        (id) => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.hash(id),
        chunk.toString(),
      );
      for (const peer of peers) assert.equal(peer.replica.hash(chunk), inBrowser);
    }
    await page.screenshot({ path: path.join(SHOTS, "exchanged.png") });
    assert.deepEqual(errors, [], "no error in the page");
  });

  it("a peer holding edits past the clock's skew bound is linked with, not banned, on arrival and after the browser reloads", async () => {
    const { domain, standAt, browserSpot, browserConfig, late } = setup;
    const linkedInBrowser = async () =>
      new Set(await page.evaluate(() => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.peers()));
    // A fake clock 70 s behind while it edits: its ops are stamped as edits made 70 s ago are, past every
    // replica's 60 s bound. It edits alone, far from everyone (in a region nobody sees), then comes over.
    let skewMs = -70_000;
    const sessionKey = privateKeyToAccount(late.sessionKey);
    const old = await NodePeer.start({
      bootstrap: [world.urls.dht],
      domain,
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: late.wallet.address,
      sessionKey,
      name: "node-old",
      position: standAt(CHUNK_SIZE * 64, CHUNK_SIZE * 64),
      discoverEveryMs: 300,
      now: () => Date.now() + skewMs,
    });
    peers.push(old);
    for (let dx = 0; dx < 6; dx++) {
      const [x, y, z] = browserSpot.map(Math.floor) as [number, number, number];
      const { cx, cy, cz, index } = locateBlock(x + dx - 3, y + 3, z - 2);
      // Into its replica and its history only (through the mesh they would go live).
      await old.replica.edit(late.wallet.address, sessionKey, chunkIdOf(cx, cy, cz), index, BLOCK_IDS.stone);
    }
    assert.equal(old.mesh.peers.length, 0, "it edited before linking with anyone");
    skewMs = 0;
    old.move(standAt(CHUNK_SIZE + 8, CHUNK_SIZE + 4));

    const oldId = old.id.toLowerCase();
    const [first, second] = peers as [NodePeer, NodePeer];
    /** Every Node peer and the browser `browserId` are linked with one another. */
    const allLinked = async (browserId: string) => {
      const inBrowser = await linkedInBrowser();
      return (
        [first, second, old].every((peer) => inBrowser.has(peer.id.toLowerCase())) &&
        [first, second, old].every((peer) => peer.mesh.peers.some((p) => p.id === browserId)) &&
        [first, second].every((peer) => peer.mesh.peers.some((p) => p.id === oldId))
      );
    };
    /** Linked, and still so once every link's history was judged (a ban drops the link at once). */
    const staysLinked = async (what: string, browserId: string) => {
      await waitFor(what, () => allLinked(browserId), 30_000);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.ok(await allLinked(browserId), `${what}, and still so 3 s later`);
      for (const peer of [first, second]) assert.equal(peer.mesh.isBanned(oldId), false, "the old peer is not banned");
      assert.equal(old.mesh.isBanned(browserId), false, "the browser is not banned");
    };
    await staysLinked("the peer holding old edits to link with everyone", setup.browserId);

    // The browser reloads: a new DHT key, the same wallet and session key, an empty replica that every
    // neighbour catches up on its history.
    await page.reload();
    await page.waitForFunction(() => "seedcraftHarness" in window, undefined, { timeout: 30_000 });
    const reloadedId = (
      await page.evaluate(
        (config) => (window as unknown as { seedcraftHarness: Harness }).seedcraftHarness.start(config),
        browserConfig,
      )
    ).toLowerCase();
    assert.notEqual(reloadedId, setup.browserId);
    await staysLinked("the reloaded browser to link with every Node peer", reloadedId);
  });
});
