/**
 * POST /v1/check: is this chunk version anchored with this hash? The request parsing and the verdicts are
 * pure functions of the indexed rows, so they are tested without a server (test/indexer/check.test.ts).
 */
import type { Hex } from "viem";
import { parseChunkId } from "../../../core/chunk.ts";
import { SeedcraftError } from "../../../core/errors.ts";

/** The most items one request may check. */
export const MAX_CHECK_ITEMS = 1000;

export type CheckItem = { chunkId: bigint; version: number; hash: Hex };

export type CheckStatus = "anchored" | "pending" | "conflict" | "invalid";

/** What the index holds for one (chunk, version): the anchor, if any, and the chunk's head version. */
export type IndexedVersion = {
  anchor?: { hash: Hex; infoHash: Hex; author: Hex; blockNumber: bigint };
  headVersion: number;
};

export type CheckAnswer = {
  chunkId: string;
  version: number;
  status: CheckStatus;
  reason: string;
  /** What the ledger holds at that version (conflict and anchored). */
  anchored?: { hash: Hex; infoHash: Hex; author: Hex; blockNumber: number };
};

export class CheckRequestError extends SeedcraftError {
  constructor(details: string) {
    super("BAD_CHECK_REQUEST", "Not a valid check request.", details);
    this.name = "CheckRequestError";
  }
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

function parseItem(value: unknown, where: string): CheckItem {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CheckRequestError(`${where}: expected an object {chunkId, version, hash}`);
  const { chunkId, version, hash } = value as Record<string, unknown>;
  if (typeof chunkId !== "string") throw new CheckRequestError(`${where}.chunkId: expected a decimal or 0x string`);
  let id: bigint;
  try {
    id = parseChunkId(chunkId);
  } catch (error) {
    throw new CheckRequestError(`${where}.chunkId: ${(error as SeedcraftError).details ?? (error as Error).message}`);
  }
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > 0xffff_ffff)
    throw new CheckRequestError(`${where}.version: expected an integer 1..4294967295`);
  if (typeof hash !== "string" || !HASH.test(hash))
    throw new CheckRequestError(`${where}.hash: expected 32 bytes of hex`);
  return { chunkId: id, version, hash: hash.toLowerCase() as Hex };
}

/** Accepts one item, or `{ items: [...] }` with 1..MAX_CHECK_ITEMS of them. */
export function parseCheckRequest(body: unknown): { items: CheckItem[]; batch: boolean } {
  if (typeof body === "object" && body !== null && !Array.isArray(body) && "items" in body) {
    const { items } = body as { items: unknown };
    if (!Array.isArray(items)) throw new CheckRequestError("items: expected an array");
    if (items.length === 0 || items.length > MAX_CHECK_ITEMS)
      throw new CheckRequestError(`items: expected 1..${MAX_CHECK_ITEMS} items, got ${items.length}`);
    return { items: items.map((item, i) => parseItem(item, `items[${i}]`)), batch: true };
  }
  return { items: [parseItem(body, "body")], batch: false };
}

/** The verdict for one item from what the index holds. */
export function judge(item: CheckItem, indexed: IndexedVersion): CheckAnswer {
  const base = { chunkId: item.chunkId.toString(), version: item.version };
  const { anchor } = indexed;
  if (!anchor) {
    return {
      ...base,
      status: "pending",
      reason: `the ledger holds version ${indexed.headVersion} of this chunk, not ${item.version} yet`,
    };
  }
  const anchored = {
    hash: anchor.hash,
    infoHash: anchor.infoHash,
    author: anchor.author,
    blockNumber: Number(anchor.blockNumber),
  };
  if (anchor.hash.toLowerCase() === item.hash)
    return { ...base, status: "anchored", reason: `anchored in block ${anchor.blockNumber}`, anchored };
  return {
    ...base,
    status: "conflict",
    reason: `the ledger holds another hash at version ${item.version}: fetch the snapshot by its infoHash`,
    anchored,
  };
}
