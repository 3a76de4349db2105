import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Peer from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "../../p2p/node/rtc.ts";

/** Two simple-peer peers on real WebRTC (libdatachannel) over loopback; the test relays their signals. */
function pair(): Promise<{ a: Peer; b: Peer }> {
  const options = { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, trickle: true };
  const a = new Peer({ ...options, initiator: true });
  const b = new Peer(options);
  a.on("signal", (data) => b.signal(data));
  b.on("signal", (data) => a.signal(data));
  return new Promise((resolve, reject) => {
    let open = 0;
    for (const peer of [a, b]) {
      peer.once("error", reject);
      peer.once("connect", () => {
        if (++open === 2) resolve({ a, b });
      });
    }
  });
}

describe("p2p: WebRTC data channels in Node", { timeout: 30_000 }, () => {
  it("connects two peers over loopback and carries messages in order, both ways", async () => {
    const { a, b } = await pair();
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
