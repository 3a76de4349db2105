/**
 * The game rules a peer checks before it accepts an op (after its signature): the block exists, it is
 * inside the world's height limits, the author's avatar could reach it, the author's op rate is within
 * budget, the signing session is valid and unexpired, and premium blocks are unlocked. Each rejection
 * is a `RuleViolation` with a stable code; a rejected op changes nothing (not even the rate budget).
 */
import type { Address } from "viem";
import { blockType, isKnownBlock } from "./blocks.ts";
import { CHUNK_SIZE, chunkCoordsOf, localOf } from "./chunk.ts";
import { SeedcraftError } from "./errors.ts";
import type { BlockOp } from "./op.ts";
import { WORLD_MAX_Y, WORLD_MIN_Y } from "./terrain.ts";

export type RuleCode =
  | "UNKNOWN_BLOCK"
  | "OUT_OF_WORLD"
  | "OUT_OF_REACH"
  | "RATE_LIMITED"
  | "NO_SESSION"
  | "SESSION_EXPIRED"
  | "PREMIUM_LOCKED";

export class RuleViolation extends SeedcraftError {
  override readonly code: RuleCode;

  constructor(code: RuleCode, message: string, details?: string) {
    super(code, message, details);
    this.name = "RuleViolation";
    this.code = code;
  }
}

/** How far (in blocks, eye to block centre) an avatar reaches. */
export const REACH_BLOCKS = 8;
/** Eye height above the avatar's feet. */
export const EYE_HEIGHT = 1.6;

export type Vec3 = readonly [number, number, number];

/** A session key the author's wallet authorized (on chain or by an EIP-712 grant). */
export type Session = { author: Address; sessionKey: Address; expiresAtMs: number };

export type RuleContext = {
  nowMs: number;
  /** The session found for the op's signer, if any. */
  session: Session | undefined;
  /** The author's avatar position (feet), as last seen on the movement channel. */
  avatar: Vec3 | undefined;
  /** Whether the author has unlocked a premium block with energy. */
  hasUnlocked: (author: Address, block: number) => boolean;
  rate: OpRateBudget;
};

/** World coordinates of the op's block. */
export function opPosition(op: Pick<BlockOp, "chunk" | "index">): Vec3 {
  const { cx, cy, cz } = chunkCoordsOf(op.chunk);
  const { x, y, z } = localOf(op.index);
  return [cx * CHUNK_SIZE + x, cy * CHUNK_SIZE + y, cz * CHUNK_SIZE + z];
}

/** The signer is a live session key of the op's author at `nowMs`. */
export function checkAuthority(op: BlockOp, signer: Address, session: Session | undefined, nowMs: number): void {
  if (!session || session.sessionKey.toLowerCase() !== signer.toLowerCase())
    throw new RuleViolation("NO_SESSION", "The op is not signed by a session key.", `signer ${signer}`);
  if (session.author.toLowerCase() !== op.author.toLowerCase())
    throw new RuleViolation("NO_SESSION", "The session key signs for another wallet.", `session of ${session.author}`);
  if (nowMs >= session.expiresAtMs)
    throw new RuleViolation("SESSION_EXPIRED", "The session key has expired.", `expired at ${session.expiresAtMs}`);
}

/** The block exists, lies inside the world's height limits, and, if premium, its author unlocked it. */
export function checkPlacement(op: BlockOp, hasUnlocked: RuleContext["hasUnlocked"]): void {
  if (!isKnownBlock(op.block)) throw new RuleViolation("UNKNOWN_BLOCK", "No such block.", `block id ${op.block}`);
  const y = opPosition(op)[1];
  if (y < WORLD_MIN_Y || y >= WORLD_MAX_Y)
    throw new RuleViolation("OUT_OF_WORLD", "The block is outside the world's height limits.", `y ${y}`);
  if (blockType(op.block)?.premium && !hasUnlocked(op.author, op.block))
    throw new RuleViolation("PREMIUM_LOCKED", "That block must be unlocked with energy first.", `block ${op.block}`);
}

/** The block is within reach of the author's avatar (feet position, as last seen). */
export function checkReach(op: BlockOp, avatar: Vec3 | undefined): void {
  if (!avatar)
    throw new RuleViolation("OUT_OF_REACH", "The author's avatar position is unknown.", `author ${op.author}`);
  const position = opPosition(op);
  const [ax, ay, az] = avatar;
  const distance = Math.hypot(position[0] + 0.5 - ax, position[1] + 0.5 - (ay + EYE_HEIGHT), position[2] + 0.5 - az);
  if (!(distance <= REACH_BLOCKS))
    throw new RuleViolation("OUT_OF_REACH", "The block is out of the avatar's reach.", `${distance.toFixed(1)} blocks`);
}

/** Throws a RuleViolation if a peer must not accept `op` signed by `signer`. */
export function checkOp(op: BlockOp, signer: Address, context: RuleContext): void {
  checkAuthority(op, signer, context.session, context.nowMs);
  checkPlacement(op, context.hasUnlocked);
  checkReach(op, context.avatar);
  // Last, so that a rejected op never spends budget.
  if (!context.rate.take(op.author, context.nowMs))
    throw new RuleViolation("RATE_LIMITED", "The author is editing faster than the rules allow.");
}

export type OpRateOptions = { perSecond?: number; burst?: number };

/** A token bucket per author: `perSecond` ops sustained, `burst` at once. Time is passed in. */
export class OpRateBudget {
  readonly perSecond: number;
  readonly burst: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor({ perSecond = 20, burst = 40 }: OpRateOptions = {}) {
    this.perSecond = perSecond;
    this.burst = burst;
  }

  /** Spends one token of `author`'s budget if there is one. */
  take(author: Address, nowMs: number): boolean {
    const key = author.toLowerCase();
    const bucket = this.#buckets.get(key) ?? { tokens: this.burst, atMs: nowMs };
    const tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * this.perSecond) / 1000);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, atMs: Math.max(bucket.atMs, nowMs) });
      return false;
    }
    this.#buckets.set(key, { tokens: tokens - 1, atMs: Math.max(bucket.atMs, nowMs) });
    return true;
  }
}
