/**
 * A seeder's torrent is found again through a tracker that died and was started again on the same port (as
 * `seedcraft up` restarts a dead part): a real `seedcraft tracker` process killed and run again, real
 * WebTorrent clients and WebRTC on 127.0.0.1. The seeder's tracker client must reconnect and announce within
 * seconds (bittorrent-tracker's own wait is 10 s plus up to 5 minutes). The tracker's debug log says when it
 * answered an announce. Node's WebRTC makes each side wait 5 s for its description (see tracker.test.ts).
 * First, before anything in this process patches bittorrent-tracker: a tracker client already waiting out the
 * library's long delay when the patch comes waits the short one instead.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { bytesToHex } from "viem";
import WebTorrent from "webtorrent";
import { decodeChunk } from "../../core/chunk.ts";
import { chunkHash } from "../../core/merkle.ts";
import { chunkTorrent } from "../../core/torrent.ts";
import { ChunkTorrents } from "../../p2p/chunk-torrents.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { LOOPBACK_RTC_CONFIG, nodeWrtc, releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import { startTracker } from "../../p2p/node/tracker.ts";
import { quickTrackerReconnects } from "../../p2p/tracker-reconnect.ts";
import { editedSnapshot } from "../helpers/data-plane.ts";
import { prng } from "../helpers/prng.ts";
import { type RunningCli, runCli, waitFor, worldPorts } from "../helpers/world.ts";

const PORT = worldPorts(7000).tracker;
const TRACKER_URL = `ws://127.0.0.1:${PORT}`;
const ANSWERED = /sent response \{.*"action":"announce"/g;

// Two cases of up to ~30 s and ~10 s on a loaded machine.
describe("p2p: a restarted tracker", { timeout: 80_000 }, () => {
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

  async function side(client = createTorrentClient()) {
    const cache = await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-tracker-restart-")));
    const torrents = new ChunkTorrents({ client, store: cache, trackers: [TRACKER_URL] });
    closing.push(async () => {
      await torrents.destroy();
      await cache.close();
    });
    return { cache, torrents };
  }

  function snapshotHead(seed: number) {
    const item = editedSnapshot(7, { cx: seed, cy: 0, cz: 2 }, prng(seed));
    const head = {
      chunkId: item.chunkId,
      version: 1,
      hash: bytesToHex(chunkHash(decodeChunk(item.snapshot))),
      infoHash: chunkTorrent(item.chunkId, 1, item.snapshot).infoHash,
    };
    return { head, snapshot: item.snapshot };
  }

  it("a tracker client already waiting to reconnect when the patch comes waits seconds, not minutes", async () => {
    // createTorrentClient's options, less the patch: it comes later, as in a client whose first torrent's
    // tracker was down before the patch could be reached through it.
    const client = new WebTorrent({
      dht: false,
      lsd: false,
      utp: false,
      natUpnp: false,
      natPmp: false,
      webSeeds: false,
      utPex: false,
      tracker: { rtcConfig: LOOPBACK_RTC_CONFIG, wrtc: nodeWrtc },
    });
    const seeder = await side(client);
    const first = snapshotHead(3);
    await seeder.torrents.seed(first.head, first.snapshot, { own: true });
    type Waiting = { destroyed: boolean; reconnecting: boolean };
    const trackerOf = (torrent: unknown) =>
      (torrent as { discovery?: { tracker?: { _trackers?: Waiting[] } } } | undefined)?.discovery?.tracker
        ?._trackers?.[0];
    await waitFor("the first torrent's tracker client", () => trackerOf(client.torrents[0]) !== undefined, 10_000);
    const waiting = trackerOf(client.torrents[0]) as Waiting;
    assert.equal(
      (Object.getPrototypeOf(waiting) as Record<symbol, unknown>)[Symbol.for("seedcraft.trackerReconnect")],
      undefined,
      "nothing in this process patched the tracker class yet: this case runs first",
    );
    // Nobody listens on the port: the library closes the socket and waits 10 s plus up to 5 minutes.
    await waitFor("the tracker client to wait", () => waiting.reconnecting && waiting.destroyed, 10_000);

    const tracker = await startTracker({ port: PORT });
    // The tracker's server waits for its sockets to close: the seeder goes first.
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await seeder.torrents.destroy();
      await tracker.close();
    };
    closing.push(close);
    quickTrackerReconnects(client);
    const patchedAt = performance.now();
    // The patch is reached through the next torrent's tracker; the first one's, waiting, must hurry too.
    const second = snapshotHead(4);
    await seeder.torrents.seed(second.head, second.snapshot, { own: true });
    await waitFor("the waiting tracker client to reconnect", () => !waiting.reconnecting, 5_000);
    const reconnectedMs = performance.now() - patchedAt;
    await waitFor("the first torrent's announce", () => tracker.seeders(first.head.infoHash) === 1, 12_000);
    console.log(
      `tracker already waiting: reconnected ${Math.round(reconnectedMs)} ms after the patch, announced in ${Math.round(performance.now() - patchedAt)} ms`,
    );
    await close();
  });

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
