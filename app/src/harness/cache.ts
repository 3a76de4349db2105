/**
 * The IndexedDB chunk cache (p2p/browser/idb-cache.ts) on a page of its own, for the Chromium test: it puts
 * real snapshots (generated terrain with edits), reads them back after a reload, and corrupts one.
 */
import { bytesToHex } from "viem";
import { chunkIdOf, encodeChunk } from "../../../core/chunk.ts";
import { chunkHash } from "../../../core/merkle.ts";
import { generateChunk } from "../../../core/terrain.ts";
import { chunkTorrent } from "../../../core/torrent.ts";
import { IdbChunkCache } from "../../../p2p/browser/idb-cache.ts";

function snapshot(n: number) {
  const blocks = generateChunk(42, n, 0, 0);
  blocks[n] = 3;
  const bytes = encodeChunk(blocks).slice();
  const chunkId = chunkIdOf(n, 0, 0);
  return {
    bytes,
    head: {
      chunkId,
      version: 1,
      hash: bytesToHex(chunkHash(blocks)),
      infoHash: chunkTorrent(chunkId, 1, bytes).infoHash,
    },
  };
}

const harness = {
  /** Puts `count` snapshots (the first pinned) into a cache of at most `maxEntries`. */
  async fill(count: number, maxEntries: number): Promise<number> {
    const cache = await IdbChunkCache.open("seedcraft-test", { maxEntries });
    for (let n = 0; n < count; n++) await cache.put(snapshot(n).head, snapshot(n).bytes, { pinned: n === 0 });
    const entries = cache.stats.entries;
    await cache.close();
    return entries;
  },
  /** Which of snapshots 0..count-1 come back intact, and the cache's stats. */
  async check(count: number) {
    const cache = await IdbChunkCache.open("seedcraft-test");
    const intact: number[] = [];
    for (let n = 0; n < count; n++) {
      const { head, bytes } = snapshot(n);
      const got = await cache.get(head.chunkId, 1);
      if (got && got.head.hash === head.hash && got.bytes.every((b, i) => b === bytes[i])) intact.push(n);
    }
    const stats = cache.stats;
    await cache.close();
    return { intact, stats };
  },
  /** Overwrites snapshot n's stored bytes behind the cache's back. */
  async corrupt(n: number): Promise<void> {
    const request = indexedDB.open("seedcraft-test", 1);
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction("snapshots", "readwrite");
      tx.objectStore("snapshots").put(new Uint8Array(65_536).fill(9), `${chunkIdOf(n, 0, 0)}:1`);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  },
  /** A snapshot that does not hash to its head is refused, with the cache unchanged. */
  async putBad(): Promise<{ code: string | undefined; entries: number }> {
    const cache = await IdbChunkCache.open("seedcraft-test");
    const good = snapshot(1);
    let code: string | undefined;
    try {
      await cache.put(good.head, snapshot(2).bytes);
    } catch (error) {
      code = (error as { code?: string }).code;
    }
    const entries = cache.stats.entries;
    await cache.close();
    return { code, entries };
  },
};

(window as unknown as { seedcraftCache: typeof harness }).seedcraftCache = harness;
document.body.dataset.ready = "1";
