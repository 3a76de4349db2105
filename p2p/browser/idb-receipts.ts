/**
 * Browser-only: a seeder's store of the receipt batches leechers signed for it, in IndexedDB (through `idb`).
 * The same rules as the Node store (p2p/node/receipt-store.ts):
 * - one batch per (leecher, epoch), the newest version: a batch is taken only if it extends the stored one;
 *   a re-send of the stored one is `stored: false`, anything shorter or changed is RECEIPTS_BAD_BATCH;
 * - `put` resolves only once its transaction is committed with strict durability (flushed to disk): the seeder
 *   acknowledges a batch after `put`, so a closed tab never loses a receipt the leecher saw acknowledged;
 * - `markClaimed` is durable too; `batches()` is synchronous, from an index loaded at `open`.
 * The store checks a batch's form, not who signed it: ReceiptDesk recovers the signer before `put`.
 * Each write re-reads the stored batch inside its transaction, so two tabs of one seeder cannot undo each other.
 */
import createDebug from "debug";
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
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
import type { ReceiptSink } from "../receipts.ts";
import { dropOtherWorlds, worldDbName } from "./idb-worlds.ts";

const debug = createDebug("seedcraft:receipts");

export type IdbReceiptStoreErrorCode = "RECEIPTS_BAD_BATCH" | "RECEIPTS_CLOSED";

export class IdbReceiptStoreError extends SeedcraftError {
  declare readonly code: IdbReceiptStoreErrorCode;

  constructor(code: IdbReceiptStoreErrorCode, message: string, details?: string) {
    super(code, message, details);
    this.name = "IdbReceiptStoreError";
  }
}

/** Totals over the epochs not claimed yet (the Node store's ReceiptStoreStats). */
export type IdbReceiptStats = { batches: number; receipts: number; bytes: bigint; leechers: number };

/** A batch as stored: bigints as decimal strings (what the Node log holds), keyed by leecher and epoch. */
type BatchRecord = {
  key: string;
  seeder: string;
  leecher: string;
  epoch: number;
  receipts: { contentHash: string; bytes: string; nonce: string }[];
  signature: string;
};

interface ReceiptSchema extends DBSchema {
  batches: { key: string; value: BatchRecord };
  claimed: { key: number; value: { epoch: number } };
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
/** Flushed to disk before the transaction completes (Chromium's default is relaxed). */
const STRICT = { durability: "strict" } as const;

const keyOf = receiptBatchKey;
const checkedCopy = (batch: unknown) => checkedReceiptBatch(batch, bad);

function bad(details: string): IdbReceiptStoreError {
  return new IdbReceiptStoreError("RECEIPTS_BAD_BATCH", "Not a valid receipt batch.", details);
}

function recordOf(batch: SignedReceiptBatch): BatchRecord {
  return {
    key: keyOf(batch.leecher, batch.epoch),
    seeder: batch.seeder,
    leecher: batch.leecher,
    epoch: batch.epoch,
    receipts: batch.receipts.map((r) => ({ contentHash: r.contentHash, bytes: `${r.bytes}`, nonce: `${r.nonce}` })),
    signature: batch.signature,
  };
}

/** A stored record back to a batch, checked as a new one is; throws on anything else. */
function batchOf(record: unknown): SignedReceiptBatch {
  if (!isRecord(record) || !Array.isArray(record.receipts)) throw bad("a stored batch has receipts");
  const decimal = (text: unknown): bigint => {
    if (typeof text !== "string" || !DECIMAL.test(text)) throw bad("bytes and nonce are decimal strings");
    return BigInt(text);
  };
  const receipts = (record.receipts as unknown[]).map((item) => {
    if (!isRecord(item)) throw bad("a receipt is an object");
    return { contentHash: item.contentHash, bytes: decimal(item.bytes), nonce: decimal(item.nonce) };
  });
  const batch = checkedCopy({ ...record, receipts });
  if (record.key !== keyOf(batch.leecher, batch.epoch)) throw bad(`stored under ${String(record.key)}`);
  return batch;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The prefix of the receipt stores' databases: one per world and wallet (`seedcraft-receipts-<world>-<wallet>`). */
export const RECEIPT_STORE_DB = "seedcraft-receipts";

export class IdbReceiptStore implements ReceiptSink {
  readonly #db: IDBPDatabase<ReceiptSchema>;
  /** The newest batch per (leecher lowercase, epoch). */
  readonly #batches = new Map<string, SignedReceiptBatch>();
  readonly #claimed = new Set<number>();
  readonly #listeners = new Set<() => void>();
  /** Writes run one at a time, so each extension check sees the last put. */
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closed = false;

  private constructor(db: IDBPDatabase<ReceiptSchema>) {
    this.#db = db;
  }

  /**
   * The receipt store of `wallet` in `world` (core/deployment.ts `worldKeyOf`): other worlds' receipt stores
   * are deleted (their batches name another SeedingRewards, or a chain that is gone); other wallets' in this
   * world stay.
   */
  static async openForWorld(world: string, wallet: string): Promise<IdbReceiptStore> {
    await dropOtherWorlds(RECEIPT_STORE_DB, world);
    return await IdbReceiptStore.open(worldDbName(RECEIPT_STORE_DB, world, wallet.toLowerCase()));
  }

  /**
   * Opens (creating) the database `name` and loads its index. One database per seeder wallet and deployment
   * (app/src/net/claim.ts `receiptStoreName`): a batch is keyed by leecher and epoch only, as in the Node store.
   */
  static async open(name = "seedcraft-receipts"): Promise<IdbReceiptStore> {
    const db = await openDB<ReceiptSchema>(name, 1, {
      upgrade(database) {
        database.createObjectStore("batches", { keyPath: "key" });
        database.createObjectStore("claimed", { keyPath: "epoch" });
      },
    });
    const store = new IdbReceiptStore(db);
    const [records, claimed] = await Promise.all([db.getAll("batches"), db.getAll("claimed")]);
    for (const record of records) {
      try {
        const batch = batchOf(record);
        store.#batches.set(keyOf(batch.leecher, batch.epoch), batch);
      } catch (error) {
        debug("%s: skipping an invalid batch %s: %s", name, String(record.key), (error as Error).message);
      }
    }
    for (const { epoch } of claimed) if (isEpoch(epoch)) store.#claimed.add(epoch);
    debug("%s: %d batches, %d claimed epochs", name, store.#batches.size, store.#claimed.size);
    return store;
  }

  /**
   * Stores a batch durably if it extends the stored one for its leecher and epoch; the seeder acknowledges the
   * batch only after this resolves. `receipts` is how many receipts are stored for that leecher and epoch.
   */
  async put(batch: SignedReceiptBatch): Promise<{ stored: boolean; receipts: number }> {
    this.#assertOpen();
    const copy = checkedCopy(batch);
    const key = keyOf(copy.leecher, copy.epoch);
    return await this.#enqueue(async () => {
      const tx = this.#db.transaction("batches", "readwrite", STRICT);
      // Another tab of this seeder may have stored a longer batch since we loaded: the database decides.
      const raw = await tx.store.get(key);
      let stored = this.#batches.get(key);
      if (raw) {
        try {
          stored = batchOf(raw);
        } catch {
          stored = undefined;
        }
      }
      let grows: boolean;
      try {
        grows = extendsReceiptBatch(stored, copy, bad);
      } catch (error) {
        // Nothing was written: let the transaction end before the error is reported.
        await tx.done;
        throw error;
      }
      if (!grows) {
        await tx.done;
        if (stored) this.#batches.set(key, stored);
        return { stored: false, receipts: stored?.receipts.length ?? 0 };
      }
      await Promise.all([tx.store.put(recordOf(copy)), tx.done]);
      this.#batches.set(key, copy);
      debug("stored %d receipts from %s in epoch %d", copy.receipts.length, copy.leecher, copy.epoch);
      this.#changed();
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
    if (!isEpoch(epoch)) throw new RangeError(`epoch must be a uint32, not ${epoch}`);
    await this.#enqueue(async () => {
      if (this.#claimed.has(epoch)) return;
      const tx = this.#db.transaction("claimed", "readwrite", STRICT);
      await Promise.all([tx.store.put({ epoch }), tx.done]);
      this.#claimed.add(epoch);
      debug("epoch %d claimed", epoch);
      this.#changed();
    });
  }

  claimed(epoch: number): boolean {
    this.#assertOpen();
    return this.#claimed.has(epoch);
  }

  /** Totals over the epochs not claimed yet: what a claim could still earn. */
  get stats(): IdbReceiptStats {
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

  /** Calls `listener` after every batch stored and epoch claimed; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Waits for the writes already accepted, then closes the database. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#listeners.clear();
      this.#closing = this.#queue.then(() => this.#db.close());
    }
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closed) throw new IdbReceiptStoreError("RECEIPTS_CLOSED", "The receipt store is closed.");
  }

  #changed(): void {
    for (const listener of this.#listeners)
      try {
        listener();
      } catch (error) {
        // What was stored stays stored: a failing listener must not fail the put.
        debug("a receipt store listener failed: %s", (error as Error).message);
      }
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    // The chain outlives a failed task: the next one runs anyway.
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
