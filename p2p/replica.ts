/**
 * A peer's copy of the live world: every chunk it holds, folded from its base (generated terrain, or an
 * anchored snapshot) and the ops it accepted. Every op passes core/ before it counts: its signature,
 * the author's session on the ledger, the game rules, the clock bound, then the conflict fold.
 * Isomorphic: the Node peer and the browser use the same class.
 */
import { type Address, bytesToHex, type Hex, type LocalAccount } from "viem";
import { blockType } from "../core/blocks.ts";
import { chunkCoordsOf } from "../core/chunk.ts";
import { type ApplyOutcome, ChunkState } from "../core/conflict.ts";
import { SeedcraftError } from "../core/errors.ts";
import { compareHlc, type Hlc, HlcError, HybridClock } from "../core/hlc.ts";
import { ChunkMerkle } from "../core/merkle.ts";
import {
  type BlockOp,
  InvalidOpError,
  type OpDomain,
  recoverBatchSigner,
  recoverOpSigner,
  type SignedOp,
  type SignedOpBatch,
  signOp,
  validateOp,
} from "../core/op.ts";
import {
  checkAuthority,
  checkPlacement,
  checkReach,
  OpRateBudget,
  type RuleContext,
  RuleViolation,
  type Vec3,
} from "../core/rules.ts";
import { generateChunk } from "../core/terrain.ts";
import type { LedgerView } from "./ledger.ts";

/** What became of one op: applied (maybe a no-op), a duplicate, bounced by the fold, or rejected. */
export type OpVerdict =
  | { op: BlockOp; status: "applied"; changed: boolean }
  | { op: BlockOp; status: "duplicate" }
  | { op: BlockOp; status: "bounced"; reason: string; ops: BlockOp[] }
  | { op: BlockOp; status: "rejected"; code: string; reason: string };

export type ReplicaOptions = {
  domain: OpDomain;
  /** The terrain seed of the world (core/terrain.ts terrainSeedOf). */
  seed: number;
  ledger: LedgerView;
  now?: () => number;
  clock?: HybridClock;
  rate?: OpRateBudget;
};

/** Extrapolate an avatar this far at most (a peer that stopped sending has stopped moving, or left). */
const MAX_EXTRAPOLATE_MS = 2000;
/** Signed ops kept per chunk for newcomers (the oldest go first); anchoring will make them final. */
export const MAX_HISTORY_PER_CHUNK = 1024;

/**
 * A peer's op that no anchored snapshot covered this long after it reached us is rolled back here (its author
 * gave up, left, or its anchor passed us by and the indexer says so: see `stale`). Our own edits end within about
 * as long in the anchor queue (its rebases wait 40 s at most for a winner's snapshot).
 */
export const PEER_OP_TTL_MS = 60_000;
/** Retracted ops remembered (newest kept), so a neighbour's history replay does not bring one back. */
const MAX_RETRACTED = 10_000;

/** An op this replica rolled back (no anchor took it in time) came again: it is refused for good. */
export class RetractedOpError extends SeedcraftError {
  constructor() {
    super("RETRACTED", "The op was rolled back here: no anchor took it in time.");
    this.name = "RetractedOpError";
  }
}

/** How an op reached us: live (judged on the way), or history a neighbour replays to a newcomer. */
export type ReceiveOptions = { historical?: boolean };

type Held = { state: ChunkState; merkle: ChunkMerkle | undefined; version: number };

export class WorldReplica {
  readonly domain: OpDomain;
  readonly clock: HybridClock;
  readonly #seed: number;
  readonly #ledger: LedgerView;
  readonly #now: () => number;
  readonly #rate: OpRateBudget;
  readonly #chunks = new Map<bigint, Held>();
  readonly #avatars = new Map<string, { position: Vec3; velocity: Vec3; atMs: number }>();
  readonly #history = new Map<bigint, SignedOp[]>();
  readonly #anchorListeners = new Set<(id: bigint, version: number, dropped: BlockOp[]) => void>();
  readonly #retractListeners = new Set<(op: BlockOp, changed: boolean) => void>();
  /** Per chunk, peers' applied ops no anchor covers yet, with when they reached us (our clock). */
  readonly #provisional = new Map<bigint, Map<string, { op: BlockOp; atMs: number }>>();
  /** Ops taken back, by `opKey`: refused if they come again. */
  readonly #retracted = new Set<string>();

  constructor(options: ReplicaOptions) {
    this.domain = options.domain;
    this.#seed = options.seed;
    this.#ledger = options.ledger;
    this.#now = options.now ?? Date.now;
    this.clock = options.clock ?? new HybridClock({ now: this.#now });
    this.#rate = options.rate ?? new OpRateBudget();
  }

  /** The chunk's live state, generated from the terrain the first time it is needed. */
  chunk(id: bigint): ChunkState {
    return this.#held(id).state;
  }

  /** Whether the chunk is generated already (no terrain to compute on its first op). */
  holds(id: bigint): boolean {
    return this.#chunks.has(id);
  }

  /** The chunk ids this replica holds. */
  get chunkIds(): bigint[] {
    return [...this.#chunks.keys()];
  }

  /** The anchored version the chunk's base is (0: generated terrain). */
  version(id: bigint): number {
    return this.#chunks.get(id)?.version ?? 0;
  }

  /**
   * Takes an anchored snapshot (checked against the ledger by the caller) as the chunk's base: ops at or
   * below its watermark are final, newer ones stay on top. An older version than the one held changes
   * nothing. Returns the ops the snapshot dropped (their authors are told).
   */
  anchor(id: bigint, version: number, blocks: Uint16Array, watermark: Hlc): BlockOp[] {
    const held = this.#chunks.get(id);
    let dropped: BlockOp[] = [];
    if (!held) {
      const state = new ChunkState(id, blocks, watermark);
      state.takeDirtyLeaves();
      this.#chunks.set(id, { state, merkle: undefined, version });
    } else {
      if (version <= held.version) return [];
      held.version = version;
      dropped = held.state.anchor(blocks, watermark);
      held.merkle = undefined;
      held.state.takeDirtyLeaves();
    }
    this.#settleProvisional(id, watermark);
    for (const listener of this.#anchorListeners) listener(id, version, dropped);
    return dropped;
  }

  /**
   * Takes a peer's anchor from the ops held here, without its snapshot: when the chunk's base with the ops at
   * or below `watermark` folded in hashes to the ledger's `hash`, that is the snapshot. Returns its blocks, or
   * undefined when the ops do not rebuild it (one is missing, pruned or taken back): then it must be fetched.
   * Only a chunk already held is tried (no terrain is generated for a guess).
   */
  anchorFromOps(id: bigint, version: number, hash: string, watermark: Hlc): Uint16Array | undefined {
    const held = this.#chunks.get(id);
    if (!held || version <= held.version) return undefined;
    const blocks = held.state.foldAt(watermark);
    if (bytesToHex(new ChunkMerkle(blocks).root) !== hash.toLowerCase()) return undefined;
    this.anchor(id, version, blocks, watermark);
    return blocks;
  }

  /** Calls `listener` after every anchored snapshot taken as a chunk's base (with the ops it dropped). */
  onAnchored(listener: (id: bigint, version: number, dropped: BlockOp[]) => void): () => void {
    this.#anchorListeners.add(listener);
    return () => this.#anchorListeners.delete(listener);
  }

  /** Calls `listener` after every op taken back (`changed`: the block it wrote showed, and now does not). */
  onRetracted(listener: (op: BlockOp, changed: boolean) => void): () => void {
    this.#retractListeners.add(listener);
    return () => this.#retractListeners.delete(listener);
  }

  /**
   * Peers' ops applied here more than `ttlMs` ago that no anchored snapshot covers yet, oldest first: each
   * must end, anchored (the caller may find a newer head on the indexer) or rolled back with `retract`.
   */
  stale(ttlMs = PEER_OP_TTL_MS): BlockOp[] {
    const before = this.#now() - ttlMs;
    const ops: { op: BlockOp; atMs: number }[] = [];
    for (const held of this.#provisional.values())
      for (const entry of held.values()) if (entry.atMs <= before) ops.push(entry);
    return ops.sort((a, b) => a.atMs - b.atMs).map((entry) => entry.op);
  }

  /**
   * Takes back a provisional op no anchor covers: ours that failed to anchor, or a peer's that stayed
   * provisional past the bound. The block shows what is below it again, the op leaves the history
   * newcomers get, and it is refused if it comes again. An op an anchor covers already is final: false.
   */
  retract(op: BlockOp): boolean {
    const held = this.#chunks.get(op.chunk);
    if (!held) return false;
    const key = opKey(op);
    const outcome = held.state.retract(op);
    this.#provisional.get(op.chunk)?.delete(key);
    if (!outcome.held) return false;
    this.#retracted.add(key);
    if (this.#retracted.size > MAX_RETRACTED) this.#retracted.delete(this.#retracted.values().next().value as string);
    const log = this.#history.get(op.chunk);
    const at = log?.findIndex((logged) => opKey(logged) === key) ?? -1;
    if (log && at >= 0) log.splice(at, 1);
    for (const listener of this.#retractListeners) listener(op, outcome.changed);
    return true;
  }

  /** The Merkle root of the chunk's folded blocks. */
  hash(id: bigint): Hex {
    const held = this.#held(id);
    // Built on first use (most chunks a peer holds are never asked for a hash); it reads the blocks
    // through a view (little-endian machines), so only the changed leaves are rehashed afterwards.
    if (!held.merkle) {
      held.state.takeDirtyLeaves();
      held.merkle = new ChunkMerkle(held.state.blocks);
    } else for (const leaf of held.state.takeDirtyLeaves()) held.merkle.touchLeaf(leaf);
    return bytesToHex(held.merkle.root);
  }

  /**
   * Where an author's avatar stood at `atMs` and how fast it moved (from the movement channel, which
   * sends a delta only when a guess would be off by a quarter block): the reach rule measures from
   * the extrapolated position, at most MAX_EXTRAPOLATE_MS ahead.
   */
  setAvatar(wallet: Address, position: Vec3, velocity: Vec3 = [0, 0, 0], atMs: number = this.#now()): void {
    this.#avatars.set(wallet.toLowerCase(), { position, velocity, atMs });
  }

  avatar(wallet: Address): Vec3 | undefined {
    const seen = this.#avatars.get(wallet.toLowerCase());
    if (!seen) return undefined;
    const dt = Math.min(MAX_EXTRAPOLATE_MS, Math.max(0, this.#now() - seen.atMs)) / 1000;
    return [0, 1, 2].map((i) => (seen.position[i] as number) + (seen.velocity[i] as number) * dt) as unknown as Vec3;
  }

  /** A local edit: stamped by our clock, signed by our session key, applied at once. */
  async edit(
    author: Address,
    sessionKey: LocalAccount,
    chunk: bigint,
    index: number,
    block: number,
  ): Promise<{ op: SignedOp; verdict: OpVerdict }> {
    const op = await signOp({ chunk, index, block, hlc: this.clock.send(), author }, sessionKey, this.domain);
    const verdict = this.#fold(op);
    this.#remember(op, verdict);
    return { op, verdict };
  }

  /**
   * The signed ops this replica accepted (applied or bounced) in the chunks `wanted` picks, oldest
   * first: what a newcomer needs to catch up on the edits not anchored yet.
   */
  history(wanted: (chunk: bigint) => boolean, limit = Number.POSITIVE_INFINITY): SignedOp[] {
    const ops: SignedOp[] = [];
    for (const [chunk, log] of this.#history) if (wanted(chunk)) ops.push(...log);
    ops.sort((a, b) => a.hlc.wallMs - b.hlc.wallMs || a.hlc.logical - b.hlc.logical);
    return ops.length > limit ? ops.slice(ops.length - limit) : ops;
  }

  #remember(op: SignedOp, verdict: OpVerdict): void {
    if (verdict.status !== "applied" && verdict.status !== "bounced") return;
    let log = this.#history.get(op.chunk);
    if (!log) {
      log = [];
      this.#history.set(op.chunk, log);
    }
    log.push(op);
    if (log.length > MAX_HISTORY_PER_CHUNK) log.splice(0, log.length - MAX_HISTORY_PER_CHUNK);
  }

  /**
   * Judges one signed op from the network and folds it in if it passes. `sender` is the wallet of the
   * peer it came from: when it is the op's author, the author's position must be known (reach).
   */
  async receiveOp(op: SignedOp, sender?: Address, options: ReceiveOptions = {}): Promise<OpVerdict> {
    const [verdict] = await this.#receive([op], () => recoverOpSigner(op, this.domain), sender, options);
    if (verdict) this.#remember(op, verdict);
    return verdict as OpVerdict;
  }

  /** Judges a signed batch (one signature, one author, for all its ops). */
  async receiveBatch(batch: SignedOpBatch, sender?: Address, options: ReceiveOptions = {}): Promise<OpVerdict[]> {
    return await this.#receive(batch.ops, () => recoverBatchSigner(batch, this.domain), sender, options);
  }

  async #receive(
    ops: readonly BlockOp[],
    recover: () => Address,
    sender: Address | undefined,
    { historical = false }: ReceiveOptions,
  ): Promise<OpVerdict[]> {
    let signer: Address;
    try {
      for (const op of ops) validateOp(op);
      const author = ops[0]?.author.toLowerCase();
      if (ops.some((op) => op.author.toLowerCase() !== author))
        throw new SeedcraftError("MIXED_AUTHORS", "A batch must hold the ops of one author.");
      signer = recover();
    } catch (error) {
      return ops.map((op) => rejected(op, error));
    }
    const verdicts: OpVerdict[] = [];
    for (const op of ops) {
      try {
        const facts = await this.#factsFor(op.author, signer, op.block);
        const context: Pick<RuleContext, "nowMs" | "session" | "hasUnlocked"> = {
          nowMs: this.#now(),
          session: facts?.sessions.find((s) => s.sessionKey.toLowerCase() === signer.toLowerCase()),
          hasUnlocked: (_author, block) => facts?.unlocks.has(block) ?? false,
        };
        checkAuthority(op, signer, context.session, context.nowMs);
        checkPlacement(op, context.hasUnlocked);
        // Reach is judged by the peers that see the author move (its neighbours, the first hop); an op
        // forwarded from farther away was judged there already. History (a neighbour catching us up,
        // never forwarded) was judged when it was live: where its author stands now says nothing
        // about an older edit, and history comes all at once, so the author's live budget does not
        // apply either. An author replaying its own recent ops is judged like a live one.
        const own = sender?.toLowerCase() === op.author.toLowerCase();
        const recent = context.nowMs - op.hlc.wallMs < MAX_EXTRAPOLATE_MS;
        const avatar = this.avatar(op.author);
        if (historical ? own && recent : own || avatar) checkReach(op, avatar);
        if (this.#retracted.has(opKey(op))) throw new RetractedOpError();
        this.clock.check(op.hlc);
        if (!historical && !this.#rate.take(op.author, context.nowMs))
          throw new RuleViolation("RATE_LIMITED", "The author is editing faster than the rules allow.");
        const verdict = this.#fold(op);
        verdicts.push(verdict);
        if (verdict.status === "applied") this.#trackProvisional(op);
        this.clock.receive(op.hlc);
      } catch (error) {
        verdicts.push(rejected(op, error));
      }
    }
    return verdicts;
  }

  /**
   * The author's ledger facts; asks again once if the signer is not among the cached sessions, or the
   * block is premium and not among the cached unlocks (the author may have just unlocked it).
   */
  async #factsFor(author: Address, signer: Address, block: number) {
    const cached = this.#ledger.known(author);
    if (
      cached?.sessions.some((s) => s.sessionKey.toLowerCase() === signer.toLowerCase()) &&
      (!blockType(block)?.premium || cached.unlocks.has(block))
    )
      return cached;
    if (cached) this.#ledger.forget(author);
    return await this.#ledger.player(author);
  }

  #trackProvisional(op: BlockOp): void {
    let held = this.#provisional.get(op.chunk);
    if (!held) {
      held = new Map();
      this.#provisional.set(op.chunk, held);
    }
    held.set(opKey(op), { op, atMs: this.#now() });
  }

  /** An anchored snapshot made every op at or below its watermark final: none of them is provisional now. */
  #settleProvisional(id: bigint, watermark: Hlc): void {
    const held = this.#provisional.get(id);
    if (!held) return;
    for (const [key, { op }] of held) if (compareHlc(op.hlc, watermark) <= 0) held.delete(key);
    if (held.size === 0) this.#provisional.delete(id);
  }

  #fold(op: BlockOp): OpVerdict {
    const outcome: ApplyOutcome = this.#held(op.chunk).state.apply(op);
    if (outcome.status === "applied") return { op, status: "applied", changed: outcome.changed };
    if (outcome.status === "duplicate") return { op, status: "duplicate" };
    return { op, status: "bounced", reason: outcome.reason, ops: outcome.ops };
  }

  #held(id: bigint): Held {
    let held = this.#chunks.get(id);
    if (!held) {
      const { cx, cy, cz } = chunkCoordsOf(id);
      const state = new ChunkState(id, generateChunk(this.#seed, cx, cy, cz));
      state.takeDirtyLeaves();
      held = { state, merkle: undefined, version: 0 };
      this.#chunks.set(id, held);
    }
    return held;
  }
}

/** One op's identity: its block, stamp, author and value. */
function opKey(op: BlockOp): string {
  return `${op.chunk}:${op.index}:${op.hlc.wallMs}:${op.hlc.logical}:${op.author.toLowerCase()}:${op.block}`;
}

function rejected(op: BlockOp, error: unknown): OpVerdict {
  if (error instanceof RuleViolation || error instanceof InvalidOpError || error instanceof HlcError)
    return { op, status: "rejected", code: error.code, reason: error.message };
  if (error instanceof SeedcraftError) return { op, status: "rejected", code: error.code, reason: error.message };
  throw error;
}
