import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { CheckRequestError, judge, MAX_CHECK_ITEMS, parseCheckRequest } from "../../indexer/src/api/check.ts";

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
});
