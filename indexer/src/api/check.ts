/**
 * POST /v1/check: is this chunk version anchored with this hash? The request parsing and the verdicts are
 * pure functions of the indexed rows, so they are tested without a server (test/indexer/check.test.ts).
 */
import type { Address, Hex } from "viem";
import { parseChunkId } from "../../../core/chunk.ts";
import { SeedcraftError } from "../../../core/errors.ts";
import { MAX_WALL_MS } from "../../../core/hlc.ts";
import { MAX_BATCH_OPS, type OpDomain, recoverOpSigner, type SignedOp } from "../../../core/op.ts";
import { checkAuthority, checkPlacement } from "../../../core/rules.ts";

/** The most items one request may check. */
export const MAX_CHECK_ITEMS = 1000;

/** An op as a check request carries it (JSON): the op's fields and its compact signature. */
export type CheckOp = SignedOp;

export type CheckItem = { chunkId: bigint; version: number; hash: Hex; ops?: CheckOp[] };

/** The most ops one item may carry (one op batch). */
export const MAX_OPS_PER_ITEM = MAX_BATCH_OPS;
/** The most ops one request may carry: recovering a signature costs about a millisecond. */
export const MAX_OPS_PER_REQUEST = 2000;

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

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{128}$/;

function parseOp(value: unknown, chunk: bigint, where: string): CheckOp {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CheckRequestError(`${where}: expected an op {index, block, wallMs, logical, author, signature}`);
  const { index, block, wallMs, logical, author, signature } = value as Record<string, unknown>;
  const int = (name: string, v: unknown, max: number) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
      throw new CheckRequestError(`${where}.${name}: expected an integer 0..${max}`);
    return v;
  };
  if (typeof author !== "string" || !ADDRESS.test(author))
    throw new CheckRequestError(`${where}.author: expected an address`);
  if (typeof signature !== "string" || !SIGNATURE.test(signature))
    throw new CheckRequestError(`${where}.signature: expected a 64-byte compact signature`);
  return {
    chunk,
    index: int("index", index, 32767),
    block: int("block", block, 0xffff),
    hlc: { wallMs: int("wallMs", wallMs, MAX_WALL_MS), logical: int("logical", logical, 0xffff) },
    author: author as Address,
    signature: signature as Hex,
  };
}

function parseItem(value: unknown, where: string): CheckItem {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CheckRequestError(`${where}: expected an object {chunkId, version, hash}`);
  const { chunkId, version, hash, ops } = value as Record<string, unknown>;
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
  const item: CheckItem = { chunkId: id, version, hash: hash.toLowerCase() as Hex };
  if (ops !== undefined) {
    if (!Array.isArray(ops) || ops.length === 0 || ops.length > MAX_OPS_PER_ITEM)
      throw new CheckRequestError(`${where}.ops: expected 1..${MAX_OPS_PER_ITEM} ops`);
    item.ops = ops.map((op, i) => parseOp(op, id, `${where}.ops[${i}]`));
  }
  return item;
}

/** Accepts one item, or `{ items: [...] }` with 1..MAX_CHECK_ITEMS of them. */
export function parseCheckRequest(body: unknown): { items: CheckItem[]; batch: boolean } {
  if (typeof body === "object" && body !== null && !Array.isArray(body) && "items" in body) {
    const { items } = body as { items: unknown };
    if (!Array.isArray(items)) throw new CheckRequestError("items: expected an array");
    if (items.length === 0 || items.length > MAX_CHECK_ITEMS)
      throw new CheckRequestError(`items: expected 1..${MAX_CHECK_ITEMS} items, got ${items.length}`);
    const parsed = items.map((item, i) => parseItem(item, `items[${i}]`));
    const ops = parsed.reduce((sum, item) => sum + (item.ops?.length ?? 0), 0);
    if (ops > MAX_OPS_PER_REQUEST)
      throw new CheckRequestError(`at most ${MAX_OPS_PER_REQUEST} ops a request, got ${ops}`);
    return { items: parsed, batch: true };
  }
  return { items: [parseItem(body, "body")], batch: false };
}

/** Each op's signer, or why it has none: recovered once, before the index is asked about the signers. */
export type Signers = Map<CheckOp, Address | SeedcraftError>;

export function recoverSigners(items: readonly CheckItem[], domain: OpDomain): Signers {
  const signers: Signers = new Map();
  for (const item of items)
    for (const op of item.ops ?? []) {
      try {
        signers.set(op, recoverOpSigner(op, domain));
      } catch (error) {
        if (!(error instanceof SeedcraftError)) throw error;
        signers.set(op, error);
      }
    }
  return signers;
}

/** What the index knows that the rules need: sessions by key, and premium unlocks. */
export type OpFacts = {
  sessionOf(key: Address): { wallet: Address; expiresAt: bigint; revoked: boolean } | undefined;
  hasUnlocked(player: Address, block: number): boolean;
};

/**
 * Why an item's ops must be refused, or undefined if they pass: each op's signature, its signer's
 * session (live when the op was made, not revoked), and the placement rules. Reach and rate depend on
 * live movement, which only peers see.
 */
export function invalidOps(item: CheckItem, signers: Signers, facts: OpFacts): string | undefined {
  for (const [i, op] of (item.ops ?? []).entries()) {
    try {
      const signer = signers.get(op);
      if (signer === undefined) throw new Error("the op's signer was not recovered");
      if (signer instanceof SeedcraftError) throw signer;
      const session = facts.sessionOf(signer);
      checkAuthority(
        op,
        signer,
        session && !session.revoked
          ? { author: session.wallet, sessionKey: signer, expiresAtMs: Number(session.expiresAt) * 1000 }
          : undefined,
        op.hlc.wallMs,
      );
      checkPlacement(op, facts.hasUnlocked);
    } catch (error) {
      if (error instanceof SeedcraftError) return `op ${i}: ${error.code}: ${error.message.replace(/\s*\n+\s*/g, " ")}`;
      throw error;
    }
  }
  return undefined;
}

/** The verdict for one item from what the index holds. */
export function judge(item: CheckItem, indexed: IndexedVersion, invalid?: string): CheckAnswer {
  const base = { chunkId: item.chunkId.toString(), version: item.version };
  if (invalid !== undefined) return { ...base, status: "invalid", reason: invalid };
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
