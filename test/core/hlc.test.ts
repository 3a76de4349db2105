import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareHlc, type Hlc, HlcError, HybridClock, MAX_LOGICAL } from "../../core/hlc.ts";

/** A fake physical clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, set: (ms: number) => (now = ms), advance: (ms: number) => (now += ms) };
}

describe("hybrid logical clock", () => {
  it("never runs backwards, even when physical time does", () => {
    const physical = fakeClock();
    const clock = new HybridClock({ now: physical.now });
    const a = clock.send();
    physical.advance(-5000);
    const b = clock.send();
    assert.ok(compareHlc(b, a) > 0);
    assert.deepEqual(b, { wallMs: a.wallMs, logical: 1 });
  });

  it("moves past every stamp it receives (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -30_000, max: 30_000 }), fc.integer({ min: 0, max: 100 })), {
          maxLength: 30,
        }),
        (events) => {
          const physical = fakeClock();
          const clock = new HybridClock({ now: physical.now });
          let previous: Hlc = clock.send();
          for (const [offset, logical] of events) {
            const remote = { wallMs: physical.now() + offset, logical };
            const merged = clock.receive(remote);
            assert.ok(compareHlc(merged, remote) > 0 && compareHlc(merged, previous) > 0);
            const next = clock.send();
            assert.ok(compareHlc(next, merged) > 0);
            previous = next;
            physical.advance(1);
          }
        },
      ),
    );
  });

  it("rejects stamps further than the skew bound, ahead or behind, and stays unchanged", () => {
    const physical = fakeClock();
    const clock = new HybridClock({ now: physical.now, maxSkewMs: 60_000 });
    const before = clock.send();
    for (const wallMs of [physical.now() + 60_001, physical.now() - 60_001]) {
      assert.throws(
        () => clock.receive({ wallMs, logical: 0 }),
        (error: unknown) => error instanceof HlcError && error.code === "HLC_SKEW",
      );
    }
    assert.deepEqual(clock.last, before);
    assert.doesNotThrow(() => clock.receive({ wallMs: physical.now() + 60_000, logical: 0 }));
  });

  it("rejects malformed stamps with a typed error", () => {
    const clock = new HybridClock({ now: fakeClock().now });
    for (const bad of [
      { wallMs: -1, logical: 0 },
      { wallMs: 1.5, logical: 0 },
      { wallMs: 1_000_000, logical: MAX_LOGICAL + 1 },
      { wallMs: Number.NaN, logical: 0 },
    ])
      assert.throws(
        () => clock.check(bad),
        (error: unknown) => error instanceof HlcError && error.code === "HLC_INVALID",
      );
  });

  it("borrows the next millisecond when the logical counter is full", () => {
    const physical = fakeClock();
    const clock = new HybridClock({ now: physical.now });
    const merged = clock.receive({ wallMs: physical.now(), logical: MAX_LOGICAL });
    assert.deepEqual(merged, { wallMs: physical.now() + 1, logical: 0 });
  });
});
