/** ChunkState.retract: a provisional op taken back leaves the block as if it had never come. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Address } from "viem";
import { CHUNK_VOLUME } from "../../core/chunk.ts";
import { ChunkState } from "../../core/conflict.ts";
import type { BlockOp } from "../../core/op.ts";

const A: Address = "0x1111111111111111111111111111111111111111";
const B: Address = "0x2222222222222222222222222222222222222222";

const op = (index: number, block: number, wallMs: number, author: Address): BlockOp => ({
  chunk: 7n,
  index,
  block,
  hlc: { wallMs, logical: 0 },
  author,
});

const fresh = () => {
  const blocks = new Uint16Array(CHUNK_VOLUME);
  blocks[0] = 9;
  return new ChunkState(7n, blocks);
};

describe("ChunkState.retract", () => {
  it("the top op taken back shows the one below it, then the base", () => {
    const state = fresh();
    state.apply(op(0, 1, 1000, A));
    state.apply(op(0, 2, 2000, B));
    assert.deepEqual(state.retract(op(0, 2, 2000, B)), { held: true, changed: true });
    assert.equal(state.blocks[0], 1);
    assert.deepEqual(state.retract(op(0, 1, 1000, A)), { held: true, changed: true });
    assert.equal(state.blocks[0], 9);
    assert.equal(state.pendingBlocks, 0);
  });

  it("an op below the top goes without changing the block", () => {
    const state = fresh();
    state.apply(op(0, 1, 1000, A));
    state.apply(op(0, 2, 2000, B));
    assert.deepEqual(state.retract(op(0, 1, 1000, A)), { held: true, changed: false });
    assert.equal(state.blocks[0], 2);
  });

  it("changes nothing for an op it does not hold, an op of another value, a tie, or one an anchor covers", () => {
    const state = fresh();
    state.apply(op(0, 1, 1000, A));
    state.apply(op(1, 3, 1500, A));
    state.apply(op(1, 4, 1500, B)); // a tie: both bounce
    state.apply(op(2, 5, 3000, A));
    const before = state.blocks.slice();
    assert.equal(state.retract(op(0, 1, 1001, A)).held, false, "another stamp");
    assert.equal(state.retract(op(0, 2, 1000, A)).held, false, "another value");
    assert.equal(state.retract(op(0, 1, 1000, B)).held, false, "another author");
    assert.equal(state.retract(op(1, 3, 1500, A)).held, false, "a tie");
    // The snapshot holds what stood at its watermark: the op at 3000 is not in it.
    const snapshot = state.blocks.slice();
    snapshot[2] = 0;
    state.anchor(snapshot, { wallMs: 2000, logical: 0 });
    assert.equal(state.retract(op(0, 1, 1000, A)).held, false, "final under the anchor");
    assert.deepEqual(state.blocks, before);
    assert.equal(state.retract(op(2, 5, 3000, A)).changed, true, "above the anchor it still goes");
    assert.equal(state.blocks[2], 0);
  });
});
