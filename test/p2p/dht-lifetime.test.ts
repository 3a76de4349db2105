/**
 * The DHT over time, with real parts on 127.0.0.1: bittorrent-dht nodes whose announce and BEP44 item
 * lifetimes are cut from 15 minutes and 2 hours to 4 seconds, the browser gateway, and real peers (two
 * on DHT nodes of their own, one a browser's client through the gateway). Peers that leave, and a node
 * that announced once and went quiet, stop being found once the lifetimes run out; the peers that stay
 * refresh their announces and cards and are found, cards and all, at every look for several lifetimes.
 * The peers are not let link (no room in their meshes): only the DHT is under test here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import createDebug from "debug";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Position } from "../../core/proximity.ts";
import { regionsInView } from "../../core/proximity.ts";
import { makeCard } from "../../p2p/card.ts";
import { DhtLifetimeError } from "../../p2p/dht-lifetime.ts";
import { GatewayDht } from "../../p2p/gateway-client.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { type DhtAddress, nodeIdOfKey, regionTopic, WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { connectThroughDht } from "../../p2p/node/signal.ts";
import { type PeerDht, WorldPeer } from "../../p2p/peer.ts";
import { waitFor } from "../helpers/world.ts";

const debug = createDebug("seedcraft:test:dht-lifetime");

const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;
const DOMAIN = { chainId: 31337, verifyingContract: LEDGER };
/** Announces go 2.7 to 5.3 s after the last one (record-cache sweeps every ⅔ maxAge); items 4 s after. */
const MAX_AGE_MS = 4000;
const LIFETIMES = { maxAgeMs: MAX_AGE_MS, itemMaxAgeMs: MAX_AGE_MS };
/** A third of the lifetimes, as by default (5 of 15 minutes). */
const REFRESH_MS = MAX_AGE_MS / 3;
/**
 * A lookup started this long after an announce's last refresh does not find it: the latest sweep (1⅓
 * maxAge), and a second for timers late on a busy machine. (The lookup itself may take seconds more:
 * it waits out the nodes that left.)
 */
const GONE_AFTER_MS = (4 / 3) * MAX_AGE_MS + 1000;
const POSITION: Position = [8.5, 80, 8.5];
const TOPIC = regionTopic(DOMAIN.chainId, LEDGER, regionsInView(POSITION, 0)[0] as { rx: number; rz: number });

const where = (address: DhtAddress) => `${address.host}:${address.port}`;

describe("p2p: the DHT over time", { timeout: 90_000 }, () => {
  const nodes: WorldDht[] = [];
  const peers: WorldPeer[] = [];
  let gateway: DhtGateway;
  let observer: WorldDht;
  let at: string;

  before(async () => {
    const bootstrap = await WorldDht.start({ bootstrap: false, ...LIFETIMES });
    nodes.push(bootstrap);
    at = where(bootstrap.address);
    // A few nodes that only store what others put, and one that looks.
    for (let i = 0; i < 3; i++) nodes.push(await WorldDht.start({ bootstrap: [at], ...LIFETIMES }));
    observer = await WorldDht.start({ bootstrap: [at], ...LIFETIMES });
    nodes.push(observer);
    gateway = await DhtGateway.start({ bootstrap: [at], dhtLifetimes: LIFETIMES });
  });

  after(async () => {
    await Promise.all(peers.map((peer) => peer.stop().catch(() => undefined)));
    await gateway?.close();
    await Promise.all(nodes.map((node) => node.destroy()));
  });

  /** A peer at POSITION on `dht`, refreshing every REFRESH_MS, that links with nobody. */
  async function startPeer(name: string, dht: PeerDht): Promise<WorldPeer> {
    const peer = await WorldPeer.start({
      dht,
      connect: connectThroughDht,
      domain: DOMAIN,
      // Never asked: without links there are no ops to judge.
      ledger: new IndexerLedger("http://127.0.0.1:9"),
      wallet: privateKeyToAccount(generatePrivateKey()).address,
      sessionKey: privateKeyToAccount(generatePrivateKey()),
      name,
      position: POSITION,
      limits: { maxPeers: 0 },
      discoverEveryMs: 3_600_000,
      refreshEveryMs: REFRESH_MS,
    });
    peers.push(peer);
    return peer;
  }

  const found = async (): Promise<Set<string>> => new Set((await observer.lookup(TOPIC)).map(where));

  it("forgets peers that left or went quiet within the lifetime, and keeps finding those that refresh", async () => {
    const [stayer, leaver, browser] = await Promise.all([
      startPeer("stayer", await WorldDht.start({ bootstrap: [at], ...LIFETIMES })),
      startPeer("leaver", await WorldDht.start({ bootstrap: [at], ...LIFETIMES })),
      startPeer("browser", await GatewayDht.connect(gateway.url)),
    ]);
    if (!stayer || !leaver || !browser) throw new Error("unreachable");
    const [stayerAt, leaverAt, browserAt] = [stayer, leaver, browser].map((peer) => where(peer.dht.address));
    await waitFor(
      "the three peers on their region",
      async () => {
        const now = await found();
        return [stayerAt, leaverAt, browserAt].every((address) => now.has(address as string));
      },
      10_000,
    );
    const cardSeq = async (peer: WorldPeer) => (await observer.getItem(peer.dht.cardTarget))?.seq;
    const firstSeqs = [await cardSeq(stayer), await cardSeq(browser)];
    assert.ok(
      firstSeqs.every((seq) => seq !== undefined),
      "both cards are in the DHT",
    );

    // A node that announces and puts its card once, and then stays up without refreshing them.
    const idle = await WorldDht.start({ bootstrap: [at], ...LIFETIMES });
    nodes.push(idle);
    const idleWallet = privateKeyToAccount(generatePrivateKey()).address;
    await idle.publishCard(await makeCard(idle.publicKey, idleWallet, privateKeyToAccount(generatePrivateKey())));
    await idle.announce(TOPIC);
    const idleAtMs = Date.now();
    assert.ok((await found()).has(where(idle.address)), "the quiet node is found at first");
    assert.equal((await observer.readCard(idle.cardTarget))?.wallet, idleWallet);

    await leaver.stop();
    const stoppedAtMs = Date.now();
    // Its node is gone, but its announce outlives it: nothing but the maxAge takes it out of lookups.
    assert.ok((await found()).has(leaverAt as string), "a peer that just left is still announced");

    const departed = [
      { name: "the peer that left", address: leaverAt as string, sinceMs: stoppedAtMs },
      { name: "the quiet node", address: where(idle.address), sinceMs: idleAtMs },
    ];
    const gone = new Map<string, number>();
    let looks = 0;
    // Three lifetimes: every look finds the peers that stay, and their cards; none started past the
    // departed's lifetime finds them.
    while (Date.now() - stoppedAtMs < 3 * MAX_AGE_MS) {
      const startedAtMs = Date.now();
      const now = await found();
      looks++;
      assert.ok(now.has(stayerAt as string), `the Node peer that stays is found (look ${looks})`);
      assert.ok(now.has(browserAt as string), `the browser that stays is found (look ${looks})`);
      for (const { name, address, sinceMs } of departed) {
        if (!now.has(address) && !gone.has(name)) gone.set(name, startedAtMs - sinceMs);
        if (startedAtMs - sinceMs > GONE_AFTER_MS)
          assert.ok(!now.has(address), `${name} is still found ${startedAtMs - sinceMs} ms on`);
      }
      for (const peer of [stayer, browser])
        assert.ok(await observer.readCard(peer.dht.cardTarget), `${peer.mesh.id.slice(0, 10)}'s card is gettable`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    for (const { name } of departed) assert.ok(gone.has(name), `${name} went from lookups`);
    debug("gone from lookups after (ms): %o, in %d looks", Object.fromEntries(gone), looks);
    // Past its lifetime the quiet node's card is gone; the others', put again with a higher seq, are not.
    assert.equal(await observer.readCard(idle.cardTarget), undefined);
    const lastSeqs = [await cardSeq(stayer), await cardSeq(browser)];
    for (const [i, seq] of lastSeqs.entries())
      assert.ok((seq ?? 0) > (firstSeqs[i] ?? 0), `card ${i} was put again (seq ${firstSeqs[i]} → ${seq})`);
    assert.ok(looks >= 5, `looked ${looks} times`);

    // A browser that leaves goes the same way: the gateway drops its node, the DHT its announce.
    await browser.stop();
    const browserStoppedAtMs = Date.now();
    for (;;) {
      const startedAtMs = Date.now();
      const now = await found();
      assert.ok(now.has(stayerAt as string));
      if (startedAtMs - browserStoppedAtMs <= GONE_AFTER_MS) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        continue;
      }
      assert.ok(
        !now.has(browserAt as string),
        `the browser that left is found ${startedAtMs - browserStoppedAtMs} ms on`,
      );
      break;
    }
    assert.ok((await found()).has(stayerAt as string));
    assert.ok(await observer.readCard(nodeIdOfKey(stayer.dht.publicKey)));
  });

  it("refuses lifetimes and refresh intervals that are not a positive number of ms", async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(WorldDht.start({ bootstrap: false, maxAgeMs: bad }), DhtLifetimeError);
      await assert.rejects(WorldDht.start({ bootstrap: false, itemMaxAgeMs: bad }), DhtLifetimeError);
    }
    const dht = await WorldDht.start({ bootstrap: [at], ...LIFETIMES });
    nodes.push(dht);
    await assert.rejects(
      WorldPeer.start({
        dht,
        connect: connectThroughDht,
        domain: DOMAIN,
        ledger: new IndexerLedger("http://127.0.0.1:9"),
        wallet: privateKeyToAccount(generatePrivateKey()).address,
        sessionKey: privateKeyToAccount(generatePrivateKey()),
        name: "bad",
        position: POSITION,
        refreshEveryMs: 0,
      }),
      /refreshEveryMs must be a positive number/,
    );
  });
});
