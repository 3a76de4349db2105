/**
 * The real-time mesh with real parts on 127.0.0.1: a hardhat chain with the contracts, the indexer
 * (peers judge sessions against it), a DHT bootstrap node, and Node peers linked by WebRTC that they
 * signal through the DHT alone. Only clocks and randomness are faked.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type Peer from "simple-peer";
import { type Address, bytesToHex, hexToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { type ChatLine, signChatLine } from "../../core/chat.ts";
import { CHUNK_SIZE, chunkIdOf, locateBlock } from "../../core/chunk.ts";
import { signOp } from "../../core/op.ts";
import { chunkOfPosition, type Position, type Region, regionsInView } from "../../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { encodeMessage } from "../../core/wire.ts";
import { makeCard } from "../../p2p/card.ts";
import { makeHello } from "../../p2p/hello.ts";
import { IndexerLedger, type LedgerView } from "../../p2p/ledger.ts";
import { SimplePeerLink } from "../../p2p/link.ts";
import { Mesh, type MeshLimits } from "../../p2p/mesh.ts";
import { MeshMailboxes } from "../../p2p/mesh-mailboxes.ts";
import { nodeIdOfKey, regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { connectThroughDht } from "../../p2p/node/signal.ts";
import { type OpVerdict, WorldReplica } from "../../p2p/replica.ts";
import { answeringNewerOffers } from "../../p2p/signal.ts";
import { type LocalClients, localClients, newPlayers, type TestPlayer } from "../helpers/chain-clients.ts";
import { openDoor } from "../helpers/door.ts";
import { prng } from "../helpers/prng.ts";
import { loopbackPair } from "../helpers/rtc.ts";
import { waitFor } from "../helpers/world.ts";

const NETWORK = "p2p-mesh";
const PORTS = { chain: 22545, indexer: 22069, app: 22173 };

type Player = TestPlayer;

/** A clock that runs with the real one until a test pins it (to make two edits share a stamp). */
class TestClock {
  pinnedMs: number | undefined;
  readonly now = () => this.pinnedMs ?? Date.now();
}

describe("p2p: the mesh", { timeout: 240_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let bootstrap: WorldDht;
  let seed: number;
  const running: NodePeer[] = [];

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-p2p-mesh-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    const ledger = clients.deployment.contracts.ChunkLedger.address;
    seed = terrainSeedOf(clients.deployment.chainId, ledger);
    bootstrap = await WorldDht.start({ bootstrap: false });
  });

  after(async () => {
    await Promise.all(running.map((peer) => peer.stop()));
    await bootstrap?.destroy();
    await world?.stop();
    releaseWebRtc();
  });

  const players = (count: number) => newPlayers(clients, world.urls.indexer, count);

  /** Standing on the ground near (x, z): the feet just above the terrain. */
  function standAt(x: number, z: number): Position {
    return [x + 0.5, groundHeight(seed, x, z) + 1, z + 0.5];
  }

  async function startPeer(
    player: Player,
    position: Position,
    clock = new TestClock(),
    extra: { maxPeers?: number; nearest?: number; randomLinks?: number; ledger?: LedgerView } = {},
  ): Promise<NodePeer> {
    const peer = await NodePeer.start({
      bootstrap: [`${bootstrap.address.host}:${bootstrap.address.port}`],
      domain: {
        chainId: clients.deployment.chainId,
        verifyingContract: clients.deployment.contracts.ChunkLedger.address,
      },
      ledger: extra.ledger ?? new IndexerLedger(world.urls.indexer),
      wallet: player.wallet.address,
      sessionKey: player.session,
      name: `peer-${player.wallet.address.slice(2, 8).toLowerCase()}`,
      position,
      discoverEveryMs: 300,
      ...extra,
      now: clock.now,
      log: process.env.DEBUG?.includes("seedcraft") ? (line) => process.stderr.write(`${line}\n`) : undefined,
    });
    running.push(peer);
    return peer;
  }

  /** A block within reach of someone standing at `position` (a few blocks around, at waist height). */
  function nearBlock(position: Position, random: () => number) {
    const x = Math.floor(position[0] + (random() * 6 - 3));
    const y = Math.floor(position[1] + random() * 3);
    const z = Math.floor(position[2] + (random() * 6 - 3));
    const { cx, cy, cz, index } = locateBlock(x, y, z);
    return { chunk: chunkIdOf(cx, cy, cz), index };
  }

  /**
   * A mesh with no DHT of its own (its links are handed to it): `player`'s, named `name`, its replica checking
   * ops against `ledger`; the mesh itself asks `meshLedger` (default `ledger`).
   */
  function bareMesh(
    player: Player,
    name: string,
    ledger: LedgerView,
    options: { meshLedger?: LedgerView; limits?: Partial<MeshLimits> } = {},
  ): Mesh {
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    return new Mesh({
      identity: {
        wallet: player.wallet.address,
        sessionKey: player.session,
        peerId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
        name,
      },
      replica: new WorldReplica({ domain, seed, ledger }),
      ledger: options.meshLedger ?? ledger,
      ...(options.limits ? { limits: options.limits } : {}),
    });
  }

  /**
   * A peer that speaks the protocol by hand over a real DHT-signaled WebRTC link with `to`: it publishes
   * its card, announces where it stands and knocks (as peers do, so `to` dials back at once), then says
   * hello; resolves once `to` took it in. The caller destroys `dht`.
   */
  async function handLink(player: Player, spot: Position, to: NodePeer) {
    const dht = await WorldDht.start({ bootstrap: [`${bootstrap.address.host}:${bootstrap.address.port}`] });
    await dht.publishCard(await makeCard(dht.publicKey, player.wallet.address, player.session));
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    await dht.announce(regionTopic(domain.chainId, domain.verifyingContract, regionsInView(spot, 0)[0] as Region));
    await dht.knock(nodeIdOfKey(hexToBytes(to.id)));
    // As p2p/peer.ts does: when the peer's dial-back crosses ours and wins, answer its newer offer.
    const peer = await answeringNewerOffers(() =>
      connectThroughDht(dht, hexToBytes(to.id), { timeoutMs: 20_000, address: to.dht.address }),
    );
    const link = new SimplePeerLink(peer);
    const id = bytesToHex(dht.publicKey);
    const hello = await makeHello(
      { wallet: player.wallet.address, sessionKey: player.session, peerId: id, name: "by-hand" },
      link.binding,
    );
    link.send(encodeMessage(hello), true);
    await waitFor("the peer to take the hand-made one in", async () => to.mesh.peers.some((p) => p.id === id), 20_000);
    return { dht, link, id, domain };
  }

  async function converged(peers: NodePeer[], chunks: bigint[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      "every peer to hold the same chunk hashes",
      async () =>
        chunks.every((chunk) => {
          const hashes = new Set(peers.map((peer) => peer.replica.hash(chunk)));
          return hashes.size === 1;
        }),
      timeoutMs,
    );
  }

  it("8 Node peers find each other through the DHT alone, connect, and converge after concurrent edits, ties included", async () => {
    const random = prng(7);
    const team = await players(8);
    const clocks = team.map(() => new TestClock());
    // Standing a few blocks apart around one spot: everyone's area of interest holds every edit.
    const spots = team.map((_, i) => standAt(CHUNK_SIZE + 4 * (i % 4), CHUNK_SIZE + 4 * Math.floor(i / 4)));
    const peers = await Promise.all(team.map((player, i) => startPeer(player, spots[i] as Position, clocks[i])));
    await waitFor(
      "every peer to link with the 7 others",
      async () => peers.every((p) => p.mesh.peers.length === 7),
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; links: ${peers.map((p) => p.mesh.peers.length).join(",")}`);
    });
    for (const peer of peers) assert.ok(peer.firstPeerAtMs !== undefined);
    // The first links are signaled through the DHT; once in the mesh, through a common neighbour.
    assert.ok(
      peers.some((p) => p.dials.mesh > 0),
      `links signaled in-band: ${peers.map((p) => p.dials.mesh).join(",")}`,
    );
    // Every peer knows where the others stand (the reach rule needs it).
    await waitFor(
      "positions to spread",
      async () => peers.every((p) => p.mesh.peers.every((other) => other.position !== undefined)),
      10_000,
    );
    // Once linked, each peer generates the terrain next to its own chunk ahead of any op into it.
    await waitFor(
      "the chunks next to every peer to be generated",
      async () =>
        peers.every((peer, i) => {
          const { cx, cy, cz } = chunkOfPosition(spots[i] as Position);
          return [-1, 0, 1].every((d) =>
            [chunkIdOf(cx + d, cy, cz), chunkIdOf(cx, cy + d, cz), chunkIdOf(cx, cy, cz + d)].every((id) =>
              peer.replica.holds(id),
            ),
          );
        }),
      10_000,
    );

    const rejected: OpVerdict[] = [];
    const bounced: OpVerdict[] = [];
    for (const peer of peers)
      peer.mesh.on("op", (verdict) => {
        if (verdict.status === "rejected") rejected.push(verdict);
        if (verdict.status === "bounced") bounced.push(verdict);
      });

    // Concurrent random edits: 25 per peer, all at once.
    const touched = new Set<bigint>();
    const blocks = [BLOCK_IDS.stone, BLOCK_IDS.dirt, BLOCK_IDS.wood, BLOCK_IDS.air];
    await Promise.all(
      peers.map(async (peer, i) => {
        for (let n = 0; n < 25; n++) {
          const { chunk, index } = nearBlock(spots[i] as Position, random);
          touched.add(chunk);
          await peer.mesh.edit(chunk, index, blocks[Math.floor(random() * blocks.length)] as number);
          if (n % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }),
    );

    // A tie: peers 0 and 1 set the same block at the same (wallMs, logical), to different blocks.
    const [a, b] = [peers[0] as NodePeer, peers[1] as NodePeer];
    const target = nearBlock(spots[0] as Position, () => 0.5);
    // Reachable by both (they stand 4 blocks apart).
    const before = a.replica.chunk(target.chunk).blocks[target.index];
    const tieAt = Date.now() + 2_000;
    clocks[0] = Object.assign(clocks[0] as TestClock, { pinnedMs: tieAt });
    clocks[1] = Object.assign(clocks[1] as TestClock, { pinnedMs: tieAt });
    const [ea, eb] = await Promise.all([
      a.mesh.edit(target.chunk, target.index, BLOCK_IDS.wood),
      b.mesh.edit(target.chunk, target.index, BLOCK_IDS.stone),
    ]);
    (clocks[0] as TestClock).pinnedMs = undefined;
    (clocks[1] as TestClock).pinnedMs = undefined;
    assert.deepEqual(ea.op.hlc, eb.op.hlc, "the two edits share a stamp");
    touched.add(target.chunk);

    await converged(peers, [...touched]);
    assert.deepEqual(rejected, [], "no honest op is rejected");
    for (const peer of peers)
      assert.equal(peer.replica.chunk(target.chunk).blocks[target.index], before, "a tie leaves the block as it was");
    assert.ok(
      bounced.some((v) => v.status === "bounced" && v.reason === "TIE"),
      "the tie is reported as a bounce",
    );
  });

  it("signals in-band: two peers linked only through a common neighbour connect with no DHT at all", async () => {
    const team = await players(4);
    const ledger = new IndexerLedger(world.urls.indexer);
    const [a, b, c, d] = team.map((player, i) => bareMesh(player, `in-band-${i}`, ledger)) as [Mesh, Mesh, Mesh, Mesh];
    const linked = (x: Mesh, y: Mesh) => x.peer(y.id) !== undefined && y.peer(x.id) !== undefined;
    const attach = async (x: Mesh, y: Mesh, pair: { a: Peer; b: Peer }) => {
      await Promise.all([x.attach(new SimplePeerLink(pair.a), y.id), y.attach(new SimplePeerLink(pair.b), x.id)]);
      await waitFor(`${x.identity.name} and ${y.identity.name} to link`, async () => linked(x, y), 10_000);
    };
    try {
      // a — b — c: the test carries the signals of these two links itself.
      await attach(a, b, await loopbackPair());
      await attach(b, c, await loopbackPair());
      await waitFor(
        "a and c to hear whom b is linked with",
        async () => Boolean(a.peer(b.id)?.neighbours.has(c.id) && c.peer(b.id)?.neighbours.has(a.id)),
        10_000,
      );
      const fromA = new MeshMailboxes(a, () => {});
      let answer: Promise<Peer> | undefined;
      const fromC = new MeshMailboxes(c, (from) => {
        answer ??= connectThroughDht([fromC], hexToBytes(from), { timeoutMs: 10_000 });
      });
      assert.equal(fromA.via(c.id), b.id, "b is the way to c");
      // A peer nobody here is linked with cannot be reached in-band, and says so.
      const stranger = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
      assert.equal(fromA.via(stranger), undefined);
      await assert.rejects(fromA.knock(stranger), (error: Error) => error.name === "SignalingError");

      await fromA.knock(c.id);
      const dialled = connectThroughDht([fromA], hexToBytes(c.id), { timeoutMs: 10_000 });
      await waitFor("c to hear the knock", async () => answer !== undefined, 5_000);
      await attach(a, c, { a: await dialled, b: await (answer as Promise<Peer>) });
      assert.ok(linked(a, c), "a and c are linked, signaled through b");

      // In-band, nothing in the signaling proves a key: a hello whose session key is not the one the
      // dialled key's card binds is refused (here d answers where c's card was expected).
      const strikes: string[] = [];
      a.on("strike", (_peer, code) => strikes.push(code));
      const pair = await loopbackPair();
      await Promise.all([
        a.attach(new SimplePeerLink(pair.a), d.id, (team[2] as Player).session.address),
        d.attach(new SimplePeerLink(pair.b), a.id),
      ]);
      await waitFor("a to refuse the hello", async () => strikes.includes("BAD_HELLO"), 10_000);
      assert.equal(a.peer(d.id), undefined);
    } finally {
      for (const mesh of [a, b, c, d]) mesh.close();
    }
  });

  it("a newcomer hears the last chat lines once, signed and attributed; a forged replayed line is a strike", async () => {
    const team = await players(4);
    const ledger = new IndexerLedger(world.urls.indexer);
    const [a, b, c] = team.slice(0, 3).map((player, i) => bareMesh(player, `talker-${i}`, ledger)) as [
      Mesh,
      Mesh,
      Mesh,
    ];
    const linked = (x: Mesh, y: Mesh) => x.peer(y.id) !== undefined && y.peer(x.id) !== undefined;
    const attach = async (x: Mesh, y: Mesh) => {
      const pair = await loopbackPair();
      await Promise.all([x.attach(new SimplePeerLink(pair.a), y.id), y.attach(new SimplePeerLink(pair.b), x.id)]);
      await waitFor(`${x.identity.name} and ${y.identity.name} to link`, async () => linked(x, y), 10_000);
    };
    const heard: { name: string; wallet: string; text: string; history: boolean }[] = [];
    c.on("chat", (from, text, line) =>
      heard.push({ name: from.name, wallet: from.wallet, text, history: line.history }),
    );
    const strikes: string[] = [];
    c.on("strike", (_peer, code) => strikes.push(code));
    try {
      await attach(a, b);
      const heardByB: string[] = [];
      b.on("chat", (_from, text) => heardByB.push(text));
      const heardByA: string[] = [];
      a.on("chat", (_from, text) => heardByA.push(text));
      await a.chat("first, from a");
      // Each line answers the one before it, so each is stamped after it: two lines sent in the
      // same millisecond by two players have no order but the tie-break on their ids.
      await waitFor("b to hear a's line", async () => heardByB.length === 1, 10_000);
      await b.chat("second, from b");
      await waitFor("a to hear b's line", async () => heardByA.length === 1, 10_000);
      await a.chat("third, from a");
      await waitFor("b to hear a's lines", async () => heardByB.length === 2, 10_000);
      assert.throws(
        () => a.chat("x".repeat(600)),
        (e: Error) => e.name === "WireError",
      );
      // c links with both: each replays the same three lines; c shows each once, oldest first.
      await attach(c, a);
      await attach(c, b);
      await waitFor("c to hear the history", async () => heard.length >= 3, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        heard.map((line) => [line.name, line.text, line.history]),
        [
          ["talker-0", "first, from a", true],
          ["talker-1", "second, from b", true],
          ["talker-0", "third, from a", true],
        ],
      );
      assert.equal(heard[1]?.wallet.toLowerCase(), (team[1] as Player).wallet.address.toLowerCase());
      assert.equal(c.chatHistory.length, 3);
      // A live line after that is not history.
      await b.chat("welcome, c");
      await waitFor("c to hear b live", async () => heard.length === 4, 10_000);
      assert.deepEqual(heard[3], {
        name: "talker-1",
        wallet: (team[1] as Player).wallet.address.toLowerCase(),
        text: "welcome, c",
        history: false,
      });
      assert.equal(strikes.length, 0, strikes.join(","));

      // d replays a's line with another name on it: the signature no longer holds, so c strikes d and shows nothing.
      const d = team[3] as Player;
      const pair = await loopbackPair();
      const link = new SimplePeerLink(pair.b);
      const dId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
      await c.attach(new SimplePeerLink(pair.a), dId);
      link.onMessage = () => {};
      link.send(
        encodeMessage(
          await makeHello({ wallet: d.wallet.address, sessionKey: d.session, peerId: dId, name: "d" }, link.binding),
        ),
        true,
      );
      await waitFor("c to take d in", async () => c.peer(dId as `0x${string}`) !== undefined, 10_000);
      const [original] = a.chatHistory;
      assert.ok(original);
      link.send(
        encodeMessage({
          type: "chatHistory",
          lines: [{ ...original, name: "talker-1", signature: original.signature }],
        }),
        true,
      );
      await waitFor("c to strike d", async () => strikes.includes("CHAT_BAD_SIGNATURE"), 10_000);
      assert.equal(heard.length, 4, "the forged line is not shown");
      link.close();
    } finally {
      for (const mesh of [a, b, c]) mesh.close();
    }
  });

  it("a link's chat history is read once and each line checked once; live lines stamped out of bounds are not kept", async () => {
    const [cPlayer, d] = (await players(2)) as [Player, Player];
    const ledger = new IndexerLedger(world.urls.indexer);
    // The real indexer's ledger, counted: each look is what a replayed line costs c.
    let lookups = 0;
    const counted: LedgerView = {
      player: (wallet) => {
        lookups++;
        return ledger.player(wallet);
      },
      known: (wallet) => ledger.known(wallet),
      forget: (wallet) => ledger.forget(wallet),
    };
    const c = bareMesh(cPlayer, "listener", ledger, { meshLedger: counted });
    const heard: string[] = [];
    c.on("chat", (_from, text) => heard.push(text));
    const strikes: string[] = [];
    c.on("strike", (_peer, code) => strikes.push(code));
    // d speaks the protocol by hand over a real WebRTC link.
    const linkD = async () => {
      const pair = await loopbackPair();
      const link = new SimplePeerLink(pair.b);
      const id = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
      await c.attach(new SimplePeerLink(pair.a), id);
      link.onMessage = () => {};
      link.send(
        encodeMessage(
          await makeHello({ wallet: d.wallet.address, sessionKey: d.session, peerId: id, name: "d" }, link.binding),
        ),
        true,
      );
      await waitFor("c to take d in", async () => c.peer(id) !== undefined, 10_000);
      return { link, id };
    };
    const now = Date.now();
    const say = (seq: number, text: string, atMs = now, key = d.session) =>
      signChatLine({ wallet: d.wallet.address.toLowerCase() as Address, name: "d", seq, atMs, text }, key);
    const live = (line: ChatLine) =>
      encodeMessage({ type: "chat", seq: line.seq, text: line.text, atMs: line.atMs, signature: line.signature });
    // Two lines of one millisecond, out of order, and one under a session key the ledger never saw.
    const lines = [
      await say(5, "later"),
      await say(6, "unknown key", now, privateKeyToAccount(generatePrivateKey())),
      await say(4, "earlier"),
    ];
    const history = encodeMessage({ type: "chatHistory", lines });
    try {
      const first = await linkD();
      const before = lookups;
      first.link.send(history, true);
      await waitFor("c to show d's two lines", async () => heard.length === 2, 10_000);
      assert.deepEqual(heard, ["earlier", "later"], "one millisecond: the author's order");
      assert.equal(lookups - before, 3, "one ledger look a line");
      // The same history again on the same link: a strike, and not one line is looked at.
      first.link.send(history, true);
      await waitFor("c to strike the replay", async () => strikes.includes("CHAT_HISTORY_TWICE"), 10_000);
      assert.equal(lookups - before, 3, "the second history is not read");

      // Live lines: one stamped at the end of time (a strike), one from two hours ago, then a real one.
      const far = await say(7, "from the future", 2 ** 48 - 1);
      const stale = await say(8, "old news", now - 2 * 60 * 60_000);
      for (const line of [far, stale, await say(9, "now")]) first.link.send(live(line), true);
      await waitFor("c to hear d's live line", async () => heard.includes("now"), 10_000);
      assert.deepEqual(heard, ["earlier", "later", "now"], "neither out-of-bounds line is shown");
      assert.deepEqual(
        c.chatHistory.map((line) => line.text),
        ["earlier", "later", "now"],
        "nor kept for newcomers",
      );
      assert.deepEqual(strikes, ["CHAT_HISTORY_TWICE", "CHAT_FROM_FUTURE"]);

      // A new link replays the same lines, the failed one included: every one was checked already.
      first.link.close();
      await waitFor("c to see d's first link close", async () => c.peer(first.id) === undefined, 10_000);
      const second = await linkD();
      const relinked = lookups;
      second.link.send(history, true);
      second.link.send(live(await say(10, "back again")), true);
      await waitFor("c to hear d again", async () => heard.includes("back again"), 10_000);
      assert.equal(lookups, relinked, "no line is looked up twice");
      assert.deepEqual(heard, ["earlier", "later", "now", "back again"]);
      assert.deepEqual(strikes, ["CHAT_HISTORY_TWICE", "CHAT_FROM_FUTURE"], "a first history on a new link is fine");
      second.link.close();
    } finally {
      c.close();
    }
  });

  it("keeps a quiet link alive, and drops one that stopped carrying without closing", async () => {
    const team = await players(2);
    const ledger = new IndexerLedger(world.urls.indexer);
    // a keeps the default's proportions, scaled down; b's own timer never fires in the test (as in a hidden
    // browser tab, whose timers the browser slows to once a minute): it is heard because it answers a.
    const silentMs = 4000;
    const [a, b] = team.map((player, i) =>
      bareMesh(player, `quiet-${i}`, ledger, { limits: { silentMs: i === 0 ? silentMs : 3_600_000 } }),
    ) as [Mesh, Mesh];
    const left: string[] = [];
    a.on("left", (_peer, why) => left.push(why));
    try {
      const pair = await loopbackPair();
      const linkB = new SimplePeerLink(pair.b);
      await Promise.all([a.attach(new SimplePeerLink(pair.a), b.id), b.attach(linkB, a.id)]);
      await waitFor("a and b to link", async () => a.peer(b.id) !== undefined && b.peer(a.id) !== undefined, 10_000);
      // Neither moves nor edits: only the keep-alives pass, and the link stays.
      await new Promise((resolve) => setTimeout(resolve, 2.5 * silentMs));
      assert.ok(a.peer(b.id) && b.peer(a.id), `a quiet link was dropped: ${left.join(", ")}`);
      // b's side stops carrying anything, with no close (a connection gone without a goodbye): a drops it.
      linkB.send = () => {};
      await waitFor("a to drop the silent link", async () => a.peer(b.id) === undefined, 2 * silentMs);
      assert.match(left.join(", "), /silent for \d+ s/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a full peer drops its farthest link to take a nearer peer", async () => {
    const team = (await players(5)) as [Player, Player, Player, Player, Player];
    // Region (4, 4), out of view of the other tests' peers.
    const base = 4 * 8 * CHUNK_SIZE + CHUNK_SIZE;
    // It keeps its 2 nearest and takes 3 links at most; three far peers fill it first.
    const hub = await startPeer(team[0], standAt(base, base), undefined, { maxPeers: 3, nearest: 2, randomLinks: 0 });
    const far = await Promise.all(
      [40, 50, 60].map((dx, i) => startPeer(team[1 + i] as Player, standAt(base + dx, base))),
    );
    await waitFor("the far peers to fill the hub", async () => hub.mesh.peers.length === 3, 30_000);
    const farthest = far[2] as NodePeer;
    const near = await startPeer(team[4], standAt(base + 3, base));
    await waitFor("the hub to take the nearer peer", async () => hub.mesh.has(near.id), 30_000);
    assert.ok(hub.mesh.peers.length <= 3, `${hub.mesh.peers.length} links`);
    assert.ok(!hub.mesh.has(farthest.id), "the farthest link made room");
    // It stays so: the one dropped does not knock its way back in, and the two nearest are kept.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok(hub.mesh.has(near.id) && hub.mesh.has((far[0] as NodePeer).id), "the two nearest are linked");
    assert.ok(!hub.mesh.has(farthest.id), "the farthest stays out");
    // They stay up until the end: a stopped DHT node slows every lookup that meets it for a while.
  });

  it("churn: 3 of 10 peers stop mid-run and 3 new ones join; every live peer converges, with no unhandled error", async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on("unhandledRejection", onError);
    process.on("uncaughtException", onError);
    try {
      const random = prng(13);
      const team = await players(13);
      // Region (2, 2), out of view of the other tests' peers.
      const base = 2 * 8 * CHUNK_SIZE + CHUNK_SIZE;
      const spots = team.map((_, i) => standAt(base + 4 * (i % 4), base + 4 * Math.floor(i / 4)));
      const live = await Promise.all(team.slice(0, 10).map((player, i) => startPeer(player, spots[i] as Position)));
      await waitFor("the first 10 to link", async () => live.every((p) => p.mesh.peers.length >= 3), 30_000);

      const touched = new Set<bigint>();
      const blocks = [BLOCK_IDS.stone, BLOCK_IDS.dirt, BLOCK_IDS.wood, BLOCK_IDS.air];
      const leaving = live.slice(7, 10);
      let joining: Promise<NodePeer[]> | undefined;
      const startedAt = Date.now();
      while (Date.now() - startedAt < 6_000) {
        const elapsed = Date.now() - startedAt;
        // Leavers stop editing a little before they stop, so none of their ops is in flight then.
        const editors = live.filter((peer) => elapsed < 1_700 || !leaving.includes(peer));
        const peer = editors[Math.floor(random() * editors.length)] as NodePeer;
        const { chunk, index } = nearBlock(peer.mesh.position as Position, random);
        touched.add(chunk);
        await peer.mesh.edit(chunk, index, blocks[Math.floor(random() * blocks.length)] as number);
        if (elapsed >= 2_000 && live.some((p) => leaving.includes(p))) {
          for (const gone of leaving) {
            live.splice(live.indexOf(gone), 1);
            running.splice(running.indexOf(gone), 1);
            await gone.stop();
          }
        }
        if (elapsed >= 3_000 && !joining)
          joining = Promise.all(team.slice(10).map((player, k) => startPeer(player, spots[10 + k] as Position)));
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      live.push(...(await (joining as Promise<NodePeer[]>)));
      await waitFor("the newcomers to link", async () => live.every((p) => p.mesh.peers.length >= 3), 30_000);
      await converged(live, [...touched]);
      assert.equal(live.length, 10);
      assert.deepEqual(errors, [], "no unhandled error");
    } finally {
      process.off("unhandledRejection", onError);
      process.off("uncaughtException", onError);
    }
  });

  it("drops and bans a hostile peer that sends garbage, oversized, replayed and forged messages; honest peers keep converging", async () => {
    const [h1, h2, x] = await players(3);
    if (!h1 || !h2 || !x) throw new Error("unreachable");
    const spot = standAt(3 * CHUNK_SIZE, 3 * CHUNK_SIZE);
    const honest = [await startPeer(h1, spot), await startPeer(h2, [spot[0] + 3, spot[1], spot[2]])];
    const [one] = honest as [NodePeer];
    // The hostile peer speaks the protocol by hand over a real DHT-signaled WebRTC link.
    const { dht, link, id: xId, domain } = await handLink(x, spot, one);
    try {
      const strikes: string[] = [];
      one.mesh.on("strike", (_peer, code) => strikes.push(code));
      link.send(encodeMessage({ type: "move", seq: 1, position: [...spot] }), true);
      // Garbage, then a message over the size limit.
      link.send(new Uint8Array([1, 200, 3, 4, 5]), true);
      link.send(new Uint8Array(70 * 1024), true);
      // A valid op of its own, twice: the replay is a duplicate, not applied twice and not forwarded.
      const own = await signOp(
        {
          chunk: chunkIdOf(3, 0, 3),
          index: 0,
          block: BLOCK_IDS.stone,
          hlc: { wallMs: Date.now(), logical: 0 },
          author: x.wallet.address,
        },
        x.session,
        domain,
      );
      // Forged: ops claiming to be h1's, signed by the hostile peer's key.
      const forged = await Promise.all(
        [1, 2, 3].map((n) =>
          signOp(
            {
              chunk: own.chunk,
              index: n,
              block: BLOCK_IDS.stone,
              hlc: { wallMs: Date.now(), logical: n },
              author: h1.wallet.address,
            },
            x.session,
            domain,
          ),
        ),
      );
      for (const op of [own, own, ...forged]) link.send(encodeMessage({ type: "op", op, ttl: 4 }), true);
      await waitFor("the hostile peer to be banned", async () => one.mesh.isBanned(xId), 20_000);
      assert.ok(one.mesh.isBanned(x.wallet.address), "its wallet is banned too");
      assert.ok(strikes.includes("WIRE_TOO_LARGE") && strikes.includes("NO_SESSION"), strikes.join(","));
      link.close();
    } finally {
      await dht.destroy();
    }
    // The honest pair still converges.
    await waitFor("the honest peers to link", async () => honest.every((p) => p.mesh.peers.length >= 1), 20_000);
    const random = prng(11);
    const touched = new Set<bigint>();
    for (const [i, peer] of honest.entries())
      for (let n = 0; n < 10; n++) {
        const { chunk, index } = nearBlock(i === 0 ? spot : [spot[0] + 3, spot[1], spot[2]], random);
        touched.add(chunk);
        await peer.mesh.edit(chunk, index, BLOCK_IDS.dirt);
      }
    await converged(honest, [...touched]);
  });

  it("history refused only for its age is no strike: an author replaying its own edits past the skew bound stays linked", async () => {
    const [h, x] = await players(2);
    if (!h || !x) throw new Error("unreachable");
    const spot = standAt(-5 * CHUNK_SIZE, 3 * CHUNK_SIZE);
    const one = await startPeer(h, spot);
    const { dht, link, id: xId, domain } = await handLink(x, [spot[0] + 2, spot[1], spot[2]], one);
    try {
      const strikes: string[] = [];
      one.mesh.on("strike", (_peer, code) => strikes.push(code));
      const rejected: string[] = [];
      one.mesh.on("op", (verdict) => {
        if (verdict.status === "rejected") rejected.push(verdict.code);
      });
      link.send(encodeMessage({ type: "move", seq: 1, position: [spot[0] + 2, spot[1], spot[2]] }), true);
      /** Its own op stamped `ageMs` ago (negative: ahead of the clock), on a cell within its reach. */
      const stamped = (n: number, ageMs: number) => {
        const { cx, cy, cz, index } = locateBlock(
          Math.floor(spot[0]) + 1 + (n % 3),
          Math.floor(spot[1]) + 1,
          Math.floor(spot[2]) + Math.floor(n / 3) - 1,
        );
        return signOp(
          {
            chunk: chunkIdOf(cx, cy, cz),
            index,
            block: BLOCK_IDS.stone,
            hlc: { wallMs: Date.now() - ageMs, logical: n },
            author: x.wallet.address,
          },
          x.session,
          domain,
        );
      };
      // Seven old edits as history (hop count 0), more than the strikes that ban: refused, no strike.
      for (let n = 0; n < 7; n++) link.send(encodeMessage({ type: "op", op: await stamped(n, 70_000), ttl: 0 }), true);
      await waitFor("the old history to be judged", () => rejected.length >= 7, 10_000);
      assert.deepEqual(new Set(rejected), new Set(["HLC_SKEW"]));
      assert.deepEqual(strikes, [], "history refused for its age is no strike");
      assert.ok(
        one.mesh.peers.some((peer) => peer.id === xId),
        "still linked",
      );
      // The same age live, or history from the future, is the author's own clock: a strike each.
      link.send(encodeMessage({ type: "op", op: await stamped(7, 70_000), ttl: 4 }), true);
      link.send(encodeMessage({ type: "op", op: await stamped(8, -70_000), ttl: 0 }), true);
      await waitFor("two strikes", () => strikes.length >= 2, 10_000);
      assert.deepEqual(strikes, ["HLC_SKEW", "HLC_SKEW"]);
      assert.equal(one.mesh.isBanned(xId), false);
      link.close();
    } finally {
      await dht.destroy();
    }
  });

  it("ops that arrive while the indexer cannot answer are held, then applied and passed on once it answers", async () => {
    const [h, w] = await players(2);
    if (!h || !w) throw new Error("unreachable");
    // The waiting peer reads the indexer through a door the test can shut, as a killed indexer would be.
    const door = await openDoor(world.urls.indexer);
    const waitingLedger = new IndexerLedger(door.url);
    try {
      const spot = standAt(-7 * CHUNK_SIZE, -6 * CHUNK_SIZE);
      const author = await startPeer(h, spot);
      const waiting = await startPeer(w, [spot[0] + 2, spot[1], spot[2]], new TestClock(), { ledger: waitingLedger });
      await waitFor(
        "the two to link",
        async () => author.mesh.peer(waiting.id) !== undefined && waiting.mesh.peer(author.id) !== undefined,
        20_000,
      );
      const strikes: string[] = [];
      waiting.mesh.on("strike", (_peer, code) => strikes.push(code));
      const verdicts: string[] = [];
      waiting.mesh.on("op", (verdict) => verdicts.push(verdict.status));

      // The indexer goes away, and the waiting peer no longer knows the author's session.
      door.open = false;
      waitingLedger.forget(h.wallet.address);
      const random = prng(23);
      const touched = new Set<bigint>();
      for (let n = 0; n < 5; n++) {
        const { chunk, index } = nearBlock(spot, random);
        touched.add(chunk);
        await author.mesh.edit(chunk, index, BLOCK_IDS.brick);
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.deepEqual(verdicts, [], "nothing judged while the ledger cannot say");
      assert.ok(
        [...touched].some((chunk) => author.replica.hash(chunk) !== waiting.replica.hash(chunk)),
        "the edits are not in yet",
      );

      door.open = true;
      await converged([author, waiting], [...touched], 15_000);
      assert.equal(verdicts.filter((status) => status === "applied").length, 5);
      assert.deepEqual(strikes, [], "held ops are nobody's fault");
    } finally {
      door.close();
    }
  });
});
