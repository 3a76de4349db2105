import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import { signOp } from "../../core/op.ts";
import { authorizeSessionKey, localClients } from "../helpers/chain-clients.ts";
import { type RunningCli, startCliWorld, stopCliWorld, testWorldEnv } from "../helpers/world.ts";

describe("indexer: chunk heads", { timeout: 300_000 }, () => {
  const world = testWorldEnv("indexer", 23000);
  const indexer = `http://127.0.0.1:${world.ports.indexer}`;
  let cli: RunningCli;

  before(async () => {
    cli = await startCliWorld(world, ["--only", "chain,deploy,indexer"]);
  });
  after(async () => {
    if (cli) await stopCliWorld(world, cli);
  });

  const clients = () => localClients("test-indexer", `http://127.0.0.1:${world.ports.chain}`);

  it("is ready once caught up, and reports its lag", async () => {
    const ready = await fetch(`${indexer}/v1/ready`);
    assert.equal(ready.status, 200);
    const status = (await (await fetch(`${indexer}/v1/status`)).json()) as { chainId: number; lag: number };
    assert.equal(status.chainId, 31337);
    assert.ok(status.lag <= 1, `lag ${status.lag}`);
  });

  it("answers version 0 for a chunk never anchored", async () => {
    const response = await fetch(`${indexer}/v1/chunks/${chunkIdOf(5, 0, -5)}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { version: number; hash: string | null };
    assert.equal(body.version, 0);
    assert.equal(body.hash, null);
  });

  it("serves an anchor within a second of its receipt, by decimal and hex id", async () => {
    const { deployment, publicClient, walletClient } = await clients();
    const { address, abi } = deployment.contracts.ChunkLedger;
    const id = chunkIdOf(-3, 0, 7);
    const hash = keccak256(toHex("indexer test chunk"));
    const infoHash = keccak256(toHex("torrent")).slice(0, 42) as `0x${string}`;
    const tx = await walletClient.writeContract({
      address,
      abi,
      functionName: "anchor",
      args: [id, 0, hash, infoHash, 0x1234n],
    });
    await publicClient.waitForTransactionReceipt({ hash: tx, pollingInterval: 20 });
    const mined = performance.now();
    let body:
      | { chunkId: string; version: number; hash: string; infoHash: string; author: string; watermark: string }
      | undefined;
    while (performance.now() - mined < 1000) {
      const response = await fetch(`${indexer}/v1/chunks/0x${id.toString(16)}`);
      body = (await response.json()) as typeof body;
      if (body?.version === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(body?.version, 1, "the anchor is visible within 1 s");
    assert.equal(body?.chunkId, id.toString());
    assert.equal(body?.hash, hash);
    assert.equal(body?.infoHash.toLowerCase(), infoHash.toLowerCase());
    assert.equal(body?.author.toLowerCase(), walletClient.account.address.toLowerCase());
    assert.equal(body?.watermark, "4660");
    const byDecimal = (await (await fetch(`${indexer}/v1/chunks/${id}`)).json()) as { version: number };
    assert.equal(byDecimal.version, 1);
  });

  it("answers 400 with a typed error for ids that are not chunk ids", async () => {
    for (const bad of ["abc", "-1", "0x", `${1n << 96n}`, "1.5", "0xzz"]) {
      const response = await fetch(`${indexer}/v1/chunks/${encodeURIComponent(bad)}`);
      assert.equal(response.status, 400, bad);
      const body = (await response.json()) as { error: { code: string } };
      assert.equal(body.error.code, "INVALID_CHUNK_ID", bad);
    }
  });

  async function post(body: string) {
    const response = await fetch(`${indexer}/v1/check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function anchorAndWait(id: bigint, version: number, hash: `0x${string}`) {
    const { deployment, publicClient, walletClient } = await clients();
    const { address, abi } = deployment.contracts.ChunkLedger;
    const tx = await walletClient.writeContract({
      address,
      abi,
      functionName: "anchor",
      args: [id, version - 1, hash, `0x${"00".repeat(20)}`, 1n],
    });
    await publicClient.waitForTransactionReceipt({ hash: tx, pollingInterval: 20 });
    const item = JSON.stringify({ chunkId: id.toString(), version, hash });
    for (let i = 0; i < 200; i++) {
      if ((await post(item)).body.status === "anchored") return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error("never anchored");
  }

  it("checks updates: anchored, conflict with the ledger's hash, pending; one or a batch in order", async () => {
    const id = chunkIdOf(9, 1, -9);
    const hash = keccak256(toHex("check v1"));
    const wrong = keccak256(toHex("someone else's v1"));
    await anchorAndWait(id, 1, hash);
    const one = await post(JSON.stringify({ chunkId: id.toString(), version: 1, hash }));
    assert.equal(one.status, 200);
    assert.equal(one.body.status, "anchored");
    const batch = await post(
      JSON.stringify({
        items: [
          { chunkId: id.toString(), version: 1, hash: wrong },
          { chunkId: `0x${id.toString(16)}`, version: 2, hash },
          { chunkId: id.toString(), version: 1, hash },
        ],
      }),
    );
    const results = batch.body.results as { status: string; anchored?: { hash: string }; reason: string }[];
    assert.deepEqual(
      results.map((r) => r.status),
      ["conflict", "pending", "anchored"],
    );
    assert.equal(results[0]?.anchored?.hash, hash, "a conflict names the anchored hash");
    assert.match(results[1]?.reason ?? "", /version 1/);
  });

  it("answers malformed requests with 400 and a reason, oversized ones with 413, never 500", async () => {
    const item = { chunkId: "1", version: 1, hash: keccak256(toHex("x")) };
    const cases: [string, number][] = [
      ["not json", 400],
      ["null", 400],
      ["[]", 400],
      ['{"chunkId":"1"}', 400],
      [JSON.stringify({ ...item, version: -1 }), 400],
      [JSON.stringify({ items: Array.from({ length: 1001 }, () => item) }), 400],
    ];
    for (const [body, status] of cases) {
      const answer = await post(body);
      assert.equal(answer.status, status, body.slice(0, 40));
      assert.equal(typeof (answer.body.error as { code?: string })?.code, "string");
    }
    // Random bytes and mutations of a valid body: a verdict or a 4xx, nothing else.
    const valid = JSON.stringify({ items: [item, item] });
    for (let i = 0; i < 60; i++) {
      const chars = [...valid];
      chars[(i * 7919) % chars.length] = String.fromCharCode(32 + ((i * 31) % 90));
      const { status } = await post(chars.join(""));
      assert.ok(status === 200 || status === 400, `mutation ${i}: ${status}`);
    }
    // Over 1 MiB: refused from its Content-Length, before the body is read.
    const oversized = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        `${indexer}/v1/check`,
        { method: "POST", headers: { "content-type": "application/json", "content-length": 1_200_000 } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      request.write("{");
    });
    assert.equal(oversized, 413);
    const full = await post(JSON.stringify({ items: Array.from({ length: 1000 }, () => item) }));
    assert.equal((full.body.results as unknown[]).length, 1000);
  });

  it("serves the heads of a region, and a player's anchors and sessions", async () => {
    const id = chunkIdOf(17, 0, -3); // region (2, -1)
    const hash = keccak256(toHex("region chunk"));
    await anchorAndWait(id, 1, hash);
    const region = (await (await fetch(`${indexer}/v1/chunks?region=2,-1&region=0,0`)).json()) as {
      chunks: { chunkId: string; hash: string }[];
    };
    assert.ok(region.chunks.some((c) => c.chunkId === id.toString() && c.hash === hash));
    assert.ok(
      region.chunks.every((c) => c.chunkId !== chunkIdOf(9, 1, -9).toString()),
      "(9,-9) is in region (1,-2)",
    );
    for (const bad of ["", "?region=1", "?region=a,b", "?region=1,2,3", `?region=${2 ** 31},0`])
      assert.equal((await fetch(`${indexer}/v1/chunks${bad}`)).status, 400, bad);

    const chainClients = await clients();
    const { walletClient } = chainClients;
    const key = privateKeyToAccount(generatePrivateKey());
    await authorizeSessionKey(chainClients, key);
    let player:
      | { anchors: number; firstAnchorBlock: number | null; sessions: { key: string; live: boolean }[] }
      | undefined;
    for (let i = 0; i < 100; i++) {
      player = (await (await fetch(`${indexer}/v1/players/${walletClient.account.address}`)).json()) as typeof player;
      if (player?.sessions.some((s) => s.key === key.address)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(
      player?.sessions.some((s) => s.key === key.address && s.live),
      "the new session is live",
    );
    assert.ok((player?.anchors ?? 0) >= 2);
    assert.ok((player?.firstAnchorBlock ?? 0) > 0);
    assert.equal((await fetch(`${indexer}/v1/players/0x1234`)).status, 400);
    const seeder = (await (await fetch(`${indexer}/v1/seeders/${walletClient.account.address}`)).json()) as {
      claims: number;
    };
    assert.equal(seeder.claims, 0);
  });

  it("pushes each newly indexed chunk head to listeners over server-sent events", async () => {
    const controller = new AbortController();
    const response = await fetch(`${indexer}/v1/events`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (pattern: RegExp, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in the stream: ${text.slice(-300)}`);
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        text += decoder.decode(value, { stream: true });
      }
    };
    try {
      await readUntil(/event: ready/, 5000);
      const id = chunkIdOf(-20, 2, 20);
      const hash = keccak256(toHex("pushed"));
      await anchorAndWait(id, 1, hash);
      await readUntil(new RegExp(`"chunkId":"${id}"`), 5000);
      const line = text.split("\n").find((l) => l.startsWith("data:") && l.includes(`"chunkId":"${id}"`));
      const event = JSON.parse(line?.slice(5) ?? "{}") as { version: number; hash: string };
      assert.equal(event.version, 1);
      assert.equal(event.hash, hash);
    } finally {
      controller.abort();
    }
  });

  it("checks the ops sent along: signed by a live session key of their author, or invalid with the reason", async () => {
    const chainClients = await clients();
    const { deployment, walletClient } = chainClients;
    const key = privateKeyToAccount(generatePrivateKey());
    await authorizeSessionKey(chainClients, key);
    const id = chunkIdOf(30, 0, 30);
    const hash = keccak256(toHex("with ops"));
    await anchorAndWait(id, 1, hash);
    const opDomain = { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address };
    const op = {
      chunk: id,
      index: 100,
      block: 3,
      hlc: { wallMs: Date.now(), logical: 0 },
      author: walletClient.account.address,
    };
    const asJson = (signed: Awaited<ReturnType<typeof signOp>>) => ({
      index: signed.index,
      block: signed.block,
      wallMs: signed.hlc.wallMs,
      logical: signed.hlc.logical,
      author: signed.author,
      signature: signed.signature,
    });
    const mine = asJson(await signOp(op, key, opDomain));
    const forged = asJson(await signOp(op, privateKeyToAccount(generatePrivateKey()), opDomain));
    let verdicts: { status: string; reason: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const answer = await post(
        JSON.stringify({
          items: [
            { chunkId: id.toString(), version: 1, hash, ops: [mine] },
            { chunkId: id.toString(), version: 1, hash, ops: [mine, forged] },
          ],
        }),
      );
      verdicts = answer.body.results as typeof verdicts;
      if (verdicts[0]?.status === "anchored") break; // the session is indexed
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(verdicts[0]?.status, "anchored");
    assert.equal(verdicts[1]?.status, "invalid");
    assert.match(verdicts[1]?.reason ?? "", /^op 1: NO_SESSION/);
  });
});
