import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  chunkOfPosition,
  chunksInView,
  distanceToChunk,
  inAreaOfInterest,
  type PeerPlace,
  priorityOrder,
  RateGate,
  regionOf,
  regionsInView,
  selectNeighbours,
  sendRateHz,
} from "../../core/proximity.ts";

/** A seeded PRNG: randomness is faked, never real, in tests. */
function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const coord = fc.integer({ min: -100_000, max: 100_000 });
const peerArb = fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), position: fc.tuple(coord, coord, coord) });

describe("proximity", () => {
  it("maps positions to chunks and regions, negative coordinates included", () => {
    assert.deepEqual(chunkOfPosition([-0.5, 31.9, 32]), { cx: -1, cy: 0, cz: 1 });
    assert.deepEqual(regionOf({ cx: -1, cz: 8 }), { rx: -1, rz: 1 });
    assert.deepEqual(regionOf({ cx: -8, cz: 7 }), { rx: -1, rz: 0 });
  });

  it("lists the chunks in view nearest first, all within the radius", () => {
    fc.assert(
      fc.property(fc.tuple(coord, coord, coord), fc.integer({ min: 0, max: 3 }), (position, radius) => {
        const chunks = chunksInView(position, radius);
        assert.deepEqual(chunks[0], chunkOfPosition(position));
        let last = 0;
        for (const chunk of chunks) {
          const d = distanceToChunk(position, chunk);
          assert.ok(d >= last && inAreaOfInterest(position, chunk, radius));
          last = d;
        }
      }),
      { numRuns: 50 },
    );
    assert.deepEqual(regionsInView([1, 1, 1], 1)[0], { rx: 0, rz: 0 });
    assert.equal(regionsInView([1, 1, 1], 1).length, 4, "the corner of four regions");
  });

  it("keeps the K nearest peers plus random long links, never self or twice, deterministic for a seed", () => {
    fc.assert(
      fc.property(
        fc.array(peerArb, { maxLength: 30 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer(),
        (peers, k, randomLinks, seed) => {
          const self: PeerPlace = { id: "self", position: [0, 0, 0] };
          const chosen = selectNeighbours(self, [...peers, self], { k, randomLinks, random: seeded(seed) });
          const others = new Map<string, PeerPlace>();
          for (const p of peers) if (p.id !== "self" && !others.has(p.id)) others.set(p.id, p);
          assert.equal(chosen.length, Math.min(others.size, k + randomLinks));
          assert.equal(new Set(chosen.map((p) => p.id)).size, chosen.length);
          assert.ok(chosen.every((p) => p.id !== "self"));
          const again = selectNeighbours(self, [...peers, self], { k, randomLinks, random: seeded(seed) });
          assert.deepEqual(again, chosen);
          // The first k are the nearest.
          const far = Math.max(0, ...chosen.slice(0, k).map((p) => Math.hypot(...p.position)));
          const skipped = [...others.values()].filter((p) => !chosen.includes(p));
          if (chosen.length >= Math.min(k, others.size) && skipped.length > 0 && randomLinks === 0)
            assert.ok(skipped.every((p) => Math.hypot(...p.position) >= far));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("orders broadcast recipients nearest to the chunk first", () => {
    const peers = [
      { id: "far", position: [500, 0, 0] as const },
      { id: "in", position: [5, 5, 5] as const },
      { id: "near", position: [40, 0, 0] as const },
    ];
    assert.deepEqual(
      priorityOrder(peers, { cx: 0, cy: 0, cz: 0 }).map((p) => p.id),
      ["in", "near", "far"],
    );
  });

  it("sends movement less often the further a peer is, and nothing out of view", () => {
    let last = Number.POSITIVE_INFINITY;
    for (let d = 0; d <= 200; d += 4) {
      const rate = sendRateHz("movement", d);
      assert.ok(rate <= last, `rate rises at ${d}`);
      last = rate;
    }
    assert.equal(sendRateHz("movement", 0), 20);
    assert.equal(sendRateHz("movement", 1000), 0);
    assert.equal(sendRateHz("edit", 1000), Number.POSITIVE_INFINITY);
  });

  it("admits a peer's messages at its rate over a simulated second (fake clock)", () => {
    const gate = new RateGate();
    let admitted = 0;
    for (let ms = 0; ms < 1000; ms += 5) if (gate.admit("p", "movement", 0, ms)) admitted++;
    // A full bucket of 20, then 20 per second.
    assert.ok(admitted >= 38 && admitted <= 41, `${admitted}`);
    assert.equal(gate.admit("q", "movement", 10_000, 0), false);
    assert.equal(gate.admit("q", "edit", 10_000, 0), true);
  });
});
