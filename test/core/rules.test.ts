import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Address } from "viem";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { blockIndex, chunkIdOf } from "../../core/chunk.ts";
import type { BlockOp } from "../../core/op.ts";
import { checkOp, OpRateBudget, type RuleContext, RuleViolation } from "../../core/rules.ts";

const AUTHOR: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SESSION_KEY: Address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const NOW = 1_760_000_000_000;

const op = (overrides: Partial<BlockOp> = {}): BlockOp => ({
  chunk: chunkIdOf(0, 0, 0),
  index: blockIndex(4, 10, 4),
  block: BLOCK_IDS.brick,
  hlc: { wallMs: NOW, logical: 0 },
  author: AUTHOR,
  ...overrides,
});

const context = (overrides: Partial<RuleContext> = {}): RuleContext => ({
  nowMs: NOW,
  session: { author: AUTHOR, sessionKey: SESSION_KEY, expiresAtMs: NOW + 3_600_000 },
  avatar: [4, 9, 6],
  hasUnlocked: () => false,
  rate: new OpRateBudget({ perSecond: 2, burst: 2 }),
  ...overrides,
});

function rejects(code: string, fn: () => void) {
  assert.throws(fn, (error: unknown) => error instanceof RuleViolation && error.code === code, code);
}

describe("game rules", () => {
  it("accept a valid op", () => {
    assert.doesNotThrow(() => checkOp(op(), SESSION_KEY, context()));
  });

  it("reject each broken rule with its code", () => {
    rejects("NO_SESSION", () => checkOp(op(), AUTHOR, context()));
    rejects("NO_SESSION", () => checkOp(op(), SESSION_KEY, context({ session: undefined })));
    rejects("NO_SESSION", () =>
      checkOp(op({ author: "0x0000000000000000000000000000000000000001" }), SESSION_KEY, context()),
    );
    rejects("SESSION_EXPIRED", () =>
      checkOp(op(), SESSION_KEY, context({ session: { author: AUTHOR, sessionKey: SESSION_KEY, expiresAtMs: NOW } })),
    );
    rejects("UNKNOWN_BLOCK", () => checkOp(op({ block: 999 }), SESSION_KEY, context()));
    rejects("OUT_OF_WORLD", () =>
      checkOp(
        op({ chunk: chunkIdOf(0, 6, 0), index: blockIndex(0, 0, 0) }),
        SESSION_KEY,
        context({ avatar: [0, 190, 0] }),
      ),
    );
    rejects("OUT_OF_REACH", () => checkOp(op(), SESSION_KEY, context({ avatar: [40, 9, 6] })));
    rejects("OUT_OF_REACH", () => checkOp(op(), SESSION_KEY, context({ avatar: undefined })));
    rejects("PREMIUM_LOCKED", () => checkOp(op({ block: BLOCK_IDS.gold }), SESSION_KEY, context()));
    assert.doesNotThrow(() =>
      checkOp(
        op({ block: BLOCK_IDS.gold }),
        SESSION_KEY,
        context({ hasUnlocked: (_, block) => block === BLOCK_IDS.gold }),
      ),
    );
  });

  it("limit the op rate per author, and a rejected op spends no budget", () => {
    const shared = context();
    rejects("OUT_OF_REACH", () => checkOp(op(), SESSION_KEY, { ...shared, avatar: [90, 9, 9] }));
    checkOp(op(), SESSION_KEY, shared);
    checkOp(op(), SESSION_KEY, shared);
    rejects("RATE_LIMITED", () => checkOp(op(), SESSION_KEY, shared));
    assert.doesNotThrow(() => checkOp(op(), SESSION_KEY, { ...shared, nowMs: NOW + 500 }));
    rejects("RATE_LIMITED", () => checkOp(op(), SESSION_KEY, { ...shared, nowMs: NOW + 500 }));
  });
});
