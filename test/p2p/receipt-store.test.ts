import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { type Address, type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type ReceiptDomain, type SignedReceiptBatch, signReceiptBatch } from "../../core/receipt.ts";
import { ReceiptStore, ReceiptStoreError } from "../../p2p/node/receipt-store.ts";

const domain: ReceiptDomain = { chainId: 31337, verifyingContract: `0x${"ab".repeat(20)}` };
const leecherKey = privateKeyToAccount(`0x${"11".repeat(32)}`);
const otherLeecherKey = privateKeyToAccount(`0x${"22".repeat(32)}`);
const seeder = privateKeyToAccount(`0x${"33".repeat(32)}`).address;
const otherSeeder = privateKeyToAccount(`0x${"44".repeat(32)}`).address;
const hash = (label: string): Hex => keccak256(toHex(label));

type Options = { key?: typeof leecherKey; epoch?: number; seeder?: Address; labels?: string[] };

/** A batch of `count` receipts (nonces 0..count-1) signed by the leecher, as a leecher grows it. */
function batchOf(count: number, options: Options = {}): Promise<SignedReceiptBatch> {
  const key = options.key ?? leecherKey;
  return signReceiptBatch(
    {
      seeder: options.seeder ?? seeder,
      leecher: key.address,
      epoch: options.epoch ?? 7,
      receipts: Array.from({ length: count }, (_, i) => ({
        contentHash: hash(options.labels?.[i] ?? `chunk ${i}`),
        bytes: 65536n,
        nonce: BigInt(i),
      })),
    },
    key,
    domain,
  );
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "seedcraft-receipts-"));
  dirs.push(dir);
  return dir;
}

const logOf = (dir: string) => readFile(join(dir, "receipts.log"), "utf8");

function isCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ReceiptStoreError, `a ReceiptStoreError, not ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

describe("p2p: receipt store", () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("keeps the newest batch, accepts only extensions and ignores re-sends", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const two = await batchOf(2);
    const three = await batchOf(3);
    assert.deepEqual(await store.put(two), { stored: true, receipts: 2 });
    assert.deepEqual(await store.put(three), { stored: true, receipts: 3 });
    assert.deepEqual(store.batches(), [three]);
    assert.deepEqual(await store.put(three), { stored: false, receipts: 3 });
    // The same receipts re-signed (another signature) add nothing either.
    assert.deepEqual(await store.put({ ...three, signature: `0x${"cd".repeat(64)}` }), {
      stored: false,
      receipts: 3,
    });

    const rewritten = await batchOf(3, { labels: ["chunk 0", "another chunk", "chunk 2"] });
    await assert.rejects(store.put(rewritten), isCode("RECEIPTS_BAD_BATCH"));
    await assert.rejects(store.put(await batchOf(4, { labels: ["x"] })), isCode("RECEIPTS_BAD_BATCH"));
    await assert.rejects(store.put(two), isCode("RECEIPTS_BAD_BATCH"));
    assert.deepEqual(store.batches(), [three]);
    assert.equal((await logOf(dir)).split("\n").length, 3, "two lines and nothing after the last newline");

    // Another leecher and another epoch are separate batches.
    const other = await batchOf(1, { key: otherLeecherKey });
    const later = await batchOf(2, { epoch: 9 });
    await store.put(later);
    await store.put(other);
    assert.deepEqual(store.batches(7).length, 2);
    assert.deepEqual(store.batches(9), [later]);
    assert.deepEqual(store.batches(8), []);
    assert.deepEqual(store.epochs(), [7, 9]);
    await store.close();
  });

  it("serializes concurrent puts: every extension lands, one whole line each", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const versions = await Promise.all(Array.from({ length: 12 }, (_, i) => batchOf(i + 1)));
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => batchOf(i + 1, { key: otherLeecherKey })));
    const results = await Promise.all([...versions, ...others].map((batch) => store.put(batch)));
    assert.ok(results.every((result) => result.stored));
    const lines = (await logOf(dir)).trimEnd().split("\n");
    assert.equal(lines.length, 17);
    for (const line of lines) JSON.parse(line);
    await store.close();
    const reopened = await ReceiptStore.open(dir);
    const lengths = new Map(reopened.batches().map((batch) => [batch.leecher, batch.receipts.length]));
    assert.deepEqual(lengths.get(leecherKey.address), 12);
    assert.deepEqual(lengths.get(otherLeecherKey.address), 5);
    await reopened.close();
  });

  it("survives a reopen: same batches (bigints intact), epochs and stats", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const batches = [
      await batchOf(3, { epoch: 4 }),
      await batchOf(2, { key: otherLeecherKey, epoch: 4 }),
      await batchOf(1, { epoch: 5 }),
    ];
    for (const batch of batches) await store.put(batch);
    const before = { batches: store.batches(), epochs: store.epochs(), stats: store.stats };
    assert.deepEqual(before.stats, { batches: 3, receipts: 6, bytes: 6n * 65536n, leechers: 2 });
    assert.deepEqual(before.epochs, [4, 5]);
    await store.close();

    const reopened = await ReceiptStore.open(dir);
    assert.deepEqual(reopened.batches(), before.batches);
    assert.deepEqual(reopened.epochs(), before.epochs);
    assert.deepEqual(reopened.stats, before.stats);
    assert.equal(typeof reopened.batches(5)[0]?.receipts[0]?.bytes, "bigint");
    assert.equal(typeof reopened.batches(5)[0]?.receipts[0]?.nonce, "bigint");
    await reopened.close();
  });

  it("cuts a torn last line, and appends cleanly after it", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const two = await batchOf(2);
    await store.put(two);
    await store.close();
    const intact = await logOf(dir);
    await appendFile(join(dir, "receipts.log"), '{"t":"batch","batch":{"seeder":"0x9');

    const reopened = await ReceiptStore.open(dir);
    assert.deepEqual(reopened.batches(), [two]);
    assert.equal(await logOf(dir), intact, "the torn bytes are gone");
    const three = await batchOf(3);
    assert.deepEqual(await reopened.put(three), { stored: true, receipts: 3 });
    await reopened.close();

    const again = await ReceiptStore.open(dir);
    assert.deepEqual(again.batches(), [three]);
    await again.close();

    // A last line that ends in a newline but is not JSON (a torn write the filesystem padded) is cut too.
    await appendFile(join(dir, "receipts.log"), "\0\0\0garbage\n");
    const padded = await ReceiptStore.open(dir);
    assert.deepEqual(padded.batches(), [three]);
    await padded.put(await batchOf(4));
    await padded.close();
    const lines = (await logOf(dir)).trimEnd().split("\n");
    assert.equal(lines.length, 3);
    for (const line of lines) JSON.parse(line);
  });

  it("skips bad lines in the middle of the log, and keeps the longest valid batch", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    await store.put(await batchOf(2));
    await store.close();
    const three = await batchOf(3);
    const tampered = (await batchOf(5)).receipts.map((r) => ({ ...r, bytes: `${r.bytes}`, nonce: "1" }));
    await appendFile(
      join(dir, "receipts.log"),
      [
        "not json",
        "",
        JSON.stringify({ t: "mystery" }),
        JSON.stringify({ t: "claimed", epoch: -1 }),
        JSON.stringify({ t: "batch", batch: { ...three, receipts: tampered } }),
        JSON.stringify({ t: "batch", batch: { ...three, receipts: [] } }),
        JSON.stringify({ t: "batch", batch: { ...three, receipts: [{ contentHash: hash("a"), bytes: 1, nonce: 0 }] } }),
        "",
      ].join("\n"),
    );
    const reopened = await ReceiptStore.open(dir);
    assert.equal(reopened.batches()[0]?.receipts.length, 2);
    assert.deepEqual(await reopened.put(three), { stored: true, receipts: 3 });
    await reopened.close();
    const again = await ReceiptStore.open(dir);
    assert.deepEqual(again.batches(), [three]);
    await again.close();
  });

  it("keeps a batch stored right before a crash, before the ack", async () => {
    const dir = await tempDir();
    const storeUrl = pathToFileURL(join(import.meta.dirname, "../../p2p/node/receipt-store.ts")).href;
    const receiptUrl = pathToFileURL(join(import.meta.dirname, "../../core/receipt.ts")).href;
    const script = `
      import { privateKeyToAccount } from "viem/accounts";
      import { ReceiptStore } from ${JSON.stringify(storeUrl)};
      import { signReceiptBatch } from ${JSON.stringify(receiptUrl)};
      const key = privateKeyToAccount("0x${"11".repeat(32)}");
      const batch = await signReceiptBatch({
        seeder: ${JSON.stringify(seeder)},
        leecher: key.address,
        epoch: 7,
        receipts: [0n, 1n].map((nonce) => ({ contentHash: "0x${"5a".repeat(32)}", bytes: 65536n, nonce })),
      }, key, ${JSON.stringify(domain)});
      const store = await ReceiptStore.open(process.env.RECEIPTS_DIR);
      await store.put(batch);
      console.log("acked");
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: join(import.meta.dirname, "../.."),
      env: { ...process.env, SEEDCRAFT_CRASH_AFTER_RECEIPT_STORE: "1", RECEIPTS_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (data: Buffer) => {
      output += data.toString();
    });
    child.stderr.on("data", (data: Buffer) => {
      output += data.toString();
    });
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, "SIGKILL", `the child died by SIGKILL (exit code ${code}, output: ${output})`);
    assert.doesNotMatch(output, /acked/);

    const store = await ReceiptStore.open(dir);
    const [batch] = store.batches();
    assert.equal(store.batches().length, 1);
    assert.equal(batch?.leecher, leecherKey.address);
    assert.deepEqual(
      batch?.receipts.map((r) => r.nonce),
      [0n, 1n],
    );
    await store.close();
  });

  it("records claimed epochs durably, outside the stats", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    await store.put(await batchOf(2, { epoch: 3 }));
    await store.put(await batchOf(1, { epoch: 4 }));
    await store.markClaimed(3);
    await store.markClaimed(3);
    assert.ok(store.claimed(3));
    assert.ok(!store.claimed(4));
    assert.deepEqual(store.stats, { batches: 1, receipts: 1, bytes: 65536n, leechers: 1 });
    await store.close();

    const reopened = await ReceiptStore.open(dir);
    assert.ok(reopened.claimed(3));
    assert.ok(!reopened.claimed(4));
    assert.deepEqual(reopened.epochs(), [3, 4]);
    assert.equal(reopened.batches(3).length, 1, "claimed batches are still listed");
    assert.deepEqual(reopened.stats, { batches: 1, receipts: 1, bytes: 65536n, leechers: 1 });
    assert.equal((await logOf(dir)).trimEnd().split("\n").length, 3, "one claimed line, not two");
    await reopened.close();
  });

  it("refuses malformed batches and changes nothing", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const two = await batchOf(2);
    await store.put(two);
    const bad = isCode("RECEIPTS_BAD_BATCH");

    await assert.rejects(store.put(await batchOf(3, { seeder: otherSeeder })), bad, "another seeder's extension");
    const three = await batchOf(3);
    const [first, second] = three.receipts;
    assert.ok(first && second);
    await assert.rejects(store.put({ ...three, receipts: [first, second, { ...second }] }), bad, "a repeated nonce");
    await assert.rejects(store.put({ ...three, receipts: [first, second, { ...first }] }), bad, "a nonce going back");
    await assert.rejects(store.put({ ...three, receipts: [] }), bad, "no receipts");
    await assert.rejects(store.put({ ...three, signature: "0x1234" }), bad, "a short signature");
    await assert.rejects(store.put({ ...three, signature: `0x${"zz".repeat(65)}` }), bad, "a signature not hex");
    await assert.rejects(store.put({ ...three, leecher: seeder }), bad, "receipts to oneself");
    const wrongTypes = { ...three, receipts: [{ ...first, bytes: 65536 }] } as unknown as SignedReceiptBatch;
    await assert.rejects(store.put(wrongTypes), bad, "bytes as a number");
    await assert.rejects(store.put({ ...three, epoch: 1.5 }), bad, "a fractional epoch");

    assert.deepEqual(store.batches(), [two]);
    assert.equal((await logOf(dir)).trimEnd().split("\n").length, 1);
    await store.close();
  });

  it("closes idempotently, then refuses every call", async () => {
    const dir = await tempDir();
    const store = await ReceiptStore.open(dir);
    const pending = store.put(await batchOf(1));
    const closing = store.close();
    assert.deepEqual(await pending, { stored: true, receipts: 1 }, "a put accepted before close completes");
    await closing;
    await store.close();
    const closed = isCode("RECEIPTS_CLOSED");
    await assert.rejects(store.put(await batchOf(2)), closed);
    await assert.rejects(store.markClaimed(1), closed);
    assert.throws(() => store.batches(), closed);
    assert.throws(() => store.epochs(), closed);
    assert.throws(() => store.claimed(1), closed);
    assert.throws(() => store.stats, closed);
    const reopened = await ReceiptStore.open(dir);
    assert.equal(reopened.batches()[0]?.receipts.length, 1);
    await reopened.close();
  });
});
