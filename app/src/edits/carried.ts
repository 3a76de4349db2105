/**
 * Edits across a reload. A player who reloads (or whose tab navigates away and back) while edits of theirs are
 * on their way would lose sight of them: the anchor may be mined already, or a peer may fold the op into its
 * own anchor, but the new page's list starts empty. The player's own open edits are kept in the tab's
 * sessionStorage as they change; the next page of the same tab lists them again, marked carried, and settles
 * each against the ledger: one whose anchor was mined ends anchored once the ledger serves that version; one
 * not anchored yet ends as the first anchor covering its instant says (anchored when it holds the block,
 * overwritten or rolled back otherwise), or rolled back if none does within two minutes. Browser-only.
 */
import type { Address, Hex } from "viem";
import { compareHlc, type Hlc } from "../../../core/hlc.ts";
import type { HeadSource } from "../../../p2p/heads.ts";
import type { WorldReplica } from "../../../p2p/replica.ts";
import { type EditEntry, type EditList, isOpen } from "./editList.ts";

/** How long a carried edit waits for the ledger to settle it. */
export const CARRIED_WAIT_MS = 120_000;
/** How often a carried edit's chunk is looked at. */
const LOOK_MS = 2000;
/** At most this many edits are carried (the list shows 100). */
const MAX_CARRIED = 100;

type Stored = {
  mode: "break" | "place";
  position: [number, number, number];
  block: number;
  chunk: { cx: number; cy: number; cz: number };
  chunkId: string;
  index: number;
  hlc: Hlc;
  state: "provisional" | "anchoring";
  version?: string;
  txHash?: Hex;
};

const keyOf = (wallet: Address) => `seedcraft:open-edits:${wallet.toLowerCase()}`;

const isInt = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value);

/** A stored edit, or undefined for anything that is not one (a tampered or older entry is dropped). */
function parse(value: unknown): Stored | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const position = v.position as unknown[];
  const chunk = v.chunk as Record<string, unknown> | null;
  const hlc = v.hlc as Record<string, unknown> | null;
  if (v.mode !== "break" && v.mode !== "place") return undefined;
  if (v.state !== "provisional" && v.state !== "anchoring") return undefined;
  if (!Array.isArray(position) || position.length !== 3 || !position.every((n) => typeof n === "number"))
    return undefined;
  if (!chunk || !isInt(chunk.cx) || !isInt(chunk.cy) || !isInt(chunk.cz)) return undefined;
  if (!hlc || !isInt(hlc.wallMs) || !isInt(hlc.logical)) return undefined;
  if (!isInt(v.block) || !isInt(v.index) || typeof v.chunkId !== "string" || !/^\d{1,30}$/.test(v.chunkId))
    return undefined;
  if (v.version !== undefined && (typeof v.version !== "string" || !/^\d{1,10}$/.test(v.version))) return undefined;
  if (v.txHash !== undefined && (typeof v.txHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(v.txHash)))
    return undefined;
  return value as Stored;
}

/** The edits the tab's last page left open (and forgets them: this page carries them on). */
export function takeCarriedEdits(wallet: Address, storage: Storage = sessionStorage): Stored[] {
  let list: unknown;
  try {
    list = JSON.parse(storage.getItem(keyOf(wallet)) ?? "[]");
  } catch {
    list = [];
  }
  storage.removeItem(keyOf(wallet));
  return Array.isArray(list) ? list.slice(-MAX_CARRIED).flatMap((item) => parse(item) ?? []) : [];
}

/** Keeps the player's own open edits in the tab's storage as the list changes; returns a function that stops. */
export function keepOpenEdits(edits: EditList, wallet: Address, storage: Storage = sessionStorage): () => void {
  const write = () => {
    const open = edits.entries
      .filter((entry) => entry.own && isOpen(entry.state) && entry.hlc)
      .slice(-MAX_CARRIED)
      .map(
        (entry): Stored => ({
          mode: entry.mode,
          position: [entry.position[0], entry.position[1], entry.position[2]],
          block: entry.block,
          chunk: entry.chunk,
          chunkId: entry.chunkId.toString(),
          index: entry.index,
          hlc: entry.hlc as Hlc,
          state: entry.state as Stored["state"],
          ...(entry.version !== undefined ? { version: entry.version.toString() } : {}),
          ...(entry.txHash ? { txHash: entry.txHash } : {}),
        }),
      );
    try {
      if (open.length > 0) storage.setItem(keyOf(wallet), JSON.stringify(open));
      else storage.removeItem(keyOf(wallet));
    } catch {
      // Storage full or denied: a reload then loses sight of them, as before.
    }
  };
  write();
  return edits.subscribe(write);
}

/** Lists the carried edits again (own, open, `carried`) and returns the entries made. */
export function listCarried(edits: EditList, carried: readonly Stored[]): EditEntry[] {
  return carried.map((stored) => {
    const entry = edits.add({
      mode: stored.mode,
      position: stored.position,
      block: stored.block,
      chunk: stored.chunk,
      chunkId: BigInt(stored.chunkId),
      index: stored.index,
      hlc: stored.hlc,
      own: true,
      carried: true,
      note: "made before the page reloaded",
    });
    if (stored.state === "anchoring") {
      const patch = {
        state: "anchoring" as const,
        ...(stored.version !== undefined ? { version: BigInt(stored.version) } : {}),
        ...(stored.txHash ? { txHash: stored.txHash } : {}),
      };
      edits.update(entry.id, patch);
      return { ...entry, ...patch };
    }
    return entry;
  });
}

/** Settles carried edits against the ledger (see the header); resolves when every one has ended. */
export async function settleCarried(options: {
  edits: EditList;
  entries: readonly EditEntry[];
  replica: Pick<WorldReplica, "chunk" | "version" | "holds">;
  heads: HeadSource;
  waitMs?: number;
  stopped?: () => boolean;
}): Promise<void> {
  const { edits, replica, heads } = options;
  const deadline = performance.now() + (options.waitMs ?? CARRIED_WAIT_MS);
  let left = [...options.entries];
  while (left.length > 0 && !options.stopped?.()) {
    const still: EditEntry[] = [];
    for (const entry of left) if (!(await settleOne(entry))) still.push(entry);
    left = still;
    if (left.length === 0 || performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, LOOK_MS));
  }
  for (const entry of left)
    edits.update(entry.id, {
      state: "rolled-back",
      reason: "no anchor took it within two minutes of the reload",
      note: undefined,
    });

  async function settleOne(entry: EditEntry): Promise<boolean> {
    // Its anchor was mined (this version): anchored once the ledger serves it.
    if (entry.state === "anchoring" && entry.version !== undefined) {
      const version = Number(entry.version);
      const head = await heads.head(entry.chunkId, version).catch(() => undefined);
      if (!head || head.version < version) return false;
      edits.update(entry.id, { state: "anchored", note: undefined });
      return true;
    }
    // Not anchored by us: the first anchor here that covers its instant decides.
    if (!replica.holds(entry.chunkId) || !entry.hlc) return false;
    const state = replica.chunk(entry.chunkId);
    const watermark = state.watermark;
    if (!watermark || compareHlc(watermark, entry.hlc) < 0) return false;
    const version = replica.version(entry.chunkId);
    // The anchored state at its watermark (ops above it, newer than the anchor, are not in it).
    if (state.foldAt(watermark)[entry.index] === entry.block)
      edits.update(entry.id, { state: "anchored", version: BigInt(version), note: undefined });
    else edits.update(entry.id, { ...edits.lost(entry, version, watermark), note: undefined });
    return true;
  }
}
