/**
 * A limit on the CPU a peer spends hashing snapshots: a token bucket of milliseconds. Each hash runs
 * when the bucket is not empty and costs the time it took; a peer over its budget waits instead of
 * starving the game loop. Isomorphic.
 */
export class CpuBudget {
  /** Milliseconds of work allowed per second, sustained (bursts up to one second's worth). */
  readonly msPerSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #atMs: number;
  #queue: Promise<void> = Promise.resolve();
  #usedMs = 0;
  #waitedMs = 0;

  constructor(msPerSecond: number, now: () => number = () => performance.now()) {
    if (!(msPerSecond > 0)) throw new RangeError("a CPU budget is a positive number of ms per second");
    this.msPerSecond = msPerSecond;
    this.#now = now;
    this.#tokens = msPerSecond;
    this.#atMs = now();
  }

  /** Work done, and time spent waiting for budget, in ms. */
  get stats(): { usedMs: number; waitedMs: number } {
    return { usedMs: Math.round(this.#usedMs * 10) / 10, waitedMs: Math.round(this.#waitedMs) };
  }

  /** Runs `work` once the budget allows it (one at a time), and charges its duration. */
  run<T>(work: () => T): Promise<T> {
    const turn = this.#queue.then(async () => {
      this.#refill();
      if (this.#tokens <= 0) {
        const waitMs = (-this.#tokens / this.msPerSecond) * 1000;
        this.#waitedMs += waitMs;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        this.#refill();
      }
      const start = this.#now();
      try {
        return work();
      } finally {
        const spent = this.#now() - start;
        this.#usedMs += spent;
        this.#tokens -= spent;
      }
    });
    this.#queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.msPerSecond, this.#tokens + ((now - this.#atMs) / 1000) * this.msPerSecond);
    this.#atMs = now;
  }
}
