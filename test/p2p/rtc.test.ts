import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loopbackPair } from "../helpers/rtc.ts";

describe("p2p: WebRTC data channels in Node", { timeout: 30_000 }, () => {
  it("connects two peers over loopback and carries messages in order, both ways", async () => {
    const { a, b } = await loopbackPair();
    try {
      b.on("data", (data: Uint8Array) => b.send(data)); // echo
      const received: string[] = [];
      const rtts: number[] = [];
      for (let i = 0; i < 50; i++) {
        const sent = performance.now();
        const echo = new Promise<string>((resolve) =>
          a.once("data", (data: Uint8Array) => resolve(new TextDecoder().decode(data))),
        );
        a.send(`message ${i}`);
        received.push(await echo);
        rtts.push(performance.now() - sent);
      }
      assert.deepEqual(
        received,
        Array.from({ length: 50 }, (_, i) => `message ${i}`),
      );
      rtts.sort((x, y) => x - y);
      assert.ok((rtts[25] ?? Infinity) < 50, `round trip p50 ${rtts[25]?.toFixed(2)} ms on loopback`);
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

describe("p2p: the trackers' WebRTC and ours in one process", { timeout: 60_000 }, () => {
  it("a tracker-signaled connection that closes last of its kind leaves the mesh's links open", async () => {
    // WebTorrent's tracker client makes its connections with @thaunknown/simple-peer, whose webrtc-polyfill
    // used to end libdatachannel (node-datachannel's cleanup) when its last connection closed: every other
    // connection of the process went with it, the mesh's links included (a seeder lost all its peers at once).
    // The very module the tracker client loads, resolved from where it lives.
    const fromTracker = createRequire(fileURLToPath(import.meta.resolve("bittorrent-tracker")));
    const { default: TrackerPeer } = await import(
      pathToFileURL(fromTracker.resolve("@thaunknown/simple-peer/lite.js")).href
    );
    const { a, b } = await loopbackPair();
    const config = { iceServers: [] };
    const offerer = new TrackerPeer({ initiator: true, config });
    const answerer = new TrackerPeer({ config });
    offerer.on("signal", (signal: unknown) => answerer.signal(signal));
    answerer.on("signal", (signal: unknown) => offerer.signal(signal));
    const closed: string[] = [];
    a.once("close", () => closed.push("a"));
    b.once("close", () => closed.push("b"));
    try {
      await new Promise((resolve, reject) => {
        offerer.once("connect", resolve);
        offerer.once("error", reject);
      });
      offerer.destroy();
      answerer.destroy();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(closed, [], "the mesh's link stayed open");
      const echoed = new Promise<string>((resolve) =>
        b.once("data", (data: Uint8Array) => resolve(new TextDecoder().decode(data))),
      );
      a.send("still here");
      assert.equal(await echoed, "still here");
      // And a new connection can still be made.
      const again = await loopbackPair();
      again.a.destroy();
      again.b.destroy();
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

describe("p2p: SEEDCRAFT_RTC_LOG", { timeout: 30_000 }, () => {
  it("a level libdatachannel does not know stops the process with a typed error", () => {
    const run = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `await import(${JSON.stringify(new URL("../../p2p/node/rtc.ts", import.meta.url).href)})`,
      ],
      { env: { ...process.env, SEEDCRAFT_RTC_LOG: "loud" }, encoding: "utf8" },
    );
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /BAD_RTC_LOG/);
    assert.match(run.stderr, /SEEDCRAFT_RTC_LOG must be one of Verbose, Debug, Info, Warning, Error, Fatal/);
  });
});
