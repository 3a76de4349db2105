import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { type RunningCli, startCliWorld, stopCliWorld, testWorldEnv } from "../helpers/world.ts";

// Hardhat's first well-known dev account: public knowledge, holds value only on local chains.
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

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

  async function clients() {
    const deployment = await readDeployment(`test-indexer`);
    const chain = defineChain({
      id: deployment.chainId,
      name: "local",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [`http://127.0.0.1:${world.ports.chain}`] } },
    });
    const transport = http(`http://127.0.0.1:${world.ports.chain}`);
    return {
      deployment,
      publicClient: createPublicClient({ chain, transport }),
      walletClient: createWalletClient({ chain, transport, account: privateKeyToAccount(DEV_KEY) }),
    };
  }

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
});
