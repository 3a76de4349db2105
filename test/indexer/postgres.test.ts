import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import { authorizeSessionKey, localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import {
  type RunningCli,
  runCli,
  startCliWorld,
  stopCliWorld,
  type TestWorldEnv,
  testWorldEnv,
} from "../helpers/world.ts";

/** One chain, two indexers of it: PGlite (the default) and a real Postgres server (`DATABASE_URL`). */
describe("indexer: PGlite and Postgres give identical answers", { timeout: 400_000 }, () => {
  const world = testWorldEnv("pg", 26000);
  const postgresWorld: TestWorldEnv = {
    stateDir: mkdtempSync(path.join(tmpdir(), "seedcraft-pg-indexer-")),
    ports: { ...world.ports, indexer: world.ports.indexer + 1 },
    env: {},
  };
  const pglite = `http://127.0.0.1:${world.ports.indexer}`;
  const postgresUrl = `http://127.0.0.1:${postgresWorld.ports.indexer}`;
  let pg_: TestPostgres | undefined;
  let cli: RunningCli | undefined;
  let postgresCli: RunningCli | undefined;

  before(async () => {
    pg_ = await startPostgres(26432);
    cli = await startCliWorld(world, ["--only", "chain,deploy,indexer"]);
    postgresWorld.env = {
      ...world.env,
      SEEDCRAFT_INDEXER_PORT: String(postgresWorld.ports.indexer),
      SEEDCRAFT_STATE_DIR: postgresWorld.stateDir,
      DATABASE_URL: pg_.url,
    };
    postgresCli = await startCliWorld(postgresWorld, ["--only", "indexer"]);
  });
  after(async () => {
    if (postgresCli) await stopCliWorld(postgresWorld, postgresCli);
    if (cli) await stopCliWorld(world, cli);
    await pg_?.stop();
  });

  it("indexes the same anchors and sessions, and answers every route alike", async () => {
    const clients = await localClients("test-pg", `http://127.0.0.1:${world.ports.chain}`);
    const { deployment, walletClient: wallet } = clients;
    const ids = [chunkIdOf(0, 0, 0), chunkIdOf(1, 0, 0), chunkIdOf(-1, 2, -1), chunkIdOf(3, -1, 4)];
    const hashes = ids.map((_, i) => keccak256(toHex(`pg ${i}`)));
    const { address, abi } = deployment.contracts.ChunkLedger;
    await wallet.writeContract({
      address,
      abi,
      functionName: "anchorBatch",
      args: [
        ids.map((chunkId, i) => ({
          chunkId,
          expectedVersion: 0,
          newHash: hashes[i] as `0x${string}`,
          infoHash: `0x${"00".repeat(20)}`,
          watermark: BigInt(i),
        })),
      ],
    });
    await wallet.writeContract({
      address,
      abi,
      functionName: "anchor",
      args: [ids[0] as bigint, 1, keccak256(toHex("pg v2")), `0x${"11".repeat(20)}`, 9n],
    });
    const blockNumber = await authorizeSessionKey(clients, privateKeyToAccount(generatePrivateKey()));
    for (const base of [pglite, postgresUrl]) await waitForIndexedBlock(base, blockNumber);

    const check = JSON.stringify({
      items: [
        ...ids.map((id, i) => ({ chunkId: id.toString(), version: 1, hash: hashes[i] })),
        { chunkId: ids[1]?.toString(), version: 1, hash: keccak256(toHex("not it")) },
        { chunkId: ids[1]?.toString(), version: 2, hash: hashes[1] },
      ],
    });
    const requests: [string, RequestInit?][] = [
      [`/v1/chunks/${ids[0]}`],
      ["/v1/chunks?region=0,0&region=-1,-1"],
      [`/v1/players/${wallet.account.address}`],
      [`/v1/seeders/${wallet.account.address}`],
      ["/v1/check", { method: "POST", body: check }],
      ["/v1/check", { method: "POST", body: "{bad" }],
    ];
    for (const [route, init] of requests) {
      const [a, b] = await Promise.all(
        [pglite, postgresUrl].map(async (base) => {
          const response = await fetch(`${base}${route}`, init);
          return { status: response.status, body: await response.json() };
        }),
      );
      assert.deepEqual(b, a, `${route} answers alike`);
    }
    const heads = (await (await fetch(`${postgresUrl}/v1/chunks/${ids[0]}`)).json()) as { version: number };
    assert.equal(heads.version, 2, "Postgres serves the second version");
  });

  it("`seedcraft reset` drops the index's Postgres schemas", async () => {
    if (postgresCli) await stopCliWorld(postgresWorld, postgresCli);
    postgresCli = undefined;
    const reset = runCli(["reset"], postgresWorld.env);
    assert.equal(await reset.exited, 0, reset.stderr());
    assert.match(reset.stdout(), /dropped schema seedcraft/);
    const client = new pg.Client({ connectionString: pg_?.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('seedcraft', 'ponder_sync')",
      );
      assert.deepEqual(rows, []);
    } finally {
      await client.end();
    }
  });
});
