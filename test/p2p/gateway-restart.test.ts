/**
 * Knocks and mail reach a browser through a gateway restarted on the same port (as `seedcraft up` restarts a
 * dead part): real DHT nodes, a real gateway stopped and started again, the isomorphic client under Node's
 * own WebSocket, and a Node peer that had knocked the browser before the restart and knocks it again after.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCard } from "../../p2p/card.ts";
import { type GatewayAddress, GatewayDht } from "../../p2p/gateway-client.ts";
import { regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway, GATEWAY_CHALLENGE_PREFIX } from "../../p2p/node/gateway.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;
const GATEWAY_PORT = worldPorts(48000).gateway;

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

  it("falls back to a free port when the old one is taken, and refuses a bad port in the hello", async () => {
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

      // A hello asking for a port that is not a plain user port is refused, and hosts nothing.
      const socket = new WebSocket(gateway.url);
      const frames: Record<string, unknown>[] = [];
      socket.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
      await waitFor("the challenge", () => frames.some((f) => f.event === "challenge"), 5_000);
      const nonce = frames.find((f) => f.event === "challenge")?.nonce as string;
      const secret = ed25519.utils.randomSecretKey();
      const sig = ed25519.sign(new TextEncoder().encode(GATEWAY_CHALLENGE_PREFIX + nonce), secret);
      const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
      const key = hex(ed25519.getPublicKey(secret));
      socket.send(JSON.stringify({ id: 1, op: "hello", key, sig: hex(sig), port: 53 }));
      await waitFor("the refusal", () => frames.some((f) => f.id === 1), 5_000);
      assert.equal(frames.find((f) => f.id === 1)?.code, "BAD_REQUEST");
      socket.send(JSON.stringify({ id: 2, op: "lookup", topic: "00".repeat(20) }));
      await waitFor("the answer", () => frames.some((f) => f.id === 2), 5_000);
      assert.equal(frames.find((f) => f.id === 2)?.code, "HELLO_FIRST", "the refused hello hosted no node");
      socket.close();
    } finally {
      squatter.close();
      await client.destroy();
      await gateway.close();
    }
  });
});
