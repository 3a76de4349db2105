/**
 * The indexer never silently stops. A WebSocket proxy between the indexer and the real hardhat node stops
 * forwarding newHeads notifications on command while keeping the socket open and forwarding everything
 * else: the subscriptions open at that moment go silent, as hardhat's node drops a subscription nobody
 * polls after five minutes (hardhat#2053), which Ponder 0.17 never notices.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import WebSocket from "ws";
import { fetchIndexerStatus } from "../../app/src/edits/indexer.ts";
import { ROOT, rpcChainId } from "../../cli/world.ts";
import { chunkIdOf } from "../../core/chunk.ts";
import { HeadsRelay } from "../../indexer/head/relay.ts";
import { HeadWatch } from "../../indexer/head/watch.ts";
import { IndexLag, type LagVerdict } from "../../indexer/src/api/lag.ts";
import { IndexerHeads } from "../../p2p/heads.ts";
import { INDEX_BEHIND, IndexBehindError } from "../../p2p/index-behind.ts";
import { IndexerLedger, LedgerError } from "../../p2p/ledger.ts";
import { localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import { StallProxy } from "../helpers/stall-proxy.ts";
import { type RunningCli, startCliWorld, stopCliWorld, testWorldEnv, waitFor } from "../helpers/world.ts";

const hardhat = realpathSync(path.join(ROOT, "node_modules", ".bin", "hardhat"));
const BASE = 17000;

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** The fields of the indexer's answers this test reads. */
type Body = {
  version?: number;
  status?: string;
  indexedBlock?: number;
  lag?: number;
  state?: string;
  recoveries?: number;
  error?: { code: string; message: string; details: { indexed: number; head: number; lag: number } };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("indexer: the lag rule", () => {
  it("is behind after 2 s over 2 blocks, serves again at once, and calls a live index stuck after 30 s", () => {
    let now = 0;
    const stuck: (LagVerdict & { stuckForMs: number })[] = [];
    const lag = new IndexLag({
      sample: async () => ({ indexed: 0, live: true }),
      head: () => 0,
      onStuck: (v) => stuck.push(v),
      now: () => now,
    });
    const at = (ms: number, indexed: number, head: number, live = true) => {
      now = ms;
      lag.observe({ indexed, live }, head);
      return lag.current();
    };
    assert.equal(at(0, 10, 12).behind, false, "2 blocks behind is a block being indexed");
    assert.equal(at(100, 10, 13).behind, false, "3 behind, just now");
    assert.equal(at(2_000, 10, 15).behind, false, "still within the grace");
    const behind = at(2_200, 10, 16);
    assert.deepEqual(behind, { behind: true, indexed: 10, head: 16, lag: 6, behindForMs: 2_100 });
    assert.equal(at(2_400, 15, 16).behind, false, "within 2 again: serves at once");
    at(2_500, 15, 20);
    assert.equal(at(5_000, 15, 21).behind, true);
    assert.equal(stuck.length, 0);
    assert.equal(at(32_300, 15, 60).behind, true);
    assert.equal(stuck.length, 0, "not yet 30 s since the index last moved (at 2.4 s)");
    at(32_500, 15, 61);
    assert.equal(stuck.length, 1, "30 s without the index moving while the head moved");
    assert.equal(stuck[0]?.stuckForMs, 30_100);
    at(40_000, 15, 70);
    assert.equal(stuck.length, 1, "said once");
    // During the historical sync the index moves in big steps: never stuck then.
    const syncing = new IndexLag({
      sample: async () => ({ indexed: 0, live: false }),
      head: () => 0,
      onStuck: (v) => stuck.push(v),
      now: () => now,
    });
    now = 0;
    syncing.observe({ indexed: 0, live: false }, 1_000);
    now = 60_000;
    syncing.observe({ indexed: 0, live: false }, 1_100);
    assert.equal(syncing.current().behind, true);
    assert.equal(stuck.length, 1);
  });
});

describe("indexer: a stalled newHeads subscription", { timeout: 180_000 }, () => {
  const world = testWorldEnv("stall", BASE);
  const network = "test-stall";
  const chainHttp = `http://127.0.0.1:${world.ports.chain}`;
  const chainWs = `ws://127.0.0.1:${world.ports.chain}`;
  const indexer = `http://127.0.0.1:${world.ports.indexer}`;
  const proxyPort = BASE + 600;
  let node: ChildProcess | undefined;
  let proxy: StallProxy | undefined;
  let cli: RunningCli | undefined;

  before(async () => {
    node = spawn(
      process.execPath,
      [hardhat, "node", "--network", "world", "--hostname", "127.0.0.1", "--port", String(world.ports.chain)],
      { cwd: ROOT, stdio: "ignore", detached: true },
    );
    await waitFor("the hardhat node", async () => (await rpcChainId(chainHttp)) !== undefined, 60_000);
  });

  after(async () => {
    if (cli) await stopCliWorld(world, cli);
    await proxy?.close();
    if (node?.pid !== undefined) {
      const exited = new Promise((resolve) => node?.once("exit", resolve));
      process.kill(-node.pid, "SIGKILL");
      await exited;
    }
  });

  it("the relay keeps one subscription delivering every block past a quiet upstream", async () => {
    const testProxy = await StallProxy.start(chainWs, proxyPort + 1);
    const watch = new HeadWatch({ url: chainHttp, intervalMs: 200 }).start();
    const lines: string[] = [];
    const relay = new HeadsRelay({
      upstreamUrl: `ws://127.0.0.1:${proxyPort + 1}`,
      watch,
      stallMs: 600,
      log: (l) => lines.push(l),
    });
    const client = new WebSocket(await relay.listen());
    try {
      // As Ponder subscribes: its own socket, request id 1, and only notifications under the id it was given.
      const arrivals: { number: number; at: number; subscription: string }[] = [];
      let subscription: string | undefined;
      client.on("message", (data) => {
        const message = JSON.parse(data.toString());
        if (message.id === 1) subscription = message.result;
        else if (message.method === "eth_subscription")
          arrivals.push({
            number: Number(message.params.result.number),
            at: performance.now(),
            subscription: message.params.subscription,
          });
        else assert.fail(`the client saw a message it did not ask for: ${data.toString()}`);
      });
      await new Promise((resolve) => client.once("open", resolve));
      client.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
      await waitFor("the subscription", () => subscription !== undefined, 5_000);
      await sleep(300); // the watch has seen the head the subscription started at

      /**
       * Mines a block; resolves with how long it took until the client had it or a later one (the relay
       * delivers the head it reads over HTTP; Ponder fetches the heights in between itself). The chain
       * also mines a block a second on its own.
       */
      const mine = async (): Promise<number> => {
        await rpc(chainHttp, "evm_mine");
        const number = Number(await rpc(chainHttp, "eth_blockNumber"));
        const minedAt = performance.now();
        await waitFor(`block ${number} at the client`, () => arrivals.some((a) => a.number >= number), 5_000);
        return (arrivals.find((a) => a.number >= number)?.at ?? 0) - minedAt;
      };
      const live = await mine();
      assert.ok(live < 200, `a live subscription delivers within milliseconds (took ${Math.round(live)} ms)`);

      // The subscription goes quiet: the relay notices the HTTP head moving and subscribes again upstream.
      testProxy.stall("open");
      const during = await mine();
      assert.ok(during < 2_000, `a block mined during the stall arrives within 2 s (took ${Math.round(during)} ms)`);
      await waitFor("the relay to say it recovered", () => relay.stats().state === "live", 5_000);
      assert.equal(relay.stats().recoveries, 1);
      assert.ok(testProxy.dropped > 0, "the proxy did drop a notification");
      const after = await mine();
      assert.ok(after < 200, `the new upstream subscription delivers live again (took ${Math.round(after)} ms)`);

      assert.equal(watch.intervalMs, 200, "a live subscription leaves the watch at its own pace");

      // Every newHeads silenced, even new subscriptions: blocks still come, read over HTTP.
      testProxy.stall("all");
      const first = await mine();
      assert.ok(first < 2_500, `a block arrives from HTTP within 2.5 s of the stall (took ${Math.round(first)} ms)`);
      assert.equal(relay.stats().state, "recovering");
      assert.equal(watch.intervalMs, 100, "the relay hurries the watch while it stands in for newHeads");
      // Standing in, it delivers a block a look (100 ms) and a fetch after it is mined, not a 200 ms look later.
      const standingIn: number[] = [];
      for (let i = 0; i < 5; i++) standingIn.push(await mine());
      const median = [...standingIn].sort((a, b) => a - b)[2] as number;
      assert.ok(
        median < 400 && standingIn.every((ms) => ms < 2_500),
        `blocks arrive from HTTP within a few hundred ms: ${standingIn.map(Math.round)}`,
      );
      assert.equal(relay.stats().state, "recovering");
      assert.ok(relay.stats().synthesized >= 6);

      // Ponder takes a header at or below its latest for a reorg: never one twice, never one out of order.
      const numbers = arrivals.map((a) => a.number);
      assert.ok(
        numbers.every((n, i) => i === 0 || n > (numbers[i - 1] as number)),
        `each block once, in order: ${numbers}`,
      );
      assert.ok(
        arrivals.every((a) => a.subscription === subscription),
        "always under the id the client knows",
      );
      assert.match(lines[0] ?? "", /newHeads went quiet at block \d+ while the chain is at \d+/);

      // newHeads are back: the watch returns to its own pace.
      testProxy.resume();
      await waitFor("newHeads again", () => relay.stats().state === "live", 15_000);
      assert.equal(watch.intervalMs, 200, "the hurry ends with the stall");
    } finally {
      client.close();
      await relay.close();
      watch.stop();
      await testProxy.close();
    }
  });

  it("the head watch asks every intervalMs, and every hurriedMs while hurried", async () => {
    const watch = new HeadWatch({ url: chainHttp, intervalMs: 500, hurriedMs: 100 }).start();
    /** How many answers the watch had in `ms` (each answer moves seenAt). */
    const looks = async (ms: number) => {
      let count = 0;
      let last = watch.seenAt;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        await sleep(10);
        if (watch.seenAt !== last) {
          count++;
          last = watch.seenAt;
        }
      }
      return count;
    };
    try {
      await waitFor("the first head", () => watch.head !== undefined, 5_000);
      const slow = await looks(2_000);
      const release = watch.hurry();
      const other = watch.hurry();
      assert.equal(watch.intervalMs, 100);
      const fast = await looks(2_000);
      release();
      release();
      assert.equal(watch.intervalMs, 100, "hurried while anyone holds it (a release is idempotent)");
      other();
      assert.equal(watch.intervalMs, 500);
      await sleep(500); // the last hurried look's timer
      const slowAgain = await looks(2_000);
      assert.ok(slow <= 5 && slowAgain <= 5, `about 4 looks in 2 s at 500 ms: ${slow}, then ${slowAgain}`);
      assert.ok(fast >= 8, `about 20 looks in 2 s at 100 ms: ${fast}`);
    } finally {
      watch.stop();
    }
  });

  it("the relay renews a live subscription before the chain's deadline, without a gap", async () => {
    const testProxy = await StallProxy.start(chainWs, proxyPort + 2);
    const watch = new HeadWatch({ url: chainHttp, intervalMs: 200 }).start();
    const relay = new HeadsRelay({
      upstreamUrl: `ws://127.0.0.1:${proxyPort + 2}`,
      watch,
      resubscribeMs: 1_000,
      log: () => undefined,
    });
    const client = new WebSocket(await relay.listen());
    try {
      const numbers: number[] = [];
      let subscribed = false;
      client.on("message", (data) => {
        const message = JSON.parse(data.toString());
        if (message.id === 1) subscribed = true;
        if (message.method === "eth_subscription") numbers.push(Number(message.params.result.number));
      });
      await new Promise((resolve) => client.once("open", resolve));
      client.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
      await waitFor("the subscription", () => subscribed, 5_000);
      const start = Number(await rpc(chainHttp, "eth_blockNumber"));
      // The chain mines a block a second; a few more on top.
      for (let i = 0; i < 12; i++) {
        await rpc(chainHttp, "evm_mine");
        await sleep(250);
      }
      const end = Number(await rpc(chainHttp, "eth_blockNumber"));
      await waitFor(`block ${end}`, () => numbers.includes(end), 2_000);
      assert.ok(testProxy.subscriptions >= 3, `renewed: ${testProxy.subscriptions} subscriptions upstream`);
      const expected = Array.from({ length: end - start }, (_, i) => start + 1 + i);
      assert.deepEqual(
        numbers.filter((n) => n > start),
        expected,
        "every block once, from the chain's newHeads",
      );
      assert.equal(relay.stats().recoveries, 0, "a renewal is no stall");
    } finally {
      client.close();
      await relay.close();
      watch.stop();
      await testProxy.close();
    }
  });

  it("the relay keeps its client's socket and subscription when the chain's socket closes", async () => {
    let testProxy = await StallProxy.start(chainWs, proxyPort + 3);
    const watch = new HeadWatch({ url: chainHttp, intervalMs: 200 }).start();
    const relay = new HeadsRelay({
      upstreamUrl: `ws://127.0.0.1:${proxyPort + 3}`,
      watch,
      stallMs: 600,
      log: () => undefined,
    });
    const client = new WebSocket(await relay.listen());
    try {
      const numbers: number[] = [];
      let subscription: string | undefined;
      let closed = false;
      client.on("close", () => {
        closed = true;
      });
      client.on("message", (data) => {
        const message = JSON.parse(data.toString());
        if (message.id === 1) subscription = message.result;
        else if (message.params?.subscription === subscription) numbers.push(Number(message.params.result.number));
        else assert.fail(`unexpected: ${data.toString()}`);
      });
      await new Promise((resolve) => client.once("open", resolve));
      client.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
      await waitFor("the subscription", () => subscription !== undefined, 5_000);
      await testProxy.close(); // the chain's socket is gone, and nothing listens there for a while
      await rpc(chainHttp, "evm_mine");
      const during = Number(await rpc(chainHttp, "eth_blockNumber"));
      await waitFor(`block ${during} read over HTTP`, () => numbers.some((n) => n >= during), 3_000);
      testProxy = await StallProxy.start(chainWs, proxyPort + 3);
      await waitFor("newHeads again", () => relay.stats().state === "live", 10_000);
      await rpc(chainHttp, "evm_mine");
      const after = Number(await rpc(chainHttp, "eth_blockNumber"));
      await waitFor(`block ${after}`, () => numbers.includes(after), 2_000);
      assert.equal(closed, false, "the client never saw its socket close");
      assert.ok(
        numbers.every((n, i) => i === 0 || n > (numbers[i - 1] as number)),
        `each block once, in order: ${numbers}`,
      );
    } finally {
      client.close();
      await relay.close();
      watch.stop();
      await testProxy.close();
    }
  });

  it("the indexer serves no stale answer while stalled, recovers within 10 s, and serves the anchor made meanwhile", async () => {
    const deploy = spawn(process.execPath, [hardhat, "run", "deploy/deploy.ts", "--network", "localhost"], {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...world.env, SEEDCRAFT_RPC_URL: chainHttp },
    });
    assert.equal(await new Promise((resolve) => deploy.once("exit", resolve)), 0, "the deploy succeeds");
    proxy = await StallProxy.start(chainWs, proxyPort);
    // The relay waits 3 s before stepping in, longer than the API's 2 s grace: the INDEX_BEHIND gate is seen.
    cli = await startCliWorld(
      {
        ...world,
        env: { ...world.env, SEEDCRAFT_RPC_WS_URL: `ws://127.0.0.1:${proxyPort}`, SEEDCRAFT_HEADS_STALL_MS: "3000" },
      },
      ["--only", "indexer"],
    );
    const { deployment, publicClient, walletClient } = await localClients(network, chainHttp);
    const chunkId = chunkIdOf(3, 0, 4);
    const hashOf = (version: number) => keccak256(toHex(`stall v${version}`));
    const anchor = async (version: number): Promise<bigint> => {
      const hash = await walletClient.writeContract({
        address: deployment.contracts.ChunkLedger.address,
        abi: deployment.contracts.ChunkLedger.abi,
        functionName: "anchorBatch",
        args: [
          [
            {
              chunkId,
              expectedVersion: version - 1,
              newHash: hashOf(version),
              infoHash: `0x${"00".repeat(20)}`,
              watermark: BigInt(version),
            },
          ],
        ],
      });
      return (await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })).blockNumber;
    };
    const getJson = async (url: string, init?: RequestInit) => {
      const response = await fetch(url, init);
      return { status: response.status, body: (await response.json()) as Body };
    };

    const first = await anchor(1);
    await waitForIndexedBlock(indexer, first, 10_000);
    assert.equal((await getJson(`${indexer}/v1/chunks/${chunkId}`)).body.version, 1);

    // Stall, keep the chain moving (a block every 250 ms), and anchor v2 in the middle of it.
    proxy.stall("open");
    const stalledAt = performance.now();
    /** When the test saw each head (the chain also mines a block a second on its own). */
    const headsSeen: { number: number; at: number }[] = [];
    let mining = true;
    const miner = (async () => {
      while (mining) {
        await rpc(chainHttp, "evm_mine");
        headsSeen.push({ number: Number(await rpc(chainHttp, "eth_blockNumber")), at: performance.now() });
        await sleep(250);
      }
    })();
    type Answer = { route: string; startedAt: number; status: number; body: Body };
    const answers: Answer[] = [];
    const statuses: object[] = [];
    const hudLines: string[] = [];
    const clientErrors: unknown[] = [];
    const heads = new IndexerHeads(indexer);
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const startedAt = performance.now();
        const [chunk, check, ready, status] = await Promise.all([
          getJson(`${indexer}/v1/chunks/${chunkId}`),
          getJson(`${indexer}/v1/check`, {
            method: "POST",
            body: JSON.stringify({ chunkId: chunkId.toString(), version: 2, hash: hashOf(2) }),
          }),
          getJson(`${indexer}/v1/ready`),
          getJson(`${indexer}/v1/status`),
        ]);
        statuses.push({ at: Math.round(startedAt - stalledAt), ...status.body });
        answers.push({ route: "chunk", startedAt, ...chunk });
        answers.push({ route: "check", startedAt, ...check });
        answers.push({ route: "ready", startedAt, ...ready });
        // What the app's HUD and the peers' clients make of it.
        const hud = await fetchIndexerStatus(indexer);
        if (hud.status === "behind") hudLines.push(hud.details);
        await heads.head(chunkId).catch((error: unknown) => clientErrors.push(error));
        await new IndexerLedger(indexer, { ttlMs: 0 })
          .player(walletClient.account.address)
          .catch((error: unknown) => clientErrors.push(error));
        await sleep(100);
      }
    })();
    await sleep(300);
    const second = await anchor(2);
    const anchoredAt = performance.now();

    // Recovered: the anchor's block is indexed and the index is within 2 blocks of the head.
    let recoveredAt = 0;
    await waitFor(
      "the index to recover",
      async () => {
        const { body } = await getJson(`${indexer}/v1/status`);
        const done = (body.indexedBlock ?? 0) >= Number(second) && (body.lag ?? Infinity) <= 2;
        if (done) recoveredAt = performance.now();
        return done;
      },
      15_000,
    );
    await sleep(1_000); // a few answers after recovery
    polling = false;
    await poller;
    mining = false;
    await miner;

    const recoverySeconds = (recoveredAt - stalledAt) / 1000;
    assert.ok(recoverySeconds < 10, `recovered within 10 s of the stall (took ${recoverySeconds.toFixed(1)} s)`);
    // The rule: served while head − indexed ≤ 2, or for 2 s once it is more. So the anchor's block may be
    // missing from a 200 until 2 s after the head passed it by 3, plus the API's look every 250 ms, the
    // head watch's every 500 ms, and the request itself.
    const passedBy3 = headsSeen.find(({ number }) => number >= Number(second) + 3)?.at ?? anchoredAt;
    const graceEnd = passedBy3 + 3_000;
    let behind = 0;
    for (const answer of answers) {
      if (answer.status === 503) {
        if (answer.route === "ready" && answer.body.error === undefined) continue; // catching up by a block
        assert.equal(answer.body.error?.code, INDEX_BEHIND, `${answer.route}: ${JSON.stringify(answer.body)}`);
        const { indexed, head, lag } = answer.body.error?.details ?? { indexed: 0, head: 0, lag: 0 };
        assert.ok(lag > 2 && head - indexed === lag, `${answer.route}: ${JSON.stringify(answer.body.error.details)}`);
        behind++;
        continue;
      }
      assert.equal(answer.status, 200, `${answer.route}: ${answer.status} ${JSON.stringify(answer.body)}`);
      if (answer.startedAt < graceEnd) continue;
      const at = `${answer.route} ${Math.round(answer.startedAt - anchoredAt)} ms after the anchor (block ${second}; the head passed it by 3 ${Math.round(passedBy3 - anchoredAt)} ms after the anchor; statuses since the stall ${JSON.stringify(statuses)})`;
      if (answer.route === "chunk") assert.equal(answer.body.version, 2, `${at}: stale ${JSON.stringify(answer.body)}`);
      if (answer.route === "check")
        assert.equal(answer.body.status, "anchored", `${at}: stale ${JSON.stringify(answer.body)}`);
      if (answer.route === "ready")
        assert.ok(
          (answer.body.indexedBlock ?? 0) >= Number(second),
          `${at}: ready but stale ${JSON.stringify(answer.body)}`,
        );
    }
    assert.ok(behind > 0, "the stall lasted past the grace: some answers said INDEX_BEHIND");
    assert.ok(hudLines.length > 0, "the HUD said so");
    assert.match(hudLines[0] ?? "", /^indexer behind by \d+ blocks, recovering$/);
    assert.ok(clientErrors.length > 1, "the peers' head source and ledger said so");
    for (const error of clientErrors) {
      assert.ok(error instanceof IndexBehindError, String(error));
      assert.equal(error.code, INDEX_BEHIND);
      assert.ok(error instanceof LedgerError, "retried as an unavailable ledger is");
      assert.ok((error.lag ?? 0) > 2);
    }

    // After recovery: the anchor made during the stall is served, and the status tells the story.
    assert.equal((await getJson(`${indexer}/v1/chunks/${chunkId}`)).body.version, 2);
    const check = await getJson(`${indexer}/v1/check`, {
      method: "POST",
      body: JSON.stringify({ chunkId: chunkId.toString(), version: 2, hash: hashOf(2) }),
    });
    assert.equal(check.body.status, "anchored");
    const status = (await getJson(`${indexer}/v1/status`)).body;
    assert.equal(status.state, "live", JSON.stringify(status));
    assert.ok((status.recoveries ?? 0) >= 1, JSON.stringify(status));
    // Live again through the new upstream subscription: an anchor is indexed within a second.
    const third = await anchor(3);
    const t = performance.now();
    await waitForIndexedBlock(indexer, third, 5_000);
    assert.ok(performance.now() - t < 1_000, `indexed ${Math.round(performance.now() - t)} ms after mining`);

    // newHeads silenced for good, new subscriptions too (as bench:soak leaves them): the relay stands in for
    // them, and an anchor is still indexed within about a second.
    proxy.stall("all");
    await waitFor(
      "the relay to stand in",
      async () => (await getJson(`${indexer}/v1/status`)).body.state === "recovering",
      15_000,
    );
    const standingIn: number[] = [];
    for (let version = 4; version <= 6; version++) {
      const block = await anchor(version);
      const minedAt = performance.now();
      await waitForIndexedBlock(indexer, block, 5_000);
      standingIn.push(Math.round(performance.now() - minedAt));
    }
    assert.ok(
      ([...standingIn].sort((a, b) => a - b)[1] as number) < 1_000,
      `indexed about a second after mining while the relay stands in: ${standingIn} ms`,
    );
    assert.equal((await getJson(`${indexer}/v1/chunks/${chunkId}`)).body.version, 6);
    console.log(
      `stall: recovered in ${recoverySeconds.toFixed(1)} s; ${behind} INDEX_BEHIND answers; ${answers.length} answers in all; anchors indexed ${standingIn} ms after mining while the relay stood in`,
    );
  });
});
