/**
 * The game end to end, as players see it: the real local world on 127.0.0.1 (chain and contracts, indexer, DHT,
 * gateway, tracker, the app's dev server), a Node seeder (`seedcraft seed`), and two players in two Chromium
 * contexts who connect the local dev account. The stages run in order, each on the state the last one left,
 * and each leaves a screenshot of both players under test-results/game/.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createTestClient, type Hex, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { displayName } from "../../app/src/hud/format.ts";
import type { Session } from "../../app/src/session.ts";
import { advanceToNextEpoch } from "../../cli/local-chain.ts";
import { ROOT, World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { chunkIdOf, locateBlock } from "../../core/chunk.ts";
import type { Position } from "../../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { authorizeSessionKey, type LocalClients, localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import {
  CHROMIUM_ARGS,
  chromiumPath,
  INSTALL_COMMAND,
  inApp,
  joinWithDevAccount,
  newestOwnEditAnchored,
} from "../helpers/chromium.ts";
import { type RunningCli, runCli, waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "e2e-game";
const PORTS = worldPorts(10000);
const SHOTS = path.join(ROOT, "test-results", "game");

type Player = { label: string; context: BrowserContext; page: Page; peerId: string; wallet: string; name: string };

/** Runs `fn` in the player's page with the app's session (fn is serialized: it sees only its argument). */
function inPage<A, R>(player: Player, fn: (session: Session, arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return inApp(player.page, fn, arg);
}

describe("e2e: two players in Chromium, a Node seeder, the whole local world", { timeout: 600_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let browser: Browser | undefined;
  let seederCli: RunningCli | undefined;
  let tieMaker: NodePeer | undefined;
  const seederDir = mkdtempSync(path.join(os.tmpdir(), "seedcraft-game-seeder-"));
  const players: Player[] = [];
  const pageErrors: string[] = [];
  let seed = 0;
  /** The two sand blocks the race anchored (stage 3): blocks that only the chunk's anchored versions hold. */
  let sandCells: [number, number, number][] = [];

  const shot = async (stage: string) => {
    for (const player of players)
      if (!player.page.isClosed())
        await player.page.screenshot({ path: path.join(SHOTS, `${stage}-${player.label}.png`) });
  };

  async function openPlayer(label: string): Promise<Player> {
    const context = await (browser as Browser).newContext({ viewport: { width: 720, height: 440 } });
    await context.grantPermissions(["microphone", "camera"]);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
    page.on("crash", () => pageErrors.push(`${label}: the page crashed`));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`${label} console: ${message.text()}`);
      if (process.env.DEBUG?.includes("seedcraft")) process.stderr.write(`[${label}] ${message.text()}\n`);
    });
    const player = { label, context, page, peerId: "", wallet: "", name: "" };
    await enter(player);
    return player;
  }

  /** Loads the app, connects the dev account (once per tab: a reload reconnects by itself) and waits to join. */
  async function enter(player: Player): Promise<void> {
    const { page } = player;
    await page.goto(world.urls.app);
    await joinWithDevAccount(page);
    const facts = await inPage(
      player,
      (session) => {
        const game = session.game.get();
        return {
          peerId: game?.peer.id ?? "",
          wallet: game?.peer.mesh.identity.wallet ?? "",
          name: game?.peer.mesh.identity.name ?? "",
        };
      },
      null,
    );
    Object.assign(player, facts);
  }

  /** The names of the peers a player is linked with. */
  const peerNames = (player: Player) =>
    inPage(player, (session) => session.game.get()?.peer.mesh.peers.map((p) => p.name) ?? [], null);

  /** Waits up to 60 s for the player's join sync to be done; if it is not, says where it stood. */
  async function syncDone(player: Player, label: string) {
    const sync = player.page.locator('[data-testid="sync-status"][data-state="done"]');
    await sync.waitFor({ timeout: 60_000 }).catch(async (error: Error) => {
      const status = await player.page.getByTestId("sync-status").textContent();
      const peers = (await peerNames(player)).join(", ") || "none";
      throw new Error(`${error.message}; ${label}'s sync: ${status}; ${label}'s peers: ${peers}`);
    });
    return sync;
  }

  /** Puts the player on the ground at column (x, z), looking at (lx, ly, lz). */
  const standAt = (player: Player, x: number, z: number) =>
    inPage(
      player,
      (session, [px, pz, y]) => {
        session.world.controls.teleport(px + 0.5, y, pz + 0.5);
      },
      [x, z, groundHeight(seed, x, z) + 1] as const,
    );

  /**
   * `count` empty cells resting on solid ground next to where the player stands, within reach and clear of
   * its body: players spawn at random spots, where trees or earlier blocks may stand.
   */
  const freeCellsNear = (player: Player, count: number) =>
    inPage(
      player,
      (session, wanted) => {
        const world = session.world;
        const [px, py, pz] = world.controls.position;
        const [fx, fy, fz] = [Math.floor(px), Math.floor(py), Math.floor(pz)];
        const cells: [number, number, number][] = [];
        for (let r = 1; r <= 3 && cells.length < wanted; r++)
          for (let dx = -r; dx <= r && cells.length < wanted; dx++)
            for (let dz = -r; dz <= r && cells.length < wanted; dz++) {
              if (Math.max(Math.abs(dx), Math.abs(dz)) !== r) continue;
              const [x, z] = [fx + dx, fz + dz];
              for (let y = fy + 2; y >= fy - 3; y--) {
                const below = world.getBlock(x, y - 1, z);
                if (world.getBlock(x, y, z) !== 0 || below === undefined || below === 0 || below === 5) continue;
                const reach = Math.hypot(x + 0.5 - px, y + 0.5 - (py + 1.6), z + 0.5 - pz);
                if (reach < 7 && !world.controls.body.intersectsBlock(x, y, z)) cells.push([x, y, z]);
                break;
              }
            }
        return cells;
      },
      count,
    );

  before(async () => {
    const executablePath = chromiumPath();
    assert.ok(executablePath, `Chromium is missing: run \`${INSTALL_COMMAND}\``);
    mkdirSync(SHOTS, { recursive: true });
    // Premium blocks cost 0.01 energy here: what one seeded piece earns (one energy a MiB).
    process.env.SEEDCRAFT_DEPLOY_PARAMETERS = JSON.stringify({ premiumPrice: (10n ** 16n).toString() });
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-game-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht", "gateway", "tracker", "app"],
      ports: PORTS,
    });
    await world.start();
    delete process.env.SEEDCRAFT_DEPLOY_PARAMETERS;
    clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    seederCli = runCli(
      ["seed", "--cache", seederDir, "--bootstrap", world.urls.dht, "--trackers", world.urls.tracker],
      {
        ...process.env,
        SEEDCRAFT_NETWORK: NETWORK,
        SEEDCRAFT_RPC_URL: world.urls.chain,
        SEEDCRAFT_INDEXER_URL: world.urls.indexer,
        // What it synced and fetched, for the failure messages below (they print the tail of its stderr).
        DEBUG: process.env.DEBUG ?? "seedcraft:sync,seedcraft:torrents",
      },
    );
    await waitFor("the seeder to join", () => /seeder \S+ as 0x/.test(seederCli?.stdout() ?? ""), 60_000);
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Host candidates as plain addresses: the Node seeder cannot resolve mDNS names.
      args: [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"],
    });
  });

  after(async () => {
    await tieMaker?.stop();
    await browser?.close();
    if (seederCli && seederCli.child.exitCode === null) {
      seederCli.child.kill("SIGTERM");
      await seederCli.exited;
    }
    // What the seeder said (its sync and torrent log included), for a look after a failure.
    if (seederCli) writeFileSync(path.join(SHOTS, "seeder.log"), `${seederCli.stdout()}\n${seederCli.stderr()}`);
    await world?.stop();
    releaseWebRtc();
  });

  it("both players connect, see each other move, and chat", async () => {
    players.push(await openPlayer("A"), await openPlayer("B"));
    const [a, b] = players as [Player, Player];
    await waitFor(
      "A and B to link",
      async () => (await peerNames(a)).includes(b.name) && (await peerNames(b)).includes(a.name),
      60_000,
    );
    await b.page.locator('[data-testid="peer-row"]').first().waitFor();

    // A walks forward for a while; B's avatar of A follows to where A stopped.
    await standAt(a, 3, 3);
    await inPage(a, (session) => session.world.controls.setLook(0, -0.3), null);
    await inPage(
      a,
      (session) => {
        session.world.controls.input.forward = true;
      },
      null,
    );
    // Until A has gone past a block and a half (about 0.4 s at walking speed; longer when the page's frames
    // come slowly on a loaded machine, since a frame steps the body by a bounded time).
    await waitFor(
      "A to walk a block and a half",
      async () => ((await inPage(a, (session) => session.world.controls.position[2], null)) as number) < 2,
      10_000,
    ).catch(() => undefined);
    await inPage(
      a,
      (session) => {
        session.world.controls.input.forward = false;
      },
      null,
    );
    const walkedTo = await inPage(a, (session) => [...session.world.controls.position] as number[], null);
    assert.ok((walkedTo[2] as number) < 3.5 - 1, `A walked towards −z (is at ${walkedTo.join(", ")})`);
    await waitFor(
      "B to draw A where A stopped",
      async () => {
        const shown = await inPage(b, (session, id) => session.world.avatars.shownAt(id) ?? null, a.peerId);
        return (
          shown !== null && Math.hypot(shown[0] - (walkedTo[0] as number), shown[2] - (walkedTo[2] as number)) < 0.5
        );
      },
      10_000,
    );

    // Chat both ways, through the chat box.
    await a.page.getByTestId("chat-input").fill("hello from A");
    await a.page.getByTestId("chat-input").press("Enter");
    await b.page.locator('[data-testid="chat-line"]', { hasText: "hello from A" }).waitFor({ timeout: 10_000 });
    await b.page.getByTestId("chat-input").fill("hi A, B here");
    await b.page.getByTestId("chat-input").press("Enter");
    await a.page.locator('[data-testid="chat-line"]', { hasText: "hi A, B here" }).waitFor({ timeout: 10_000 });
    // Attributed to A by its name and the start of its wallet, as the chat names every player.
    assert.equal(
      await b.page.locator('[data-testid="chat-line"]').first().getAttribute("data-from"),
      displayName(a.name, a.wallet),
    );
    await shot("1-join-move-chat");
  });
  it("A places blocks; B sees them, and both see them anchored and accepted", async () => {
    const [a, b] = players as [Player, Player];
    // One place through the mouse: a click takes the pointer, a right click places at the crosshair.
    // Looking down ahead: the crosshair meets the ground about two blocks away (not where A stands).
    await inPage(a, (session) => session.world.controls.setLook(0, -0.65), null);
    await a.page.waitForTimeout(200);
    const canvas = a.page.getByTestId("world-canvas");
    const box = await canvas.boundingBox();
    assert.ok(box);
    await a.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await a.page.waitForFunction(() => document.pointerLockElement !== null, undefined, { timeout: 5000 });
    await a.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2, { button: "right" });
    const first = a.page.locator('[data-testid="edit-status"][data-own="true"]').first();
    await first.waitFor({ timeout: 10_000 });
    const firstState = await first.getAttribute("data-state");
    assert.ok(
      firstState === "provisional" || firstState === "anchoring",
      `the edit shows at once, before it is anchored (was ${firstState})`,
    );
    await waitFor("the edit's first frame", async () => (await first.getAttribute("data-apply-ms")) !== null, 5_000);
    const applyMs = Number(await first.getAttribute("data-apply-ms"));
    assert.ok(applyMs >= 0 && applyMs < 1000, `and is on screen within a second of the click (${applyMs} ms)`);
    // Two more through the game, as a click would make them: next to where A stands.
    const cells = await freeCellsNear(a, 2);
    assert.equal(cells.length, 2, "free cells next to A");
    for (const cell of cells) {
      const refused = await inPage(a, (session, target) => session.game.get()?.edit("place", target, 1), cell);
      assert.equal(refused, undefined, `A may place at ${cell.join(",")}`);
    }
    await waitFor(
      "A's three edits to be anchored",
      async () =>
        (await a.page.locator('[data-testid="edit-status"][data-own="true"][data-state="anchored"]').count()) === 3,
      60_000,
    );
    // B draws them, and lists them as A's, accepted once the indexer confirmed the anchored version.
    for (const cell of cells)
      await waitFor(
        `B to see stone at ${cell.join(",")}`,
        async () =>
          (await inPage(b, (session, [x, y, z]) => session.world.getBlock(x, y, z), cell)) === BLOCK_IDS.stone,
        10_000,
      );
    await waitFor(
      "B to accept A's edits",
      async () =>
        (await b.page.locator('[data-testid="edit-status"][data-own="false"][data-state="anchored"]').count()) >= 3,
      30_000,
    );
    // The ledger and the indexer agree with what A anchored.
    const chunkId = BigInt((await first.getAttribute("data-chunk-id")) ?? "-1");
    const version = Number(await first.getAttribute("data-version"));
    const ledger = clients.deployment.contracts.ChunkLedger;
    const onChain = await clients.publicClient.readContract({
      address: ledger.address,
      abi: ledger.abi,
      functionName: "versionOf",
      args: [chunkId],
    });
    assert.ok(Number(onChain) >= version && version >= 1);
    const indexed = (await (await fetch(`${world.urls.indexer}/v1/chunks/${chunkId}`)).json()) as { version: number };
    assert.equal(indexed.version, Number(onChain));

    // B builds something too (it will have anchored before the next seeding epoch: its receipts count then).
    const [bCell] = await freeCellsNear(b, 1);
    assert.ok(bCell, "a free cell next to B");
    assert.equal(await inPage(b, (session, target) => session.game.get()?.edit("place", target, 9), bCell), undefined);
    await b.page
      .locator('[data-testid="edit-status"][data-own="true"][data-state="anchored"]')
      .first()
      .waitFor({ timeout: 60_000 });
    await shot("2-blocks-anchored");
  });

  it("both anchor the same chunk at once: the loser of the race rebases on the winner's snapshot", async () => {
    const [a, b] = players as [Player, Player];
    // Two cells of one chunk, one by each player, edited at the same millisecond: both anchor queues snapshot
    // the chunk on the same version, one transaction wins and the other reverts with StaleChunkVersion.
    const [x, z] = [6, 6];
    await standAt(a, x + 2, z);
    await standAt(b, x - 2, z);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cells = [-1, 1].map((dz) => [x, groundHeight(seed, x, z + dz) + 1, z + dz] as [number, number, number]);
    sandCells = cells;
    // Each queue waits 400 ms before it anchors, by then holding the other's op too; whichever is a little
    // later could see the first's anchor land and have nothing left to send. Blocks wait for the test
    // instead: both transactions go to the mempool, then one block mines them, and the second loses.
    const testClient = createTestClient({ mode: "hardhat", transport: http(world.urls.chain) });
    const queueStats = () =>
      Promise.all(
        players.map((p) => inPage(p, (s) => ({ ...(s.game.get()?.queue.stats ?? { batches: 0, rebases: 0 }) }), null)),
      );
    const before = await queueStats();
    await testClient.setAutomine(false);
    let mined = false;
    const mineBoth = async () => {
      try {
        await waitFor(
          "both anchor queues to send",
          async () => (await queueStats()).every((stats, i) => stats.batches > (before[i]?.batches ?? 0)),
          20_000,
        );
        // Both in the mempool (or the second already refused by its gas estimate against the first).
        await waitFor(
          "both anchors to wait in the mempool",
          async () => {
            const pending = await clients.publicClient.getBlock({ blockTag: "pending" });
            const rebased = (await queueStats()).some((stats, i) => stats.rebases > (before[i]?.rebases ?? 0));
            return pending.transactions.length >= 2 || rebased;
          },
          10_000,
        );
        await testClient.mine({ blocks: 1 });
        mined = true;
      } finally {
        await testClient.setAutomine(true);
      }
    };
    const mining = mineBoth();
    const at = Date.now() + 400;
    await Promise.all(
      players.map((p, i) =>
        inPage(
          p,
          (s, [target, startAt]) =>
            new Promise<void>((resolve) =>
              setTimeout(() => {
                void s.game.get()?.edit("place", target, 4);
                resolve();
              }, startAt - Date.now()),
            ),
          [cells[i] as [number, number, number], at] as const,
        ),
      ),
    );
    const stateOf = (p: Player, cell: [number, number, number]) =>
      inPage(
        p,
        (s, where) => s.edits.entries.findLast((e) => e.own && e.position.join(",") === where)?.state,
        cell.join(","),
      );
    await mining;
    assert.ok(mined);
    await waitFor(
      "both edits to be anchored",
      async () =>
        (await stateOf(a, cells[0] as never)) === "anchored" && (await stateOf(b, cells[1] as never)) === "anchored",
      60_000,
    ).catch(async (error: Error) => {
      const notes = await Promise.all(
        players.map((p) =>
          inPage(
            p,
            (s) => s.edits.entries.filter((e) => e.own).map((e) => `${e.state}: ${e.note ?? ""} ${e.reason ?? ""}`),
            null,
          ),
        ),
      );
      throw new Error(`${error.message}; ${JSON.stringify(notes)}; queues ${JSON.stringify(await queueStats())}`);
    });
    const rebases = await Promise.all(
      players.map((p) => inPage(p, (s) => s.game.get()?.queue.stats.rebases ?? 0, null)),
    );
    assert.ok(
      (rebases[0] as number) + (rebases[1] as number) >= 1,
      `one of them lost the race and rebased (${rebases})`,
    );
    // Both see both blocks, and agree with the ledger on the chunk.
    for (const p of players)
      for (const cell of cells)
        assert.equal(await inPage(p, (s, [cx, cy, cz]) => s.world.getBlock(cx, cy, cz), cell), BLOCK_IDS.sand);
    await shot("2b-race-rebased");
  });

  it("the same block edited at the same instant by both bounces back for both", async () => {
    const [a, b] = players as [Player, Player];
    // A Node player whose clock runs 20 s ahead (a fake clock): its op moves both browsers' clocks to the same
    // stamp, so their next ops carry the same (wallMs, logical) — an exact tie.
    const wallet = privateKeyToAccount(generatePrivateKey());
    const sessionKey = privateKeyToAccount(generatePrivateKey());
    await waitForIndexedBlock(world.urls.indexer, await authorizeSessionKey(clients, sessionKey, wallet, 86_400));
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const cSpot: Position = [-4.5, groundHeight(seed, -5, -5) + 1, -4.5];
    const ahead = await NodePeer.start({
      bootstrap: [world.urls.dht],
      domain,
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: wallet.address,
      sessionKey,
      name: "clock-ahead",
      position: cSpot,
      discoverEveryMs: 300,
      now: () => Date.now() + 20_000,
    });
    tieMaker = ahead;
    await waitFor(
      "both browsers to link with the Node player",
      async () => (await peerNames(a)).includes("clock-ahead") && (await peerNames(b)).includes("clock-ahead"),
      60_000,
    );
    // Both stand by the contested column, and have told each other so.
    const [x, z] = [-1, -6];
    await standAt(a, x + 2, z);
    await standAt(b, x - 2, z);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    let tied = false;
    const tries: string[] = [];
    for (let attempt = 0; attempt < 8 && !tied; attempt++) {
      const cell: [number, number, number] = [x, groundHeight(seed, x, z) + 1 + attempt, z];
      // The Node player edits next to itself (placing, then taking away); both browsers merge its stamp.
      const { cx, cy, cz, index } = locateBlock(
        Math.floor(cSpot[0]) + 1,
        Math.floor(cSpot[1]) + 1,
        Math.floor(cSpot[2]),
      );
      const { op } = await ahead.mesh.edit(
        chunkIdOf(cx, cy, cz),
        index,
        attempt % 2 === 0 ? BLOCK_IDS.brick : BLOCK_IDS.air,
      );
      await waitFor(
        "both browsers to merge the Node player's stamp",
        async () => {
          const clocks = await Promise.all(
            players.map((p) => inPage(p, (s) => s.game.get()?.peer.replica.clock.last.wallMs ?? 0, null)),
          );
          return clocks.every((wallMs) => wallMs >= op.hlc.wallMs);
        },
        10_000,
      );
      // Both place at the same instant (the same wall-clock millisecond, scheduled in each page).
      const at = Date.now() + 400;
      await Promise.all(
        players.map((p, i) =>
          inPage(
            p,
            (s, [target, startAt, block]) =>
              new Promise<void>((resolve) =>
                setTimeout(() => {
                  void s.game.get()?.edit("place", target, block);
                  resolve();
                }, startAt - Date.now()),
              ),
            [cell, at, i === 0 ? BLOCK_IDS.stone : BLOCK_IDS.dirt] as const,
          ),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const states = await Promise.all(
        players.map((p) =>
          inPage(
            p,
            (s, where) =>
              s.edits.entries
                .filter((e) => e.own && e.position.join(",") === where)
                .map((e) => `${e.state}|${e.reason ?? ""}`),
            cell.join(","),
          ),
        ),
      );
      tries.push(states.map((list) => list.join(" / ")).join(" ‖ "));
      tied = states.every(
        (list) => list.length === 1 && (list[0] as string).startsWith("bounced|") && /tie/.test(list[0] as string),
      );
      if (tied)
        // Neither edit stands anywhere: the cell keeps its value from before.
        for (const p of players)
          assert.equal(
            await inPage(p, (s, [wx, wy, wz]) => s.world.getBlock(wx, wy, wz), cell),
            BLOCK_IDS.air,
            `${p.label} keeps the cell empty`,
          );
    }
    assert.ok(tied, `an exact tie happened within 8 attempts, and bounced both edits: ${tries.join("; ")}`);
    await b.page.locator('[data-testid="edit-status"][data-state="bounced"]').first().waitFor();
    await shot("3-tie-bounced");
  });
  it("B comes back after a while and gets the world back from its cache and over torrents", async () => {
    const [a, b] = players as [Player, Player];
    await tieMaker?.stop();
    tieMaker = undefined;
    // A new seeding epoch: B built something in the last one, so from now on its receipts count.
    await advanceToNextEpoch(clients);
    // B leaves; meanwhile A builds on a chunk B holds, and the seeder picks up the new version.
    await b.page.goto("about:blank");
    const [cell] = await freeCellsNear(a, 1);
    assert.ok(cell, "a free cell next to A");
    assert.equal(await inPage(a, (session, target) => session.game.get()?.edit("place", target, 6), cell), undefined);
    const { chunkId, version } = await newestOwnEditAnchored(a.page);
    // The seeder heard of it from A (chunk metadata), or on its next round of reading the ledger's heads
    // around it (every 15 s), and fetched it: its cache holds the file.
    const file = path.join(seederDir, "cache", "chunks", `${chunkId.toString(16)}-${version}.chunk`);
    await waitFor("the seeder to cache the new version", () => existsSync(file), 30_000).catch(async (error: Error) => {
      const held = existsSync(path.dirname(file)) ? readdirSync(path.dirname(file)).join(" ") : "no chunks yet";
      const links = (await peerNames(a)).join(", ");
      throw new Error(
        `${error.message}: wanted ${path.basename(file)}, cache holds ${held}; A links ${links}\n` +
          `${seederCli?.stdout().slice(-600)}\n${seederCli?.stderr().slice(-3000)}`,
      );
    });
    if (/kept up around/.test(seederCli?.stderr() ?? ""))
      process.stderr.write("game: the seeder missed A's chunk metadata, and caught up reading the ledger's heads\n");
    // A leaves too: what B lacks now comes from the seeder.
    await a.page.goto("about:blank");
    await enter(b);
    const sync = await syncDone(b, "B");
    const fromCache = Number(await sync.getAttribute("data-from-cache"));
    const fetched = Number(await sync.getAttribute("data-fetched"));
    const counts = `${await sync.textContent()}`;
    assert.ok(fromCache >= 1, `B loads what it cached from IndexedDB (${counts})`);
    assert.ok(fetched >= 1, `B fetches the version it missed over torrents (${counts})`);
    await waitFor(
      "B to draw A's newest block",
      async () => (await inPage(b, (session, [x, y, z]) => session.world.getBlock(x, y, z), cell)) === BLOCK_IDS.wood,
      20_000,
    );
    // What the seeder sent, B signed receipts for, and the seeder acknowledged them.
    await waitFor(
      "B's receipts to be acknowledged",
      async () => Number(await b.page.getByTestId("seeding-status").getAttribute("data-receipts-acked")) >= 1,
      20_000,
    );
    await shot("4-reload-cache-torrents");
  });
  it("seeding pays: the seeder claims its receipts, A claims its own and spends energy on a premium block", async () => {
    const [a, b] = players as [Player, Player];
    // A comes back while B plays on, and catches up on what it missed.
    await enter(a);
    await waitFor("A and B to link again", async () => (await peerNames(b)).includes(a.name), 60_000);
    await syncDone(a, "A");
    // The seeder stops (it served B in the last stage, and claims that below): from now on only A can serve A's
    // new versions, so B's receipts for them name A.
    const seederCount = /receipts (\d+)/.exec(seederCli?.stdout() ?? "");
    seederCli?.child.kill("SIGTERM");
    await seederCli?.exited;
    // B leaves; meanwhile A builds two glass blocks beside the race's sand. A peer that holds a chunk and hears
    // the ops of its next version rebuilds that version instead of fetching it: B must come back fresh, with
    // no op of the sand (A's own page, reloaded, never held them either), so that its join sync must fetch.
    await b.page.goto("about:blank");
    await standAt(a, 8, 6);
    const sandChunks = new Set(
      sandCells.map(([x, y, z]) => {
        const { cx, cy, cz } = locateBlock(x, y, z);
        return chunkIdOf(cx, cy, cz);
      }),
    );
    const inSandChunk = ([x, y, z]: [number, number, number]) => {
      const { cx, cy, cz } = locateBlock(x, y, z);
      return sandChunks.has(chunkIdOf(cx, cy, cz));
    };
    const near = await freeCellsNear(a, 48);
    const [glass1, glass2] = near.filter(inSandChunk);
    const goldCell = near.find((cell) => cell !== glass1 && cell !== glass2);
    assert.ok(glass1 && glass2 && goldCell, `free cells next to A, two in the sand's chunk (${near.length} free)`);
    const glassChunk = (() => {
      const { cx, cy, cz } = locateBlock(...glass1);
      return chunkIdOf(cx, cy, cz);
    })();
    for (const cell of [glass1, glass2])
      assert.equal(await inPage(a, (session, target) => session.game.get()?.edit("place", target, 8), cell), undefined);
    await waitFor(
      "A's glass to be anchored",
      async () =>
        (await inPage(
          a,
          (session, wanted) =>
            session.edits.entries.filter(
              (e) => e.own && wanted.includes(e.position.join(",")) && e.state === "anchored",
            ).length,
          [glass1.join(","), glass2.join(",")],
        )) === 2,
      60_000,
    );
    const ledger = clients.deployment.contracts.ChunkLedger;
    const glassVersion = Number(
      await clients.publicClient.readContract({
        address: ledger.address,
        abi: ledger.abi,
        functionName: "versionOf",
        args: [glassChunk],
      }),
    );
    assert.ok(glassVersion >= 2, `the glass went on a chunk anchored before (v${glassVersion})`);
    await waitFor(
      "the indexer to show the glass's version",
      async () =>
        ((await (await fetch(`${world.urls.indexer}/v1/chunks/${glassChunk}`)).json()) as { version: number })
          .version >= glassVersion,
      20_000,
    );

    // B comes back: its join sync fetches the glass's version from A, the only peer holding it, and signs
    // receipts for A's wallet.
    const collected = a.page.getByTestId("receipts-collected");
    const receiptsBefore = Number(await collected.getAttribute("data-count"));
    await enter(b);
    const sync = await syncDone(b, "B");
    assert.ok(
      Number(await sync.getAttribute("data-fetched")) >= 1,
      `B fetches the version it missed from A (${await sync.textContent()})`,
    );
    await waitFor(
      "B to draw A's glass",
      async () =>
        (await inPage(b, (session, [x, y, z]) => session.world.getBlock(x, y, z), glass1)) === BLOCK_IDS.glass,
      20_000,
    );
    await waitFor(
      "A to collect receipts from B",
      async () => Number(await collected.getAttribute("data-count")) > receiptsBefore,
      60_000,
    );

    // The seeder claims what it served this epoch (the chain's clock moves on to end the epoch).
    const walletKey = (JSON.parse(readFileSync(path.join(seederDir, "seeder.json"), "utf8")) as { walletKey: Hex })
      .walletKey;
    const seederWallet = privateKeyToAccount(walletKey).address;
    const energy = clients.deployment.contracts.EnergyToken;
    const balanceOf = async (address: string) =>
      (await clients.publicClient.readContract({
        address: energy.address,
        abi: energy.abi,
        functionName: "balanceOf",
        args: [address],
      })) as bigint;
    assert.equal(await balanceOf(seederWallet), 0n);
    const claim = runCli(["claim", "--cache", seederDir, "--advance-time"], {
      ...process.env,
      SEEDCRAFT_NETWORK: NETWORK,
      SEEDCRAFT_RPC_URL: world.urls.chain,
      SEEDCRAFT_INDEXER_URL: world.urls.indexer,
    });
    assert.equal(
      await claim.exited,
      0,
      `seedcraft claim failed (${seederCount?.[0]}):\n${claim.stdout()}\n${claim.stderr()}`,
    );
    assert.match(claim.stdout(), /claimed \d+\.\d+ energy/);
    assert.ok((await balanceOf(seederWallet)) > 0n, "the seeder's energy balance rose");

    // A claims its own receipts from the claim panel (behind the HUD's Details): the epoch just ended.
    await a.page.getByTestId("hud-details-toggle").click();
    const button = a.page.getByTestId("claim-button");
    await waitFor("A's epoch to be claimable", () => button.isEnabled(), 30_000);
    await button.click();
    const status = a.page.locator('[data-testid="claim-status"][data-state="done"]');
    await status.waitFor({ timeout: 60_000 }).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await a.page.getByTestId("claim-status").textContent()}`);
    });
    const balance = a.page.getByTestId("energy-balance");
    await waitFor(
      "A's energy balance to show the reward",
      async () => BigInt((await balance.getAttribute("data-wei")) ?? "0") > 0n,
      20_000,
    );
    await shot("5-claimed");

    // A unlocks the premium block with that energy (one wallet transaction) and places it; B sees it.
    await a.page.getByTestId("unlock-gold").click();
    await a.page.getByTestId("unlocked-gold").waitFor({ timeout: 30_000 });
    const gold = BLOCK_IDS.gold;
    await a.page.locator(`[data-testid="hotbar-slot-8"][data-locked="false"]`).waitFor({ timeout: 10_000 });
    await a.page.keyboard.press("9");
    await a.page.locator('[data-testid="hotbar-slot-8"][data-selected="true"]').waitFor({ timeout: 5_000 });
    assert.equal(
      await inPage(a, (session, target) => session.game.get()?.edit("place", target, 10), goldCell),
      undefined,
    );
    await waitFor(
      "B to see the gold block",
      async () => (await inPage(b, (session, [x, y, z]) => session.world.getBlock(x, y, z), goldCell)) === gold,
      30_000,
    );
    await a.page
      .locator('[data-testid="edit-status"][data-own="true"][data-state="anchored"]')
      .first()
      .waitFor({ timeout: 60_000 });
    await shot("6-premium-block");
    assert.deepEqual(
      pageErrors.filter((line) => !/Failed to load resource/.test(line)),
      [],
      "no errors in either page",
    );
  });
});
