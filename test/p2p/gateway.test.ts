/**
 * The browser gateway with real parts on 127.0.0.1: DHT nodes, the gateway's WebSocket server, and the
 * isomorphic client a browser runs (here under Node's own WebSocket). The client signs its own items.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCard } from "../../p2p/card.ts";
import { GatewayDht, GatewayError } from "../../p2p/gateway-client.ts";
import { keyKind } from "../../p2p/key-kind.ts";
import { nodeIdOfKey, regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { isOfferer } from "../../p2p/signal.ts";
import { waitFor } from "../helpers/world.ts";

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;

/** Opens a raw socket to the gateway and collects what it sends. */
async function rawSocket(url: string): Promise<{ socket: WebSocket; frames: Record<string, unknown>[] }> {
  const socket = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("error", reject);
  });
  return { socket, frames };
}

describe("p2p: the browser gateway", { timeout: 60_000 }, () => {
  let bootstrap: WorldDht;
  let node: WorldDht;
  let gateway: DhtGateway;
  const clients: GatewayDht[] = [];

  before(async () => {
    bootstrap = await WorldDht.start({ bootstrap: false });
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    node = await WorldDht.start({ bootstrap: [at] });
    gateway = await DhtGateway.start({ bootstrap: [at], maxClients: 4 });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.destroy()));
    await gateway.close();
    await node.destroy();
    await bootstrap.destroy();
  });

  it("lets a client that signs its own items be found, read, mailed and knocked like any DHT peer", async () => {
    const client = await GatewayDht.connect(gateway.url);
    clients.push(client);
    // A browser's key: lower than any Node peer's, so the browser offers and its ICE agent controls.
    assert.equal(keyKind(client.publicKey), "browser");
    assert.equal(keyKind(node.publicKey), "node");
    assert.equal(isOfferer(client.publicKey, node.publicKey), true);
    // Its card, signed by the client, published through the gateway.
    const session = privateKeyToAccount(generatePrivateKey());
    const wallet = privateKeyToAccount(generatePrivateKey()).address;
    await client.publishCard(await makeCard(client.publicKey, wallet, session));
    const topic = regionTopic(31337, LEDGER, { rx: 3, rz: 4 });
    await client.announce(topic);

    // A Node peer finds it exactly as it finds Node peers: lookup, ping for the id, the card.
    const found = await node.lookup(topic);
    assert.deepEqual(found, [client.address]);
    const id = await node.nodeIdOf(client.address);
    assert.deepEqual(id, nodeIdOfKey(client.publicKey));
    const card = await node.readCard(id);
    assert.equal(card?.wallet, wallet);
    assert.equal(card?.sessionKey, session.address);
    // And the client reads the Node peer's card through the gateway, checking it itself.
    const nodeSession = privateKeyToAccount(generatePrivateKey());
    await node.publishCard(await makeCard(node.publicKey, wallet, nodeSession));
    assert.equal((await client.readCard(node.cardTarget))?.sessionKey, nodeSession.address);
    assert.deepEqual(await client.lookup(topic), []);

    // Mailboxes both ways, straight into the recipient's node.
    const offer = new TextEncoder().encode("v=0 offer from the node");
    await node.sendMail(client.publicKey, offer, client.address);
    assert.deepEqual((await client.readMail(node.publicKey))?.payload, offer);
    const answer = new TextEncoder().encode("v=0 answer from the browser");
    await client.sendMail(node.publicKey, answer, node.address);
    assert.deepEqual((await node.readMail(client.publicKey))?.payload, answer);

    // A knock on the hosted node reaches the client.
    const knocks: { host: string; port: number }[] = [];
    client.onKnock((from) => knocks.push(from));
    await node.knock(client.cardTarget);
    await waitFor("the knock", () => knocks.length > 0, 5_000);
    assert.deepEqual(knocks[0], node.address);
  });

  it("refuses bad hellos, unsigned or malformed requests and floods with typed errors, changing nothing", async () => {
    const { socket, frames } = await rawSocket(gateway.url);
    await waitFor("the challenge", () => frames.some((f) => f.event === "challenge"), 5_000);
    const send = (body: unknown) => socket.send(typeof body === "string" ? body : JSON.stringify(body));
    const reply = async (id: number) => {
      await waitFor(`reply ${id}`, () => frames.some((f) => f.id === id), 5_000);
      return frames.find((f) => f.id === id) as Record<string, unknown>;
    };
    send({ id: 1, op: "lookup", topic: "00".repeat(20) });
    assert.equal((await reply(1)).code, "HELLO_FIRST");
    send({ id: 2, op: "hello", key: "11".repeat(32), sig: "22".repeat(64) });
    assert.equal((await reply(2)).code, "BAD_SIGNATURE");
    send({ id: 3, op: "hello", key: "zz", sig: 5 });
    assert.equal((await reply(3)).code, "BAD_REQUEST");
    send("not json");
    await waitFor("a reply to junk", () => frames.some((f) => f.id === null && f.code === "BAD_REQUEST"), 5_000);
    assert.equal(gateway.clients >= 1, true);
    socket.close();

    // A client may put only items it signed itself; a flood is rate limited.
    const client = await GatewayDht.connect(gateway.url);
    clients.push(client);
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, () => client.lookup(new Uint8Array(20).fill(9))),
    );
    const limited = results.filter(
      (r) => r.status === "rejected" && r.reason instanceof GatewayError && r.reason.code === "RATE_LIMITED",
    );
    assert.ok(limited.length > 0, "some requests of the flood are refused");
    assert.ok(
      results.some((r) => r.status === "fulfilled"),
      "the rest are served",
    );
  });

  it("refuses clients beyond its limit", async () => {
    const extra: GatewayDht[] = [];
    const refusal = await (async () => {
      for (let i = 0; i < 6; i++) {
        try {
          extra.push(await GatewayDht.connect(gateway.url));
        } catch (error) {
          return error;
        }
      }
      return undefined;
    })();
    clients.push(...extra);
    assert.ok(refusal instanceof GatewayError, String(refusal));
    assert.equal(refusal.code, "GATEWAY_CLOSED");
    assert.ok(gateway.clients <= 4);
  });
  it("lets a client use several gateways at once, and keeps working when one of them goes away", async () => {
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const first = await DhtGateway.start({ bootstrap: [at], maxClients: 4 });
    const second = await DhtGateway.start({ bootstrap: [at], maxClients: 4 });
    try {
      // A gateway nobody runs is skipped; the two live ones let the client in under the same key.
      const client = await GatewayDht.connect([first.url, second.url, "ws://127.0.0.1:9"]);
      clients.push(client);
      assert.deepEqual(client.gateways, [first.url, second.url]);
      const topic = regionTopic(31337, LEDGER, { rx: 5, rz: 6 });
      await client.announce(topic);
      // Both hosted nodes are announced; the client's own lookup leaves them out.
      await waitFor("both hosted nodes on the topic", async () => (await node.lookup(topic)).length === 2, 10_000);
      assert.deepEqual(await client.lookup(topic), []);

      const session = privateKeyToAccount(generatePrivateKey());
      const wallet = privateKeyToAccount(generatePrivateKey()).address;
      await client.publishCard(await makeCard(client.publicKey, wallet, session));
      assert.equal((await node.readCard(client.cardTarget))?.sessionKey, session.address);
      // A knock reaches it through the hosted node the DHT knows under its id.
      const knocks: { host: string; port: number }[] = [];
      client.onKnock((from) => knocks.push(from));
      await node.knock(client.cardTarget);
      await waitFor("the knock", () => knocks.length > 0, 5_000);

      // One gateway goes away: the client's cards, announces, lookups and mail go through the other.
      await first.close();
      await waitFor("the client to notice", async () => client.gateways.length === 1, 5_000);
      assert.deepEqual(client.gateways, [second.url]);
      const mail = new TextEncoder().encode("v=0 after one gateway left");
      await client.sendMail(node.publicKey, mail);
      await waitFor(
        "the mail",
        async () => (await node.readMail(client.publicKey))?.payload.toString() === mail.toString(),
        10_000,
      );
      assert.equal((await client.readMail(node.publicKey))?.payload, undefined);
      await node.sendMail(client.publicKey, mail);
      await waitFor("mail for the client", async () => (await client.readMail(node.publicKey)) !== undefined, 10_000);
      const later = regionTopic(31337, LEDGER, { rx: 7, rz: 8 });
      await client.announce(later);
      const announced = await node.lookup(later);
      assert.equal(announced.length, 1, "announced by the gateway that is left");
      assert.notDeepEqual(announced[0], client.address, "not by the one that left");
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("keeps a departed client's node answering the DHT for a while, and gives it back when the client returns", async () => {
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const lingering = await DhtGateway.start({ bootstrap: [at], maxClients: 4, lingerMs: 3_000 });
    try {
      const secretKey = ed25519.utils.randomSecretKey();
      const client = await GatewayDht.connect(lingering.url, secretKey);
      const first = client.address;
      const id = await node.nodeIdOf(first);
      await client.destroy();
      await waitFor("the gateway to see it leave", () => lingering.clients === 0, 5_000);
      assert.equal(lingering.lingering, 1);
      // Gone from the browser, the node still answers where every routing table holds it: no lookup waits on it.
      const startedAt = performance.now();
      assert.deepEqual(await node.nodeIdOf(first), id);
      assert.ok(performance.now() - startedAt < 1_000, "answered at once");
      // Back with the same key (a reload): the same node, at the same address, its own again.
      const again = await GatewayDht.connect(lingering.url, secretKey);
      clients.push(again);
      assert.deepEqual(again.address, first);
      assert.equal(lingering.lingering, 0);
      const knocks: { host: string; port: number }[] = [];
      again.onKnock((from) => knocks.push(from));
      await node.knock(again.cardTarget);
      await waitFor("the knock on the node given back", () => knocks.length > 0, 5_000);
      // Left for good: the node ends once its time is up.
      await again.destroy();
      await waitFor("the node to linger again", () => lingering.lingering === 1, 5_000);
      await waitFor("the lingering node to end", () => lingering.lingering === 0, 10_000);
      await assert.rejects(node.nodeIdOf(first));
    } finally {
      await lingering.close();
    }
  });

  it("drops a node that stopped answering from its routing table within the check interval", async () => {
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const checking = await WorldDht.start({ bootstrap: [at], nodeCheckMs: 1_000 });
    const leaving = await WorldDht.start({ bootstrap: [at] });
    try {
      // The checking node meets the leaving one (a lookup puts it in its routing table), then it goes.
      await checking.nodeIdOf(leaving.address);
      await checking.lookup(regionTopic(31337, LEDGER, { rx: 9, rz: 9 }));
      const address = leaving.address;
      const holds = () =>
        checking.routingTable().some((entry) => entry.host === address.host && entry.port === address.port);
      await waitFor("the leaving node in the routing table", holds, 5_000);
      await leaving.destroy();
      const leftAt = performance.now();
      await waitFor("the dead node dropped", () => !holds(), 10_000);
      console.log(`dropped ${Math.round(performance.now() - leftAt)} ms after it left`);
      assert.ok(checking.droppedNodes >= 1);
      assert.ok(
        checking.routingTable().some((entry) => entry.port === bootstrap.address.port),
        "a live node stays",
      );
    } finally {
      await checking.destroy();
    }
  });
});
