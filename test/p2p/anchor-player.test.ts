/**
 * A headless player anchors its edits: the real chain, indexer and DHT, two NodePeers with their data planes.
 * A's edit ends anchored and B holds the anchored version; and an anchor whose confirmation meets an indexer
 * that first does not answer and then answers 503 INDEX_BEHIND (a real HTTP server in front of the real
 * indexer) still ends anchored once it answers, its note saying meanwhile that it waits for the indexer. And a race
 * lost while the indexer is away from the loser rebases on the chain's own head (p2p/chain-heads.ts), anchors
 * again and ends anchored before the indexer is back.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestClient, http } from "viem";
import { fundLocalAccount } from "../../cli/local-chain.ts";
import { World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { chunkIdOf, locateBlock } from "../../core/chunk.ts";
import type { Position } from "../../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { sessionAnchorChain } from "../../p2p/anchor-chain.ts";
import type { AnchorError } from "../../p2p/anchor-errors.ts";
import { AnchoringPlayer, type EndedEdit } from "../../p2p/anchor-player.ts";
import { ChainHeads, ledgerHeadsOf } from "../../p2p/chain-heads.ts";
import { type HeadSource, IndexerHeads } from "../../p2p/heads.ts";
import { indexBehindBody } from "../../p2p/index-behind.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { type NodePeer, NodePeer as NodePeers } from "../../p2p/node/peer.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import { type LocalClients, localClients, newPlayers, type TestPlayer } from "../helpers/chain-clients.ts";
import { openDoor } from "../helpers/door.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "anchor-player";
const PORTS = worldPorts(4000);
const PROXY_PORT = 4100;

describe("p2p: a headless player anchors its edits", { timeout: 180_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let seed = 0;
  let players: TestPlayer[] = [];
  const peers: NodePeer[] = [];
  const anchoring: AnchoringPlayer[] = [];
  let proxy: Server | undefined;

  async function startPeer(
    player: TestPlayer,
    position: Position,
    heads: HeadSource = new IndexerHeads(world.urls.indexer),
  ): Promise<NodePeer> {
    const { deployment } = clients;
    const peer = await NodePeers.start({
      bootstrap: [world.urls.dht],
      domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address },
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: player.wallet.address,
      sessionKey: player.session,
      name: `p-${player.wallet.address.slice(2, 6).toLowerCase()}`,
      position,
      discoverEveryMs: 300,
      data: {
        client: createTorrentClient(),
        store: await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-anchor-"))),
        heads,
        syncRadius: 1,
      },
    });
    peers.push(peer);
    return peer;
  }

  function anchoringPlayer(
    peer: NodePeer,
    player: TestPlayer,
    indexer: string | HeadSource,
    ended: EndedEdit[],
    confirmTimeoutMs = 2_000,
  ) {
    const made = new AnchoringPlayer({
      peer,
      chain: sessionAnchorChain(clients.deployment, clients.publicClient.chain, player.session),
      heads: typeof indexer === "string" ? new IndexerHeads(indexer) : indexer,
      author: player.wallet.address,
      onEnded: (edit) => ended.push(edit),
      queue: { confirmTimeoutMs },
    });
    anchoring.push(made);
    return made;
  }

  /** A cell one block above the ground next to column (x, z), within reach of a player standing there. */
  const cellNear = (x: number, z: number) => {
    const { cx, cy, cz, index } = locateBlock(x + 1, groundHeight(seed, x + 1, z) + 2, z);
    return { chunkId: chunkIdOf(cx, cy, cz), index };
  };
  const standAt = (x: number, z: number): Position => [x + 0.5, groundHeight(seed, x, z) + 1, z + 0.5];

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-anchor-player-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    players = await newPlayers(clients, world.urls.indexer, 4);
    // Session keys send the anchors: they pay the gas.
    for (const player of players) await fundLocalAccount(clients, player.session);
  });

  after(async () => {
    for (const player of anchoring) player.destroy();
    for (const peer of peers) await peer.stop().catch(() => undefined);
    releaseWebRtc();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    await world?.stop();
  });

  it("two anchors of one chunk mined in the same block: the one that reverted is named a stale version, to rebase", async () => {
    const [one, two] = players as [TestPlayer, TestPlayer];
    const { deployment } = clients;
    const chain = clients.publicClient.chain;
    if (!chain) throw new Error("the local clients have no chain");
    const chunkId = chunkIdOf(40, 0, 40);
    const update = (n: number) => ({
      chunkId,
      expectedVersion: 0,
      newHash: `0x${n.toString(16).padStart(64, "0")}` as const,
      infoHash: `0x${(n + 16).toString(16).padStart(40, "0")}` as const,
      watermark: BigInt(Date.now()) << 16n,
    });
    // Blocks wait: both transactions go to the mempool, as on a chain that mines every few seconds.
    const testClient = createTestClient({ mode: "hardhat", transport: http(world.urls.chain) });
    await testClient.setAutomine(false);
    let results: PromiseSettledResult<unknown>[];
    try {
      const sent = [one, two].map((player, i) =>
        sessionAnchorChain(deployment, chain, player.session).anchorBatch([update(i + 1)]),
      );
      await waitFor(
        "both anchors in the mempool",
        async () => (await clients.publicClient.getBlock({ blockTag: "pending" })).transactions.length >= 2,
        10_000,
      );
      await testClient.mine({ blocks: 1 });
      results = await Promise.allSettled(sent);
    } finally {
      await testClient.setAutomine(true);
    }
    const lost = results.filter((result) => result.status === "rejected");
    assert.equal(lost.length, 1, JSON.stringify(results.map((r) => r.status)));
    const error = (lost[0] as PromiseRejectedResult).reason as AnchorError;
    assert.equal(error.code, "STALE_CHUNK_VERSION", `${error.code}: ${error.message}`);
    assert.deepEqual(error.stale, { chunkId, expected: 0, actual: 1 });
  });

  it("ends its edit anchored, and the other peer holds the anchored version", async () => {
    const [pa, pb] = players as [TestPlayer, TestPlayer];
    const a = await startPeer(pa, standAt(0, 0));
    const b = await startPeer(pb, standAt(2, 0));
    await waitFor("A and B linked", async () => a.mesh.peers.length > 0 && b.mesh.peers.length > 0, 30_000);
    const ended: EndedEdit[] = [];
    const player = anchoringPlayer(a, pa, world.urls.indexer, ended);
    const { chunkId, index } = cellNear(0, 0);
    const startedAt = performance.now();
    const { op } = await player.edit(chunkId, index, BLOCK_IDS.stone);
    await waitFor("A's edit to end", async () => ended.length > 0, 30_000);
    assert.deepEqual(
      ended.map(({ op, state, reason }) => ({ op, state, reason })),
      [{ op: op.signature, state: "anchored", reason: undefined }],
    );
    const version = a.replica.version(chunkId);
    assert.ok(version >= 1, `A's replica holds the anchored version (v${version})`);
    await waitFor(`B to hold v${version} of the chunk`, async () => b.replica.version(chunkId) >= version, 20_000);
    assert.equal(b.replica.chunk(chunkId).blocks[index], BLOCK_IDS.stone, "B's anchored version holds A's block");
    assert.equal(player.edits.open, 0);
    assert.equal(player.edits.ended.get("anchored"), 1);
    console.log(`anchored and held by B in ${Math.round(performance.now() - startedAt)} ms`);
  });

  it("waits for an indexer that does not answer, then is behind, and ends anchored once it answers", async () => {
    const a = peers[0] as NodePeer;
    const [pa] = players as [TestPlayer];
    const ended: EndedEdit[] = [];
    const notes = new Set<string>();
    // Unreachable first (nothing listens), then behind (503 INDEX_BEHIND), then the real indexer's answers.
    let behind = true;
    const player = anchoringPlayer(a, pa, `http://127.0.0.1:${PROXY_PORT}`, ended);
    const watch = setInterval(() => {
      for (const entry of player.edits.entries) {
        const note = (entry as { note?: string }).note;
        if (note) notes.add(note);
      }
    }, 20);
    try {
      const { chunkId, index } = cellNear(0, 1);
      const was = a.replica.version(chunkId);
      const startedAt = performance.now();
      await player.edit(chunkId, index, BLOCK_IDS.dirt);
      await waitFor("the anchor to be mined", async () => a.replica.version(chunkId) > was, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(ended.length, 0, "no answer is no failure");
      proxy = createServer((request, response) => {
        if (behind) {
          response.writeHead(503, { "content-type": "application/json" });
          response.end(JSON.stringify(indexBehindBody({ indexed: 1, head: 40, lag: 39 })));
          return;
        }
        void fetch(`${world.urls.indexer}${request.url}`).then(async (answer) => {
          response.writeHead(answer.status, { "content-type": "application/json" });
          response.end(await answer.text());
        });
      });
      await new Promise<void>((resolve) => proxy?.listen(PROXY_PORT, "127.0.0.1", resolve));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(ended.length, 0, "an indexer behind the chain is no failure either");
      behind = false;
      await waitFor("the edit to end", async () => ended.length > 0, 10_000);
      const waitedMs = performance.now() - startedAt;
      const [end] = ended as [EndedEdit];
      assert.equal(end.state, "anchored", `ended ${end.state}: ${end.reason}`);
      assert.ok(waitedMs > 6_000, `it waited past the 2 s timeout (${Math.round(waitedMs)} ms)`);
      const waiting = [...notes].filter((note) => note.includes("waiting for the indexer"));
      assert.ok(
        waiting.some((note) => note.includes("does not answer")) &&
          waiting.some((note) => note.includes("behind by 39 blocks")),
        `its note said it waits for the indexer: ${[...notes].join(" | ")}`,
      );
    } finally {
      clearInterval(watch);
    }
  });

  it("three players building in one chunk at once: every edit ends, none fails, races rebase on rebuilt snapshots", async () => {
    const [pa, pb, pc] = players as [TestPlayer, TestPlayer, TestPlayer];
    // A's and B's peers from the tests above, when they ran.
    const a = peers[0] ?? (await startPeer(pa, standAt(0, 0)));
    const b = peers[1] ?? (await startPeer(pb, standAt(2, 0)));
    const c = await startPeer(pc, standAt(3, 6));
    await waitFor("C linked to A and B", async () => c.mesh.peers.length >= 2, 30_000);
    const ended: EndedEdit[] = [];
    const builders = [
      // The default confirmation timeout: this test is about races, not a slow indexer.
      anchoringPlayer(a, pa, world.urls.indexer, ended, 30_000),
      anchoringPlayer(b, pb, world.urls.indexer, ended, 30_000),
      anchoringPlayer(c, pc, world.urls.indexer, ended, 30_000),
    ];
    // Cells of one chunk, a few apart: each player has its own, the anchors race for the chunk.
    const first = cellNear(1, 5);
    const cells: { chunkId: bigint; index: number }[] = [];
    for (let x = 0; x < 6 && cells.length < 18; x++)
      for (let z = 4; z < 8 && cells.length < 18; z++) {
        const cell = cellNear(x, z);
        if (cell.chunkId === first.chunkId && !cells.some((other) => other.index === cell.index)) cells.push(cell);
      }
    assert.ok(cells.length >= 9, `enough cells in one chunk (${cells.length})`);
    const rebasesBefore = builders.reduce((sum, builder) => sum + builder.queue.stats.rebases, 0);
    const count = () => ({
      rebuilt: [a, b, c].reduce((sum, peer) => sum + (peer.sync?.stats.rebuilt ?? 0), 0),
      fetched: [a, b, c].reduce((sum, peer) => sum + (peer.torrents?.stats().fetched ?? 0), 0),
    });
    const before = count();
    const made = cells.length - (cells.length % 3);
    const cellOf = new Map<string, { chunkId: bigint; index: number }>();
    // Rounds of three edits at once, one per player, as fast as a batch goes out.
    for (let i = 0; i < made; i += 3) {
      await Promise.all(
        builders.map(async (builder, k) => {
          const cell = cells[i + k] as { chunkId: bigint; index: number };
          const { op } = await builder.edit(cell.chunkId, cell.index, BLOCK_IDS.brick);
          cellOf.set(op.signature, cell);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 450));
    }
    await waitFor(`all ${made} edits to end`, async () => ended.length >= made, 90_000);
    const states = ended.map((end) => `${end.state}${end.reason ? `: ${end.reason}` : ""}`);
    assert.deepEqual(
      states.filter((state) => state.startsWith("failed")),
      [],
      `no edit failed (${states.join(" | ")})`,
    );
    const rebases = builders.reduce((sum, builder) => sum + builder.queue.stats.rebases, 0) - rebasesBefore;
    console.log(`${made} edits by three players in one chunk: ${rebases} lost races rebased`);
    assert.ok(rebases >= 1, "the players raced for the chunk, and the losers rebased");
    // Each peer held the ops the others' anchors folded: it rebuilt those snapshots rather than fetch them.
    const after = count();
    const rebuilt = after.rebuilt - before.rebuilt;
    const fetched = after.fetched - before.fetched;
    console.log(`peers' anchors rebuilt from the ops held: ${rebuilt}, fetched: ${fetched}`);
    assert.ok(rebuilt >= 1 && fetched < rebuilt, `most anchors rebuilt, not fetched (${rebuilt} vs ${fetched})`);
    // An op that reached a winner after its anchor's watermark lost (rolled back): rare, and final too.
    const anchored = ended.filter((end) => end.state === "anchored");
    assert.ok(anchored.length >= made - 3, `nearly every edit anchored (${states.join(" | ")})`);
    for (const end of anchored) {
      const cell = cellOf.get(end.op) as { chunkId: bigint; index: number };
      await waitFor(
        "every peer to show every anchored block",
        async () => [a, b, c].every((peer) => peer.replica.chunk(cell.chunkId).blocks[cell.index] === BLOCK_IDS.brick),
        15_000,
      );
    }
    const version = Math.max(...[a, b, c].map((peer) => peer.replica.version(first.chunkId)));
    assert.ok(version >= 2, `the chunk was anchored more than once (v${version})`);
  });

  it("a race lost while the indexer is away rebases on the chain's head, anchors again, and ends anchored", async () => {
    const [pa, , , pd] = players as [TestPlayer, TestPlayer, TestPlayer, TestPlayer];
    const a = peers[0] ?? (await startPeer(pa, standAt(0, 0)));
    // A's anchors and D's, and D's peer, read the indexer through a door: shut, heads come from the chain alone
    // (a lost race's winner, a peer's new version, the confirmation of an anchor).
    const door = await openDoor(world.urls.indexer);
    const heads = () => ledgerHeadsOf(door.url, clients.publicClient, clients.deployment);
    const d = await startPeer(pd, standAt(2, 2), heads());
    await waitFor("D linked to A", async () => d.mesh.peers.some((peer) => peer.id === a.mesh.id), 30_000);
    const ended: EndedEdit[] = [];
    const builders = [anchoringPlayer(a, pa, heads(), ended, 30_000), anchoringPlayer(d, pd, heads(), ended, 30_000)];
    try {
      // Cells of one chunk within reach of both, none built on before.
      const cells = [
        [0, 2],
        [2, 2],
        [0, 3],
        [2, 3],
        [1, 2],
        [1, 3],
      ].map(([x, z]) => cellNear(x as number, z as number));
      const chunkId = cells[0]?.chunkId as bigint;
      assert.ok(
        cells.every((cell) => cell.chunkId === chunkId),
        "the cells lie in one chunk",
      );
      // The tests above anchored this chunk already: D's join sync (its door still open) brings it up to date.
      await waitFor(
        "D's join sync to load the chunk's head",
        async () => d.replica.version(chunkId) === a.replica.version(chunkId),
        30_000,
      );
      door.open = false;
      const rebases = () => builders.reduce((sum, b) => sum + b.queue.stats.rebases, 0);
      const before = rebases();
      let made = 0;
      // Rounds of an edit each at once, on the same version: one of the two anchors loses the race. The loser
      // rebases on the chain's head; its edit ends anchored (in its own anchor, or folded into the winner's).
      for (let i = 0; i + 1 < cells.length && rebases() === before; i += 2) {
        await Promise.all(
          builders.map((builder, k) => {
            const cell = cells[i + k] as { chunkId: bigint; index: number };
            return builder.edit(cell.chunkId, cell.index, BLOCK_IDS.glass);
          }),
        );
        made += 2;
        await waitFor(`all ${made} edits to end, the indexer away`, async () => ended.length >= made, 30_000);
      }
      assert.ok(rebases() > before, "an anchor lost a race and rebased, with no indexer to ask");
      assert.deepEqual(
        ended.map((end) => `${end.state}${end.reason ? `: ${end.reason}` : ""}`),
        Array(made).fill("anchored"),
      );
      await waitFor(
        "A and D to hold every block",
        async () =>
          [a, d].every((peer) =>
            cells.slice(0, made).every((cell) => peer.replica.chunk(chunkId).blocks[cell.index] === BLOCK_IDS.glass),
          ),
        15_000,
      );
      // The chain's head for the chunk is what the indexer serves once back, field for field; an untouched
      // chunk has none.
      const chain = new ChainHeads({
        client: clients.publicClient,
        ledger: clients.deployment.contracts.ChunkLedger,
        startBlock: BigInt(clients.deployment.startBlock),
      });
      const head = await chain.head(chunkId);
      assert.equal(await chain.head(cellNear(0, 400).chunkId), undefined);
      door.open = true;
      await waitFor(
        "the indexer to serve the chain's head",
        async () => (await new IndexerHeads(door.url).head(chunkId))?.version === head?.version,
        15_000,
      );
      assert.deepEqual(await new IndexerHeads(door.url).head(chunkId), head);
    } finally {
      door.open = true;
      door.close();
    }
  });
});
