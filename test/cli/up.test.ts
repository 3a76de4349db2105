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

  it("stops with an error naming the chain when the chain dies under it", async (t) => {
    const cli = await startCliWorld(world, extra);
    t.after(() => stopCliWorld(world, cli));
    const pids = servicePids(world);
    const chainPid = runFile(world).parts.chain?.pid;
    assert.ok(chainPid);
    process.kill(chainPid, "SIGKILL");
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /seedcraft: chain: stopped unexpectedly \(killed by SIGKILL\)/);
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
