/** The player's recent block edits and where each one is on its way to the ledger. */
import type { Hex } from "viem";
import type { Hlc } from "../../../core/hlc.ts";
import { createStore, type Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { ChunkCoords } from "../world/protocol.ts";

/**
 * provisional: applied here, not anchored yet · anchoring: in an anchor transaction that was mined, waiting for
 * the indexer to serve it · anchored: the indexer serves an anchored version that holds it (accepted) ·
 * bounced: the conflict rule refused it (a tie, or an anchor already superseded it) · rolledBack: an anchored
 * snapshot without it replaced the chunk · failed: see `reason`.
 */
export type EditState = "provisional" | "anchoring" | "anchored" | "bounced" | "rolledBack" | "failed";

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
      return { ...entry, ...patch };
    });
    if (changed) this.#store.set(entries);
  }

  /** The entries of chunk `chunkId` still waiting for an anchor (provisional or anchoring). */
  open(chunkId: bigint): EditEntry[] {
    return this.#store
      .get()
      .filter((entry) => entry.chunkId === chunkId && (entry.state === "provisional" || entry.state === "anchoring"));
  }

  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }
}
