/** The player's recent block edits and where each one is on its way to the ledger: the HUD's list, which the anchor queue settles. */
import type { Hex } from "viem";
import type { Hlc } from "../../../core/hlc.ts";
import { type AnchorEdits, type EditState, isOpen, lostEdit } from "../../../p2p/anchor-edits.ts";
import { createStore, type Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { ChunkCoords } from "../world/protocol.ts";

export { type EditState, isOpen };

/** How the HUD names each state. */
export const EDIT_STATE_LABELS: Record<EditState, string> = {
  provisional: "provisional",
  anchoring: "anchoring",
  anchored: "anchored",
  bounced: "bounced",
  overwritten: "overwritten",
  "rolled-back": "rolled back",
  failed: "failed",
};

export type EditEntry = {
  id: number;
  mode: "break" | "place";
  position: Vec3;
  /** The block id the edit wrote. */
  block: number;
  chunk: ChunkCoords;
  chunkId: bigint;
  /** The block's index in its chunk. */
  index: number;
  /** The op's clock stamp, once signed. */
  hlc?: Hlc;
  /** Ours, or a peer's (then `author` names them). */
  own: boolean;
  /** Ours, made on the page before a reload and listed again here (edits/carried.ts). */
  carried?: boolean;
  author?: string;
  state: EditState;
  /** The chunk version the edit was anchored in. */
  version?: bigint;
  txHash?: Hex;
  /** What is happening now, for the HUD. */
  note?: string;
  /** Why it bounced, was rolled back or failed. */
  reason?: string;
  /** Milliseconds from the click to the first frame that showed the edit. */
  applyMs?: number;
  /** When (performance.now()) it reached a final state. */
  endedAt?: number;
};

/**
 * Keeps the newest entries only: the list is for the player's eyes, the ledger keeps the history. The player's
 * own edits still on their way stay past it (the anchor queue settles them by id, and a reload carries them
 * on): the oldest of the others go first.
 */
export const MAX_ENTRIES = 100;

function trimmed(entries: readonly EditEntry[]): readonly EditEntry[] {
  let excess = entries.length - MAX_ENTRIES;
  if (excess <= 0) return entries;
  const kept = entries.filter((entry) => {
    if (excess === 0 || (entry.own && isOpen(entry.state))) return true;
    excess--;
    return false;
  });
  // Only own open edits left over the bound (a long outage): the oldest of them go too.
  return kept.length > MAX_ENTRIES ? kept.slice(kept.length - MAX_ENTRIES) : kept;
}

export class EditList implements AnchorEdits {
  readonly #store: Store<readonly EditEntry[]> = createStore<readonly EditEntry[]>([]);
  #nextId = 1;

  get store(): Store<readonly EditEntry[]> {
    return this.#store;
  }

  get entries(): readonly EditEntry[] {
    return this.#store.get();
  }

  add(entry: Omit<EditEntry, "id" | "state">): EditEntry {
    const added: EditEntry = { ...entry, id: this.#nextId++, state: "provisional" };
    this.#store.set(trimmed([...this.#store.get(), added]));
    return added;
  }

  update(ids: number | readonly number[], patch: Partial<Omit<EditEntry, "id">>): void {
    const wanted = new Set(typeof ids === "number" ? [ids] : ids);
    let changed = false;
    const entries = this.#store.get().map((entry) => {
      if (!wanted.has(entry.id)) return entry;
      changed = true;
      const ends = patch.state !== undefined && !isOpen(patch.state) && isOpen(entry.state);
      return ends ? { ...entry, ...patch, endedAt: performance.now() } : { ...entry, ...patch };
    });
    if (changed) this.#store.set(entries);
  }

  /** The entries of chunk `chunkId` still waiting for an anchor (provisional or anchoring). */
  open(chunkId: bigint): EditEntry[] {
    return this.#store.get().filter((entry) => entry.chunkId === chunkId && isOpen(entry.state));
  }

  /**
   * What became of `lost`, an edit an anchored snapshot (version `version`, covering stamps up to
   * `watermark`) dropped: overwritten, when a later edit of the same block that the snapshot covers
   * replaced it, else rolled back.
   */
  lost(lost: EditEntry, version: number, watermark: Hlc): Pick<EditEntry, "state" | "reason" | "version" | "note"> {
    return lostEdit(this.#store.get(), lost, version, watermark);
  }

  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }
}
