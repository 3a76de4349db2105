/**
 * Is the index behind the chain? Every 250 ms it compares the block Ponder has indexed with the chain head
 * read over HTTP (head/watch.ts, independent of Ponder's subscription). The rule, in DESIGN.md:
 * - behind (data routes answer 503 INDEX_BEHIND) once head − indexed > 2 has held for more than 2 s;
 *   a block mined a moment ago is indexed within tens of milliseconds, so only a stall lasts that long;
 *   it ends as soon as the lag is 2 or less again;
 * - stuck once live indexing has not moved the indexed block for 30 s while the head moved past it: the
 *   relay should have recovered long before, so something else is wrong, and `onStuck` (the process exits
 *   with a clear line; the supervisor restarts it) is the last resort.
 */

export type LagSample = {
  /** The indexed block (undefined: Ponder has none yet). */
  indexed: number | undefined;
  /** Ponder's historical sync is done (its /ready answers 200). */
  live: boolean;
};

export type LagVerdict = {
  behind: boolean;
  indexed: number | undefined;
  head: number | undefined;
  lag: number | undefined;
  /** How long the lag has been above the limit (0 when it is not). */
  behindForMs: number;
};

export type IndexLagOptions = {
  sample: () => Promise<LagSample>;
  head: () => number | undefined;
  onStuck: (verdict: LagVerdict & { stuckForMs: number }) => void;
  now?: () => number;
  intervalMs?: number;
  maxLag?: number;
  graceMs?: number;
  stuckMs?: number;
};

export class IndexLag {
  readonly #options: Required<IndexLagOptions>;
  #indexed: number | undefined;
  #head: number | undefined;
  #live = false;
  #aboveSince: number | undefined;
  #indexedMovedAt: number;
  #headAtIndexedMove: number | undefined;
  #stuck = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;

  constructor(options: IndexLagOptions) {
    this.#options = {
      now: () => performance.now(),
      intervalMs: 250,
      maxLag: 2,
      graceMs: 2_000,
      stuckMs: 30_000,
      ...options,
    };
    this.#indexedMovedAt = this.#options.now();
  }

  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    void this.#tick();
    return this;
  }

  /** Idempotent. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** The last look's verdict (requests never wait for a look). */
  current(): LagVerdict {
    const behindForMs = this.#aboveSince === undefined ? 0 : this.#options.now() - this.#aboveSince;
    const lag =
      this.#indexed === undefined || this.#head === undefined ? undefined : Math.max(0, this.#head - this.#indexed);
    return {
      behind: behindForMs > this.#options.graceMs,
      indexed: this.#indexed,
      head: this.#head,
      lag,
      behindForMs: Math.round(behindForMs),
    };
  }

  /** Takes one sample now (ticks call it; tests with a fake clock call it directly). */
  async look(): Promise<void> {
    const sample = await this.#options.sample();
    this.observe(sample, this.#options.head());
  }

  /** Applies one sample of the indexed block and the head. */
  observe(sample: LagSample, head: number | undefined): void {
    const now = this.#options.now();
    if (sample.indexed !== this.#indexed) {
      this.#indexedMovedAt = now;
      this.#headAtIndexedMove = head;
      this.#stuck = false;
    }
    this.#indexed = sample.indexed;
    this.#head = head;
    this.#live = sample.live;
    const lag = sample.indexed === undefined || head === undefined ? 0 : head - sample.indexed;
    if (lag > this.#options.maxLag) this.#aboveSince ??= now;
    else this.#aboveSince = undefined;
    const stuckForMs = now - this.#indexedMovedAt;
    const headMoved = head !== undefined && head !== this.#headAtIndexedMove;
    if (this.#live && !this.#stuck && lag > this.#options.maxLag && headMoved && stuckForMs >= this.#options.stuckMs) {
      this.#stuck = true;
      this.#options.onStuck({ ...this.current(), stuckForMs: Math.round(stuckForMs) });
    }
  }

  async #tick(): Promise<void> {
    try {
      await this.look();
    } catch {
      // Our own server or the chain did not answer: the last verdict stands until the next look.
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#options.intervalMs).unref();
  }
}
