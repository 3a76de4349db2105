/**
 * Node-only: a seeder's durable store of the receipt batches leechers signed for it.
 * - A leecher signs, per (seeder, epoch), one growing batch: each version holds every earlier receipt
 *   plus new ones, under one new signature. The store keeps the newest version per (leecher, epoch),
 *   and accepts a batch only if it extends the stored one.
 * - `put` appends one JSON line to `<dir>/receipts.log` and fsyncs it before it resolves: the seeder
 *   acknowledges a batch only after `put`, so a crash never loses a receipt the leecher saw acked.
 * - `markClaimed` appends a line too, so a restart knows which epochs were claimed already.
 * - `open` replays the log: a torn last line (a crash mid-append) is cut off, any other bad line skipped.
 * The store checks a batch's form, not who signed it (that needs the chain's domain): the caller recovers
 * the signer with `recoverReceiptBatchSigner` before `put`.
 */
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import createDebug from "debug";
import { SeedcraftError } from "../../core/errors.ts";
import type { SignedReceiptBatch } from "../../core/receipt.ts";
import {
  checkedReceiptBatch,
  cloneReceiptBatch,
  extendsReceiptBatch,
  isEpoch,
  isRecord,
  receiptBatchKey,
} from "../receipt-batch.ts";
import { claimDirForWorld, type WorldOptions } from "./world-dir.ts";

const debug = createDebug("seedcraft:receipts");

export type ReceiptStoreErrorCode = "RECEIPTS_BAD_BATCH" | "RECEIPTS_CLOSED";

export class ReceiptStoreError extends SeedcraftError {
  declare readonly code: ReceiptStoreErrorCode;

  constructor(code: ReceiptStoreErrorCode, message: string, details?: string) {
    super(code, message, details);
    this.name = "ReceiptStoreError";
  }
}

export type ReceiptStoreStats = { batches: number; receipts: number; bytes: bigint; leechers: number };

/** The environment variable that arms `crashAfterReceiptStoreIfArmed`. */
export const CRASH_AFTER_RECEIPT_STORE_ENV = "SEEDCRAFT_CRASH_AFTER_RECEIPT_STORE";

/**
 * Fault injection for the crash test: with SEEDCRAFT_CRASH_AFTER_RECEIPT_STORE=1 the process kills itself
 * (SIGKILL, no cleanup) once a batch is on disk, before the seeder can acknowledge it. `put` calls it
 * right after the fsync; it does nothing unless the variable is set.
 */
export function crashAfterReceiptStoreIfArmed(): void {
  if (process.env[CRASH_AFTER_RECEIPT_STORE_ENV] === "1") process.kill(process.pid, "SIGKILL");
}

const LOG_FILE = "receipts.log";
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const READ_CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/** One log line: a batch version, or an epoch claimed. Bigints are decimal strings. */
type LogLine = { t: "batch"; batch: SignedReceiptBatch } | { t: "claimed"; epoch: number };

const keyOf = receiptBatchKey;
const checkedCopy = (batch: unknown) => checkedReceiptBatch(batch, bad);

function bad(details: string): ReceiptStoreError {
  return new ReceiptStoreError("RECEIPTS_BAD_BATCH", "Not a valid receipt batch.", details);
}

function encodeLine(line: LogLine): string {
  if (line.t === "claimed") return JSON.stringify(line);
  const { seeder, leecher, epoch, receipts, signature } = line.batch;
  const plain = receipts.map((r) => ({ contentHash: r.contentHash, bytes: `${r.bytes}`, nonce: `${r.nonce}` }));
  return JSON.stringify({ t: "batch", batch: { seeder, leecher, epoch, receipts: plain, signature } });
}

/** Parses and checks one log line; throws on anything that is not a valid line. */
function decodeLine(value: unknown): LogLine {
  if (!isRecord(value)) throw new Error("not an object");
  if (value.t === "claimed") {
    if (!isEpoch(value.epoch)) throw new Error("claimed: epoch must be a uint32");
    return { t: "claimed", epoch: value.epoch };
  }
  if (value.t !== "batch" || !isRecord(value.batch)) throw new Error(`unknown line type ${String(value.t)}`);
  const receipts = value.batch.receipts;
  if (!Array.isArray(receipts)) throw new Error("batch: receipts must be an array");
  const decimal = (text: unknown): bigint => {
    if (typeof text !== "string" || !DECIMAL.test(text)) throw new Error("batch: bytes and nonce are decimal strings");
    return BigInt(text);
  };
  const items = (receipts as unknown[]).map((item) => {
    if (!isRecord(item)) throw new Error("batch: a receipt is an object");
    return { contentHash: item.contentHash, bytes: decimal(item.bytes), nonce: decimal(item.nonce) };
  });
  return { t: "batch", batch: checkedCopy({ ...value.batch, receipts: items }) };
}

/** Reads a file line by line (bytes, so offsets are exact); `tail` is what follows the last newline. */
async function readLines(
  path: string,
  onLine: (text: string, start: number) => void,
): Promise<{ tail: number; end: number }> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { tail: 0, end: 0 };
    throw error;
  }
  try {
    const chunk = Buffer.alloc(READ_CHUNK);
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let lineStart = 0;
    let position = 0;
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      let from = 0;
      for (let i = 0; i < bytesRead; i++) {
        if (chunk[i] !== NEWLINE) continue;
        const text = Buffer.concat([...pending, chunk.subarray(from, i)]).toString("utf8");
        onLine(text, lineStart);
        pending = [];
        pendingLength = 0;
        from = i + 1;
        lineStart = position + i + 1;
      }
      if (from < bytesRead) {
        pending.push(Buffer.from(chunk.subarray(from, bytesRead)));
        pendingLength += bytesRead - from;
      }
      position += bytesRead;
    }
    return { tail: pendingLength, end: lineStart };
  } finally {
    await file.close();
  }
}

export class ReceiptStore {
  readonly #path: string;
  readonly #file: FileHandle;
  /** The log's length in bytes: where the next line goes, and where a failed append is cut back to. */
  #size: number;
  /** The newest batch per (leecher lowercase, epoch). */
  readonly #batches = new Map<string, SignedReceiptBatch>();
  readonly #claimed = new Set<number>();
  /** Appends run one at a time, so lines never interleave and each extension check sees the last put. */
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Set when an append failed and could not be undone: the log may end in half a line. */
  #broken: string | undefined;

  private constructor(path: string, file: FileHandle, size: number) {
    this.#path = path;
    this.#file = file;
    this.#size = size;
  }

  /**
   * Opens (creating `dir` if needed) and replays `<dir>/receipts.log`. With `world` (core/deployment.ts
   * `worldKeyOf`), a log of another world's receipts is removed first (p2p/node/world-dir.ts), and `log`
   * hears of it: its batches name another SeedingRewards, and no claim here could pay them.
   */
  static async open(dir: string, options: WorldOptions = {}): Promise<ReceiptStore> {
    await mkdir(dir, { recursive: true });
    if (options.world !== undefined) await claimDirForWorld(dir, options.world, options.log);
    const path = join(dir, LOG_FILE);
    const lines: { value: unknown; start: number }[] = [];
    let lastUnparsable: number | undefined;
    const { tail, end } = await readLines(path, (text, start) => {
      lastUnparsable = undefined;
      if (text.trim() === "") return;
      try {
        lines.push({ value: JSON.parse(text), start });
      } catch {
        lastUnparsable = start;
        debug("%s: skipping a line that is not JSON at byte %d", path, start);
      }
    });
    // A crash mid-append leaves a last line with no newline, or cut short: drop it, or the next line joins it.
    let size = end;
    if (tail === 0 && lastUnparsable !== undefined) size = lastUnparsable;
    const torn = tail > 0 || size < end;
    if (torn) {
      debug("%s: cutting a torn last line (%d bytes)", path, end + tail - size);
      const file = await open(path, "r+");
      try {
        await file.truncate(size);
        await file.datasync();
      } finally {
        await file.close();
      }
    }

    const file = await open(path, "a");
    const store = new ReceiptStore(path, file, size);
    try {
      await syncDirectory(dir);
      for (const line of lines) {
        try {
          store.#replay(decodeLine(line.value));
        } catch (error) {
          debug("%s: skipping an invalid line at byte %d: %s", path, line.start, (error as Error).message);
        }
      }
    } catch (error) {
      await file.close();
      throw error;
    }
    debug("%s: %d batches, %d claimed epochs", path, store.#batches.size, store.#claimed.size);
    return store;
  }

  #replay(line: LogLine): void {
    if (line.t === "claimed") {
      this.#claimed.add(line.epoch);
      return;
    }
    const key = keyOf(line.batch.leecher, line.batch.epoch);
    const stored = this.#batches.get(key);
    // Every line put wrote extends the one before; on a damaged log the longest version still wins.
    if (!stored || line.batch.receipts.length > stored.receipts.length) this.#batches.set(key, line.batch);
  }

  /**
   * Stores a batch durably (appended and fsynced) if it extends the stored one for its leecher and epoch;
   * the seeder acknowledges the batch only after this resolves. A batch no longer than the stored one is
   * `stored: false` when it repeats it (a re-send), and RECEIPTS_BAD_BATCH otherwise, as is a batch that
   * changes any stored receipt. `receipts` is how many receipts are stored for that leecher and epoch.
   */
  async put(batch: SignedReceiptBatch): Promise<{ stored: boolean; receipts: number }> {
    this.#assertOpen();
    this.#assertWritable();
    const copy = checkedCopy(batch);
    return this.#enqueue(async () => {
      this.#assertWritable();
      const key = keyOf(copy.leecher, copy.epoch);
      const stored = this.#batches.get(key);
      if (stored && !extendsReceiptBatch(stored, copy, bad)) return { stored: false, receipts: stored.receipts.length };
      await this.#append({ t: "batch", batch: copy });
      crashAfterReceiptStoreIfArmed();
      this.#batches.set(key, copy);
      debug("stored %d receipts from %s in epoch %d", copy.receipts.length, copy.leecher, copy.epoch);
      return { stored: true, receipts: copy.receipts.length };
    });
  }

  /** The newest batch per leecher and epoch (claimed epochs too), by epoch then leecher. */
  batches(epoch?: number): SignedReceiptBatch[] {
    this.#assertOpen();
    const result: SignedReceiptBatch[] = [];
    for (const batch of this.#batches.values())
      if (epoch === undefined || batch.epoch === epoch) result.push(cloneReceiptBatch(batch));
    return result.sort((a, b) => a.epoch - b.epoch || compare(a.leecher.toLowerCase(), b.leecher.toLowerCase()));
  }

  /** The epochs that have batches, claimed or not, ascending. */
  epochs(): number[] {
    this.#assertOpen();
    return [...new Set([...this.#batches.values()].map((batch) => batch.epoch))].sort((a, b) => a - b);
  }

  /** Durably records that `epoch` was claimed; its batches stay in `batches()`. */
  async markClaimed(epoch: number): Promise<void> {
    this.#assertOpen();
    this.#assertWritable();
    if (!isEpoch(epoch)) throw new RangeError(`epoch must be a uint32, not ${epoch}`);
    await this.#enqueue(async () => {
      this.#assertWritable();
      if (this.#claimed.has(epoch)) return;
      await this.#append({ t: "claimed", epoch });
      this.#claimed.add(epoch);
      debug("epoch %d claimed", epoch);
    });
  }

  claimed(epoch: number): boolean {
    this.#assertOpen();
    return this.#claimed.has(epoch);
  }

  /** Totals over the epochs not claimed yet: what a claim could still earn. */
  get stats(): ReceiptStoreStats {
    this.#assertOpen();
    const leechers = new Set<string>();
    let batches = 0;
    let receipts = 0;
    let bytes = 0n;
    for (const batch of this.#batches.values()) {
      if (this.#claimed.has(batch.epoch)) continue;
      batches++;
      receipts += batch.receipts.length;
      for (const item of batch.receipts) bytes += item.bytes;
      leechers.add(batch.leecher.toLowerCase());
    }
    return { batches, receipts, bytes, leechers: leechers.size };
  }

  /** Waits for the writes already accepted, then closes the log. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#closing = this.#queue.then(() => this.#file.close());
    }
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ReceiptStoreError("RECEIPTS_CLOSED", "The receipt store is closed.");
  }

  /** Writes accepted before `close` still run; none runs after an append that could not be undone. */
  #assertWritable(): void {
    if (this.#broken !== undefined)
      throw new ReceiptStoreError("RECEIPTS_CLOSED", "The receipt store is closed after a failed write.", this.#broken);
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    // The chain outlives a failed task: the next one runs anyway.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Appends one line and fsyncs it; on failure cuts the log back, so no half line is left behind. */
  async #append(line: LogLine): Promise<void> {
    const data = Buffer.from(`${encodeLine(line)}\n`, "utf8");
    try {
      for (let written = 0; written < data.length; ) {
        const { bytesWritten } = await this.#file.write(data, written, data.length - written);
        written += bytesWritten;
      }
      await this.#file.datasync();
    } catch (error) {
      await this.#undoAppend(error);
      throw error;
    }
    this.#size += data.length;
  }

  async #undoAppend(cause: unknown): Promise<void> {
    try {
      await this.#file.truncate(this.#size);
      await this.#file.datasync();
      debug("%s: append failed (%s), cut back to %d bytes", this.#path, (cause as Error).message, this.#size);
    } catch (error) {
      // The log may now end in half a line: refuse further writes, a reopen will cut it off.
      this.#broken = `an append failed and could not be undone: ${(error as Error).message}`;
      debug("%s: %s", this.#path, this.#broken);
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Makes the log's directory entry durable too (a new file); not every platform can fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    debug("cannot fsync %s: %s", dir, (error as Error).message);
  } finally {
    await handle?.close();
  }
}
