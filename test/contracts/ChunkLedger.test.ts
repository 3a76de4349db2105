import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { bytesToHex, keccak256, toHex, zeroHash } from "viem";
import { chunkIdOf } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import { generateChunk } from "../../core/terrain.ts";

const { viem } = await network.create();
const [alice, bob] = await viem.getWalletClients();
if (!alice || !bob) throw new Error("the hardhat network has no accounts");

const infoHash = (label: string) => keccak256(toHex(label)).slice(0, 42) as `0x${string}`;
const hash = (label: string) => keccak256(toHex(label));

describe("ChunkLedger", () => {
  it("anchors version 1 of an untouched chunk and emits everything the indexer needs", async () => {
    const ledger = await viem.deployContract("ChunkLedger");
    const id = chunkIdOf(1, 0, -1);
    const root = bytesToHex(chunkHash(generateChunk(7, 1, 0, -1)));
    await viem.assertions.emitWithArgs(ledger.write.anchor([id, 0n, root, infoHash("a")]), ledger, "ChunkAnchored", [
      id,
      1n,
      root,
      infoHash("a"),
      alice.account.address,
    ]);
    assert.deepEqual(await ledger.read.headOf([id]), [1n, root]);
  });

  it("is compare-and-swap: a stale expected version reverts naming the current version", async () => {
    const ledger = await viem.deployContract("ChunkLedger");
    const id = chunkIdOf(0, 0, 0);
    await ledger.write.anchor([id, 0n, hash("v1"), infoHash("v1")]);
    await ledger.write.anchor([id, 1n, hash("v2"), infoHash("v2")], { account: bob.account });
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([id, 1n, hash("late"), infoHash("late")]),
      ledger,
      "StaleChunkVersion",
      [id, 1n, 2n],
    );
    // The losing anchor changed nothing.
    assert.deepEqual(await ledger.read.headOf([id]), [2n, hash("v2")]);
  });

  it("rejects the reserved zero hash", async () => {
    const ledger = await viem.deployContract("ChunkLedger");
    await viem.assertions.revertWithCustomErrorWithArgs(
      ledger.write.anchor([5n, 0n, zeroHash, infoHash("x")]),
      ledger,
      "EmptyChunkHash",
      [5n],
    );
    assert.deepEqual(await ledger.read.headOf([5n]), [0n, zeroHash]);
  });

  it("keeps chunks independent", async () => {
    const ledger = await viem.deployContract("ChunkLedger");
    await ledger.write.anchor([chunkIdOf(0, 0, 0), 0n, hash("a"), infoHash("a")]);
    assert.deepEqual(await ledger.read.headOf([chunkIdOf(0, 0, 1)]), [0n, zeroHash]);
    assert.deepEqual(await ledger.read.headOf([chunkIdOf(0, 0, 0)]), [1n, hash("a")]);
  });

  it("packs chunk ids exactly as core/ does, for negative and extreme coordinates", async () => {
    const ledger = await viem.deployContract("ChunkLedger");
    const extremes = [0, 1, -1, 31, -32, 2 ** 31 - 1, -(2 ** 31), 123456, -987654];
    for (const cx of extremes)
      for (const cy of [0, -1, 2 ** 31 - 1, -(2 ** 31)])
        for (const cz of [extremes[(Math.abs(cx) + 3) % extremes.length] as number, -7]) {
          assert.equal(await ledger.read.chunkIdOf([cx, cy, cz]), chunkIdOf(cx, cy, cz), `(${cx}, ${cy}, ${cz})`);
        }
  });
});
