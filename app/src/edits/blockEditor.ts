/**
 * Turns clicks on the world into block edits: checks the edit, applies it at once (provisional, outlined),
 * lists it, and hands it to the anchor queue.
 */
import { AIR, BLOCK_IDS, BLOCKS, type BlockType } from "../../../core/blocks.ts";
import { chunkIdOf, locateBlock } from "../../../core/chunk.ts";
import { WORLD_MAX_Y, WORLD_MIN_Y } from "../../../core/terrain.ts";
import type { Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { EditRequest, OutlineState, World } from "../world/World.ts";
import type { AnchorQueue } from "./anchorQueue.ts";
import type { EditList, EditState } from "./editList.ts";

/** What the palette offers: every block a player may place without unlocking it (keys 1–9). */
export const PALETTE: readonly BlockType[] = BLOCKS.filter((block) => block.id !== AIR && !block.premium);

export type BlockEditorOptions = {
  world: World;
  queue: AnchorQueue;
  edits: EditList;
  /** The block id the player places. */
  selected: Store<number>;
};

const OUTLINED: Record<EditState, OutlineState | undefined> = {
  provisional: "provisional",
  anchoring: "anchoring",
  failed: "failed",
  anchored: undefined,
};

export class BlockEditor {
  readonly #options: BlockEditorOptions;
  readonly #outlines = new Map<string, { position: Vec3; state: OutlineState }>();
  readonly #unsubscribe: () => void;

  constructor(options: BlockEditorOptions) {
    this.#options = options;
    options.world.onEditRequest = (request) => this.apply(request);
    this.#unsubscribe = options.edits.subscribe(() => this.#syncOutlines());
  }

  /** Applies an edit request; returns the reason when the edit is not allowed. */
  apply({ mode, target, clickedAt }: EditRequest): string | undefined {
    const { world, queue, edits, selected } = this.#options;
    const [x, y, z] = target;
    if (y < WORLD_MIN_Y || y >= WORLD_MAX_Y) return "outside the world's height limits";
    const current = world.getBlock(x, y, z);
    if (current === undefined) return "that chunk is not loaded";
    const block = mode === "break" ? AIR : selected.get();
    const type = BLOCKS[block];
    if (!type) return `unknown block ${block}`;
    if (type.premium) return `${type.name} must be unlocked with energy first`;
    if (mode === "break" && (current === AIR || current === BLOCK_IDS.water)) return "nothing to break";
    if (mode === "place" && current !== AIR && current !== BLOCK_IDS.water) return "that cell is taken";
    if (current === block) return "no change";

    const { cx, cy, cz, index } = locateBlock(x, y, z);
    const entry = edits.add({ mode, position: target, block, chunk: { cx, cy, cz }, chunkId: chunkIdOf(cx, cy, cz) });
    world
      .setBlock(x, y, z, block, clickedAt)
      .then((applyMs) => edits.update(entry.id, { applyMs }))
      .catch((error: unknown) => console.error("seedcraft: could not apply the edit", error));
    queue.record(entry.id, { cx, cy, cz }, index);
    return undefined;
  }

  destroy(): void {
    this.#unsubscribe();
    if (this.#options.world.onEditRequest) this.#options.world.onEditRequest = undefined;
  }

  /** One outline per block, showing its newest edit's state; anchored blocks lose theirs. */
  #syncOutlines(): void {
    const wanted = new Map<string, { position: Vec3; state: OutlineState | undefined }>();
    for (const entry of this.#options.edits.entries)
      wanted.set(entry.position.join(","), { position: entry.position, state: OUTLINED[entry.state] });
    for (const [key, outline] of this.#outlines)
      if (!wanted.get(key)?.state) {
        this.#options.world.setOutline(outline.position, undefined);
        this.#outlines.delete(key);
      }
    for (const [key, { position, state }] of wanted) {
      if (!state || this.#outlines.get(key)?.state === state) continue;
      this.#options.world.setOutline(position, state);
      this.#outlines.set(key, { position, state });
    }
  }
}
