/**
 * Every edit ends, and a wallet asks only when the player asks: the real local world (chain, indexer, DHT,
 * gateway, tracker, app) and Chromium players. An edit made during the join sync, in a chunk another player
 * anchored while nobody could serve it yet, waits for the snapshot and ends anchored on both players; an
 * injected EIP-6963 wallet that already has an account is asked for nothing until the player clicks Join;
 * and a peer's op that no anchor covers is rolled back after the replica's bound (fake clock): not while the
 * indexer cannot say whether an anchor covers it (up to a hard cap), and in a headless Node peer too. An edit
 * whose anchor was mined as the page reloaded is listed again by the next page and ends anchored there.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { mnemonicToAccount } from "viem/accounts";
import { World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { CHUNK_SIZE, chunkCoordsOf, chunkIdOf, locateBlock } from "../../core/chunk.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { type HeadSource, IndexerHeads } from "../../p2p/heads.ts";
import { IndexBehindError } from "../../p2p/index-behind.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { PeerEditExpiry } from "../../p2p/peer-edit-expiry.ts";
import { PEER_OP_TTL_MS, RetractedOpError, WorldReplica } from "../../p2p/replica.ts";
import { type LocalClients, localClients, newPlayers } from "../helpers/chain-clients.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, inApp, joinWithDevAccount } from "../helpers/chromium.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "e2e-edits";
const PORTS = worldPorts(24000);

type Cell = [number, number, number];

const inPage = inApp;

/** Where the player's newest own edit of `cell` stands: its state, version and note. */
const ownEdit = (page: Page, cell: Cell) =>
  inPage(
    page,
    (session, where) => {
      const entry = session.edits.entries.findLast((e) => e.own && e.position.join(",") === where);
      return entry ? { state: entry.state, version: entry.version?.toString(), note: entry.note ?? "" } : null;
    },
    cell.join(","),
  );

describe("e2e: every edit ends, and the wallet asks only on a click", { timeout: 300_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let browser: Browser | undefined;
  let seed = 0;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function newPage(label: string, init?: (context: BrowserContext) => Promise<void>): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 480, height: 320 } });
    await context.grantPermissions(["microphone", "camera"]);
    await init?.(context);
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
    if (process.env.DEBUG?.includes("seedcraft"))
      page.on("console", (message) => process.stderr.write(`[${label}] ${message.text()}\n`));
    return page;
  }

  /** Stands the player on the ground at column (x, z) and waits until the chunks around are drawn. */
  async function standAt(page: Page, x: number, z: number): Promise<void> {
    const feet: Cell = [x, groundHeight(seed, x, z) + 1, z];
    await inPage(page, (session, [px, y, pz]) => session.world.controls.teleport(px + 0.5, y, pz + 0.5), feet);
    await waitFor(
      "the chunks around the player",
      async () => (await inPage(page, (session, [px, y, pz]) => session.world.getBlock(px, y, pz), feet)) !== undefined,
      20_000,
    );
  }

  /** An empty cell on solid ground within reach of the player, in chunk `chunkId` (any chunk if omitted). */
  const freeCell = (page: Page, chunkId?: bigint) =>
    inPage(
      page,
      (session, wanted) => {
        const world = session.world;
        const [px, py, pz] = world.controls.position;
        const [fx, fy, fz] = [Math.floor(px), Math.floor(py), Math.floor(pz)];
        for (let r = 1; r <= 3; r++)
          for (let dx = -r; dx <= r; dx++)
            for (let dz = -r; dz <= r; dz++) {
              if (Math.max(Math.abs(dx), Math.abs(dz)) !== r) continue;
              const [x, z] = [fx + dx, fz + dz];
              for (let y = fy + 2; y >= fy - 3; y--) {
                const below = world.getBlock(x, y - 1, z);
                if (world.getBlock(x, y, z) !== 0 || below === undefined || below === 0 || below === 5) continue;
                const inChunk =
                  wanted === null ||
                  (Math.floor(x / wanted[3]) === wanted[0] &&
                    Math.floor(y / wanted[3]) === wanted[1] &&
                    Math.floor(z / wanted[3]) === wanted[2]);
                const reach = Math.hypot(x + 0.5 - px, y + 0.5 - (py + 1.6), z + 0.5 - pz);
                if (inChunk && reach < 7 && !world.controls.body.intersectsBlock(x, y, z)) return [x, y, z] as Cell;
                break;
              }
            }
        return null;
      },
      chunkId === undefined ? null : chunkOf(chunkId),
    );

  const place = (page: Page, cell: Cell) =>
    inPage(page, (session, target) => session.game.get()?.edit("place", target, 1), cell);
  const shown = (page: Page, cell: Cell) => inPage(page, (session, [x, y, z]) => session.world.getBlock(x, y, z), cell);

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-edits-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht", "gateway", "tracker", "app"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await world?.stop();
  });

  it("an edit made during the join sync, in a chunk another player anchored, ends anchored on both", async () => {
    // A anchors a block, then leaves: nobody serves that chunk's v1 until A comes back.
    const a = await newPage("A");
    await a.goto(world.urls.app);
    await joinWithDevAccount(a);
    await standAt(a, 3, 3);
    const aCell = await freeCell(a);
    assert.ok(aCell, "a free cell next to A");
    assert.equal(await place(a, aCell), undefined);
    await waitFor("A's edit to be anchored", async () => (await ownEdit(a, aCell))?.state === "anchored", 60_000);
    const { cx, cy, cz } = locateBlock(...aCell);
    const chunkId = chunkIdOf(cx, cy, cz);
    await a.goto("about:blank");

    // B joins with no peer to sync from and builds in that chunk: its anchor on v0 loses to v1, and the
    // rebase waits for v1's snapshot instead of failing.
    const b = await newPage("B");
    await b.goto(world.urls.app);
    await joinWithDevAccount(b);
    await standAt(b, aCell[0] + 1, aCell[2] + 1);
    const bCell = await freeCell(b, chunkId);
    assert.ok(bCell, "a free cell next to B in A's chunk");
    assert.equal(await shown(b, aCell), 0, "B does not hold v1 yet: A's block is not drawn");
    assert.equal(await place(b, bCell), undefined);
    await waitFor(
      "B to lose the race to v1",
      async () => (await inPage(b, (session) => session.game.get()?.queue.stats.rebases ?? 0, null)) >= 1,
      20_000,
    );
    await b.waitForTimeout(2_000);
    const waiting = await ownEdit(b, bCell);
    assert.equal(waiting?.state, "provisional", `B's edit waits for the snapshot (${JSON.stringify(waiting)})`);
    assert.equal(await shown(b, bCell), BLOCK_IDS.stone, "and stays drawn meanwhile");

    // A comes back (same tab: its dev account and session key rejoin without a click) and serves v1.
    await a.goto(world.urls.app);
    await a.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    await waitFor(
      "B's edit to be anchored on v1",
      async () => {
        const edit = await ownEdit(b, bCell);
        assert.notEqual(edit?.state, "failed", `B's edit failed: ${JSON.stringify(edit)}`);
        return edit?.state === "anchored";
      },
      60_000,
    );
    const anchored = await ownEdit(b, bCell);
    assert.ok(Number(anchored?.version) >= 2, `B's edit is in v2 or later (v${anchored?.version})`);
    // A holds B's version; B's edit is listed there as anchored, or not at all when that version reached A
    // before the op did (the op then bounces as one the anchor covers): never left provisional.
    let seen: { state: string | null; version: number } | undefined;
    await waitFor(
      "A to hold B's anchored edit",
      async () => {
        seen = await inPage(
          a,
          (session, [where, id]) => ({
            state: session.edits.entries.findLast((e) => !e.own && e.position.join(",") === where)?.state ?? null,
            version: session.game.get()?.peer.replica.version(BigInt(id)) ?? 0,
          }),
          [bCell.join(","), chunkId.toString()] as const,
        );
        return seen.version >= Number(anchored?.version) && (seen.state === null || seen.state === "anchored");
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: A has ${JSON.stringify(seen)}`);
    });
    // What both draw is the anchored chunk: both blocks, no ghost.
    for (const page of [a, b]) {
      assert.equal(await shown(page, aCell), BLOCK_IDS.stone);
      assert.equal(await shown(page, bCell), BLOCK_IDS.stone);
    }
    const indexed = (await (await fetch(`${world.urls.indexer}/v1/chunks/${chunkId}`)).json()) as { version: number };
    assert.ok(indexed.version >= 2, `the indexer serves v${indexed.version}`);
  });

  it("an edit whose anchor was mined as the page reloaded is listed again by the next page and ends anchored", async () => {
    const page = await newPage("reload");
    await page.goto(world.urls.app);
    await joinWithDevAccount(page);
    await standAt(page, 150, 20);
    // The page cannot confirm anchors for now: the indexer's heads and the chain's logs do not reach it.
    const blockHeads = async (on: boolean) => {
      if (!on) return page.unrouteAll({ behavior: "ignoreErrors" });
      await page.route(`${world.urls.indexer}/v1/chunks/**`, (route) => route.abort());
      await page.route(`${world.urls.chain}/**`, (route) =>
        (route.request().postData() ?? "").includes("eth_getLogs") ? route.abort() : route.continue(),
      );
    };
    await blockHeads(true);
    const cell = await freeCell(page);
    assert.ok(cell, "a free cell near the player");
    assert.equal(await place(page, cell), undefined);
    await waitFor(
      "the edit's anchor to be mined",
      async () => (await ownEdit(page, cell))?.state === "anchoring",
      30_000,
    );
    await page.waitForTimeout(1_000);
    assert.equal((await ownEdit(page, cell))?.state, "anchoring", "not confirmed while the heads are blocked");
    await blockHeads(false);
    await page.reload();
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    const carried = () =>
      inPage(
        page,
        (session, where) => {
          const entry = session.edits.entries.find((e) => e.carried && e.position.join(",") === where);
          return entry ? { state: entry.state, version: entry.version?.toString() } : null;
        },
        cell.join(","),
      );
    await waitFor("the carried edit to end anchored", async () => (await carried())?.state === "anchored", 30_000);
    assert.ok(Number((await carried())?.version) >= 1);
    // What the ledger holds: our anchor, at the version the first page was told.
    const { cx, cy, cz } = locateBlock(...cell);
    const head = await new IndexerHeads(world.urls.indexer).head(chunkIdOf(cx, cy, cz));
    assert.equal(head?.version.toString(), (await carried())?.version);
  });

  it("an injected wallet with an account is asked nothing until the player clicks Join", async () => {
    // Hardhat's node holds the dev mnemonic's accounts unlocked: the wallet forwards to it as is.
    const account = mnemonicToAccount("test test test test test test test test test test test junk", {
      addressIndex: 7,
    }).address;
    const asked: string[] = [];
    const page = await newPage("wallet", async (context) => {
      await context.exposeBinding("__walletAsked", (_source, method: string) => {
        asked.push(method);
      });
      await context.addInitScript(injectedWallet, { account, rpc: world.urls.chain });
    });
    await page.goto(world.urls.app);
    await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
    // It reconnects by itself (EIP-6963, an account already shared) and then waits for a click.
    await page.locator('[data-testid="wallet-status"][data-state="connected"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="join-status"][data-state="confirm"]').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(2_000);
    assert.deepEqual(asked, [], "nothing asked of the wallet before the click");

    await page.getByTestId("join-button").click();
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    assert.deepEqual(
      asked,
      ["eth_sendTransaction"],
      "one transaction after the click: the session key's authorization",
    );

    // A reload rejoins with the session key it authorized: no click, and nothing asked.
    await page.reload();
    await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
    assert.deepEqual(asked, ["eth_sendTransaction"], "the rejoin asks the wallet nothing");
    assert.deepEqual(pageErrors, []);
  });

  it("a peer's op no anchor covers is rolled back after the bound, and not taken again", async () => {
    const [author] = await newPlayers(clients, world.urls.indexer, 1);
    assert.ok(author);
    let now = Date.now();
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const replica = (clock: () => number) =>
      new WorldReplica({ domain, seed, ledger: new IndexerLedger(world.urls.indexer), now: clock });
    const theirs = replica(() => now);
    const ours = replica(() => now);
    const { cx, cy, cz, index } = locateBlock(40, groundHeight(seed, 40, 40) + 1, 40);
    const chunk = chunkIdOf(cx, cy, cz);
    const terrain = ours.chunk(chunk).blocks.slice();
    const { op: kept } = await theirs.edit(author.wallet.address, author.session, chunk, index, BLOCK_IDS.stone);
    // A millisecond apart: the conflict fold's clock keys do not tell logical counters of one millisecond apart.
    now += 5;
    const { op: dropped } = await theirs.edit(author.wallet.address, author.session, chunk, index + 1, BLOCK_IDS.stone);
    for (const op of [kept, dropped]) assert.equal((await ours.receiveOp(op)).status, "applied");
    // An anchor covers the first only (its watermark is the first op's stamp).
    const snapshot = terrain.slice();
    snapshot[index] = BLOCK_IDS.stone;
    const retracted: number[] = [];
    ours.onRetracted((op) => retracted.push(op.index));

    now += PEER_OP_TTL_MS - 1_000;
    assert.deepEqual(ours.stale(), [], "nothing is stale before the bound");
    ours.anchor(chunk, 1, snapshot, kept.hlc);
    now += 2_000;
    const stale = ours.stale();
    assert.deepEqual(
      stale.map((op) => op.index),
      [index + 1],
      "past the bound, only the op no anchor covers is stale",
    );
    assert.equal(ours.retract(stale[0] as never), true);
    assert.deepEqual(retracted, [index + 1]);
    assert.equal(ours.chunk(chunk).blocks[index], BLOCK_IDS.stone, "the anchored op stays");
    assert.equal(ours.chunk(chunk).blocks[index + 1], terrain[index + 1], "the rolled-back block shows the base");
    assert.equal(ours.stale().length, 0);
    assert.ok(!ours.history(() => true).some((op) => op.index === index + 1), "newcomers are not sent it");
    const again = await ours.receiveOp(dropped);
    assert.equal(again.status, "rejected");
    assert.equal(again.status === "rejected" ? again.code : "", "RETRACTED");
  });

  it("an op waits out an indexer that cannot say whether an anchor covers it, up to a hard cap", async () => {
    const [author] = await newPlayers(clients, world.urls.indexer, 1);
    assert.ok(author);
    let now = Date.now();
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const replica = () =>
      new WorldReplica({ domain, seed, ledger: new IndexerLedger(world.urls.indexer), now: () => now });
    const theirs = replica();
    const ours = replica();
    const { cx, cy, cz, index } = locateBlock(56, groundHeight(seed, 56, 56) + 1, 56);
    const chunk = chunkIdOf(cx, cy, cz);
    // The indexer is behind (then answers again): a HeadSource whose head() rejects as IndexerHeads does then.
    let behind = true;
    const real = new IndexerHeads(world.urls.indexer);
    const heads: HeadSource = {
      regions: (regions) => real.regions(regions),
      head: async (id) => {
        if (behind) throw new IndexBehindError({ indexed: 10, head: 20, lag: 10 }, `${world.urls.indexer}/v1/chunks`);
        return await real.head(id);
      },
    };
    const expiry = new PeerEditExpiry({ replica: ours, heads, everyMs: 3_600_000 });
    try {
      const { op: first } = await theirs.edit(author.wallet.address, author.session, chunk, index, BLOCK_IDS.stone);
      assert.equal((await ours.receiveOp(first)).status, "applied");
      now += PEER_OP_TTL_MS + 1_000;
      await expiry.check();
      assert.equal(ours.stale(0).length, 1, "the indexer could not say: the op stays for the next pass");
      assert.equal(ours.chunk(chunk).blocks[index], BLOCK_IDS.stone);
      behind = false;
      await expiry.check();
      assert.equal(ours.stale(0).length, 0, "the indexer says no anchor covers it: rolled back");

      // An indexer that never answers again: the op still ends, at the hard cap (5 × the bound).
      behind = true;
      now += 5;
      const { op: second } = await theirs.edit(
        author.wallet.address,
        author.session,
        chunk,
        index + 1,
        BLOCK_IDS.stone,
      );
      assert.equal((await ours.receiveOp(second)).status, "applied");
      now += 4 * PEER_OP_TTL_MS;
      await expiry.check();
      assert.equal(ours.stale(0).length, 1, "before the hard cap it waits");
      now += PEER_OP_TTL_MS + 1_000;
      await expiry.check();
      assert.equal(ours.stale(0).length, 0, "past the hard cap it is rolled back");
      const again = await ours.receiveOp(second);
      assert.equal(again.status === "rejected" ? again.code : again.status, new RetractedOpError().code);
    } finally {
      expiry.destroy();
    }
  });

  it("a headless Node peer's provisional ops age out after the bound (its WorldPeer runs the expiry)", async () => {
    const [author, host] = await newPlayers(clients, world.urls.indexer, 2);
    assert.ok(author && host);
    let now = Date.now();
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const theirs = new WorldReplica({ domain, seed, ledger: new IndexerLedger(world.urls.indexer), now: () => now });
    const peer = await NodePeer.start({
      bootstrap: [world.urls.dht],
      domain,
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: host.wallet.address,
      sessionKey: host.session,
      name: "expiry-host",
      position: [64.5, groundHeight(seed, 64, 64) + 1, 64.5],
      now: () => now,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const { cx, cy, cz, index } = locateBlock(64 + i, groundHeight(seed, 64 + i, 66) + 1, 66);
        now += 5;
        const { op } = await theirs.edit(
          author.wallet.address,
          author.session,
          chunkIdOf(cx, cy, cz),
          index,
          BLOCK_IDS.stone,
        );
        assert.equal((await peer.replica.receiveOp(op)).status, "applied");
      }
      await peer.expiry.check();
      assert.equal(peer.replica.stale(0).length, 3, "within the bound, the ops stay provisional");
      now += PEER_OP_TTL_MS + 1_000;
      await peer.expiry.check();
      assert.equal(peer.replica.stale(0).length, 0, "past the bound, the Node peer's provisional set is empty");
    } finally {
      await peer.stop();
    }
  });
});

/**
 * An EIP-6963 wallet that already shares `account` with the page: it answers eth_accounts itself, tells the
 * test (window.__walletAsked) of every request that would ask its user something, and forwards the rest, and
 * the transactions, to the local chain (whose node holds the account unlocked). Runs in the page.
 */
/** A chunk's coordinates and size, for code that runs in the page. */
function chunkOf(chunkId: bigint): [number, number, number, number] {
  const { cx, cy, cz } = chunkCoordsOf(chunkId);
  return [cx, cy, cz, CHUNK_SIZE];
}

function injectedWallet({ account, rpc }: { account: string; rpc: string }): void {
  const ASKING =
    /^(eth_sendTransaction|eth_sign|personal_sign|eth_signTypedData.*|eth_requestAccounts|wallet_(switch|add|request|watch|send).*)$/;
  const tell = (window as unknown as { __walletAsked: (method: string) => Promise<void> }).__walletAsked;
  let id = 0;
  const forward = async (method: string, params: unknown) => {
    const response = await fetch(rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
    });
    const body = (await response.json()) as { result?: unknown; error?: { code: number; message: string } };
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
    return body.result;
  };
  const provider = {
    async request({ method, params }: { method: string; params?: unknown }): Promise<unknown> {
      if (ASKING.test(method)) await tell(method);
      if (method === "eth_accounts" || method === "eth_requestAccounts") return [account];
      if (method === "wallet_switchEthereumChain") return null;
      if (method === "wallet_requestPermissions" || method === "wallet_getPermissions")
        return [{ parentCapability: "eth_accounts" }];
      return await forward(method, params);
    },
    on() {},
    removeListener() {},
  };
  const info = {
    uuid: "5b7d8a2e-0c3f-4a41-9d53-7a0d6c1e2f10",
    name: "Test Wallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E",
    rdns: "org.seedcraft.test-wallet",
  };
  const announce = () =>
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}
