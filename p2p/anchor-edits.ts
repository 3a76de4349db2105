/**
 * A player's edits as the anchor queue sees them: their states, the small interface the queue writes them
 * through (the app's EditList implements it for the HUD, HeadlessEdits for `seedcraft peer`), and the rule
 * that names what became of an edit an anchored snapshot dropped. Isomorphic.
 */
import type { Hex } from "viem";
import { compareHlc, type Hlc } from "../core/hlc.ts";

/**
 * provisional: applied here, not anchored yet · anchoring: in an anchor transaction that was mined, waiting for
 * the indexer to serve it · anchored: the indexer serves an anchored version that holds it (accepted) ·
 * bounced: the conflict rule refused it (a tie, or an anchor already superseded it) · overwritten: a later edit
 * of the same block, anchored, replaced it · rolled-back: an anchored snapshot without it replaced the chunk,
 * or no anchor took it in time · failed: see `reason`. Every edit reaches one of the last five.
 */
export type EditState = "provisional" | "anchoring" | "anchored" | "bounced" | "overwritten" | "rolled-back" | "failed";

export const EDIT_STATES: readonly EditState[] = [
  "provisional",
  "anchoring",
  "anchored",
  "bounced",
  "overwritten",
  "rolled-back",
  "failed",
];

/** Whether the edit is still on its way (provisional or anchoring). */
export function isOpen(state: EditState): boolean {
  return state === "provisional" || state === "anchoring";
}

/** What the queue reads of an edit. */
export type AnchorEdit = {
  id: number;
  /** The block id the edit wrote. */
  block: number;
  chunkId: bigint;
  /** The block's index in its chunk. */
  index: number;
  /** The op's clock stamp, once signed. */
  hlc?: Hlc;
  /** Ours, or a peer's (then `author` names them). */
  own: boolean;
  author?: string;
  state: EditState;
};

/** What the queue writes of an edit. */
export type AnchorEditPatch = {
  state?: EditState;
  /** The op's clock stamp, once signed. */
  hlc?: Hlc;
  /** The chunk version the edit was anchored in. */
  version?: bigint;
  txHash?: Hex;
  /** What is happening now. */
  note?: string;
  /** Why it bounced, was rolled back or failed. */
  reason?: string;
};

/** The edits the anchor queue settles. */
export interface AnchorEdits {
  readonly entries: readonly AnchorEdit[];
  update(ids: number | readonly number[], patch: AnchorEditPatch): void;
}

/**
 * What became of `lost`, an edit an anchored snapshot (version `version`, covering stamps up to `watermark`)
 * dropped: overwritten, when a later edit of the same block among `entries` that the snapshot covers replaced
 * it, else rolled back.
 */
export function lostEdit(
  entries: readonly AnchorEdit[],
  lost: AnchorEdit,
  version: number,
  watermark: Hlc,
): Required<Pick<AnchorEditPatch, "state" | "reason" | "version">> & { note: undefined } {
  for (let i = entries.length - 1; i >= 0; i--) {
    const later = entries[i] as AnchorEdit;
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

/** An edit that reached a final state, as HeadlessEdits reports it. */
export type FinalEdit = { entry: AnchorEdit & AnchorEditPatch; state: EditState; reason: string | undefined };

/**
 * A headless player's edits: kept while open, reported once when they end (then forgotten, so a bot that
 * edits for hours holds only what is on its way), and counted by final state.
 */
export class HeadlessEdits implements AnchorEdits {
  #entries: (AnchorEdit & AnchorEditPatch)[] = [];
  #nextId = 1;
  readonly #onFinal: (final: FinalEdit) => void;
  /** How many edits ended in each state. */
  readonly ended = new Map<EditState, number>();

  constructor(onFinal: (final: FinalEdit) => void = () => undefined) {
    this.#onFinal = onFinal;
  }

  get entries(): readonly AnchorEdit[] {
    return this.#entries;
  }

  add(entry: Omit<AnchorEdit, "id" | "state" | "own">): AnchorEdit {
    const added = { ...entry, id: this.#nextId++, own: true, state: "provisional" as const };
    this.#entries.push(added);
    return added;
  }

  update(ids: number | readonly number[], patch: AnchorEditPatch): void {
    const wanted = new Set(typeof ids === "number" ? [ids] : ids);
    const ended: FinalEdit[] = [];
    this.#entries = this.#entries.map((entry) => {
      if (!wanted.has(entry.id)) return entry;
      const next = { ...entry, ...patch };
      if (isOpen(entry.state) && !isOpen(next.state))
        ended.push({ entry: next, state: next.state, reason: next.reason });
      return next;
    });
    if (ended.length === 0) return;
    // An ended edit may still name what overwrote it (lostEdit reads later entries): keep the newest few.
    this.#entries = this.#entries.filter((entry, i) => isOpen(entry.state) || i >= this.#entries.length - 64);
    for (const final of ended) {
      this.ended.set(final.state, (this.ended.get(final.state) ?? 0) + 1);
      this.#onFinal(final);
    }
  }

  /** Edits still on their way. */
  get open(): number {
    return this.#entries.filter((entry) => isOpen(entry.state)).length;
  }
}
