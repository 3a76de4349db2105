/**
 * Every seeder cache knows its world: two real deployments, each on a fresh `hardhat node` started over the
 * same state folder (the same chain id and, as a fresh chain redeploys them, the same addresses; another deploy
 * block), and one seeder folder used by both. The second world reads nothing of the first: its chunk cache and receipt log come back empty, the
 * first world's files are gone (with a line saying so), and the same chunk id and version with another hash
 * is the second world's. Reopened in its own world, a store keeps everything.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { World } from "../../cli/world.ts";
import { encodeChunk } from "../../core/chunk.ts";
import { worldKeyOf } from "../../core/deployment.ts";
import { signReceiptBatch } from "../../core/receipt.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { ReceiptStore } from "../../p2p/node/receipt-store.ts";
import { editChunk, prng } from "../helpers/seeding.ts";
import { worldPorts } from "../helpers/world.ts";

const NETWORK = "test-world-caches";
const PORTS = worldPorts(19000);

/**
 * A fresh `hardhat node` and the deploy of `seedcraft up`, over the same state folder each time, as a developer's
 * second `npm start` is: resolves with the world deployments/<network>.json names once the chain is stopped.
 */
async function freshWorld(stateDir: string) {
  const world = new World({ stateDir, network: NETWORK, parts: ["chain", "deploy"], ports: { chain: PORTS.chain } });
  try {
    await world.start();
    const deployment = await readDeployment(NETWORK);
    return { deployment, key: worldKeyOf(deployment) };
  } finally {
    await world.stop();
  }
}

describe("p2p: a seeder folder over two worlds", { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("never reads the old world's snapshots or receipts, and removes them", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "seedcraft-world-caches-state-"));
    dirs.push(stateDir);
    const old = await freshWorld(stateDir);
    const fresh = await freshWorld(stateDir);
    const ledger = (world: typeof old) => world.deployment.contracts.ChunkLedger.address;
    assert.equal(ledger(fresh), ledger(old), "a fresh chain redeploys the ledger to the same address");
    assert.equal(fresh.deployment.chainId, old.deployment.chainId);
    assert.match(fresh.deployment.deployBlockHash ?? "", /^0x[0-9a-f]{64}$/);
    assert.notEqual(fresh.deployment.deployBlockHash, old.deployment.deployBlockHash, "in another block");
    assert.notEqual(fresh.key, old.key);

    const dir = await mkdtemp(join(tmpdir(), "seedcraft-world-caches-"));
    dirs.push(dir);
    const random = prng(19);
    const domain = {
      chainId: old.deployment.chainId,
      verifyingContract: old.deployment.contracts.SeedingRewards.address,
    };
    const [seeder, leecher] = [privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey())];

    // The old world: chunk 0 version 1 with one hash, and a leecher's receipt for it.
    const oldChunk = editChunk([0, 0, 0], 5, random);
    const oldBytes = encodeChunk(oldChunk.blocks);
    const oldHead = {
      chunkId: oldChunk.chunkId,
      version: 1,
      hash: oldChunk.hash,
      infoHash: chunkTorrent(oldChunk.chunkId, 1, oldBytes).infoHash,
    };
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    let cache = await NodeChunkCache.open(join(dir, "cache"), { world: old.key, log });
    let receipts = await ReceiptStore.open(join(dir, "receipts"), { world: old.key, log });
    await cache.put(oldHead, oldBytes);
    const batch = {
      seeder: seeder.address,
      leecher: leecher.address,
      epoch: 0,
      receipts: [{ contentHash: oldChunk.hash, bytes: 65_536n, nonce: 0n }],
    };
    await receipts.put(await signReceiptBatch(batch, leecher, domain));
    await cache.close();
    await receipts.close();

    // Reopened in the same world, everything is there.
    cache = await NodeChunkCache.open(join(dir, "cache"), { world: old.key, log });
    receipts = await ReceiptStore.open(join(dir, "receipts"), { world: old.key, log });
    assert.equal(cache.stats.entries, 1);
    assert.equal((await cache.get(oldChunk.chunkId, 1))?.head.hash, oldChunk.hash);
    assert.equal(receipts.stats.receipts, 1);
    assert.deepEqual(lines, []);
    await cache.close();
    await receipts.close();

    // The fresh world over the same folder: nothing of the old one is read, and its files are gone.
    cache = await NodeChunkCache.open(join(dir, "cache"), { world: fresh.key, log });
    receipts = await ReceiptStore.open(join(dir, "receipts"), { world: fresh.key, log });
    assert.equal(cache.stats.entries, 0, "no snapshot of the old world");
    assert.equal(await cache.get(oldChunk.chunkId, 1), undefined);
    assert.deepEqual(cache.entries(), []);
    assert.equal(receipts.stats.receipts, 0, "no receipt of the old world");
    assert.deepEqual(receipts.epochs(), []);
    assert.deepEqual(await readdir(join(dir, "cache", "chunks")), []);
    assert.equal(statSync(join(dir, "receipts", "receipts.log")).size, 0, "the old world's log is gone");
    assert.equal(lines.length, 2, lines.join("\n"));
    for (const line of lines)
      assert.match(line, new RegExp(`held data of world ${old.key}, not of this world ${fresh.key}: removed it`));

    // The same chunk id and version with the fresh world's hash is the fresh world's alone.
    const freshChunk = editChunk([0, 0, 0], 7, random);
    const freshBytes = encodeChunk(freshChunk.blocks);
    assert.notEqual(freshChunk.hash, oldChunk.hash);
    await cache.put(
      {
        chunkId: freshChunk.chunkId,
        version: 1,
        hash: freshChunk.hash,
        infoHash: chunkTorrent(freshChunk.chunkId, 1, freshBytes).infoHash,
      },
      freshBytes,
    );
    await cache.close();
    await receipts.close();
    cache = await NodeChunkCache.open(join(dir, "cache"), { world: fresh.key, log });
    assert.equal((await cache.get(freshChunk.chunkId, 1))?.head.hash, freshChunk.hash);
    assert.equal(lines.length, 2, "reopening in its own world removes nothing");
    await cache.close();
  });
});
