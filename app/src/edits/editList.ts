/** The player's recent block edits and where each one is on its way to the ledger. */
import type { Hex } from "viem";
import { createStore, type Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { ChunkCoords } from "../world/protocol.ts";

/**
 * provisional: applied locally, not anchored yet · anchoring: the anchor transaction is mined, waiting for the
 * indexer to serve it · anchored: the indexer serves the anchored version with this hash · failed: see `reason`.
 */
export type EditState = "provisional" | "anchoring" | "anchored" | "failed";

export type EditEntry = {
  id: number;
  mode: "break" | "place";
  position: Vec3;
  /** The block id the edit wrote. */
  block: number;
  chunk: ChunkCoords;
  chunkId: bigint;
  state: EditState;
  /** The chunk version the edit was anchored in. */
  version?: bigint;
  txHash?: Hex;
  /** What is happening now, for the HUD. */
  note?: string;
  /** Why it failed. */
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

  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }
}
