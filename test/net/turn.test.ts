/**
 * TURN across NATs, for real: the world host runs coturn (cli/turn.ts, `seedcraft turn`) on its 198.18.x
 * address; two homes, one behind a port-keeping NAT and one behind MASQUERADE --random (a symmetric NAT),
 * each run a Node WebRTC peer (node-datachannel's polyfill) with TURN REST credentials. They meet through the
 * relay, and ICE stats show it; wrong credentials and a TURN server that never answers fail with a clear,
 * typed error within 10 s. Every namespace, and coturn with them, is gone afterwards.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { turnserverPath } from "../../cli/turn.ts";
import type { IceServer } from "../../core/ice-servers.ts";
import { turnCredentials } from "../../core/turn-credentials.ts";
import { namespacesWithPrefix, netnsUnavailable, TestNetwork } from "../helpers/netns.ts";
import { waitFor } from "../helpers/world.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const BASE = 9000;
const TURN_PORT = BASE + 478;
const RELAY_PORTS = `${BASE + 500}-${BASE + 599}`;
const SECRET = "turn-test-shared-secret-0123456789";
/** How long a peer waits for its data channel before it says TIMEOUT. */
const PEER_TIMEOUT_MS = 20_000;
/** Every failure must be told within this. */
const CLEAR_ERROR_MS = 10_000;

const unavailable = netnsUnavailable();

type PeerLine = {
  signal?: unknown;
  gathered?: { candidates: string[]; ms: number };
  done?: {
    message: string;
    ms: number;
    pair?: { local?: { type: string; address: string }; remote?: { type: string; address: string } };
  };
  error?: { code: string; message: string; details?: string; ms: number };
};

describe("TURN between two homes behind NATs", {
  skip: unavailable && `skipped: ${unavailable}`,
  timeout: 90_000,
}, () => {
  let network: TestNetwork;
  let turnHost: ChildProcess;
  let turnOutput = "";

  before(async () => {
    assert.ok(turnserverPath(), "coturn is installed (npm test installs it: apt-get install -y coturn)");
    network = TestNetwork.build({
      publicHosts: ["world", "silent"],
      homes: [{ name: "keep" }, { name: "rand", nat: "random" }],
    });
    // A TURN server that never answers: its host drops every UDP datagram, as a dead or firewalled one would.
    const drop = await network.run("silent", "iptables", ["-A", "INPUT", "-p", "udp", "-j", "DROP"]);
    assert.equal(drop.code, 0, drop.stderr);
    turnHost = network.spawn(
      "world",
      process.execPath,
      [
        path.join(FIXTURES, "turn-host.ts"),
        "--host",
        network.world.address,
        "--port",
        String(TURN_PORT),
        "--relay-ports",
        RELAY_PORTS,
      ],
      { env: { ...process.env, SEEDCRAFT_TURN_SECRET: SECRET, SEEDCRAFT_STATE_DIR: "" } },
    );
    turnHost.stdout?.on("data", (chunk: Buffer) => {
      turnOutput += chunk.toString();
    });
    turnHost.stderr?.on("data", (chunk: Buffer) => {
      turnOutput += chunk.toString();
    });
    await waitFor(
      `coturn on the world host (${turnOutput})`,
      () => turnOutput.includes("STUN/TURN server on") || turnHost.exitCode !== null,
      15_000,
    );
    assert.match(turnOutput, new RegExp(`STUN/TURN server on stun:198\\.18\\.0\\.1:${TURN_PORT}`), turnOutput);
  });

  after(async () => {
    if (!network) return;
    const prefix = network.prefix;
    if (turnHost && turnHost.exitCode === null) {
      turnHost.kill("SIGTERM");
      await new Promise((resolve) => turnHost.once("exit", resolve));
    }
    await network.destroy();
    assert.deepEqual(namespacesWithPrefix(prefix), [], "every namespace of this run is gone");
  });

  function iceServers(host: string, username: string, credential: string): IceServer[] {
    return [
      { urls: `stun:${host}:${TURN_PORT}` },
      { urls: `turn:${host}:${TURN_PORT}?transport=udp`, username, credential },
    ];
  }

  /** The world's STUN and TURN servers, with good TURN REST credentials minted for `host`. */
  const goodServers = (host: string) => {
    const { username, credential } = turnCredentials({ secret: SECRET, key: host });
    return iceServers(network.world.address, username, credential);
  };

  /** The end of a selected pair that is a relay candidate, if one is. */
  const relayEnd = (pair: NonNullable<PeerLine["done"]>["pair"]) =>
    [pair?.local, pair?.remote].find((end) => end?.type === "relay");

  /**
   * The link runs through the world host's TURN server: each side's selected pair (ICE stats) has a relay
   * candidate there at one end. libjuice names no pair while it nominates and none once the link closed (the
   * peers keep the last one named); a side that never named one is skipped, but one side at least must.
   */
  function assertThroughTurn(...sides: { result: PeerLine }[]): void {
    const pairs = sides.flatMap(({ result }) => (result.done?.pair ? [result.done.pair] : []));
    assert.ok(pairs.length > 0, `no side named its selected pair: ${JSON.stringify(sides)}`);
    for (const pair of pairs)
      assert.equal(relayEnd(pair)?.address, network.world.address, `through TURN: ${JSON.stringify(pair)}`);
  }

  type Peer = { child: ChildProcess; lines: PeerLine[]; exited: Promise<unknown>; to?: ChildProcess };

  /** Runs a peer on `host`; its JSON lines are collected, and its signals go on to `peer.to`'s stdin. */
  function peer(host: string, role: "offer" | "answer", servers: IceServer[]): Peer {
    const child = network.spawn(host, process.execPath, [
      path.join(FIXTURES, "rtc-peer.ts"),
      role,
      JSON.stringify(servers),
      String(PEER_TIMEOUT_MS),
      network.host(host).address,
    ]);
    child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(`[${host}] ${chunk}`));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // A peer that failed fast is gone before the other's signals come: writing to it then is no error.
    child.stdin?.on("error", () => undefined);
    const side: Peer = { child, lines: [], exited };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const parsed = JSON.parse(line) as PeerLine;
      side.lines.push(parsed);
      if (parsed.signal) side.to?.stdin?.write(`${line}\n`);
    });
    return side;
  }

  const resultOf = (side: Peer) => side.lines.find((line) => line.done || line.error);

  /**
   * Two peers in two homes; the test carries their signals (one's stdout to the other's stdin). Resolves with
   * each one's result line once both have one (or died), within the peers' own timeout and a margin; then
   * neither runs any more.
   */
  async function meet(
    offerer: { host: string; servers: IceServer[] },
    answerer: { host: string; servers: IceServer[] },
  ) {
    const a = peer(offerer.host, "offer", offerer.servers);
    const b = peer(answerer.host, "answer", answerer.servers);
    a.to = b.child;
    b.to = a.child;
    const settled = (side: Peer) => resultOf(side) !== undefined || side.child.exitCode !== null;
    try {
      await waitFor("both peers' results", () => settled(a) && settled(b), PEER_TIMEOUT_MS + 5000);
    } finally {
      for (const side of [a, b]) if (side.child.exitCode === null) side.child.kill("SIGKILL");
      await Promise.all([a.exited, b.exited]);
    }
    const outcome = (side: Peer) => ({
      result: resultOf(side) ?? {},
      gathered: side.lines.find((line) => line.gathered)?.gathered,
    });
    return { a: outcome(a), b: outcome(b) };
  }

  it("the --random home reaches the port-keeping one through a relay candidate on the world host", async () => {
    const { a, b } = await meet(
      { host: "keep", servers: goodServers("keep") },
      { host: "rand", servers: goodServers("rand") },
    );
    assert.ok(a.result.done && b.result.done, JSON.stringify([a.result, b.result]));
    assert.equal(a.result.done?.message, "echo: hello through the NATs");
    assert.equal(b.result.done?.message, "hello through the NATs");
    for (const side of [a, b])
      assert.ok(side.gathered?.candidates.includes("relay"), `a relay candidate: ${JSON.stringify(side.gathered)}`);
    assertThroughTurn(a, b);
    console.log(
      `  pair at rand: ${JSON.stringify(b.result.done?.pair)}; at keep: ${JSON.stringify(a.result.done?.pair)}; open after ${a.result.done?.ms} ms`,
    );
  });

  it("wrong or expired credentials fail with TURN_AUTH_FAILED within 10 s, never a hang", async () => {
    const wrong = turnCredentials({ secret: "another-secret-than-the-servers", key: "keep" });
    // The server's secret, but an hour past their expiry: coturn checks the time in the username.
    const expired = turnCredentials({
      secret: SECRET,
      key: "rand",
      ttlSeconds: 3600,
      now: () => Date.now() - 7_200_000,
    });
    const { a, b } = await meet(
      { host: "keep", servers: iceServers(network.world.address, wrong.username, wrong.credential) },
      { host: "rand", servers: iceServers(network.world.address, expired.username, expired.credential) },
    );
    for (const side of [a, b]) {
      assert.equal(side.result.error?.code, "TURN_AUTH_FAILED", JSON.stringify(side.result));
      assert.match(
        side.result.error?.message ?? "",
        new RegExp(`TURN server 198\\.18\\.0\\.1:${TURN_PORT} refused the credentials`),
      );
      assert.ok((side.result.error?.ms ?? Infinity) < CLEAR_ERROR_MS, `told after ${side.result.error?.ms} ms`);
    }
  });

  it("a TURN server that does not answer fails with TURN_UNREACHABLE within 10 s", async () => {
    const silent = network.host("silent").address;
    const creds = turnCredentials({ secret: SECRET, key: "rand" });
    const { a, b } = await meet(
      { host: "keep", servers: iceServers(silent, creds.username, creds.credential) },
      { host: "rand", servers: iceServers(silent, creds.username, creds.credential) },
    );
    for (const side of [a, b]) {
      // libdatachannel alone would still be gathering: the check is what tells it in time.
      assert.equal(side.gathered, undefined);
      assert.equal(side.result.error?.code, "TURN_UNREACHABLE", JSON.stringify(side.result));
      assert.match(side.result.error?.message ?? "", /198\.18\.0\.2/);
      assert.ok((side.result.error?.ms ?? Infinity) < CLEAR_ERROR_MS, `told after ${side.result.error?.ms} ms`);
    }
  });
});
