import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { bytesToHex, type Hex } from "viem";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { blockIndex, CHUNK_BYTES, chunkIdOf, encodeChunk, MAX_CHUNK_ID } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import { generateChunk } from "../../core/terrain.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import { type ChunkHead, ChunkStoreError } from "../../p2p/chunk-store.ts";
import { DEFAULT_CACHE_LIMITS, NodeChunkCache } from "../../p2p/node/chunk-cache.ts";

const SEED = 0x5eed;
const dirs: string[] = [];

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "seedcraft-cache-"));
  dirs.push(dir);
  return dir;
}

type Snapshot = { head: ChunkHead; bytes: Uint8Array };

/** Version `version` of chunk (cx, 0, cz): generated terrain with a few blocks placed, as a player would. */
function snapshot(cx: number, cz: number, version = 0): Snapshot {
  const blocks = generateChunk(SEED, cx, 0, cz);
  for (let i = 0; i < version * 3; i++) blocks[blockIndex(i % 32, 20 + (i >> 5), 7)] = BLOCK_IDS.brick;
  const bytes = encodeChunk(blocks).slice();
  const chunkId = chunkIdOf(cx, 0, cz);
  const head = {
    chunkId,
    version,
    hash: bytesToHex(chunkHash(blocks)),
    infoHash: chunkTorrent(chunkId, version, bytes).infoHash,
  };
  return { head, bytes };
}

const fileOf = (dir: string, head: ChunkHead) =>
  join(dir, "chunks", `${head.chunkId.toString(16)}-${head.version}.chunk`);

const isCode = (code: string) => (error: unknown) => error instanceof ChunkStoreError && error.code === code;

async function assertCached(cache: NodeChunkCache, { head, bytes }: Snapshot): Promise<void> {
  assert.equal(cache.has(head.infoHash), true);
  assert.deepEqual(await cache.get(head.chunkId, head.version), { head, bytes });
  assert.deepEqual(await cache.getByInfoHash(head.infoHash), { head, bytes });
}

describe("p2p: NodeChunkCache", () => {
  it("gives back what was put: by id and version, newest version, and infoHash", async () => {
    const cache = await NodeChunkCache.open(freshDir());
    const a0 = snapshot(1, 2, 0);
    const a1 = snapshot(1, 2, 1);
    const b = snapshot(-3, 4, 0);
    assert.notEqual(a0.head.hash, a1.head.hash);
    await cache.put(a0.head, a0.bytes);
    await cache.put(a1.head, a1.bytes);
    await cache.put(b.head, b.bytes);

    assert.deepEqual(await cache.get(a0.head.chunkId, 0), a0);
    assert.deepEqual(await cache.get(a0.head.chunkId), a1);
    const upper = `0x${a0.head.infoHash.slice(2).toUpperCase()}` as Hex;
    assert.deepEqual(await cache.getByInfoHash(upper), a0);
    assert.equal(cache.has(upper), true);
    assert.deepEqual(await cache.get(b.head.chunkId), b);

    assert.equal(await cache.get(a0.head.chunkId, 7), undefined);
    assert.equal(await cache.get(chunkIdOf(9, 9, 9)), undefined);
    assert.equal(await cache.getByInfoHash(`0x${"00".repeat(20)}`), undefined);
    assert.equal(cache.has(`0x${"00".repeat(20)}`), false);

    const heads = cache.heads().sort((x, y) => (x.chunkId < y.chunkId ? -1 : 1));
    assert.deepEqual(
      heads,
      [a1.head, b.head].sort((x, y) => (x.chunkId < y.chunkId ? -1 : 1)),
    );
    assert.deepEqual(cache.stats, {
      entries: 3,
      bytes: 3 * CHUNK_BYTES,
      pinned: 0,
      hits: 4,
      misses: 3,
      corrupt: 0,
      evicted: 0,
    });
    await cache.close();
  });

  it("survives a restart, and saves its index on its own shortly after a change", async () => {
    const dir = freshDir();
    const snapshots = [snapshot(0, 0), snapshot(5, -6, 2), snapshot(-7, 8, 1)];
    const cache = await NodeChunkCache.open(dir);
    for (const [i, { head, bytes }] of snapshots.entries()) await cache.put(head, bytes, { pinned: i === 1 });
    assert.equal(existsSync(join(dir, "index.json")), false, "saving is debounced");
    await sleep(800);
    const saved = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { entries: unknown[] };
    assert.equal(saved.entries.length, 3);
    await cache.close();

    const reopened = await NodeChunkCache.open(dir);
    for (const item of snapshots) await assertCached(reopened, item);
    assert.equal(reopened.stats.entries, 3);
    assert.equal(reopened.stats.pinned, 1);
    assert.equal(reopened.heads().length, 3);
    await reopened.close();
  });

  it("adopts snapshot files its index misses (a crash before the save), and drops entries without a file", async () => {
    const dir = freshDir();
    const snapshots = [snapshot(0, 1), snapshot(2, 3, 1), snapshot(-4, -5, 3)];
    const crashed = await NodeChunkCache.open(dir);
    for (const { head, bytes } of snapshots) await crashed.put(head, bytes);
    assert.equal(existsSync(join(dir, "index.json")), false);

    // A second process on the same files, as after a crash: no index, only the files.
    const recovered = await NodeChunkCache.open(dir);
    assert.equal(recovered.stats.entries, 3);
    for (const item of snapshots) await assertCached(recovered, item);
    await recovered.close();
    await crashed.close();

    // A torn index, a stray temp file, a file with a bad name and a short one: all cleaned up.
    writeFileSync(join(dir, "index.json"), '{"format":1,"entries":[{"chunk');
    writeFileSync(join(dir, "index.json.123.1.tmp"), "partial");
    writeFileSync(`${fileOf(dir, snapshots[0]?.head as ChunkHead)}.99.1.tmp`, new Uint8Array(10));
    writeFileSync(join(dir, "chunks", "not-a-chunk.chunk"), new Uint8Array(CHUNK_BYTES));
    writeFileSync(join(dir, "chunks", "0a-1.chunk"), new Uint8Array(CHUNK_BYTES));
    writeFileSync(join(dir, "chunks", "abc-1.chunk"), new Uint8Array(100));
    const rebuilt = await NodeChunkCache.open(dir);
    assert.equal(rebuilt.stats.entries, 3);
    for (const item of snapshots) await assertCached(rebuilt, item);
    assert.deepEqual(
      readdirSync(join(dir, "chunks")).sort(),
      snapshots.map((s) => basename(fileOf(dir, s.head))).sort(),
    );
    assert.equal(existsSync(join(dir, "index.json.123.1.tmp")), false);
    await rebuilt.close();
    assert.equal(
      (JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { entries: unknown[] }).entries.length,
      3,
    );

    const [gone, ...kept] = snapshots as [Snapshot, Snapshot, Snapshot];
    unlinkSync(fileOf(dir, gone.head));
    const partial = await NodeChunkCache.open(dir);
    assert.equal(partial.stats.entries, 2);
    assert.equal(partial.has(gone.head.infoHash), false);
    for (const item of kept) await assertCached(partial, item);
    await partial.close();
  });

  it("drops a corrupt entry on read, counts it, and takes the right bytes again", async () => {
    const dir = freshDir();
    const cache = await NodeChunkCache.open(dir);
    const a = snapshot(3, 3, 1);
    const b = snapshot(4, 4);
    await cache.put(a.head, a.bytes);
    await cache.put(b.head, b.bytes);

    const fd = openSync(fileOf(dir, a.head), "r+");
    writeSync(fd, new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 0, 4, 40_000);
    closeSync(fd);
    assert.equal(await cache.get(a.head.chunkId, 1), undefined);
    assert.equal(cache.stats.corrupt, 1);
    assert.equal(cache.has(a.head.infoHash), false);
    assert.equal(existsSync(fileOf(dir, a.head)), false);
    assert.equal(await cache.get(a.head.chunkId), undefined, "no other version to fall back to");

    await cache.put(a.head, a.bytes);
    await assertCached(cache, a);

    // A short file and a missing one are corrupt too.
    truncateSync(fileOf(dir, a.head), 1000);
    assert.equal(await cache.getByInfoHash(a.head.infoHash), undefined);
    unlinkSync(fileOf(dir, b.head));
    assert.equal(await cache.get(b.head.chunkId), undefined);
    assert.equal(cache.stats.corrupt, 3);
    assert.equal(cache.stats.entries, 0);
    await cache.close();

    const reopened = await NodeChunkCache.open(dir);
    assert.equal(reopened.stats.entries, 0, "the saved index no longer lists them");
    await reopened.close();
  });

  it("refuses bad input with CACHE_BAD_ENTRY and changes nothing", async () => {
    const dir = freshDir();
    const cache = await NodeChunkCache.open(dir);
    const a = snapshot(6, 6, 2);
    const b = snapshot(7, 7);
    await cache.put(a.head, a.bytes);
    const before = cache.stats;
    const bad: [ChunkHead, Uint8Array][] = [
      [a.head, a.bytes.subarray(0, CHUNK_BYTES - 2)],
      [a.head, new Uint8Array(CHUNK_BYTES + 2)],
      [{ ...a.head, hash: b.head.hash }, a.bytes],
      [a.head, b.bytes],
      [{ ...b.head, infoHash: a.head.infoHash }, b.bytes],
      [{ ...a.head, version: 3 }, a.bytes],
      [{ ...b.head, version: -1 }, b.bytes],
      [{ ...b.head, version: 1.5 }, b.bytes],
      [{ ...b.head, chunkId: MAX_CHUNK_ID + 1n }, b.bytes],
      [{ ...b.head, chunkId: -1n }, b.bytes],
    ];
    for (const [head, bytes] of bad) await assert.rejects(cache.put(head, bytes), isCode("CACHE_BAD_ENTRY"));
    assert.deepEqual(cache.stats, before);
    assert.equal(cache.has(b.head.infoHash), false);
    assert.deepEqual(readdirSync(join(dir, "chunks")), [basename(fileOf(dir, a.head))]);
    await assertCached(cache, a);
    await cache.close();
  });

  it("evicts the least recently used unpinned entry, never a pinned one", async () => {
    const dir = freshDir();
    const cache = await NodeChunkCache.open(dir, { maxEntries: 3 });
    const [pinned, read, stale, fresh, next] = [1, 2, 3, 4, 5].map((i) => snapshot(i, -i)) as [
      Snapshot,
      Snapshot,
      Snapshot,
      Snapshot,
      Snapshot,
    ];
    await cache.put(pinned.head, pinned.bytes, { pinned: true });
    await cache.put(read.head, read.bytes);
    await cache.put(stale.head, stale.bytes);
    assert.ok(await cache.get(read.head.chunkId));
    await cache.put(fresh.head, fresh.bytes);

    assert.equal(cache.stats.evicted, 1);
    assert.equal(cache.stats.entries, 3);
    assert.equal(cache.has(stale.head.infoHash), false);
    assert.equal(existsSync(fileOf(dir, stale.head)), false);
    for (const kept of [pinned, read, fresh]) await assertCached(cache, kept);

    // Order of use now: pinned, read, fresh (the reads above). Pinning `fresh` leaves `read` the one to go.
    cache.pin(fresh.head.chunkId, true);
    assert.equal(cache.stats.pinned, 2);
    await cache.put(next.head, next.bytes);
    assert.equal(cache.has(read.head.infoHash), false);
    assert.equal(cache.stats.evicted, 2);
    // `next` is now the only unpinned entry, so the least recently used.
    await cache.put(stale.head, stale.bytes);
    assert.equal(cache.has(next.head.infoHash), false);
    assert.equal(cache.has(stale.head.infoHash), true);
    await cache.close();

    // The limits apply on open too, in the saved order of use.
    const smaller = await NodeChunkCache.open(dir, { maxEntries: 2, maxBytes: DEFAULT_CACHE_LIMITS.maxBytes });
    assert.equal(smaller.stats.entries, 2);
    assert.equal(smaller.has(stale.head.infoHash), false);
    assert.equal(smaller.stats.pinned, 2);
    smaller.pin(fresh.head.chunkId, false);
    await smaller.put(read.head, read.bytes);
    assert.equal(smaller.has(fresh.head.infoHash), false, "unpinned, it is the least recently used");
    await smaller.close();
  });

  it("keeps pinned entries past the limits, and counts bytes against maxBytes", async () => {
    const cache = await NodeChunkCache.open(freshDir(), { maxBytes: 2 * CHUNK_BYTES });
    const items = [10, 11, 12].map((i) => snapshot(i, i));
    for (const { head, bytes } of items) await cache.put(head, bytes, { pinned: true });
    assert.equal(cache.stats.entries, 3);
    assert.equal(cache.stats.evicted, 0);
    // Pinning is sticky: an unpinned put of the same version keeps it pinned.
    await cache.put(items[0]?.head as ChunkHead, items[0]?.bytes as Uint8Array);
    assert.equal(cache.stats.pinned, 3);
    for (const item of items) cache.pin(item.head.chunkId, false);
    await cache.close();
    assert.equal(cache.stats.entries, 2);
    assert.equal(cache.stats.evicted, 1);
  });

  it("closes once, and refuses calls after close with CACHE_CLOSED", async () => {
    const dir = freshDir();
    const cache = await NodeChunkCache.open(dir);
    const a = snapshot(8, 8);
    const pending = cache.put(a.head, a.bytes);
    await Promise.all([cache.close(), cache.close()]);
    await pending;
    await cache.close();
    const closed = isCode("CACHE_CLOSED");
    await assert.rejects(cache.get(a.head.chunkId), closed);
    await assert.rejects(cache.getByInfoHash(a.head.infoHash), closed);
    await assert.rejects(cache.put(a.head, a.bytes), closed);
    assert.throws(() => cache.has(a.head.infoHash), closed);
    assert.throws(() => cache.heads(), closed);
    assert.throws(() => cache.pin(a.head.chunkId, true), closed);
    assert.equal(cache.stats.entries, 1);

    // The put that was under way when close was called made it into the saved index.
    const reopened = await NodeChunkCache.open(dir);
    await assertCached(reopened, a);
    await reopened.close();
  });
});
