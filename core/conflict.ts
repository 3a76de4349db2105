/**
 * The conflict fold: every block is a last-writer-wins register ordered by the ops' hybrid clocks.
 * - The op with the latest (wallMs, logical) wins.
 * - Two different ops with the same (wallMs, logical) both bounce: the block keeps the value it had
 *   before either of them (the latest op below the tie, or the anchored base).
 * - The anchored state is final: an op at or below the anchor's clock watermark bounces.
 * The value of a block depends only on the *set* of ops received, so every replica that received the
 * same ops in any order, with any duplicates, holds the same blocks (a state-based CRDT).
 */
import { CHUNK_VOLUME } from "./chunk.ts";
import { compareHlc, type Hlc } from "./hlc.ts";
import { LEAF_BYTES } from "./merkle.ts";
import type { BlockOp } from "./op.ts";

export type BounceReason = "TIE" | "SUPERSEDED_BY_ANCHOR";

export type ApplyOutcome =
  | { status: "applied"; changed: boolean }
  | { status: "duplicate" }
  /** `ops` are every op this apply bounced: on a tie, the op already held and the new one. */
  | { status: "bounced"; reason: BounceReason; ops: BlockOp[] };

/** One clock stamp of one block's register: the op written there, or a tie of several. */
type Level = {
  hlc: Hlc;
  author: string;
  block: number;
  /** Set when two or more different ops share this stamp: then none of them counts. */
  tied: { author: string; block: number }[] | undefined;
};

const BLOCKS_PER_LEAF = LEAF_BYTES / 2;

function sameOp(a: { author: string; block: number }, author: string, block: number): boolean {
  return a.author === author && a.block === block;
}

/**
 * The live state of one chunk: its anchored base plus every provisional op above the anchor's
 * watermark. `blocks` is the folded view (what is rendered and hashed).
 */
export class ChunkState {
  readonly chunk: bigint;
  readonly blocks: Uint16Array;
  #base: Uint16Array;
  /** Compared as (wallMs, logical) pairs: one number wallMs·2^16 + logical is not exact at today's clock. */
  #watermark: Hlc | undefined;
  readonly #registers = new Map<number, Level[]>();
  /** Leaves whose blocks changed since `takeDirtyLeaves` (for incremental rehashing). */
  readonly #dirtyLeaves = new Set<number>();

  /**
   * @param base the anchored snapshot (or generated terrain for version 0); copied.
   * @param watermark the anchored state's clock watermark: ops at or below it bounce.
   */
  constructor(chunk: bigint, base: Uint16Array, watermark?: Hlc) {
    if (base.length !== CHUNK_VOLUME) throw new RangeError(`expected ${CHUNK_VOLUME} blocks, got ${base.length}`);
    this.chunk = chunk;
    this.#base = base.slice();
    this.blocks = base.slice();
    this.#watermark = watermark ? { wallMs: watermark.wallMs, logical: watermark.logical } : undefined;
  }

  get watermark(): Hlc | undefined {
    return this.#watermark;
  }

  /** How many blocks carry provisional ops. */
  get pendingBlocks(): number {
    return this.#registers.size;
  }

  /** Folds one op in (already checked against the rules and its signature). */
  apply(op: BlockOp): ApplyOutcome {
    const hlc = op.hlc;
    if (this.#covered(hlc)) return { status: "bounced", reason: "SUPERSEDED_BY_ANCHOR", ops: [op] };
    const author = op.author.toLowerCase();
    const { index, block } = op;
    let levels = this.#registers.get(index);
    if (levels === undefined) {
      levels = [];
      this.#registers.set(index, levels);
    }
    // Levels are sorted by key, latest first; a new op is almost always the latest.
    let position = 0;
    while (position < levels.length && compareHlc((levels[position] as Level).hlc, hlc) > 0) position++;
    const existing = levels[position];
    if (existing !== undefined && compareHlc(existing.hlc, hlc) === 0) {
      if (existing.tied === undefined) {
        if (sameOp(existing, author, block)) return { status: "duplicate" };
        const held: BlockOp = { ...op, author: existing.author as BlockOp["author"], block: existing.block };
        existing.tied = [
          { author: existing.author, block: existing.block },
          { author, block },
        ];
        this.#refold(index, levels);
        return { status: "bounced", reason: "TIE", ops: [held, op] };
      }
      if (existing.tied.some((entry) => sameOp(entry, author, block))) return { status: "duplicate" };
      existing.tied.push({ author, block });
      return { status: "bounced", reason: "TIE", ops: [op] };
    }
    levels.splice(position, 0, { hlc: { wallMs: hlc.wallMs, logical: hlc.logical }, author, block, tied: undefined });
    // Even below the top it may win: when every level above it is a tie.
    return { status: "applied", changed: this.#refold(index, levels) };
  }

  /**
   * The blocks as an anchor with clock watermark `watermark` would hold them, from what this state holds:
   * the base with only the ops at or below it folded in. A peer's anchored snapshot is usually this (the
   * mesh brought us the same ops it folded), which the caller checks against the ledger's hash before
   * taking it instead of fetching the snapshot.
   */
  foldAt(watermark: Hlc): Uint16Array {
    const blocks = this.#base.slice();
    for (const [index, levels] of this.#registers) {
      for (const level of levels) {
        // Newer than the anchor, or a tie (which counts for nothing): the level below decides.
        if (level.tied !== undefined || compareHlc(level.hlc, watermark) > 0) continue;
        blocks[index] = level.block;
        break;
      }
    }
    return blocks;
  }

  /**
   * Makes an anchored snapshot the new base: ops at or below `watermark` are final now (folded into the
   * snapshot or lost to it) and are dropped; ops above it stay applied on top. Returns the dropped
   * ops the snapshot does not reflect, so their authors can be told.
   */
  anchor(snapshot: Uint16Array, watermark: Hlc): BlockOp[] {
    if (snapshot.length !== CHUNK_VOLUME) throw new RangeError(`expected ${CHUNK_VOLUME} blocks`);
    const lost: BlockOp[] = [];
    this.#base = snapshot.slice();
    if (!this.#covered(watermark)) this.#watermark = { wallMs: watermark.wallMs, logical: watermark.logical };
    for (let index = 0; index < CHUNK_VOLUME; index++) {
      const levels = this.#registers.get(index);
      if (levels === undefined) {
        this.#set(index, this.#base[index] as number);
        continue;
      }
      const keep = levels.filter((level) => !this.#covered(level.hlc));
      for (const level of levels) {
        if (!this.#covered(level.hlc) || level.tied !== undefined) continue;
        if (level.block !== snapshot[index])
          lost.push({
            chunk: this.chunk,
            index,
            block: level.block,
            hlc: level.hlc,
            author: level.author as BlockOp["author"],
          });
      }
      if (keep.length === 0) this.#registers.delete(index);
      else this.#registers.set(index, keep);
      this.#refold(index, keep);
    }
    return lost;
  }

  /**
   * Takes back a provisional op no anchor covers (its author gave up, or never anchored it in time): its
   * level goes and the block refolds to what is below it. A tied op is left alone (it counts for nothing
   * already). Returns whether the op was held, and whether the block changed.
   */
  retract(op: BlockOp): { held: boolean; changed: boolean } {
    const levels = this.#registers.get(op.index);
    if (this.#covered(op.hlc) || levels === undefined) return { held: false, changed: false };
    const at = levels.findIndex(
      (level) =>
        compareHlc(level.hlc, op.hlc) === 0 &&
        level.tied === undefined &&
        sameOp(level, op.author.toLowerCase(), op.block),
    );
    if (at < 0) return { held: false, changed: false };
    levels.splice(at, 1);
    if (levels.length === 0) this.#registers.delete(op.index);
    return { held: true, changed: this.#refold(op.index, levels) };
  }

  /**
   * Forgets history that can no longer matter: below the latest untied level whose stamp is older
   * than `horizonMs` (no valid op can tie it any more: they are refused past the clock's skew bound).
   */
  prune(horizonMs: number): void {
    for (const levels of this.#registers.values()) {
      const settled = levels.findIndex((level) => level.tied === undefined && level.hlc.wallMs < horizonMs);
      if (settled >= 0 && settled < levels.length - 1) levels.length = settled + 1;
    }
  }

  /** The leaves changed since the last call (and forgets them). */
  takeDirtyLeaves(): number[] {
    const leaves = [...this.#dirtyLeaves];
    this.#dirtyLeaves.clear();
    return leaves;
  }

  /** Whether the anchored state's watermark covers stamp `hlc` (an op there is final already). */
  #covered(hlc: Hlc): boolean {
    return this.#watermark !== undefined && compareHlc(hlc, this.#watermark) <= 0;
  }

  /** Sets the block to its register's winner: the latest untied level, else the base. */
  #refold(index: number, levels: readonly Level[]): boolean {
    for (const level of levels) if (level.tied === undefined) return this.#set(index, level.block);
    return this.#set(index, this.#base[index] as number);
  }

  #set(index: number, block: number): boolean {
    if (this.blocks[index] === block) return false;
    this.blocks[index] = block;
    this.#dirtyLeaves.add(Math.floor(index / BLOCKS_PER_LEAF));
    return true;
  }
}
