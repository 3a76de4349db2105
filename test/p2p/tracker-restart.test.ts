/**
 * A seeder's torrent is found again through a tracker that died and was started again on the same port (as
 * `seedcraft up` restarts a dead part): a real `seedcraft tracker` process killed and run again, real
 * WebTorrent clients and WebRTC on 127.0.0.1. The seeder's tracker client must reconnect and announce within
 * seconds (bittorrent-tracker's own wait is 10 s plus up to 5 minutes). The tracker's debug log says when it
 * answered an announce. Node's WebRTC makes each side wait 5 s for its description (see tracker.test.ts).
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
import { editedSnapshot } from "../helpers/data-plane.ts";
import { prng } from "../helpers/prng.ts";
import { type RunningCli, runCli, waitFor, worldPorts } from "../helpers/world.ts";

const PORT = worldPorts(48000).tracker;
const TRACKER_URL = `ws://127.0.0.1:${PORT}`;
const ANSWERED = /sent response \{.*"action":"announce"/g;

describe("p2p: a restarted tracker", { timeout: 45_000 }, () => {
  const closing: (() => Promise<void>)[] = [];

  after(async () => {
    for (const close of closing.reverse()) await close();
    releaseWebRtc();
  });

  async function tracker(): Promise<RunningCli> {
    const cli = runCli(["tracker", "--port", String(PORT)], { ...process.env, DEBUG: "bittorrent-tracker:server" });
    closing.push(async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
      await cli.exited;
    });
    await waitFor("the tracker to listen", () => cli.stdout().includes("WebSocket tracker on"), 10_000);
    return cli;
  }

  async function side() {
    const cache = await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-tracker-restart-")));
    const torrents = new ChunkTorrents({ client: createTorrentClient(), store: cache, trackers: [TRACKER_URL] });
    closing.push(async () => {
      await torrents.destroy();
      await cache.close();
    });
    return { cache, torrents };
  }

  it("finds the seeder's torrent again within seconds of the restart", async () => {
    const first = await tracker();
    const item = editedSnapshot(7, { cx: 1, cy: 0, cz: 2 }, prng(11));
    const head = {
      chunkId: item.chunkId,
      version: 1,
      hash: bytesToHex(chunkHash(decodeChunk(item.snapshot))),
      infoHash: chunkTorrent(item.chunkId, 1, item.snapshot).infoHash,
    };
    const seeder = await side();
    await seeder.torrents.seed(head, item.snapshot, { own: true });
    await waitFor("the seeder's announce", () => (first.stderr().match(ANSWERED)?.length ?? 0) > 0, 15_000);

    // The tracker dies: its connections drop with it, as a crashed part's do.
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await tracker();
    const restartedAt = performance.now();
    await waitFor("the seeder to announce again", () => (second.stderr().match(ANSWERED)?.length ?? 0) > 0, 10_000);
    const reannouncedMs = performance.now() - restartedAt;

    // A peer with no link to the seeder finds it through the restarted tracker alone.
    const leecher = await side();
    const result = await leecher.torrents.fetch(head, { timeoutMs: 25_000 });
    const foundMs = performance.now() - restartedAt;
    assert.deepEqual(result.sources, [], "no linked peer sent it: the tracker's peer did");
    assert.equal(bytesToHex(chunkHash(decodeChunk(result.bytes))), head.hash);
    console.log(
      `tracker restart: the seeder announced again in ${Math.round(reannouncedMs)} ms, a leecher had its torrent in ${Math.round(foundMs)} ms`,
    );
  });
});
