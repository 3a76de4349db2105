import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dhtAnswers } from "../../cli/world.ts";
import {
  isAlive,
  portsFree,
  runCli,
  runFile,
  servicePids,
  startCliWorld,
  stopCliWorld,
  testWorldEnv,
  waitFor,
} from "../helpers/world.ts";

const PARTS = process.env.SEEDCRAFT_TEST_PARTS; // e.g. "chain,deploy" while developing

describe("seedcraft up", { timeout: 300_000 }, () => {
  const world = testWorldEnv("cli", 21000);
  const ports = Object.values(world.ports);
  const extra = PARTS ? ["--only", PARTS] : [];

  it("refuses a second start naming the taken port, and Ctrl-C stops every child", async (t) => {
    const first = await startCliWorld(world, extra);
    t.after(() => stopCliWorld(world, first));
    const pids = servicePids(world);
    assert.ok(pids.length >= 1);
    if (!PARTS) {
      assert.ok(await dhtAnswers(world.ports.dht), "the DHT bootstrap node answers a ping");
      const gateway = await fetch(`http://127.0.0.1:${world.ports.gateway}/`);
      assert.equal(gateway.status, 426, "the gateway speaks WebSocket");
    }

    const second = runCli(["up", ...extra], world.env);
    t.after(() => stopCliWorld(world, second));
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), new RegExp(`chain: port ${world.ports.chain} on 127.0.0.1 is already taken`));
    assert.ok(pids.every(isAlive), "the running world is untouched by the refused start");

    first.child.kill("SIGINT");
    assert.equal(await first.exited, 0);
    assert.ok(await portsFree(ports), "nothing is left listening");
    await waitFor("every child to exit", () => pids.every((pid) => !isAlive(pid)), 10_000);
    assert.equal(await dhtAnswers(world.ports.dht), false, "the DHT node is gone");
  });

  it("restarts a part that dies on the same port, and ends the world when the chain dies", async (t) => {
    const cli = await startCliWorld(world, extra);
    t.after(() => stopCliWorld(world, cli));
    const pids = servicePids(world);
    const chainPid = runFile(world).parts.chain?.pid;
    assert.ok(chainPid);

    // The DHT bootstrap node (or the chain alone under SEEDCRAFT_TEST_PARTS without it) dies: it comes back.
    if (runFile(world).parts.dht) {
      const dhtPid = runFile(world).parts.dht?.pid as number;
      process.kill(-dhtPid, "SIGKILL");
      await waitFor("the DHT node's restart", () => /✔ dht: back up in [\d.]+ s/.test(cli.stdout()), 60_000);
      assert.match(cli.stdout(), /✖ dht: exited \(killed by SIGKILL\), restarting in 0\.5 s \(restart 1\)/);
      const restarted = runFile(world).parts.dht as { pid: number; restarts?: number } | undefined;
      assert.equal(restarted?.restarts, 1);
      assert.notEqual(restarted?.pid, dhtPid);
      assert.ok(await dhtAnswers(world.ports.dht), "the restarted DHT node answers on the same port");
      pids.push(restarted?.pid as number);
    }

    process.kill(chainPid, "SIGKILL");
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /seedcraft: chain: the local chain stopped \(killed by SIGKILL\); the world ends with it, every anchored block is gone — run npm start again/,
    );
    assert.doesNotMatch(cli.stdout(), /✖ chain/, "the chain is not restarted");
    assert.ok(await portsFree(ports), "nothing is left listening");
    await waitFor("every child to exit", () => pids.every((pid) => !isAlive(pid)), 10_000);
  });

  it("rejects unknown parts and flags with a usage error and starts nothing", async () => {
    for (const args of [["up", "--only", "chain,moon"], ["up", "--verbose"], ["fly"]]) {
      const cli = runCli(args, world.env);
      assert.equal(await cli.exited, 2, args.join(" "));
      assert.match(cli.stderr(), /seedcraft: Bad command line/);
    }
    assert.ok(await portsFree(ports));
  });
});
