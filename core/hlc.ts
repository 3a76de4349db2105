/**
 * Hybrid logical clock: (wallMs, logical) stamps that follow physical time but never run backwards
 * and always move past every stamp seen. Ties between peers are broken by the author (see conflict.ts).
 */
import { SeedcraftError } from "./errors.ts";

export type Hlc = { wallMs: number; logical: number };

/** wallMs is carried as 48 bits on the wire and in EIP-712; logical as 16 bits. */
export const MAX_WALL_MS = 2 ** 48 - 1;
export const MAX_LOGICAL = 0xffff;
export const DEFAULT_MAX_SKEW_MS = 60_000;

export class HlcError extends SeedcraftError {
  constructor(code: "HLC_SKEW" | "HLC_INVALID" | "HLC_OVERFLOW", message: string, details?: string) {
    super(code, message, details);
    this.name = "HlcError";
  }
}

export function isValidHlc(hlc: Hlc): boolean {
  return (
    Number.isInteger(hlc.wallMs) &&
    hlc.wallMs >= 0 &&
    hlc.wallMs <= MAX_WALL_MS &&
    Number.isInteger(hlc.logical) &&
    hlc.logical >= 0 &&
    hlc.logical <= MAX_LOGICAL
  );
}

/** A stamp as ChunkLedger keeps an anchor's watermark: one uint64, `wallMs << 16 | logical`. */
export function packHlc(hlc: Hlc): bigint {
  return (BigInt(hlc.wallMs) << 16n) | BigInt(hlc.logical);
}

/** The stamp in a packed watermark (see packHlc). */
export function unpackHlc(packed: bigint): Hlc {
  return { wallMs: Number(packed >> 16n), logical: Number(packed & 0xffffn) };
}

/** Orders stamps: negative if a is earlier, 0 if equal, positive if later. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs - b.wallMs || a.logical - b.logical;
}

export type HlcOptions = {
  /** Physical clock in ms (injected: tests use a fake one). Default Date.now. */
  now?: () => number;
  /** Remote stamps further than this from our physical clock are rejected. Default 60 s. */
  maxSkewMs?: number;
};

export class HybridClock {
  readonly #now: () => number;
  readonly maxSkewMs: number;
  #last: Hlc = { wallMs: 0, logical: 0 };

  constructor(options: HlcOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  }

  /** The last stamp issued or merged. */
  get last(): Hlc {
    return { ...this.#last };
  }

  /** A stamp for a local event (an op we author), later than every stamp seen so far. */
  send(): Hlc {
    const physical = Math.floor(this.#now());
    if (physical > this.#last.wallMs) this.#last = { wallMs: physical, logical: 0 };
    else this.#last = this.#bump(this.#last);
    return { ...this.#last };
  }

  /** Checks a remote stamp's skew; throws HlcError (HLC_SKEW / HLC_INVALID) and changes nothing if it fails. */
  check(remote: Hlc): void {
    if (!isValidHlc(remote)) throw new HlcError("HLC_INVALID", "Not a valid clock stamp.", JSON.stringify(remote));
    const skew = remote.wallMs - this.#now();
    if (Math.abs(skew) > this.maxSkewMs)
      throw new HlcError(
        "HLC_SKEW",
        "The clock stamp is too far from ours.",
        `it is ${Math.round(skew)} ms ${skew > 0 ? "ahead of" : "behind"} us; the bound is ${this.maxSkewMs} ms`,
      );
  }

  /** Merges a remote stamp (after `check`), so our next stamp is later than it. Returns the merged stamp. */
  receive(remote: Hlc): Hlc {
    this.check(remote);
    const physical = Math.floor(this.#now());
    const last = this.#last;
    const wallMs = Math.max(physical, last.wallMs, remote.wallMs);
    let logical: number;
    if (wallMs === last.wallMs && wallMs === remote.wallMs) logical = Math.max(last.logical, remote.logical) + 1;
    else if (wallMs === last.wallMs) logical = last.logical + 1;
    else if (wallMs === remote.wallMs) logical = remote.logical + 1;
    else logical = 0;
    this.#last = logical > MAX_LOGICAL ? this.#bump({ wallMs, logical: MAX_LOGICAL }) : { wallMs, logical };
    return { ...this.#last };
  }

  #bump(hlc: Hlc): Hlc {
    // Logical overflow (65,536 events in one ms) borrows the next millisecond rather than wrapping.
    if (hlc.logical < MAX_LOGICAL) return { wallMs: hlc.wallMs, logical: hlc.logical + 1 };
    if (hlc.wallMs >= MAX_WALL_MS) throw new HlcError("HLC_OVERFLOW", "The clock reached its largest stamp.");
    return { wallMs: hlc.wallMs + 1, logical: 0 };
  }
}
