import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Address } from "viem";
import { CHUNK_VOLUME } from "../../core/chunk.ts";
import { ChunkState } from "../../core/conflict.ts";
import { compareHlc } from "../../core/hlc.ts";
import { chunkHash } from "../../core/merkle.ts";
import type { BlockOp } from "../../core/op.ts";

const AUTHORS = [
  "0x1111111111111111111111111111111111111111",
  "0x2222222222222222222222222222222222222222",
  "0x3333333333333333333333333333333333333333",
] as const satisfies readonly Address[];

const base = () => {
  const blocks = new Uint16Array(CHUNK_VOLUME);
  for (let i = 0; i < 8; i++) blocks[i] = 100 + i;
  return blocks;
};

const op = (index: number, block: number, wallMs: number, logical: number, author: Address): BlockOp => ({
  chunk: 7n,
  index,
  block,
  hlc: { wallMs, logical },
  author,
});

const NOW_MS = 1_800_000_000_000;

// Small ranges on purpose: they make ties, duplicates and reorderings frequent.
const opArb = fc
  .record({
    index: fc.integer({ min: 0, max: 3 }),
    block: fc.integer({ min: 0, max: 4 }),
    // At today's clock: wallMs·2^16 + logical is past 2^53 there, so one number cannot order the stamps.
    wallMs: fc.integer({ min: NOW_MS, max: NOW_MS + 3 }),
    logical: fc.integer({ min: 0, max: 1 }),
    author: fc.constantFrom(...AUTHORS),
  })
  .map(({ index, block, wallMs, logical, author }) => op(index, block, wallMs, logical, author));

/** An independent model of the rule: per block, the latest stamp held by exactly one distinct op wins. */
function model(ops: readonly BlockOp[]): Uint16Array {
  const blocks = base();
  const byIndex = new Map<number, Map<string, Set<string>>>();
  for (const o of ops) {
    const stamps = byIndex.get(o.index) ?? new Map<string, Set<string>>();
    byIndex.set(o.index, stamps);
    const stamp = `${o.hlc.wallMs}:${o.hlc.logical}`;
    const set = stamps.get(stamp) ?? new Set<string>();
    stamps.set(stamp, set);
    set.add(`${o.author}:${o.block}`);
  }
  for (const [index, stamps] of byIndex) {
    const later = (a: string, b: string) => {
      const [aw, al] = a.split(":").map(Number) as [number, number];
      const [bw, bl] = b.split(":").map(Number) as [number, number];
      return bw - aw || bl - al;
    };
    const winner = [...stamps.entries()].sort((a, b) => later(a[0], b[0])).find(([, set]) => set.size === 1);
    if (winner) blocks[index] = Number([...winner[1]][0]?.split(":")[1]);
  }
  return blocks;
}

function fold(ops: readonly BlockOp[]): ChunkState {
  const state = new ChunkState(7n, base());
  for (const o of ops) state.apply(o);
  return state;
}

describe("conflict fold", () => {
  it("gives every replica the same chunk, whatever the order and duplicates (property)", () => {
    fc.assert(
      fc.property(
        fc
          .array(opArb, { maxLength: 40 })
          .chain((ops) =>
            fc.tuple(
              fc.constant(ops),
              fc.shuffledSubarray([...ops, ...ops], { minLength: ops.length * 2, maxLength: ops.length * 2 }),
            ),
          ),
        ([ops, reordered]) => {
          const a = fold(ops);
          const b = fold(reordered);
          assert.deepEqual(a.blocks, b.blocks);
          assert.deepEqual(chunkHash(a.blocks), chunkHash(b.blocks));
          assert.deepEqual(a.blocks, model(ops));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("lets the later op win", () => {
    const state = new ChunkState(7n, base());
    assert.deepEqual(state.apply(op(0, 5, 2000, 0, AUTHORS[0])), { status: "applied", changed: true });
    assert.deepEqual(state.apply(op(0, 6, 1999, 9, AUTHORS[1])), { status: "applied", changed: false });
    assert.equal(state.blocks[0], 5);
    state.apply(op(0, 7, 2000, 1, AUTHORS[1]));
    assert.equal(state.blocks[0], 7);
  });

  it("bounces both ops of an exact tie, and the block keeps its earlier value", () => {
    const state = new ChunkState(7n, base());
    state.apply(op(1, 9, 1000, 0, AUTHORS[2]));
    state.apply(op(1, 5, 2000, 3, AUTHORS[0]));
    const outcome = state.apply(op(1, 6, 2000, 3, AUTHORS[1]));
    assert.equal(outcome.status, "bounced");
    assert.ok(outcome.status === "bounced");
    assert.equal(outcome.reason, "TIE");
    assert.deepEqual(
      outcome.ops.map((o) => [o.author, o.block]),
      [
        [AUTHORS[0], 5],
        [AUTHORS[1], 6],
      ],
    );
    assert.equal(state.blocks[1], 9, "the value before either tied op");
    // A third op on the tie bounces too; a duplicate of a tied op is just a duplicate.
    assert.equal(state.apply(op(1, 7, 2000, 3, AUTHORS[2])).status, "bounced");
    assert.equal(state.apply(op(1, 6, 2000, 3, AUTHORS[1])).status, "duplicate");
    // A tie at the top of an untouched block falls back to the anchored base.
    state.apply(op(2, 1, 3000, 0, AUTHORS[0]));
    state.apply(op(2, 2, 3000, 0, AUTHORS[1]));
    assert.equal(state.blocks[2], 102);
  });

  it("ignores exact duplicates", () => {
    const state = new ChunkState(7n, base());
    state.apply(op(0, 5, 2000, 0, AUTHORS[0]));
    assert.deepEqual(state.apply(op(0, 5, 2000, 0, AUTHORS[0])), { status: "duplicate" });
    assert.equal(state.blocks[0], 5);
  });

  it("treats the anchored state as final: ops at or below the watermark bounce", () => {
    const state = new ChunkState(7n, base(), { wallMs: 5000, logical: 2 });
    for (const late of [op(0, 1, 5000, 2, AUTHORS[0]), op(0, 1, 4000, 9, AUTHORS[0])]) {
      const outcome = state.apply(late);
      assert.ok(outcome.status === "bounced" && outcome.reason === "SUPERSEDED_BY_ANCHOR");
    }
    assert.equal(state.blocks[0], 100);
    assert.equal(state.apply(op(0, 1, 5000, 3, AUTHORS[0])).status, "applied");
  });

  it("orders stamps one counter apart at today's clock: no false tie, no false cover by the watermark", () => {
    const state = new ChunkState(7n, base(), { wallMs: NOW_MS, logical: 0 });
    // The same millisecond as the watermark, one counter later: above it, so it applies.
    assert.equal(state.apply(op(0, 1, NOW_MS, 1, AUTHORS[0])).status, "applied");
    // Another author one counter later still: a later stamp, not a tie.
    assert.equal(state.apply(op(0, 2, NOW_MS, 2, AUTHORS[1])).status, "applied");
    assert.equal(state.blocks[0], 2);
    assert.deepEqual(state.watermark, { wallMs: NOW_MS, logical: 0 });
    state.anchor(state.blocks, { wallMs: NOW_MS, logical: 1 });
    assert.deepEqual(state.watermark, { wallMs: NOW_MS, logical: 1 });
    assert.equal(state.blocks[0], 2, "the op above the new watermark stays");
  });

  it("rebases on a new anchor: keeps ops above its watermark, reports the ones it lost", () => {
    const state = new ChunkState(7n, base());
    state.apply(op(0, 1, 1000, 0, AUTHORS[0])); // in the snapshot
    state.apply(op(1, 2, 1001, 0, AUTHORS[1])); // lost: the snapshot has another value
    state.apply(op(2, 3, 3000, 0, AUTHORS[2])); // above the watermark: stays
    const snapshot = base();
    snapshot[0] = 1;
    snapshot[1] = 42;
    const lost = state.anchor(snapshot, { wallMs: 2000, logical: 0 });
    assert.deepEqual(
      lost.map((o) => [o.index, o.block]),
      [[1, 2]],
    );
    assert.deepEqual([state.blocks[0], state.blocks[1], state.blocks[2]], [1, 42, 3]);
    assert.equal(state.pendingBlocks, 1);
  });

  it("marks the leaves it changed, for incremental rehashing", () => {
    const state = new ChunkState(7n, base());
    state.apply(op(0, 1, 1000, 0, AUTHORS[0]));
    state.apply(op(600, 1, 1000, 0, AUTHORS[0]));
    assert.deepEqual(state.takeDirtyLeaves().sort(), [0, 1]);
    assert.deepEqual(state.takeDirtyLeaves(), []);
  });

  it("prunes history that no valid op can reach without changing the blocks", () => {
    const state = new ChunkState(7n, base());
    for (let t = 0; t < 50; t++) state.apply(op(3, t % 5, 1000 + t, 0, AUTHORS[t % 3] as Address));
    const before = state.blocks.slice();
    state.prune(1040);
    assert.deepEqual(state.blocks, before);
    // Still correct after pruning: a tie above the horizon falls back to the right value.
    state.apply(op(3, 4, 1049, 0, AUTHORS[0]));
    assert.equal(state.blocks[3], model([op(3, 3, 1048, 0, AUTHORS[0])])[3]);
  });

  it("folds to any watermark as a state holding only the ops at or below it would (property)", () => {
    const stampArb = fc.record({
      wallMs: fc.integer({ min: NOW_MS - 1, max: NOW_MS + 4 }),
      logical: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), stampArb, (ops, watermark) => {
        const state = fold(ops);
        const live = state.blocks.slice();
        const at = state.foldAt(watermark);
        const below = ops.filter((o) => compareHlc(o.hlc, watermark) <= 0);
        assert.deepEqual(at, model(below));
        // A guess changes nothing held.
        assert.deepEqual(state.blocks, live);
      }),
      { numRuns: 500 },
    );
  });
});
