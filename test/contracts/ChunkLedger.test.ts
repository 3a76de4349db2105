import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeAbiParameters, getAddress, type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { AnchorTree } from "../../core/anchors.ts";
import { chunkIdOf } from "../../core/chunk.ts";
import {
  anchorBatch,
  authorizeSession,
  cube,
  deploySeedcraft,
  editChunk,
  prng,
  sessionKey,
  testWallets,
} from "../helpers/seeding.ts";

const world = await deploySeedcraft();
const { chunkLedger: ledger, viem, publicClient, networkHelpers } = world;
const [alice, bob, carol] = await testWallets(viem, 3);
if (!alice || !bob || !carol) throw new Error("unreachable");
const random = prng(7);

const infoHash = (label: string) => keccak256(toHex(label)).slice(0, 42) as Hex;
const hash = (label: string) => keccak256(toHex(label));
/** A fresh area of chunks per test, so tests sharing one deployment never collide. */
let nextArea = 0;
const freshOrigin = (): [number, number, number] => [1000 * ++nextArea, -64, -1000 * nextArea];

describe("ChunkLedger", () => {
  it("anchors version 1 of an untouched chunk and emits everything the indexer needs", async () => {
    const chunk = editChunk(freshOrigin(), 3, random);
    const tx = ledger.write.anchor([chunk.chunkId, 0, chunk.hash, infoHash("a"), chunk.watermark]);
    await viem.assertions.emitWithArgs(tx, ledger, "ChunkAnchored", [
      chunk.chunkId,
      getAddress(alice.account.address),
      1,
      chunk.hash,
      infoHash("a"),
      chunk.watermark,
    ]);
    assert.equal(await ledger.read.versionOf([chunk.chunkId]), 1);
    // A single anchor is a batch of one: its root is its leaf, and it is recorded.
    const leaf = await ledger.read.leafOf([chunk.chunkId, 1, chunk.hash]);
    assert.equal(leaf, new AnchorTree([{ chunkId: chunk.chunkId, version: 1, hash: chunk.hash }]).root);
    assert.ok((await ledger.read.rootAnchoredAt([leaf])) > 0n);
  });

  it("anchors a batch of 64 chunks, each compare-and-swap, with the root core/ computes", async () => {
    const area = cube(4, freshOrigin());
    const first = area.map((coords) => editChunk(coords, 4, random));
    const batch = await anchorBatch(world, alice, first);
    assert.equal(batch.leaves.length, 64);
    const [announced] = await ledger.getEvents.BatchAnchored({ root: batch.root }, { fromBlock: 0n });
    assert.deepEqual(announced?.args, { root: batch.root, author: getAddress(alice.account.address), size: 64n });
    assert.ok((await ledger.read.rootAnchoredAt([batch.root])) > 0n, "the batch root is on chain");
    for (const [i, chunk] of first.entries()) {
      assert.equal(await ledger.read.versionOf([chunk.chunkId]), 1);
      assert.deepEqual(batch.leaves[i], { chunkId: chunk.chunkId, version: 1, hash: chunk.hash });
    }
    // Re-anchoring moves each version by one and touches no neighbour.
    const second = first.slice(0, 9).map((chunk, i) => editChunk(area[i] as never, 2, random, chunk.blocks));
    await anchorBatch(
      world,
      alice,
      second,
      second.map(() => 1),
    );
    for (const [i, chunk] of first.entries()) {
      assert.equal(await ledger.read.versionOf([chunk.chunkId]), i < 9 ? 2 : 1);
    }
  });

  it("fails a whole batch on one stale item, naming it, and changes nothing", async () => {
    const [a, b, c] = cube(2, freshOrigin()).map((coords) => editChunk(coords, 1, random));
    if (!a || !b || !c) throw new Error("unreachable");
    await anchorBatch(world, alice, [b]);
    const updates = [a, b, c].map((chunk) => ({
      chunkId: chunk.chunkId,
      expectedVersion: 0,
      newHash: chunk.hash,
      infoHash: infoHash("x"),
      watermark: 1n,
    }));
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchorBatch([updates]),
      ledger,
      "StaleChunkVersion",
      [b.chunkId, 0, 1],
    );
    assert.equal(await ledger.read.versionOf([a.chunkId]), 0);
    assert.equal(await ledger.read.versionOf([b.chunkId]), 1);
    assert.equal(await ledger.read.versionOf([c.chunkId]), 0);
  });

  it("settles an anchoring race: two anchors on the same version, the second fails", async () => {
    const chunk = editChunk(freshOrigin(), 1, random);
    await ledger.write.anchor([chunk.chunkId, 0, hash("alice v1"), infoHash("a"), 1n]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([chunk.chunkId, 0, hash("bob v1"), infoHash("b"), 1n], { account: bob.account }),
      ledger,
      "StaleChunkVersion",
      [chunk.chunkId, 0, 1],
    );
    // Bob rebases on v1 and wins v2.
    await ledger.write.anchor([chunk.chunkId, 1, hash("bob v2"), infoHash("b"), 2n], { account: bob.account });
    assert.equal(await ledger.read.versionOf([chunk.chunkId]), 2);
  });

  it("refuses an empty hash, a chunk id wider than 96 bits and bad batch sizes", async () => {
    const id = chunkIdOf(...freshOrigin());
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([id, 0, `0x${"00".repeat(32)}`, infoHash("x"), 1n]),
      ledger,
      "EmptyChunkHash",
      [id],
    );
    const wide = 1n << 96n;
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([wide, 0, hash("w"), infoHash("w"), 1n]),
      ledger,
      "InvalidChunkId",
      [wide],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(ledger.read.versionOf([wide]), ledger, "InvalidChunkId", [
      wide,
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(ledger.write.anchorBatch([[]]), ledger, "BadBatchSize", [0n]);
    const tooMany = Array.from({ length: 257 }, (_, i) => ({
      chunkId: BigInt(i),
      expectedVersion: 0,
      newHash: hash(`${i}`),
      infoHash: infoHash("t"),
      watermark: 1n,
    }));
    await viem.assertions.revertWithCustomErrorWithArgs(ledger.write.anchorBatch([tooMany]), ledger, "BadBatchSize", [
      257n,
    ]);
    assert.equal(await ledger.read.versionOf([id]), 0);
  });

  it("refuses a version past 2^32 - 1 instead of wrapping to 0", async () => {
    const id = chunkIdOf(...freshOrigin());
    // Versions live in 32-bit lanes, eight per slot: put this chunk's lane at its maximum.
    const group = id & ~((1n << 64n) | (1n << 32n) | 1n);
    const slot = keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [group, 0n]));
    const lane = ((id >> 62n) & 4n) | ((id >> 31n) & 2n) | (id & 1n);
    await networkHelpers.setStorageAt(ledger.address, slot, 0xffff_ffffn << (lane * 32n));
    assert.equal(await ledger.read.versionOf([id]), 0xffff_ffff);
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([id, 0xffff_ffff, hash("last"), infoHash("l"), 1n]),
      ledger,
      "ChunkVersionExhausted",
      [id],
    );
    // The neighbours sharing the slot are untouched.
    assert.equal(await ledger.read.versionOf([id ^ 1n]), 0);
  });

  it("credits an anchor sent by a live session key to its wallet, and records when a wallet first played", async () => {
    const key = sessionKey(900);
    await authorizeSession(world, carol, key);
    const chunk = editChunk(freshOrigin(), 1, random);
    const hashSent = await ledger.write.anchor([chunk.chunkId, 0, chunk.hash, infoHash("k"), 5n], { account: key });
    const receipt = await publicClient.waitForTransactionReceipt({ hash: hashSent });
    const [event] = parseEventLogs({ abi: ledger.abi, logs: receipt.logs, eventName: "ChunkAnchored" });
    assert.equal(event?.args.author, getAddress(carol.account.address));
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber });
    assert.equal(await ledger.read.firstAnchorAt([carol.account.address]), block.timestamp);
    assert.equal(await ledger.read.firstAnchorAt([key.address]), 0n, "the key itself is not a player");
    // Once the session expires, the key's anchors are its own.
    await networkHelpers.time.increase(86_401);
    const later = editChunk(freshOrigin(), 1, random);
    await viem.assertions.emitWithArgs(
      ledger.write.anchor([later.chunkId, 0, later.hash, infoHash("k"), 6n], { account: key }),
      ledger,
      "ChunkAnchored",
      [later.chunkId, getAddress(key.address), 1, later.hash, infoHash("k"), 6n],
    );
  });

  it("packs chunk ids exactly as core/ does, for negative and extreme coordinates", async () => {
    const extremes = [0, 1, -1, 31, -32, 2 ** 31 - 1, -(2 ** 31), 123456, -987654];
    for (const cx of extremes)
      for (const cy of [0, -1, 2 ** 31 - 1, -(2 ** 31)])
        for (const cz of [extremes[(Math.abs(cx) + 3) % extremes.length] as number, -7]) {
          assert.equal(await ledger.read.chunkIdOf([cx, cy, cz]), chunkIdOf(cx, cy, cz), `(${cx}, ${cy}, ${cz})`);
        }
  });

  it("keeps the eight chunks of a slot independent, across negative coordinates", async () => {
    // The 2×2×2 group from (-1,-1,-1) to (0,0,0) straddles zero: each lane must move alone.
    const corners = cube(2, [-1, -1, -1]).map((coords) => chunkIdOf(...coords));
    for (const [i, id] of corners.entries()) {
      for (let v = 0; v < i % 3; v++) await ledger.write.anchor([id, v, hash(`${id}:${v}`), infoHash("c"), 1n]);
    }
    for (const [i, id] of corners.entries()) assert.equal(await ledger.read.versionOf([id]), i % 3);
  });
});
