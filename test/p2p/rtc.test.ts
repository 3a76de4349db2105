import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
