import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { keccak256, toHex } from "viem";
import { ROOT, rpcChainId } from "../../cli/world.ts";
import { chunkIdOf } from "../../core/chunk.ts";
import { localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import { type RunningCli, runCli, startCliWorld, stopCliWorld, testWorldEnv, waitFor } from "../helpers/world.ts";

const TABLES = [
  "chunk",
  "anchor",
  "anchor_batch",
  "session",
  "player",
  "unlock",
  "transfer",
  "seeder",
  "claim",
  "checkpoint",
];
/** A package's CLI, run under this very Node (not whatever `node` is first on PATH). */
const hardhat = realpathSync(path.join(ROOT, "node_modules", ".bin", "hardhat"));

/**
 * The chain runs outside `seedcraft up` here (`--only indexer`), so the test can restart it under the
 * indexer the way a developer restarting `hardhat node` by hand would.
 */
describe("indexer: restarts and chain resets", { timeout: 400_000 }, () => {
  const world = testWorldEnv("restart", 25000);
  const network = `test-restart`;
  const rpc = `http://127.0.0.1:${world.ports.chain}`;
  const indexer = `http://127.0.0.1:${world.ports.indexer}`;
  let node: ChildProcess | undefined;
  let cli: RunningCli | undefined;

  async function startChain(): Promise<void> {
    node = spawn(
      process.execPath,
      [hardhat, "node", "--network", "world", "--hostname", "127.0.0.1", "--port", String(world.ports.chain)],
      {
        cwd: ROOT,
        stdio: "ignore",
        detached: true,
      },
    );
    await waitFor("the hardhat node", async () => (await rpcChainId(rpc)) !== undefined, 60_000);
    const deploy = spawn(process.execPath, [hardhat, "run", "deploy/deploy.ts", "--network", "localhost"], {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...world.env, SEEDCRAFT_RPC_URL: rpc },
    });
    const code = await new Promise((resolve) => deploy.once("exit", resolve));
    assert.equal(code, 0, "the deploy succeeds");
  }

  async function stopChain(): Promise<void> {
    if (node?.pid === undefined) return;
    const exited = new Promise((resolve) => node?.once("exit", resolve));
    process.kill(-node.pid, "SIGKILL");
    await exited;
    node = undefined;
  }

  /** Anchors `ids` in one batch; returns the block it was mined in. */
  async function anchor(ids: bigint[], label: string): Promise<bigint> {
    const { deployment, publicClient, walletClient: wallet } = await localClients(network, rpc);
    const { address, abi } = deployment.contracts.ChunkLedger;
    const hash = await wallet.writeContract({
      address,
      abi,
      functionName: "anchorBatch",
      args: [
        ids.map((chunkId, i) => ({
          chunkId,
          expectedVersion: 0,
          newHash: keccak256(toHex(`${label} ${i}`)),
          infoHash: `0x${"00".repeat(20)}`,
          watermark: BigInt(i),
        })),
      ],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    return receipt.blockNumber;
  }

  async function chunkVersion(id: bigint): Promise<number> {
    const body = (await (await fetch(`${indexer}/v1/chunks/${id}`)).json()) as { version: number };
    return body.version;
  }

  /** Every row of our tables, read from the indexer's PGlite files while the indexer is stopped. */
  async function dumpTables(): Promise<Record<string, unknown[]>> {
    const db = new PGlite(path.join(world.stateDir, "indexer", "pglite"));
    try {
      const dump: Record<string, unknown[]> = {};
      for (const table of TABLES) {
        const { rows } = await db.query(`SELECT * FROM seedcraft."${table}" ORDER BY 1`);
        dump[table] = rows;
      }
      return dump;
    } finally {
      await db.close();
    }
  }

  async function stopIndexer(): Promise<void> {
    if (cli) await stopCliWorld(world, cli);
    cli = undefined;
  }

  after(async () => {
    await stopIndexer();
    await stopChain();
  });

  it("replays a restart into identical tables", async () => {
    await startChain();
    cli = await startCliWorld(world, ["--only", "indexer"]);
    const ids = [chunkIdOf(1, 0, 1), chunkIdOf(2, 0, 1), chunkIdOf(-1, 0, -1)];
    await anchor(ids.slice(0, 2), "first");
    const last = await anchor(ids.slice(2), "second");
    // Ponder writes a block's tables one after another and then moves its checkpoint: wait for the checkpoint.
    await waitForIndexedBlock(indexer, last, 20_000);
    await stopIndexer();
    const before = await dumpTables();
    assert.equal(before.chunk?.length, 3);
    assert.equal(before.anchor_batch?.length, 2);
    cli = await startCliWorld(world, ["--only", "indexer"]);
    assert.equal(await chunkVersion(ids[0] as bigint), 1, "served again after the restart");
    await stopIndexer();
    assert.deepEqual(await dumpTables(), before);
  });

  it("detects a chain reset, stops serving stale data, and `seedcraft reset` clears it", async () => {
    cli = await startCliWorld(world, ["--only", "indexer"]);
    const stale = chunkIdOf(1, 0, 1);
    assert.equal(await chunkVersion(stale), 1);
    // A new chain on the same port, with the same contracts at the same addresses: only the index knows better.
    await stopChain();
    await startChain();
    await anchor([chunkIdOf(7, 0, 7)], "new chain");
    let answer: { status: number; body: { error?: { code: string; message: string } } } | undefined;
    await waitFor(
      "the reset to be detected",
      async () => {
        const response = await fetch(`${indexer}/v1/chunks/${stale}`);
        answer = { status: response.status, body: (await response.json()) as NonNullable<typeof answer>["body"] };
        return answer.status === 503;
      },
      20_000,
    );
    assert.equal(answer?.body.error?.code, "CHAIN_RESET");
    assert.match(answer?.body.error?.message ?? "", /reset/);
    const events = await fetch(`${indexer}/v1/events`);
    assert.equal(events.status, 503, "no heads of another chain over the events stream");
    assert.equal(((await events.json()) as { error: { code: string } }).error.code, "CHAIN_RESET");
    const ready = await fetch(`${indexer}/v1/ready`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { reason: string }).reason, /reset/);
    const check = await fetch(`${indexer}/v1/check`, {
      method: "POST",
      body: JSON.stringify({ chunkId: stale.toString(), version: 1, hash: keccak256(toHex("first 0")) }),
    });
    assert.equal(check.status, 503, "no verdict from a stale index");

    await stopIndexer();
    const reset = runCli(["reset"], world.env);
    assert.equal(await reset.exited, 0, reset.stderr());
    assert.match(reset.stdout(), /removed/);
    await stopChain();
    await startChain(); // reset removed the deployment file: a developer redeploys
    cli = await startCliWorld(world, ["--only", "indexer"]);
    assert.equal(await chunkVersion(stale), 0, "the old chain's chunk is gone");
    assert.equal((await fetch(`${indexer}/v1/ready`)).status, 200);
  });
});
