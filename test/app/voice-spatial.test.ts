import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { distanceGain, FULL_VOLUME_BLOCKS, panOf, SILENT_BLOCKS } from "../../app/src/voice/spatial.ts";

describe("voice: loudness by distance and panning by yaw", () => {
  it("is full within 4 blocks, silent from 32, and falls without rising in between", () => {
    assert.equal(distanceGain(0), 1);
    assert.equal(distanceGain(FULL_VOLUME_BLOCKS), 1);
    assert.equal(distanceGain(SILENT_BLOCKS), 0);
    assert.equal(distanceGain(60), 0);
    assert.equal(distanceGain(Number.POSITIVE_INFINITY), 0);
    assert.equal(distanceGain(18), 0.25, "halfway between 4 and 32 is a quarter");
    let last = 1;
    for (let d = 0; d <= 40; d += 0.5) {
      const gain = distanceGain(d);
      assert.ok(gain <= last && gain >= 0, `gain at ${d} is ${gain}`);
      last = gain;
    }
  });

  it("puts a voice on the side it comes from, as the listener turns", () => {
    const us: [number, number, number] = [0, 64, 0];
    // Yaw 0 looks towards −z: +x is on the right.
    assert.ok(panOf(us, 0, [5, 64, 0]) > 0.7);
    assert.ok(panOf(us, 0, [-5, 64, 0]) < -0.7);
    assert.ok(Math.abs(panOf(us, 0, [0, 64, -5])) < 1e-9, "straight ahead is centred");
    // Turned a quarter to the left (yaw +π/2 looks towards −x): +x is now behind, −z on the right.
    assert.ok(Math.abs(panOf(us, Math.PI / 2, [5, 64, 0])) < 1e-9);
    assert.ok(panOf(us, Math.PI / 2, [0, 64, -5]) > 0.7);
    assert.equal(panOf(us, 1, [0, 70, 0]), 0, "right above is centred");
    for (const yaw of [0, 1, 2, 3, -2])
      assert.ok(Math.abs(panOf(us, yaw, [3, 60, -7])) <= 0.8, "never wholly in one ear");
  });
});
