/**
 * Signals that fit, with real peers: node-datachannel pairs connect through compact items in real DHT
 * mailboxes, on loopback and through Debian's coturn (a real STUN/TURN server on 127.0.0.1), where the
 * items carry relay candidates, the peers wait for them before signaling, and the link runs over TURN.
 * A TURN server that does not answer costs the wait, and the peers still meet on their host candidates.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type Peer from "simple-peer";
import { WorldDht } from "../../p2p/node/dht.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { connectThroughDht } from "../../p2p/node/signal.ts";
import { decodeSignalItem, MAX_SIGNAL_ITEM_BYTES, SignalVersionError } from "../../p2p/signal-item.ts";
import { commandExists } from "../helpers/netns.ts";

/** This file's ports (the signals work's base, 8000): DHT nodes, coturn, its relay range, a dead port. */
const PORTS = { dht: 8003, turn: 8010, deadTurn: 8011, relayMin: 8100, relayMax: 8199 };
/**
 * coturn listens and relays on another loopback address than the peers' host candidates: it grants a
 * relay's permission by address, and were both 127.0.0.1 it would take a peer's packets straight from
 * its host socket, and the two would end up talking host to host (peer-reflexive) past the relay.
 */
const TURN_HOST = "127.0.0.2";
const TURN_INSTALL_COMMAND = "apt-get update && apt-get install -y coturn";

type Candidate = { type: string; address: string; port: number };
type Selected = { local: Candidate; remote: Candidate };

/** The candidate pair a node-datachannel connection under simple-peer chose. */
function selectedPair(peer: Peer): Selected | undefined {
  return (peer as unknown as { _pc: { selectedCandidatePair(): Selected | undefined } })._pc.selectedCandidatePair();
}

/** Resolves once a STUN binding request to `host`:`port` is answered (the server is up). */
async function stunAnswers(host: string, port: number, timeoutMs: number): Promise<void> {
  const socket = dgram.createSocket("udp4");
  try {
    const started = Date.now();
    const answered = new Promise<void>((resolve) => socket.once("message", () => resolve()));
    while (Date.now() - started < timeoutMs) {
      // A binding request: type 0x0001, no attributes, the magic cookie, a 12-byte transaction id.
      const request = Buffer.alloc(20);
      request.writeUInt16BE(0x0001, 0);
      request.writeUInt32BE(0x2112a442, 4);
      crypto.getRandomValues(request.subarray(8));
      socket.send(request, port, host);
      const tick = new Promise<false>((resolve) => setTimeout(() => resolve(false), 100));
      if ((await Promise.race([answered.then(() => true), tick])) === true) return;
    }
    throw new Error(`no STUN answer on ${host}:${port} in ${timeoutMs} ms`);
  } finally {
    socket.close();
  }
}

describe("p2p: compact signals between real peers", { timeout: 120_000 }, () => {
  const nodes: WorldDht[] = [];
  const links: Peer[] = [];
  let turn: ChildProcess | undefined;
  let turnDir: string | undefined;

  before(async () => {
    if (!commandExists("turnserver")) throw new Error(`coturn is missing: ${TURN_INSTALL_COMMAND}`);
    turnDir = mkdtempSync(path.join(os.tmpdir(), "seedcraft-sdp-turn-"));
    turn = spawn(
      "turnserver",
      [
        "-n",
        `--listening-ip=${TURN_HOST}`,
        `--relay-ip=${TURN_HOST}`,
        `--listening-port=${PORTS.turn}`,
        `--min-port=${PORTS.relayMin}`,
        `--max-port=${PORTS.relayMax}`,
        "--lt-cred-mech",
        "--user=seedcraft:test-secret",
        "--realm=seedcraft",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "-m",
        "1",
        // Both peers are on this machine's loopback: coturn refuses to relay there unless told.
        "--allow-loopback-peers",
        `--pidfile=${path.join(turnDir, "turnserver.pid")}`,
        `--userdb=${path.join(turnDir, "turndb")}`,
        "--log-file=/dev/null",
      ],
      { stdio: "ignore" },
    );
    await stunAnswers(TURN_HOST, PORTS.turn, 10_000);
    const bootstrap = await WorldDht.start({ bootstrap: false, port: PORTS.dht });
    nodes.push(bootstrap);
  });

  after(async () => {
    for (const link of links) link.destroy();
    await Promise.all(nodes.map((node) => node.destroy()));
    releaseWebRtc();
    if (turn && turn.exitCode === null) {
      const exited = new Promise((resolve) => turn?.once("exit", resolve));
      turn.kill("SIGTERM");
      await exited;
    }
    if (turnDir) rmSync(turnDir, { recursive: true, force: true });
  });

  /** Two fresh DHT nodes on the bootstrap; `first` offers (the lower key). */
  async function pair(): Promise<{ first: WorldDht; second: WorldDht }> {
    const at = [`127.0.0.1:${PORTS.dht}`];
    const [one, two] = await Promise.all([WorldDht.start({ bootstrap: at }), WorldDht.start({ bootstrap: at })]);
    nodes.push(one, two);
    return Buffer.compare(Buffer.from(one.publicKey), Buffer.from(two.publicKey)) < 0
      ? { first: one, second: two }
      : { first: two, second: one };
  }

  /** The items each side left the other, as the other's DHT node holds them. */
  async function itemsOf(first: WorldDht, second: WorldDht) {
    const offer = await second.readMail(first.publicKey);
    const answer = await first.readMail(second.publicKey);
    assert.ok(offer && answer, "both items are in the mailboxes");
    for (const mail of [offer, answer]) assert.ok(mail.payload.length <= MAX_SIGNAL_ITEM_BYTES);
    const items = [decodeSignalItem(offer.payload), decodeSignalItem(answer.payload)];
    const [o, a] = items;
    assert.ok(o?.type === "offer" && a?.type === "answer");
    assert.equal(o.n, a.n, "the answer echoes the offer's attempt");
    return { offer: o, answer: a, bytes: [offer.payload.length, answer.payload.length] };
  }

  async function talk(a: Peer, b: Peer): Promise<void> {
    const got = new Promise<string>((resolve) =>
      b.once("data", (data: Uint8Array) => resolve(Buffer.from(data).toString())),
    );
    a.send("through a compact signal");
    assert.equal(await got, "through a compact signal");
  }

  it("connect on loopback through compact items in DHT mailboxes, each under a BEP44 value", async (t) => {
    const { first, second } = await pair();
    const [a, b] = await Promise.all([
      connectThroughDht(first, second.publicKey, { address: second.address }),
      connectThroughDht(second, first.publicKey, { address: first.address }),
    ]);
    links.push(a, b);
    await talk(a, b);
    const { offer, answer, bytes } = await itemsOf(first, second);
    t.diagnostic(`loopback: offer ${bytes[0]} B, answer ${bytes[1]} B`);
    for (const item of [offer, answer]) {
      assert.deepEqual(
        item.description.candidates.map((c) => `${c.type} ${c.address}`),
        ["host 127.0.0.1"],
      );
      assert.equal(item.description.sctpPort, 5000);
    }
    assert.equal(offer.description.setup, "actpass");
    assert.equal(answer.description.setup, "active");
  });

  it("wait for their relay candidates with TURN set, carry them compact, and link through the relay", async (t) => {
    const { first, second } = await pair();
    const config = {
      iceServers: [
        { urls: `stun:${TURN_HOST}:${PORTS.turn}` },
        { urls: `turn:${TURN_HOST}:${PORTS.turn}?transport=udp`, username: "seedcraft", credential: "test-secret" },
      ],
      bindAddress: "127.0.0.1",
      // Relay only: the link can open only if the relay candidates survived the compact form both ways.
      iceTransportPolicy: "relay",
    } as RTCConfiguration;
    const started = performance.now();
    const [a, b] = await Promise.all([
      connectThroughDht(first, second.publicKey, { address: second.address, config: structuredClone(config) }),
      connectThroughDht(second, first.publicKey, { address: first.address, config: structuredClone(config) }),
    ]);
    links.push(a, b);
    const openMs = performance.now() - started;
    await talk(a, b);
    await talk(b, a);
    const { offer, answer, bytes } = await itemsOf(first, second);
    t.diagnostic(`relay: offer ${bytes[0]} B, answer ${bytes[1]} B, linked in ${openMs.toFixed(0)} ms`);
    for (const item of [offer, answer]) {
      const relays = item.description.candidates.filter((c) => c.type === "relay");
      assert.ok(relays.length >= 1, `a relay candidate in ${JSON.stringify(item.description.candidates)}`);
      for (const relay of relays) {
        assert.equal(relay.address, TURN_HOST);
        assert.ok(relay.port >= PORTS.relayMin && relay.port <= PORTS.relayMax, `relay port ${relay.port}`);
      }
    }
    // Relay only, each side signaled its relay candidate alone.
    for (const item of [offer, answer])
      assert.deepEqual(
        item.description.candidates.map((c) => c.type),
        ["relay"],
      );
    // libdatachannel names a pair's local candidate by its base (the host socket that talks to coturn):
    // the remote one shows the relay.
    const pairs = [a, b].map(selectedPair);
    for (const p of pairs) {
      assert.equal(p?.remote.type, "relay", JSON.stringify(pairs));
      assert.equal(p?.remote.address, TURN_HOST);
    }
    // Gathering ended when the relay candidates were in, not at the 3 s cap.
    assert.ok(openMs < 3000, `${openMs} ms`);
  });

  it("give a TURN server that does not answer up after the cap, and still meet on host candidates", async (t) => {
    const { first, second } = await pair();
    const config = {
      iceServers: [
        { urls: `turn:${TURN_HOST}:${PORTS.deadTurn}?transport=udp`, username: "seedcraft", credential: "test-secret" },
      ],
      bindAddress: "127.0.0.1",
    } as RTCConfiguration;
    const gatherMs = 1500;
    const started = performance.now();
    const [a, b] = await Promise.all([
      connectThroughDht(first, second.publicKey, {
        address: second.address,
        config: structuredClone(config),
        gatherMs,
      }),
      connectThroughDht(second, first.publicKey, { address: first.address, config: structuredClone(config), gatherMs }),
    ]);
    links.push(a, b);
    const openMs = performance.now() - started;
    await talk(a, b);
    const { offer, answer } = await itemsOf(first, second);
    t.diagnostic(`dead TURN: linked in ${openMs.toFixed(0)} ms (gathering capped at ${gatherMs} ms)`);
    for (const item of [offer, answer])
      assert.deepEqual(
        item.description.candidates.map((c) => c.type),
        ["host"],
      );
    for (const link of [a, b]) assert.equal(selectedPair(link)?.local.type, "host");
    // Offer then answer each wait at most the cap: never a hang.
    assert.ok(openMs < 2 * gatherMs + 2000, `${openMs} ms`);
  });

  it("tell a peer whose other side runs an outdated build so, typed, instead of timing out bare", async () => {
    const { first, second } = await pair();
    // What builds before version 1 left in a mailbox: the whole SDP as JSON.
    const stale = new TextEncoder().encode(
      JSON.stringify({
        type: "offer",
        sdp: "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        n: "0123456789abcdef",
        t: Date.now(),
      }),
    );
    for (const [from, to] of [
      [first, second],
      [second, first],
    ] as const) {
      await from.sendMail(to.publicKey, stale, to.address);
      const error = await connectThroughDht(to, from.publicKey, { timeoutMs: 1500 }).then(
        () => assert.fail("connected to a stale peer"),
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof SignalVersionError, String(error));
      assert.equal(error.code, "SIGNAL_VERSION");
      assert.equal(error.version, "json");
    }
  });
});
