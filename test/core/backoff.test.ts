import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "../../core/backoff.ts";

describe("Backoff", () => {
  it("doubles from the first wait up to the cap", () => {
    const backoff = new Backoff();
    const waits = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    assert.equal(backoff.failures, 8);
  });

  it("starts over after a run that lasted long enough, not after a short one", () => {
    const backoff = new Backoff({ firstMs: 100, maxMs: 1000, resetAfterMs: 60_000 });
    assert.equal(backoff.next(), 100);
    assert.equal(backoff.next(59_999), 200);
    assert.equal(backoff.next(60_000), 100);
    assert.equal(backoff.next(5), 200);
  });
});
