/** The player's recent block edits and where each one is on its way to the ledger. */
import type { Hex } from "viem";
import { compareHlc, type Hlc } from "../../../core/hlc.ts";
import { createStore, type Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { ChunkCoords } from "../world/protocol.ts";

/**
 * provisional: applied here, not anchored yet · anchoring: in an anchor transaction that was mined, waiting for
 * the indexer to serve it · anchored: the indexer serves an anchored version that holds it (accepted) ·
 * bounced: the conflict rule refused it (a tie, or an anchor already superseded it) · overwritten: a later edit
 * of the same block, anchored, replaced it · rolled-back: an anchored snapshot without it replaced the chunk,
 * or no anchor took it in time · failed: see `reason`. Every edit reaches one of the last five.
 */
export type EditState = "provisional" | "anchoring" | "anchored" | "bounced" | "overwritten" | "rolled-back" | "failed";

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

/** Whether the edit is still on its way (provisional or anchoring). */
export function isOpen(state: EditState): boolean {
  return state === "provisional" || state === "anchoring";
}

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

/** Keeps the newest entries only: the list is for the player's eyes, the ledger keeps the history. */
const MAX_ENTRIES = 100;

export class EditList {
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
    const entries = [...this.#store.get(), added];
    this.#store.set(entries.length > MAX_ENTRIES ? entries.slice(entries.length - MAX_ENTRIES) : entries);
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
    const entries = this.#store.get();
    for (let i = entries.length - 1; i >= 0; i--) {
      const later = entries[i] as EditEntry;
      if (later === lost || later.chunkId !== lost.chunkId || later.index !== lost.index) continue;
      if (!later.hlc || !lost.hlc || compareHlc(later.hlc, lost.hlc) <= 0 || compareHlc(later.hlc, watermark) > 0)
        continue;
      if (later.state === "bounced" || later.state === "failed" || later.state === "rolled-back") continue;
      const who = later.own ? "you" : (later.author ?? "another player");
      return {
        state: "overwritten",
        version: BigInt(version),
        reason: `overwritten by ${who} in v${version}`,
        note: undefined,
      };
    }
    return {
      state: "rolled-back",
      version: BigInt(version),
      reason: `rolled back: v${version} does not hold it`,
      note: undefined,
    };
  }

  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }
}
