/**
 * Knocks and mail reach a browser through a gateway restarted on the same port (as `seedcraft up` restarts a
 * dead part): real DHT nodes, a real gateway stopped and started again, the isomorphic client under Node's
 * own WebSocket, and a Node peer that had knocked the browser before the restart and knocks it again after;
 * and which UDP port a hello may ask for back.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCard } from "../../p2p/card.ts";
import { type GatewayAddress, GatewayDht } from "../../p2p/gateway-client.ts";
import { regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway, ephemeralPortRange, GATEWAY_CHALLENGE_PREFIX } from "../../p2p/node/gateway.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;
const GATEWAY_PORT = worldPorts(7000).gateway;

describe("p2p: knocks reach a browser through a restarted gateway", { timeout: 45_000 }, () => {
  const nodes: WorldDht[] = [];
  let at: string;
  let peer: WorldDht;

  before(async () => {
    const bootstrap = await WorldDht.start({ bootstrap: false });
    at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    nodes.push(bootstrap);
    // A few more nodes, so the browser's id has neighbours besides the bootstrap that remember its address.
    for (let i = 0; i < 4; i++) nodes.push(await WorldDht.start({ bootstrap: [at] }));
    peer = await WorldDht.start({ bootstrap: [at] });
    nodes.push(peer);
  });

  after(async () => {
    for (const node of nodes) await node.destroy();
  });

  it("a Node peer's knock and mail after the restart arrive within a few seconds", async () => {
    let gateway = await DhtGateway.start({ bootstrap: [at], port: GATEWAY_PORT, maxClients: 4 });
    const client = await GatewayDht.connect(gateway.url);
    try {
      const knocks: GatewayAddress[] = [];
      client.onKnock((from) => knocks.push(from));
      const session = privateKeyToAccount(generatePrivateKey());
      const wallet = privateKeyToAccount(generatePrivateKey()).address;
      await client.publishCard(await makeCard(client.publicKey, wallet, session));
      const topic = regionTopic(31337, LEDGER, { rx: 5, rz: 6 });
      await client.announce(topic);

      // Before the restart: the peer finds the browser, knocks and mails it, as a link attempt does.
      const [found] = await peer.lookup(topic);
      assert.deepEqual(found, client.address);
      assert.deepEqual(await peer.nodeIdOf(found as GatewayAddress), client.cardTarget);
      await peer.knock(client.cardTarget);
      await waitFor("the first knock", () => knocks.length === 1, 5_000);
      const first = new TextEncoder().encode("offer before the restart");
      await peer.sendMail(client.publicKey, first, found);
      assert.deepEqual((await client.readMail(peer.publicKey))?.payload, first);
      const before = client.address;

      await gateway.close();
      await waitFor("the client to notice", () => client.gateways.length === 0, 5_000);
      gateway = await DhtGateway.start({ bootstrap: [at], port: GATEWAY_PORT, maxClients: 4 });
      await waitFor("the client to reconnect", () => client.gateways.length === 1, 10_000);
      const restartedAt = performance.now();
      // Its new hosted node took the old one's address, where every routing table still points.
      assert.deepEqual(client.address, before);

      await peer.knock(client.cardTarget);
      await waitFor("the knock after the restart", () => knocks.length === 2, 5_000);
      assert.deepEqual(knocks[1], peer.address);
      const second = new TextEncoder().encode("offer after the restart");
      await peer.sendMail(client.publicKey, second, client.address);
      await waitFor(
        "the mail after the restart",
        async () => (await client.readMail(peer.publicKey))?.payload.toString() === second.toString(),
        5_000,
      );
      const tookMs = performance.now() - restartedAt;
      assert.ok(tookMs < 5_000, `knock and mail took ${Math.round(tookMs)} ms after the reconnect`);
    } finally {
      await client.destroy();
      await gateway.close();
    }
  });

  it("falls back to a free port when the old one is taken, and refuses a malformed port in the hello", async () => {
    let gateway = await DhtGateway.start({ bootstrap: [at], port: GATEWAY_PORT, maxClients: 4 });
    const client = await GatewayDht.connect(gateway.url);
    const squatter = createSocket("udp4");
    try {
      const before = client.address;
      await gateway.close();
      await waitFor("the client to notice", () => client.gateways.length === 0, 5_000);
      await new Promise<void>((resolve) => squatter.bind(before.port, "127.0.0.1", resolve));
      gateway = await DhtGateway.start({ bootstrap: [at], port: GATEWAY_PORT, maxClients: 4 });
      await waitFor("the client to reconnect", () => client.gateways.length === 1, 10_000);
      assert.notEqual(client.address.port, before.port, "its node listens elsewhere: the old port is taken");

      // A hello asking for a port that is no port at all is refused, and hosts nothing.
      const hello = await rawHello(gateway.url, 70_000);
      assert.equal(hello.answer.code, "BAD_REQUEST");
      assert.equal(await hello.lookupCode(), "HELLO_FIRST", "the refused hello hosted no node");
      hello.close();
    } finally {
      squatter.close();
      await client.destroy();
      await gateway.close();
    }
  });

  it("takes a port asked for back only in the ephemeral range and never a reserved one", async () => {
    const range = ephemeralPortRange();
    // Free now, as the world's DHT port is for the half second `seedcraft up` takes to restart that part.
    const reserved = await freeUdpPort(0);
    const gateway = await DhtGateway.start({ bootstrap: [at], maxClients: 4, reservedPorts: [reserved] });
    const hellos: Awaited<ReturnType<typeof rawHello>>[] = [];
    try {
      // A free port of the range is taken as asked: what a browser back after a restart gets.
      const allowed = await freeUdpPort(0);
      hellos.push(await rawHello(gateway.url, allowed));
      assert.equal((hellos[0]?.answer.address as GatewayAddress | undefined)?.port, allowed);

      // Below the range (another local service's kind of port) and the reserved one: ignored, not refused.
      const low = await freeUdpPort(range.low - 1, range.low - 200);
      for (const asked of [low, reserved]) {
        const hello = await rawHello(gateway.url, asked);
        hellos.push(hello);
        assert.equal(hello.answer.ok, true, `a hello asking for ${asked} is let in`);
        const port = (hello.answer.address as GatewayAddress).port;
        assert.notEqual(port, asked, `its node did not take ${asked}`);
        assert.ok(port >= range.low && port <= range.high, `${port} is a port listen(0) gives`);
      }
      assert.equal(await freeUdpPort(reserved), reserved, "the reserved port is still free for the world's DHT");
    } finally {
      for (const hello of hellos) hello.close();
      await gateway.close();
    }
  });
});

/** A port free on 127.0.0.1 for UDP: `first` (0: any the OS gives), else the next one down to `last`. */
async function freeUdpPort(first: number, last = first): Promise<number> {
  for (let port = first; port >= last; port--) {
    const socket = createSocket("udp4");
    const bound = await new Promise<number | undefined>((resolve) => {
      socket.once("error", () => resolve(undefined));
      socket.bind(port, "127.0.0.1", () => resolve(socket.address().port));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (bound !== undefined) return bound;
  }
  throw new Error(`no free UDP port in ${last}..${first}`);
}

/** A browser's hello by hand, under a fresh key, asking for `port`: the answer, and a lookup after it. */
async function rawHello(url: string, port: number) {
  const socket = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
  await waitFor("the challenge", () => frames.some((f) => f.event === "challenge"), 5_000);
  const nonce = frames.find((f) => f.event === "challenge")?.nonce as string;
  const secret = ed25519.utils.randomSecretKey();
  const sig = ed25519.sign(new TextEncoder().encode(GATEWAY_CHALLENGE_PREFIX + nonce), secret);
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  socket.send(JSON.stringify({ id: 1, op: "hello", key: hex(ed25519.getPublicKey(secret)), sig: hex(sig), port }));
  await waitFor("the hello's answer", () => frames.some((f) => f.id === 1), 10_000);
  return {
    answer: frames.find((f) => f.id === 1) as Record<string, unknown>,
    async lookupCode(): Promise<unknown> {
      socket.send(JSON.stringify({ id: 2, op: "lookup", topic: "00".repeat(20) }));
      await waitFor("the lookup's answer", () => frames.some((f) => f.id === 2), 5_000);
      return frames.find((f) => f.id === 2)?.code;
    },
    close: () => socket.close(),
  };
}
