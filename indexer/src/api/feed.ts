/**
 * The live feed of chunk heads (GET /v1/events, server-sent events): one poller reads the anchors
 * indexed since the last look, every few milliseconds while anyone listens, and hands each to every
 * listener. Clients then learn of an anchor without asking for it.
 */
export type HeadEvent = {
  chunkId: string;
  version: number;
  hash: string;
  infoHash: string;
  author: string;
  blockNumber: number;
  logIndex: number;
};

type Listener = (events: HeadEvent[]) => void;

export class HeadFeed {
  readonly #poll: (afterBlock: number, afterLog: number) => Promise<HeadEvent[]>;
  readonly #start: () => Promise<{ block: number; log: number }>;
  readonly #intervalMs: number;
  readonly #listeners = new Set<Listener>();
  #cursor: { block: number; log: number } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: {
    poll: (afterBlock: number, afterLog: number) => Promise<HeadEvent[]>;
    start: () => Promise<{ block: number; log: number }>;
    intervalMs?: number;
  }) {
    this.#poll = options.poll;
    this.#start = options.start;
    this.#intervalMs = options.intervalMs ?? 20;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Calls `listener` with every batch of new heads until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) this.#schedule();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#cursor = undefined;
      }
    };
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#tick(), this.#cursor ? this.#intervalMs : 0);
  }

  async #tick(): Promise<void> {
    try {
      if (!this.#cursor) this.#cursor = await this.#start();
      else {
        const events = await this.#poll(this.#cursor.block, this.#cursor.log);
        const last = events.at(-1);
        if (last) {
          this.#cursor = { block: last.blockNumber, log: last.logIndex };
          for (const listener of this.#listeners) listener(events);
        }
      }
    } catch {
      // A failed look is retried at the next tick.
    }
    if (this.#listeners.size > 0) this.#schedule();
    else this.#timer = undefined;
  }
}
