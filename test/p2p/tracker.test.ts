/**
 * The data plane's fallback: a peer with no link to any seeder finds one through the local WebSocket
 * tracker and fetches the snapshot over WebRTC that the tracker signaled (WebTorrent's own connections).
 * Real tracker, real WebRTC (node-datachannel), real WebTorrent, on 127.0.0.1. It takes about 10 s: the
 * tracker client's WebRTC in Node (webrtc-polyfill) never ends its ICE candidates, so each side waits out
 * simple-peer's 5 s before it sends its description (browsers end them at once).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { bytesToHex } from "viem";
import { decodeChunk } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import { ChunkTorrents } from "../../p2p/chunk-torrents.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import { type RunningTracker, startTracker } from "../../p2p/node/tracker.ts";
import { editedSnapshot } from "../helpers/data-plane.ts";
import { prng } from "../helpers/prng.ts";

describe("p2p: the tracker fallback", { timeout: 90_000 }, () => {
  const closing: (() => Promise<void>)[] = [];

  after(async () => {
    for (const close of closing.reverse()) await close();
    releaseWebRtc();
  });

  async function side(tracker: RunningTracker) {
    const cache = await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-tracker-")));
    const torrents = new ChunkTorrents({ client: createTorrentClient(), store: cache, trackers: [tracker.url] });
    closing.push(async () => {
      await torrents.destroy();
      await cache.close();
    });
    return { cache, torrents };
  }

  it("finds a seeder through the tracker when no link holds the snapshot, and checks what it gets", async () => {
    const tracker = await startTracker();
    closing.push(() => tracker.close());
    const item = editedSnapshot(99, { cx: 3, cy: 0, cz: 3 }, prng(5));
    const head = {
      chunkId: item.chunkId,
      version: 1,
      hash: bytesToHex(chunkHash(decodeChunk(item.snapshot))),
      infoHash: chunkTorrent(item.chunkId, 1, item.snapshot).infoHash,
    };
    const seeder = await side(tracker);
    const leecher = await side(tracker);
    // The seeder's own construction is seeded: kept live and announced on the tracker.
    await seeder.torrents.seed(head, item.snapshot, { own: true });
    // Its announce goes out once its offers are made (5 s, below); a leecher asking before would find nobody
    // and wait for the next announce round (minutes).
    const deadline = Date.now() + 20_000;
    while (tracker.seeders(head.infoHash) === 0) {
      assert.ok(Date.now() < deadline, "the seeder never announced itself on the tracker");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const result = await leecher.torrents.fetch(head, { timeoutMs: 30_000 });
    assert.equal(result.fromCache, false);
    assert.deepEqual(result.sources, [], "no linked peer sent it: the tracker's peer did");
    assert.equal(bytesToHex(chunkHash(decodeChunk(result.bytes))), head.hash);
    await leecher.torrents.settled();
    assert.equal((await leecher.cache.getByInfoHash(head.infoHash))?.head.hash, head.hash);
    assert.ok((seeder.torrents.stats().uploadedBytes ?? 0) >= 65_536, "the seeder uploaded it");
  });
});
