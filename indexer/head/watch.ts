/**
 * The chain head as plain HTTP sees it (eth_blockNumber every ~500 ms, every ~100 ms while hurried): the
 * indexer's second opinion, independent of any WebSocket subscription, so a subscription that went quiet
 * cannot hide a moving chain.
 */
import createDebug from "debug";
import { createPublicClient, http } from "viem";

const debug = createDebug("seedcraft:indexer:head");

export type HeadWatchOptions = {
  /** The chain's HTTP JSON-RPC endpoint. */
  url: string;
  /** How often to ask for the head (default 500 ms). */
  intervalMs?: number;
  /** How often to ask while someone hurries the watch (default 100 ms). */
  hurriedMs?: number;
  /** The clock (milliseconds); injected by tests. */
  now?: () => number;
};

type Listener = (head: number) => void;

export class HeadWatch {
  readonly #client;
  readonly #intervalMs: number;
  readonly #hurriedMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<Listener>();
  #head: number | undefined;
  #movedAt = 0;
  #seenAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  /** Holders of hurry(): while any holds it, the watch asks every `hurriedMs`. */
  #hurried = 0;
  #asking = false;
  #askedAt = Number.NEGATIVE_INFINITY;

  constructor(options: HeadWatchOptions) {
    // No retries: a missed look is simply the next tick's job.
    this.#client = createPublicClient({ transport: http(options.url, { retryCount: 0, timeout: 2_000 }) });
    this.#intervalMs = options.intervalMs ?? 500;
    this.#hurriedMs = options.hurriedMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The newest head seen (undefined before the first answer). */
  get head(): number | undefined {
    return this.#head;
  }

  /** When the head last rose (on the watch's clock). */
  get movedAt(): number {
    return this.#movedAt;
  }

  /** When the chain last answered (0: never); a watch that stopped hearing from the chain is not a head. */
  get seenAt(): number {
    return this.#seenAt;
  }

  /** How often the watch asks now (ms). */
  get intervalMs(): number {
    return this.#hurried > 0 ? this.#hurriedMs : this.#intervalMs;
  }

  /** Calls `listener` with every new head until the returned function is called. */
  onHead(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Asks every `hurriedMs` until the returned function is called (idempotent): the relay hurries the watch
   * while it stands in for newHeads, when each millisecond before a head is seen is a millisecond of lag.
   */
  hurry(): () => void {
    this.#hurried++;
    this.#schedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#hurried--;
    };
  }

  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#schedule();
    return this;
  }

  /** Idempotent. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A raw JSON-RPC request over HTTP (the relay fetches the blocks it must deliver with it). */
  request(method: "eth_getBlockByNumber", params: [`0x${string}`, boolean]): Promise<unknown> {
    return this.#client.request({ method, params });
  }

  /** The next look, one interval after the last one began (never two at once; at once when overdue). */
  #schedule(): void {
    if (this.#stopped || this.#asking) return; // a look under way schedules the next when it ends
    clearTimeout(this.#timer);
    const wait = Math.max(0, this.#askedAt + this.intervalMs - this.#now());
    this.#timer = setTimeout(() => void this.#tick(), wait).unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#asking = true;
    this.#askedAt = this.#now();
    try {
      const head = Number(await this.#client.request({ method: "eth_blockNumber" }));
      this.#seenAt = this.#now();
      if (this.#head === undefined || head > this.#head) {
        this.#head = head;
        this.#movedAt = this.#now();
        for (const listener of this.#listeners) listener(head);
      } else if (head < this.#head) {
        // A chain reset: the reset watch says so; here the head simply starts over.
        debug("head went back from %d to %d", this.#head, head);
        this.#head = head;
      }
    } catch (error) {
      debug("eth_blockNumber failed: %s", (error as Error).message.split("\n")[0]);
    }
    this.#asking = false;
    this.#schedule();
  }
}
