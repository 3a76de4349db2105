import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import { signOp } from "../../core/op.ts";
import {
  CheckRequestError,
  invalidOps,
  judge,
  MAX_CHECK_ITEMS,
  parseCheckRequest,
  recoverSigners,
} from "../../indexer/src/api/check.ts";

const hash = keccak256(toHex("snapshot"));
const other = keccak256(toHex("another snapshot"));

describe("indexer: the check request and its verdicts", () => {
  it("parses one item or a batch, by decimal or hex chunk id", () => {
    assert.deepEqual(parseCheckRequest({ chunkId: "42", version: 3, hash }), {
      items: [{ chunkId: 42n, version: 3, hash }],
      batch: false,
    });
    const { items, batch } = parseCheckRequest({
      items: [{ chunkId: "0x2a", version: 1, hash: hash.toUpperCase().replace("0X", "0x") }],
    });
    assert.equal(batch, true);
    assert.deepEqual(items, [{ chunkId: 42n, version: 1, hash }]);
  });

  it("refuses malformed items and batches with a typed error naming the field", () => {
    const bad: [unknown, RegExp][] = [
      [null, /body/],
      [[], /body/],
      [{ chunkId: 42, version: 1, hash }, /chunkId/],
      [{ chunkId: "-1", version: 1, hash }, /chunkId/],
      [{ chunkId: `${1n << 96n}`, version: 1, hash }, /chunkId/],
      [{ chunkId: "1", version: 0, hash }, /version/],
      [{ chunkId: "1", version: 1.5, hash }, /version/],
      [{ chunkId: "1", version: 2 ** 32, hash }, /version/],
      [{ chunkId: "1", version: 1, hash: "0x12" }, /hash/],
      [{ items: "x" }, /items/],
      [{ items: [] }, /items/],
      [{ items: Array.from({ length: MAX_CHECK_ITEMS + 1 }, () => ({ chunkId: "1", version: 1, hash })) }, /1001/],
      [{ items: [{ chunkId: "1", version: 1, hash }, { chunkId: "1" }] }, /items\[1\]/],
    ];
    for (const [body, field] of bad) {
      assert.throws(
        () => parseCheckRequest(body),
        (error: unknown) => error instanceof CheckRequestError && field.test(error.details ?? ""),
        JSON.stringify(body)?.slice(0, 60),
      );
    }
    assert.equal(
      parseCheckRequest({ items: Array.from({ length: MAX_CHECK_ITEMS }, () => ({ chunkId: "1", version: 1, hash })) })
        .items.length,
      MAX_CHECK_ITEMS,
    );
  });

  it("says anchored, conflict (with the ledger's hash) or pending", () => {
    const item = { chunkId: 7n, version: 2, hash };
    const anchor = {
      hash,
      infoHash: `0x${"11".repeat(20)}` as const,
      author: `0x${"22".repeat(20)}` as const,
      blockNumber: 9n,
    };
    assert.equal(judge(item, { anchor, headVersion: 2 }).status, "anchored");
    const conflict = judge(item, { anchor: { ...anchor, hash: other }, headVersion: 3 });
    assert.equal(conflict.status, "conflict");
    assert.equal(conflict.anchored?.hash, other);
    assert.equal(conflict.anchored?.infoHash, anchor.infoHash);
    const pending = judge(item, { headVersion: 1 });
    assert.equal(pending.status, "pending");
    assert.match(pending.reason, /version 1/);
  });

  it("refuses ops with a bad signature, no live session, or a broken placement rule, naming the op", async () => {
    const domain = { chainId: 31337, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } as const;
    const wallet = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as const;
    const key = privateKeyToAccount(`0x${"42".repeat(32)}`);
    const chunk = chunkIdOf(0, 0, 0);
    const op = (block: number, wallMs: number, index = 5) => ({
      chunk,
      index,
      block,
      hlc: { wallMs, logical: 0 },
      author: wallet,
    });
    const sessions = new Map([[key.address.toLowerCase(), { wallet, expiresAt: 2_000n, revoked: false }]]);
    const facts = (unlocked = false, revoked = false) => ({
      sessionOf: (k: string) => {
        const s = sessions.get(k.toLowerCase());
        return s && { ...s, revoked };
      },
      hasUnlocked: () => unlocked,
    });
    const verdict = async (ops: Awaited<ReturnType<typeof signOp>>[], f = facts()) => {
      const item = { chunkId: chunk, version: 1, hash, ops };
      return invalidOps(item, recoverSigners([item], domain), f);
    };
    const good = await signOp(op(3, 1_000_000), key, domain);
    assert.equal(await verdict([good]), undefined);
    assert.match(
      (await verdict([good, { ...good, block: 4 }])) ?? "",
      /^op 1: NO_SESSION/,
      "a changed op recovers someone else",
    );
    assert.match((await verdict([{ ...good, signature: `0x${"00".repeat(64)}` }])) ?? "", /^op 0: OP_BAD_SIGNATURE/);
    assert.match((await verdict([await signOp(op(3, 2_000_000), key, domain)])) ?? "", /SESSION_EXPIRED/);
    assert.match((await verdict([good], facts(false, true))) ?? "", /NO_SESSION/, "a revoked session signs for nobody");
    const stranger = privateKeyToAccount(`0x${"43".repeat(32)}`);
    assert.match((await verdict([await signOp(op(3, 1_000_000), stranger, domain)])) ?? "", /NO_SESSION/);
    const gold = await signOp(op(10, 1_000_000), key, domain);
    assert.match((await verdict([gold])) ?? "", /PREMIUM_LOCKED/);
    assert.equal(await verdict([gold], facts(true)), undefined);
    assert.match((await verdict([await signOp(op(99, 1_000_000), key, domain)])) ?? "", /UNKNOWN_BLOCK/);
    // A malformed op is a malformed request, not a verdict.
    assert.throws(
      () =>
        parseCheckRequest({
          chunkId: "0",
          version: 1,
          hash,
          ops: [{ index: -1, block: 1, wallMs: 1, logical: 0, author: wallet, signature: good.signature }],
        }),
      (error: unknown) => error instanceof CheckRequestError && /ops\[0\]\.index/.test(error.details ?? ""),
    );
    assert.equal(judge({ chunkId: chunk, version: 1, hash }, { headVersion: 1 }, "op 0: NO_SESSION").status, "invalid");
  });
});
