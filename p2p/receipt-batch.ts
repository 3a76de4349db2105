/**
 * The rules both receipt stores keep (the Node file log and the browser's IndexedDB): a batch off the wire
 * is checked and copied field by field, and a stored batch may only be replaced by one that extends it.
 * Node and browser.
 */
import type { Address, Hex } from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { type SignedReceiptBatch, validateReceiptBatch } from "../core/receipt.ts";

type Item = SignedReceiptBatch["receipts"][number];

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** 65-byte signatures, or 64-byte compact ones (EIP-2098). */
const SIGNATURE = /^0x(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{130})$/;

/** Where a store keeps a batch: one per leecher and epoch. */
export const receiptBatchKey = (leecher: string, epoch: number) => `${leecher.toLowerCase()}:${epoch}`;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isEpoch(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/**
 * Checks a batch's shape and content and returns a copy of its known fields only (what a store keeps is
 * exactly what it reads back). Throws what `bad` makes of the reason.
 */
export function checkedReceiptBatch(batch: unknown, bad: (details: string) => Error): SignedReceiptBatch {
  // Batches come off the wire: check types before validateReceiptBatch compares them.
  if (!isRecord(batch)) throw bad("a batch is an object");
  const { seeder, leecher, epoch, receipts, signature } = batch;
  if (typeof seeder !== "string" || !ADDRESS.test(seeder)) throw bad("seeder must be an address");
  if (typeof leecher !== "string" || !ADDRESS.test(leecher)) throw bad("leecher must be an address");
  if (!isEpoch(epoch)) throw bad("epoch must be a uint32");
  if (typeof signature !== "string" || !SIGNATURE.test(signature))
    throw bad("signature must be 64 or 65 bytes of 0x-hex");
  if (!Array.isArray(receipts)) throw bad("receipts must be an array");
  const items: Item[] = [];
  for (const item of receipts as unknown[]) {
    if (!isRecord(item)) throw bad("a receipt is an object");
    const { contentHash, bytes, nonce } = item;
    if (typeof contentHash !== "string" || typeof bytes !== "bigint" || typeof nonce !== "bigint")
      throw bad("a receipt has a contentHash string and bigint bytes and nonce");
    items.push({ contentHash: contentHash as Hex, bytes, nonce });
  }
  const copy: SignedReceiptBatch = {
    seeder: seeder as Address,
    leecher: leecher as Address,
    epoch,
    receipts: items,
    signature: signature as Hex,
  };
  try {
    validateReceiptBatch(copy);
  } catch (error) {
    throw bad(error instanceof SeedcraftError && error.details ? error.details : String(error));
  }
  return copy;
}

function sameItem(a: Item, b: Item): boolean {
  return a.contentHash.toLowerCase() === b.contentHash.toLowerCase() && a.bytes === b.bytes && a.nonce === b.nonce;
}

/**
 * Whether `next` adds receipts to `stored` (false: the same batch again). Throws what `bad` makes of it if
 * `next` is another seeder's, or changes or drops a stored receipt.
 */
export function extendsReceiptBatch(
  stored: SignedReceiptBatch | undefined,
  next: SignedReceiptBatch,
  bad: (details: string) => Error,
): boolean {
  if (!stored) return true;
  if (stored.seeder.toLowerCase() !== next.seeder.toLowerCase())
    throw bad(`the stored batch is for seeder ${stored.seeder}, not ${next.seeder}`);
  if (next.receipts.length < stored.receipts.length)
    throw bad(`${next.receipts.length} receipts, fewer than the ${stored.receipts.length} stored`);
  const changed = stored.receipts.findIndex((item, i) => !sameItem(item, next.receipts[i] as Item));
  if (changed >= 0) throw bad(`receipt ${changed} differs from the stored one`);
  return next.receipts.length > stored.receipts.length;
}

export function cloneReceiptBatch(batch: SignedReceiptBatch): SignedReceiptBatch {
  return { ...batch, receipts: batch.receipts.map((item) => ({ ...item })) };
}
