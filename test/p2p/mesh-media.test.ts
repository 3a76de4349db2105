/**
 * Media signaling through the mesh with real parts on 127.0.0.1: a hardhat chain with the contracts, the
 * indexer (peers judge sessions against it), and Node meshes linked by real WebRTC (libdatachannel). Voice
 * and video connections signal over the link, one hop; a peer that signals too fast or sends malformed
 * media messages earns strikes like any other.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "viem";
import { World } from "../../cli/world.ts";
import { terrainSeedOf } from "../../core/terrain.ts";
import { CAPABILITIES, encodeMessage, type MediaMessage } from "../../core/wire.ts";
import { makeHello } from "../../p2p/hello.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { SimplePeerLink } from "../../p2p/link.ts";
import { Mesh, type MeshPeer } from "../../p2p/mesh.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { WorldReplica } from "../../p2p/replica.ts";
import { type LocalClients, localClients, newPlayers, type TestPlayer } from "../helpers/chain-clients.ts";
import { loopbackPair } from "../helpers/rtc.ts";
import { waitFor } from "../helpers/world.ts";

const NETWORK = "p2p-mesh-media";
const PORTS = { chain: 13545, indexer: 13069, app: 13173 };

describe("p2p: media signaling through the mesh", { timeout: 180_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let seed: number;
  let ledger: IndexerLedger;
  const meshes: Mesh[] = [];
  // Every WebRTC pair a test opened, closed in after() even when its test failed half-way: a link left open
  // keeps libdatachannel's threads, and the file's process, alive.
  const pairs: { a: { destroy(): void }; b: { destroy(): void } }[] = [];
  async function openPair() {
    const pair = await loopbackPair();
    pairs.push(pair);
    return pair;
  }

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-mesh-media-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    seed = terrainSeedOf(clients.deployment.chainId, clients.deployment.contracts.ChunkLedger.address);
    ledger = new IndexerLedger(world.urls.indexer);
  });

  after(async () => {
    for (const mesh of meshes) mesh.close();
    for (const pair of pairs) {
      pair.a.destroy();
      pair.b.destroy();
    }
    await world?.stop();
    releaseWebRtc();
  });

  function meshOf(player: TestPlayer, name: string, capabilities?: number): Mesh {
    const domain = {
      chainId: clients.deployment.chainId,
      verifyingContract: clients.deployment.contracts.ChunkLedger.address,
    };
    const mesh = new Mesh({
      identity: {
        wallet: player.wallet.address,
        sessionKey: player.session,
        peerId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
        name,
        capabilities,
      },
      replica: new WorldReplica({ domain, seed, ledger }),
      ledger,
    });
    meshes.push(mesh);
    return mesh;
  }

  it("carries offers, answers, candidates and byes between linked peers, in order, and nowhere else", async () => {
    const [pa, pb] = (await newPlayers(clients, world.urls.indexer, 2)) as [TestPlayer, TestPlayer];
    const a = meshOf(pa, "media-a", CAPABILITIES.voice);
    const b = meshOf(pb, "media-b");
    const pair = await openPair();
    await Promise.all([a.attach(new SimplePeerLink(pair.a), b.id), b.attach(new SimplePeerLink(pair.b), a.id)]);
    await waitFor("a and b to link", async () => Boolean(a.peer(b.id) && b.peer(a.id)), 10_000);
    // Each knows, from the signed hello, whether the other takes calls.
    assert.equal(b.peer(a.id)?.capabilities, CAPABILITIES.voice);
    assert.equal(a.peer(b.id)?.capabilities, 0);

    const atB: MediaMessage[] = [];
    const atA: { from: MeshPeer; message: MediaMessage }[] = [];
    b.on("media", (from, message) => {
      assert.equal(from.id, a.id);
      atB.push(message);
    });
    a.on("media", (from, message) => atA.push({ from, message }));
    // An SDP of realistic size (Chromium's audio-and-video offers run to several KiB).
    const offer = `v=0\r\n${"a=rtpmap:111 opus/48000/2\r\n".repeat(300)}`;
    const sent: Omit<MediaMessage, "type">[] = [
      { kind: "offer", session: 42, text: offer },
      ...[1, 2, 3].map((n) => ({ kind: "candidate" as const, session: 42, text: `{"candidate":"c${n}"}` })),
      { kind: "bye", session: 42, text: "" },
    ];
    for (const signal of sent) assert.ok(a.sendMedia(b.id, signal));
    await waitFor("b to hear a's media signals", async () => atB.length === sent.length, 10_000);
    assert.deepEqual(
      atB,
      sent.map((signal) => ({ type: "media", ...signal })),
    );
    assert.ok(b.sendMedia(a.id, { kind: "answer", session: 42, text: "v=0\r\n" }));
    await waitFor("a to hear b's answer", async () => atA.length === 1, 10_000);
    assert.equal(atA[0]?.from.id, b.id);
    // Only linked peers: a stranger gets nothing, and an over-long signal is refused before it leaves.
    assert.equal(a.sendMedia(bytesToHex(crypto.getRandomValues(new Uint8Array(32))), sent[4] as MediaMessage), false);
    assert.throws(() => a.sendMedia(b.id, { kind: "offer", session: 1, text: "x".repeat(17 * 1024) }));
  });

  it("strikes a peer that sends malformed media messages or signals faster than its budget, then bans it", async () => {
    const [ph, px] = (await newPlayers(clients, world.urls.indexer, 2)) as [TestPlayer, TestPlayer];
    const honest = meshOf(ph, "media-honest");
    const strikes: string[] = [];
    honest.on("strike", (_peer, code) => strikes.push(code));
    let heard = 0;
    honest.on("media", () => heard++);
    const pair = await openPair();
    // The hostile side speaks the protocol by hand over a real WebRTC link.
    const link = new SimplePeerLink(pair.b);
    const xId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    await honest.attach(new SimplePeerLink(pair.a), xId);
    link.send(
      encodeMessage(
        await makeHello({ wallet: px.wallet.address, sessionKey: px.session, peerId: xId, name: "x" }, link.binding),
      ),
      true,
    );
    await waitFor("the honest mesh to take x in", async () => honest.peer(xId) !== undefined, 10_000);

    // Malformed: media kind 9, and a bye that carries text.
    link.send(Uint8Array.of(1, 11, 9, 0, 0, 0, 1, 0, 1, 97), true);
    link.send(Uint8Array.of(1, 11, 4, 0, 0, 0, 1, 0, 1, 97), true);
    await waitFor("two strikes for malformed media", async () => strikes.length === 2, 10_000);
    assert.deepEqual(strikes, ["WIRE_FIELD", "WIRE_FIELD"]);
    assert.equal(heard, 0, "nothing malformed reaches the media listeners");

    // 100 candidates at once: the budget (10 a second, bursts of 40) takes the first 40, then strikes.
    const candidate = encodeMessage({ type: "media", kind: "candidate", session: 1, text: '{"candidate":""}' });
    const sentAt = performance.now();
    for (let i = 0; i < 100; i++) link.send(candidate, true);
    await waitFor("x to be banned", async () => honest.isBanned(xId), 10_000);
    // The bucket refills at 10 a second while the burst arrives: on a loaded machine that can take a while.
    const refilled = Math.ceil(((performance.now() - sentAt) / 1000) * 10);
    assert.ok(honest.isBanned(px.wallet.address), "its wallet is banned too");
    assert.ok(heard >= 38 && heard <= 40 + refilled, `about a burst's worth reached the listeners (${heard})`);
    assert.deepEqual(strikes.slice(2), ["MEDIA_OVER_BUDGET", "MEDIA_OVER_BUDGET", "MEDIA_OVER_BUDGET"]);
  });
});
