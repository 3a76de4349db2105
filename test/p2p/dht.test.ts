import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import bencode from "bencode";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { decodeCard, encodeCard, InvalidCardError, makeCard } from "../../p2p/card.ts";
import { keyKind, keyOfKind } from "../../p2p/key-kind.ts";
import { ed25519PublicKey, ed25519Verify, regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { connectThroughDht, isOfferer, parseSignal } from "../../p2p/node/signal.ts";

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;

describe("p2p: peer cards", () => {
  it("bind a DHT key to a session key and a wallet, and refuse tampered or malformed ones", async () => {
    const dhtKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const session = privateKeyToAccount(generatePrivateKey());
    const wallet = privateKeyToAccount(generatePrivateKey()).address;
    const card = await makeCard(dhtKey, wallet, session);
    const value = encodeCard(card);
    assert.ok(value.length < 1000);
    assert.deepEqual(decodeCard(dhtKey, value), card);
    // Another DHT key cannot reuse the binding, and a changed wallet breaks it.
    const otherKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    assert.throws(() => decodeCard(otherKey, value), InvalidCardError);
    const decoded = bencode.decode(value) as Record<string, Uint8Array>;
    const forged = bencode.encode({ ...decoded, w: new Uint8Array(20).fill(7) });
    assert.throws(() => decodeCard(dhtKey, forged), InvalidCardError);
    for (const bad of [new Uint8Array([1, 2, 3]), bencode.encode({ v: 2 }), bencode.encode("x"), new Uint8Array(1200)])
      assert.throws(() => decodeCard(dhtKey, bad), InvalidCardError);
  });
});

describe("p2p: BEP44 signatures with Node's ed25519", () => {
  it("agree with @noble/curves both ways, and refuse tampered or malformed input", () => {
    for (let i = 0; i < 50; i++) {
      const secret = ed25519.utils.randomSecretKey();
      const publicKey = ed25519.getPublicKey(secret);
      assert.deepEqual(ed25519PublicKey(secret), publicKey);
      const message = crypto.getRandomValues(new Uint8Array(1 + i * 7));
      const signature = ed25519.sign(message, secret);
      assert.equal(ed25519Verify(signature, message, publicKey), true);
      const flipped = message.slice();
      flipped[i % flipped.length] = (flipped[i % flipped.length] as number) ^ 1;
      assert.equal(ed25519Verify(signature, flipped, publicKey), false);
      assert.equal(ed25519.verify(signature, flipped, publicKey), false);
      const badSignature = signature.slice();
      badSignature[i % 64] = (badSignature[i % 64] as number) ^ 0x10;
      assert.equal(ed25519Verify(badSignature, message, publicKey), ed25519.verify(badSignature, message, publicKey));
    }
    const publicKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    assert.equal(ed25519Verify(new Uint8Array(63), new Uint8Array(1), publicKey), false);
    assert.equal(ed25519Verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(31)), false);
    assert.equal(ed25519Verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(32).fill(0xff)), false);
    assert.throws(() => ed25519PublicKey(new Uint8Array(31)), /32 bytes/);
  });
});

describe("p2p: discovery on the DHT", { timeout: 60_000 }, () => {
  const nodes: WorldDht[] = [];
  after(async () => {
    await Promise.all(nodes.map((node) => node.destroy()));
  });

  it("lets 8 peers find each other on a region topic and read each other's cards, through the DHT alone", async () => {
    const bootstrap = await WorldDht.start({ bootstrap: false });
    nodes.push(bootstrap);
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const topic = regionTopic(31337, LEDGER, { rx: 0, rz: -1 });
    const peers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const node = await WorldDht.start({ bootstrap: [at] });
        nodes.push(node);
        const wallet = privateKeyToAccount(generatePrivateKey()).address;
        const card = await makeCard(node.publicKey, wallet, privateKeyToAccount(generatePrivateKey()));
        await node.publishCard(card);
        await node.announce(topic);
        return { node, wallet };
      }),
    );
    const wallets = new Set(peers.map((peer) => peer.wallet));
    for (const { node, wallet } of peers) {
      let found: Awaited<ReturnType<WorldDht["lookup"]>> = [];
      for (let attempt = 0; attempt < 10 && found.length < 7; attempt++) found = await node.lookup(topic);
      assert.equal(found.length, 7, "every other peer is found");
      const seen = new Set<`0x${string}`>();
      for (const address of found) {
        const id = await node.nodeIdOf(address);
        const card = await node.readCard(id);
        assert.ok(card, `a card for ${address.host}:${address.port}`);
        seen.add(card.wallet);
      }
      assert.equal(seen.size, 7);
      assert.ok(!seen.has(wallet), "a peer does not find itself");
      for (const other of seen) assert.ok(wallets.has(other));
    }
    // Another region's topic is empty.
    assert.deepEqual(await peers[0]?.node.lookup(regionTopic(31337, LEDGER, { rx: 5, rz: 5 })), []);
  });

  it("carries signaling messages through BEP44 mailboxes, latest first, readable only where addressed", async () => {
    const [bootstrap] = nodes;
    if (!bootstrap) throw new Error("the discovery test starts the bootstrap node");
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const alice = await WorldDht.start({ bootstrap: [at] });
    const bob = await WorldDht.start({ bootstrap: [at] });
    const carol = await WorldDht.start({ bootstrap: [at] });
    nodes.push(alice, bob, carol);
    const offer = new TextEncoder().encode("v=0 offer from alice (SDP, minimized)");
    await alice.sendMail(bob.publicKey, offer);
    const got = await bob.readMail(alice.publicKey);
    assert.deepEqual(got?.payload, offer);
    // A newer message replaces the older one.
    const again = new TextEncoder().encode("a second offer");
    await alice.sendMail(bob.publicKey, again);
    const latest = await bob.readMail(alice.publicKey);
    assert.deepEqual(latest?.payload, again);
    assert.ok((latest?.seq ?? 0) > (got?.seq ?? 0));
    // Carol's mailbox from Alice is empty: the salt addresses the message to Bob.
    assert.equal(await carol.readMail(alice.publicKey), undefined);
    await assert.rejects(alice.sendMail(bob.publicKey, new Uint8Array(1000)), /under 1000 bytes/);
  });

  it("puts a signal straight into the recipient's node too, so it arrives when the DHT cannot carry it", async () => {
    // Dave has no routing table at all (no bootstrap): a BEP44 put through the DHT reaches nobody.
    const dave = await WorldDht.start({ bootstrap: false });
    const erin = await WorldDht.start({ bootstrap: false });
    nodes.push(dave, erin);
    const offer = new TextEncoder().encode("v=0 offer from dave");
    await assert.rejects(dave.sendMail(erin.publicKey, offer), /mailbox/);
    await dave.sendMail(erin.publicKey, offer, erin.address);
    assert.deepEqual((await erin.readMail(dave.publicKey))?.payload, offer);
    // Nobody listening at the address, and no DHT: a typed error.
    const gone = await WorldDht.start({ bootstrap: false });
    const goneAddress = gone.address;
    await gone.destroy();
    await assert.rejects(dave.sendMail(erin.publicKey, offer, goneAddress), /neither the DHT nor the recipient/);
  });

  it("opens a WebRTC connection signaled through the DHT alone, the lower key offering", async () => {
    const [bootstrap] = nodes;
    if (!bootstrap) throw new Error("the discovery test starts the bootstrap node");
    const at = `${bootstrap.address.host}:${bootstrap.address.port}`;
    const [one, two] = await Promise.all([WorldDht.start({ bootstrap: [at] }), WorldDht.start({ bootstrap: [at] })]);
    if (!one || !two) throw new Error("unreachable");
    nodes.push(one, two);
    assert.notEqual(isOfferer(one.publicKey, two.publicKey), isOfferer(two.publicKey, one.publicKey));
    // Node peers' keys are of the Node kind; a browser's key, of the other, is always the one that offers.
    assert.equal(keyKind(one.publicKey), "node");
    assert.equal(keyKind(two.publicKey), "node");
    for (let i = 0; i < 20; i++) {
      const browser = ed25519.getPublicKey(
        keyOfKind("browser", () => ed25519.utils.randomSecretKey(), ed25519.getPublicKey),
      );
      assert.equal(keyKind(browser), "browser");
      assert.equal(isOfferer(browser, one.publicKey), true);
      assert.equal(isOfferer(one.publicKey, browser), false);
    }
    const [a, b] = await Promise.all([connectThroughDht(one, two.publicKey), connectThroughDht(two, one.publicKey)]);
    try {
      const got = new Promise<string>((resolve) =>
        b.once("data", (data: Uint8Array) => resolve(new TextDecoder().decode(data))),
      );
      a.send("over a channel the DHT signaled");
      assert.equal(await got, "over a channel the DHT signaled");
    } finally {
      a.destroy();
      b.destroy();
    }
    // Junk in a mailbox is ignored, not applied (test/p2p/sdp.test.ts reads items in detail).
    assert.equal(parseSignal(new TextEncoder().encode('{"type":"offer","sdp":"not sdp"}')), undefined);
    assert.equal(parseSignal(new TextEncoder().encode("garbage")), undefined);
    // So is a signal without its attempt tag and time: it could belong to an attempt given up.
    assert.equal(parseSignal(new TextEncoder().encode('{"type":"offer","sdp":"v=0"}')), undefined);
  });
});
