/**
 * Exponential backoff with a cap that starts over after a long enough good run: how long a supervisor
 * waits before restarting a part that died, and a client before reconnecting a socket that closed.
 */
export type BackoffOptions = {
  /** The first wait. Default 500 ms. */
  firstMs?: number;
  /** The longest wait. Default 15 s. */
  maxMs?: number;
  /** A run at least this long counts as healthy: the next wait is the first again. Default 60 s. */
  resetAfterMs?: number;
};

export class Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  #failures = 0;

  constructor({ firstMs = 500, maxMs = 15_000, resetAfterMs = 60_000 }: BackoffOptions = {}) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    this.resetAfterMs = resetAfterMs;
  }

  /** How many waits in a row since the last healthy run. */
  get failures(): number {
    return this.#failures;
  }

  /** The wait before the next attempt, after a run that lasted `ranMs` (0: it never got going). */
  next(ranMs = 0): number {
    if (ranMs >= this.resetAfterMs) this.#failures = 0;
    const delay = Math.min(this.maxMs, this.firstMs * 2 ** this.#failures);
    this.#failures++;
    return delay;
  }
}
