import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dhtAnswers } from "../../cli/world.ts";
import { localClients } from "../helpers/chain-clients.ts";
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

  it("binds --host, hands out --public-host and the ICE servers, mines at --block-time, refuses a second start naming the taken port, and Ctrl-C stops every child", async (t) => {
    const stun = { urls: "stun:127.0.0.1:3478" };
    const hosts = [
      ...["--host", "127.0.0.1", "--public-host", "localhost", "--ice-servers", JSON.stringify([stun])],
      ...["--block-time", "1"],
    ];
    const first = await startCliWorld(world, [...extra, ...hosts]);
    t.after(() => stopCliWorld(world, first));
    const pids = servicePids(world);
    assert.ok(pids.length >= 1);
    assert.match(first.stdout(), /starting .* on 127\.0\.0\.1 \(others are told localhost\)/);
    const { host, urls } = runFile(world) as unknown as { host: string; urls: Record<string, string> };
    assert.equal(host, "127.0.0.1");
    assert.equal(urls.chain, `http://localhost:${world.ports.chain}`, "run.json names the public host");
    assert.equal(urls.dht, `localhost:${world.ports.dht}`);
    if (!PARTS) {
      assert.ok(await dhtAnswers(world.ports.dht), "the DHT bootstrap node answers a ping");
      const gateway = await fetch(`http://127.0.0.1:${world.ports.gateway}/`);
      assert.equal(gateway.status, 426, "the gateway speaks WebSocket");
      assert.match(first.stdout(), new RegExp(`Play at http://localhost:${world.ports.app}`));
      // What the app is given: every URL on the public host, and the ICE servers.
      const config = (await (await fetch(`http://127.0.0.1:${world.ports.app}/seedcraft.json`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(config.rpcUrl, `http://localhost:${world.ports.chain}`);
      assert.equal(config.indexerUrl, `http://localhost:${world.ports.indexer}`);
      assert.deepEqual(config.gateways, [`ws://localhost:${world.ports.gateway}`]);
      assert.deepEqual(config.trackers, [`ws://localhost:${world.ports.tracker}`]);
      assert.deepEqual(config.iceServers, [stun]);
      // Deployed, the chain mines a block a second holding what was sent meanwhile: two transactions sent
      // together land in one block (a block each, were it mining per transaction).
      assert.match(first.stdout(), /a block every 1 s from now/);
      const { publicClient, walletClient } = await localClients(
        world.env.SEEDCRAFT_NETWORK as string,
        `http://127.0.0.1:${world.ports.chain}`,
      );
      const nonce = await publicClient.getTransactionCount({ address: walletClient.account.address });
      // Sent just after a block, so that both meet the same one (a second to spare).
      const before = await publicClient.getBlockNumber({ cacheTime: 0 });
      await waitFor("the next block", async () => (await publicClient.getBlockNumber({ cacheTime: 0 })) > before);
      const sent = await Promise.all(
        [0, 1].map((i) =>
          walletClient.sendTransaction({ to: walletClient.account.address, value: 0n, nonce: nonce + i }),
        ),
      );
      const receipts = await Promise.all(sent.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
      assert.equal(receipts[0]?.blockNumber, receipts[1]?.blockNumber, "both in one block");
    }

    const second = runCli(["up", ...extra, ...hosts], world.env);
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

  it("refuses a --host that is not this machine's and bad ICE servers in seconds, typed, and starts nothing", async () => {
    const started = performance.now();
    const foreign = runCli(["up", "--host", "198.18.0.1"], world.env);
    assert.equal(await foreign.exited, 1);
    assert.ok(performance.now() - started < 10_000, "within 10 s");
    assert.match(
      foreign.stderr(),
      /seedcraft: --host 198\.18\.0\.1 is not an address of this machine: nothing was started/,
    );
    assert.match(foreign.stderr(), /This machine's addresses: 127\.0\.0\.1/);
    const ice = runCli(["up"], { ...world.env, SEEDCRAFT_ICE_SERVERS: '[{"urls":"https://turn.example.org"}]' });
    assert.equal(await ice.exited, 1);
    assert.match(
      ice.stderr(),
      /SEEDCRAFT_ICE_SERVERS is not a list of ICE servers[\s\S]*scheme https:, not stun:, turn: or turns:/,
    );
    assert.ok(await portsFree(ports));
  });

  it("rejects unknown parts and flags with a usage error and starts nothing", async () => {
    for (const args of [
      ["up", "--only", "chain,moon"],
      ["up", "--verbose"],
      ["up", "--host", "::1"],
      ["up", "--public-host", "http://localhost:80"],
      ["up", "--block-time", "0.01"],
      ["up", "--block-time", "soon"],
      ["fly"],
    ]) {
      const cli = runCli(args, world.env);
      assert.equal(await cli.exited, 2, args.join(" "));
      assert.match(cli.stderr(), /seedcraft: Bad command line/);
    }
    assert.ok(await portsFree(ports));
  });
});
