/**
 * Where parts and peers listen (--host, SEEDCRAFT_HOST), what they tell others (--public-host) and the ICE
 * servers they are given (--ice-servers, SEEDCRAFT_ICE_SERVERS): the checks, and the real DHT node, gateway,
 * tracker and WebRTC bound to an address of this machine other than loopback.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import Peer from "simple-peer";
import { HostNotLocalError, UsageError } from "../../cli/errors.ts";
import { checkBindHost, localAddresses, publicHostOf } from "../../cli/host.ts";
import { hostFlag, iceServersFlag } from "../../cli/peer.ts";
import { IceServersError } from "../../core/ice-servers.ts";
import { GatewayDht } from "../../p2p/gateway-client.ts";
import { WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { LOOPBACK_RTC_CONFIG, nodeRtcConfig, nodeWrtc, releaseWebRtc } from "../../p2p/node/rtc.ts";
import { startTracker } from "../../p2p/node/tracker.ts";

/** Runs `fn` with environment variables set, restoring them after. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** An IPv4 address of this machine off loopback, if it has one. */
const lan = localAddresses().find((address) => !address.startsWith("127."));

describe("cli: --host and --public-host", () => {
  it("takes this machine's addresses, a name resolved to one, and 0.0.0.0 when asked", async () => {
    assert.equal(await checkBindHost(undefined), "127.0.0.1");
    assert.equal(await checkBindHost("127.0.0.1"), "127.0.0.1");
    assert.equal(await checkBindHost("localhost"), "127.0.0.1");
    assert.equal(await checkBindHost("0.0.0.0"), "0.0.0.0");
    if (lan) assert.equal(await checkBindHost(lan), lan);
  });

  it("refuses an address that is not this machine's within 10 s, typed, naming the flag and this machine's addresses", async () => {
    const started = performance.now();
    await assert.rejects(
      checkBindHost("198.18.0.1"),
      (error: unknown) =>
        error instanceof HostNotLocalError &&
        error.code === "HOST_NOT_LOCAL" &&
        error.host === "198.18.0.1" &&
        /--host 198\.18\.0\.1 is not an address of this machine: nothing was started/.test(error.message) &&
        /This machine's addresses: 127\.0\.0\.1/.test(error.message),
    );
    await assert.rejects(checkBindHost("no-such-host.invalid"), /does not resolve to an IPv4 address/);
    assert.ok(performance.now() - started < 10_000, "refused in seconds");
    for (const bad of ["::1", "[::1]", "http://127.0.0.1", "a b", "127.0.0.1:80"])
      await assert.rejects(checkBindHost(bad), UsageError, bad);
  });

  it("SEEDCRAFT_HOST stands in for --host, which wins over it", async () => {
    await withEnv({ SEEDCRAFT_HOST: "198.18.0.1" }, async () => {
      await assert.rejects(hostFlag(undefined), /SEEDCRAFT_HOST 198\.18\.0\.1 is not an address of this machine/);
      assert.equal(await hostFlag("127.0.0.1"), "127.0.0.1");
    });
    await withEnv({ SEEDCRAFT_HOST: undefined }, async () => assert.equal(await hostFlag(undefined), "127.0.0.1"));
  });

  it("tells others the bind address unless given a name; a wildcard bind tells an address off loopback", () => {
    assert.equal(publicHostOf(undefined, "127.0.0.1"), "127.0.0.1");
    assert.equal(publicHostOf("", "127.0.0.1"), "127.0.0.1");
    assert.equal(publicHostOf("play.example.org", "127.0.0.1"), "play.example.org");
    assert.equal(publicHostOf("203.0.113.7", "0.0.0.0"), "203.0.113.7");
    assert.equal(publicHostOf(undefined, "0.0.0.0"), lan ?? "127.0.0.1");
    for (const bad of ["http://play.example.org", "play.example.org:80", "0.0.0.0", "::1", "a b"])
      assert.throws(() => publicHostOf(bad, "127.0.0.1"), UsageError, bad);
  });
});

describe("cli: --ice-servers", () => {
  it("reads the flag, else SEEDCRAFT_ICE_SERVERS, and names the one that is bad", async () => {
    const stun = '[{"urls":"stun:127.0.0.1:3478"}]';
    await withEnv({ SEEDCRAFT_ICE_SERVERS: undefined }, () => assert.deepEqual(iceServersFlag(undefined), []));
    await withEnv({ SEEDCRAFT_ICE_SERVERS: stun }, () => {
      assert.deepEqual(iceServersFlag(undefined), [{ urls: "stun:127.0.0.1:3478" }]);
      assert.deepEqual(iceServersFlag("[]"), [], "the flag wins");
      assert.throws(
        () => iceServersFlag('[{"urls":"turn:x"}]'),
        (error: unknown) => error instanceof IceServersError && error.source === "--ice-servers",
      );
    });
    await withEnv({ SEEDCRAFT_ICE_SERVERS: "[{" }, () =>
      assert.throws(
        () => iceServersFlag(undefined),
        (error: unknown) =>
          error instanceof IceServersError && /SEEDCRAFT_ICE_SERVERS is not a list/.test(error.message),
      ),
    );
  });

  it("gives Node's WebRTC the servers and the host, and exactly the loopback config with neither", () => {
    assert.equal(nodeRtcConfig(), LOOPBACK_RTC_CONFIG);
    assert.equal(nodeRtcConfig({ host: "127.0.0.1", iceServers: [] }), LOOPBACK_RTC_CONFIG);
    const servers = [{ urls: "turn:198.18.0.1:3478", username: "1700000000:k", credential: "p" }];
    assert.deepEqual(nodeRtcConfig({ host: "0.0.0.0", iceServers: servers }), {
      // libdatachannel reads turn:<username>:<credential>@host: a TURN REST username's colon goes encoded.
      iceServers: [{ urls: ["turn:198.18.0.1:3478"], username: "1700000000%3Ak", credential: "p" }],
      bindAddress: "0.0.0.0",
    });
    assert.equal(servers[0]?.urls, "turn:198.18.0.1:3478", "the caller's list is left as it was");
  });
});

describe("p2p parts bound to an address off loopback", {
  skip: lan ? false : "this machine has no address off loopback",
  timeout: 30_000,
}, () => {
  const host = lan as string;
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    // libdatachannel's threads would keep the test process alive.
    releaseWebRtc();
  });

  it("the gateway hosts a browser's DHT node on its host, and the tracker listens there", async () => {
    const bootstrap = await WorldDht.start({ bootstrap: false, host });
    cleanups.push(() => bootstrap.destroy());
    assert.equal(bootstrap.address.host, host);
    const gateway = await DhtGateway.start({ bootstrap: [`${host}:${bootstrap.address.port}`], host });
    cleanups.push(() => gateway.close());
    assert.equal(new URL(gateway.url).hostname, host);
    const client = await GatewayDht.connect(gateway.url);
    cleanups.push(() => client.destroy());
    assert.equal(client.address.host, host, "the browser's node is reachable where the gateway is, not on loopback");
    const tracker = await startTracker({ host });
    cleanups.push(() => tracker.close());
    assert.equal(new URL(tracker.url).hostname, host);
  });

  it("two Node peers bound to it connect over WebRTC with host candidates on it alone", async () => {
    const config = nodeRtcConfig({ host });
    const candidates: string[] = [];
    const options = { wrtc: nodeWrtc, config, trickle: true };
    const a = new Peer({ ...options, initiator: true });
    const b = new Peer(options);
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    const relay = (from: Peer, to: Peer) =>
      from.on("signal", (data: { candidate?: { candidate: string } }) => {
        if (data.candidate) candidates.push(data.candidate.candidate);
        to.signal(data as Parameters<Peer["signal"]>[0]);
      });
    relay(a, b);
    relay(b, a);
    await Promise.all(
      [a, b].map(
        (peer) =>
          new Promise((resolve, reject) => {
            peer.once("connect", resolve);
            peer.once("error", reject);
          }),
      ),
    );
    const echoed = new Promise<string>((resolve) =>
      a.once("data", (data: Uint8Array) => resolve(new TextDecoder().decode(data))),
    );
    b.send("over the lan");
    assert.equal(await echoed, "over the lan");
    assert.ok(candidates.length > 0);
    for (const candidate of candidates)
      assert.match(candidate, new RegExp(` ${host.replaceAll(".", "\\.")} \\d+ typ host`));
  });
});
