/**
 * The browser's gateway client when its gateway restarts (as `seedcraft up` restarts a dead part on the same
 * port): real DHT nodes and gateways on 127.0.0.1, the isomorphic client under Node's own WebSocket.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCard } from "../../p2p/card.ts";
import { GatewayDht, GatewayError } from "../../p2p/gateway-client.ts";
import { regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { waitFor } from "../helpers/world.ts";

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;

describe("p2p: the gateway client reconnects", { timeout: 60_000 }, () => {
  let bootstrap: WorldDht;
  let node: WorldDht;
  let at: string;

  before(async () => {
    bootstrap = await WorldDht.start({ bootstrap: false });
    at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    node = await WorldDht.start({ bootstrap: [at] });
  });

  after(async () => {
    await node.destroy();
    await bootstrap.destroy();
  });

  it("to a gateway restarted on the same port, puts its card again and announces through it", async () => {
    let gateway = await DhtGateway.start({ bootstrap: [at], maxClients: 4 });
    const port = Number(new URL(gateway.url).port);
    const client = await GatewayDht.connect(gateway.url);
    try {
      const session = privateKeyToAccount(generatePrivateKey());
      const wallet = privateKeyToAccount(generatePrivateKey()).address;
      await client.publishCard(await makeCard(client.publicKey, wallet, session));
      const before = client.address;

      await gateway.close();
      await waitFor("the client to notice", () => client.gateways.length === 0, 5_000);
      // While it is away, requests fail with a typed error, not a hang.
      await assert.rejects(client.announce(regionTopic(31337, LEDGER, { rx: 1, rz: 1 })), GatewayError);

      gateway = await DhtGateway.start({ bootstrap: [at], maxClients: 4, port });
      await waitFor("the client to reconnect", () => client.gateways.length === 1, 10_000);
      assert.deepEqual(client.gateways, [gateway.url]);
      assert.deepEqual(client.address, before, "its new node on the new gateway took the old one's port");
      // Its card still reads (it is put again through the new node), and it announces through that node.
      assert.equal((await node.readCard(client.cardTarget))?.sessionKey, session.address);
      const topic = regionTopic(31337, LEDGER, { rx: 2, rz: 3 });
      await client.announce(topic);
      await waitFor("the new node on the topic", async () => (await node.lookup(topic)).length === 1, 10_000);
    } finally {
      await client.destroy();
      await gateway.close();
    }
  });

  it("waits longer after each failed attempt and stops trying once destroyed", async () => {
    const gateway = await DhtGateway.start({ bootstrap: [at], maxClients: 4 });
    const port = Number(new URL(gateway.url).port);
    const client = await GatewayDht.connect(gateway.url);
    await gateway.close();
    const closedAt = performance.now();
    // The gateway's port now takes every attempt and drops it, as a host whose gateway is down refuses them.
    const attempts: number[] = [];
    const refuser = createServer((socket) => {
      attempts.push(performance.now() - closedAt);
      socket.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(port, "127.0.0.1", resolve));
    try {
      await waitFor("the client to notice", () => client.gateways.length === 0, 5_000);
      // Waits of 0.5 s, 1 s, 2 s: attempts near 0.5 s, 1.5 s and 3.5 s after the close.
      await waitFor("three attempts", () => attempts.length >= 3, 10_000);
      const [first, second, third] = attempts as [number, number, number];
      assert.ok(first >= 400, `no attempt in the first 0.4 s (the first came at ${Math.round(first)} ms)`);
      assert.ok(second - first >= 900, `1 s before the second attempt, not ${Math.round(second - first)} ms`);
      assert.ok(third - second >= 1_900, `2 s before the third attempt, not ${Math.round(third - second)} ms`);

      await client.destroy();
      const seen = attempts.length;
      // The next attempt was due 4 s after the third: none comes, even past it.
      await new Promise((resolve) => setTimeout(resolve, 4_500));
      assert.equal(attempts.length, seen, "a destroyed client tries no more");
      assert.deepEqual(client.gateways, []);
    } finally {
      await client.destroy();
      await new Promise<void>((resolve) => refuser.close(() => resolve()));
    }
  });
});
