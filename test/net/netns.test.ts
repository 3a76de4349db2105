/**
 * The test network itself (test/helpers/netns.ts), on real namespaces, veths and iptables: a port-keeping NAT
 * shows one public port to every destination and drops what nobody asked for, a --random NAT shows a new port
 * per destination, the internet loses packets to private addresses without an error, and every namespace goes
 * away: on destroy, on SIGTERM, and, after a SIGKILL, by the next run's sweep.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  listNamespaces,
  namespacesWithPrefix,
  netnsUnavailable,
  sweepStaleNamespaces,
  TestNetwork,
} from "../helpers/netns.ts";
import { waitFor } from "../helpers/world.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const unavailable = netnsUnavailable();

type Line = Record<string, { on?: number; from?: string; text?: string; error?: string } | number[]>;

/** A fixture process whose JSON output lines are collected. */
function lines(child: ChildProcess): Line[] {
  const seen: Line[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => seen.push(JSON.parse(line)));
  return seen;
}

/** Whether a pid runs (a zombie nobody reaped does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const got = (seen: Line[]) =>
  seen.flatMap((line) => (line.got ? [line.got as { on: number; from: string; text: string }] : []));

describe("test networks in namespaces", { skip: unavailable && `skipped: ${unavailable}`, timeout: 60_000 }, () => {
  let network: TestNetwork;

  before(() => {
    network = TestNetwork.build({ homes: [{ name: "keep" }, { name: "rand", nat: "random" }] });
  });
  after(async () => {
    await network?.destroy();
  });

  /** The world host's UDP sockets on 5001-5003, and a home host's on 40000. */
  async function udp(host: string, address: string, ports: string) {
    const child = network.spawn(host, process.execPath, [path.join(FIXTURES, "udp.ts"), address, ports]);
    const seen = lines(child);
    await waitFor(`${host}'s UDP sockets`, () => seen.some((line) => line.ready), 10_000);
    const send = (from: number, to: string, port: number, text: string) =>
      child.stdin?.write(`${JSON.stringify({ send: { from, to, port, text } })}\n`);
    return { child, seen, send };
  }

  it("names every namespace after this run, with loopback up in each", async () => {
    assert.equal(network.namespaces.length, 6);
    for (const ns of network.namespaces) assert.match(ns, new RegExp(`^scnet-${process.pid}-[0-9a-f]{4}-`));
    for (const ns of network.namespaces)
      assert.match(
        spawnSync("ip", ["-n", ns, "-o", "link", "show", "lo"], { encoding: "utf8" }).stdout,
        /<LOOPBACK,UP/,
      );
    const { stdout } = await network.run("rand-router", "ip", ["-o", "-4", "addr", "show", "wan"]);
    assert.match(stdout, /inet 198\.18\.1\.2\/16/);
    assert.deepEqual(
      network.homes.map((home) => [home.router.wanAddress, home.hosts[0]?.address]),
      [
        ["198.18.1.1", "198.19.1.2"],
        ["198.18.1.2", "198.19.2.2"],
      ],
    );
  });

  it("a port-keeping NAT shows one public port to all; a --random NAT a new port per destination", async () => {
    const world = await udp("world", network.world.address, "5001,5002,5003");
    const keep = await udp("keep", "0.0.0.0", "40000");
    const rand = await udp("rand", "0.0.0.0", "40000");
    try {
      for (const [host, text] of [
        [keep, "ping-keep"],
        [rand, "ping-rand"],
      ] as const)
        for (const port of [5001, 5002]) host.send(40000, network.world.address, port, text);
      await waitFor("four datagrams at the world host", () => got(world.seen).length === 4, 5000);
      const from = (text: string) =>
        got(world.seen)
          .filter((g) => g.text === text)
          .map((g) => g.from);
      assert.deepEqual(from("ping-keep"), ["198.18.1.1:40000", "198.18.1.1:40000"]);
      const [first, second] = from("ping-rand");
      assert.match(first ?? "", /^198\.18\.1\.2:\d+$/);
      assert.match(second ?? "", /^198\.18\.1\.2:\d+$/);
      assert.notEqual(first, second, "a --random NAT maps one socket to a new port per destination");
      // The answers come back through both NATs: the flows the hosts opened let them in.
      await waitFor("the pongs", () => got(keep.seen).length === 2 && got(rand.seen).length === 2, 5000);

      // Unsolicited: the world host writes to keep's public port from a port keep never wrote to.
      world.send(5003, "198.18.1.1", 40000, "uninvited");
      world.send(5001, "198.18.1.1", 40000, "ping-again");
      await waitFor("the pong to the solicited one", () => got(world.seen).some((g) => g.text === "pong-again"), 5000);
      assert.deepEqual(
        got(keep.seen).map((g) => g.text),
        ["pong-keep", "pong-keep", "ping-again"],
        "the router let in only the flow its host had opened",
      );
    } finally {
      for (const host of [world, keep, rand]) host.child.stdin?.end();
    }
  });

  it("a packet to a private address vanishes on the internet, as it would out there (no error)", async () => {
    const world = await udp("world", network.world.address, "5004");
    try {
      world.send(5004, "198.19.1.2", 40000, "to a private address");
      await waitFor("the send's callback", () => world.seen.some((line) => line.sent), 5000);
      assert.deepEqual(
        world.seen.find((line) => line.sent),
        { sent: { text: "to a private address" } },
      );
    } finally {
      world.child.stdin?.end();
    }
  });

  it("refuses a bad plan with a typed error and builds nothing", () => {
    const before = listNamespaces().length;
    for (const plan of [{ publicHosts: ["World!"] }, { publicHosts: ["a", "a"] }, { homes: [{ name: "internet" }] }])
      assert.throws(
        () => TestNetwork.build(plan),
        (error: unknown) => (error as { code?: string }).code === "NETNS_BAD_PLAN",
      );
    assert.equal(listNamespaces().length, before);
  });

  it("destroy removes every namespace; a run killed by SIGTERM removes its own; one killed by SIGKILL is swept", async () => {
    const start = () => {
      const child = spawn(process.execPath, [path.join(FIXTURES, "build-and-wait.ts")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const seen = lines(child);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      return { child, seen, exited };
    };
    const built = async (run: ReturnType<typeof start>) => {
      await waitFor("the child's network", () => run.seen.length > 0, 20_000);
      return run.seen[0] as unknown as { prefix: string; namespaces: string[]; sleeper: number };
    };

    const terminated = start();
    const termInfo = await built(terminated);
    assert.equal(namespacesWithPrefix(termInfo.prefix).length, 4);
    terminated.child.kill("SIGTERM");
    await terminated.exited;
    assert.deepEqual(namespacesWithPrefix(termInfo.prefix), []);

    const killed = start();
    const killInfo = await built(killed);
    killed.child.kill("SIGKILL");
    await killed.exited;
    assert.equal(namespacesWithPrefix(killInfo.prefix).length, 4, "a SIGKILL leaves them behind");
    assert.ok(running(killInfo.sleeper), "and what ran inside");
    const swept = sweepStaleNamespaces();
    assert.deepEqual(swept.sort(), [...killInfo.namespaces].sort());
    assert.deepEqual(namespacesWithPrefix(killInfo.prefix), []);
    await waitFor("the sleeper's end", () => !running(killInfo.sleeper), 5000);
    // This run's own network is alive and was not swept.
    assert.equal(namespacesWithPrefix(network.prefix).length, 6);

    const prefix = network.prefix;
    await network.destroy();
    await network.destroy();
    assert.deepEqual(namespacesWithPrefix(prefix), []);
  });
});
