/**
 * The chain head as plain HTTP sees it (eth_blockNumber every ~500 ms): the indexer's second opinion,
 * independent of any WebSocket subscription, so a subscription that went quiet cannot hide a moving chain.
 */
import createDebug from "debug";
import { createPublicClient, http } from "viem";

const debug = createDebug("seedcraft:indexer:head");

export type HeadWatchOptions = {
  /** The chain's HTTP JSON-RPC endpoint. */
  url: string;
  /** How often to ask for the head (default 500 ms). */
  intervalMs?: number;
  /** The clock (milliseconds); injected by tests. */
  now?: () => number;
};

type Listener = (head: number) => void;

export class HeadWatch {
  readonly #client;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<Listener>();
  #head: number | undefined;
  #movedAt = 0;
  #seenAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;

  constructor(options: HeadWatchOptions) {
    // No retries: a missed look is simply the next tick's job.
    this.#client = createPublicClient({ transport: http(options.url, { retryCount: 0, timeout: 2_000 }) });
    this.#intervalMs = options.intervalMs ?? 500;
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

  /** Calls `listener` with every new head until the returned function is called. */
  onHead(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
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
    this.#timer = undefined;
  }

  /** A raw JSON-RPC request over HTTP (the relay fetches the blocks it must deliver with it). */
  request(method: "eth_getBlockByNumber", params: [`0x${string}`, boolean]): Promise<unknown> {
    return this.#client.request({ method, params });
  }

  async #tick(): Promise<void> {
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
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#intervalMs).unref();
  }
}
