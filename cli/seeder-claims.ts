/**
 * Node-only: a running seeder's own claims. It claims each finished epoch itself (auto-claim, on unless
 * `--no-auto-claim`), once the epoch has been over for a little while (leechers still send late receipts for
 * it), and whenever `seedcraft claim` asks (cli/seeder-control.ts). One claim round at a time. It also keeps
 * the energy pending as the chain will pay it, and why the rest will not be, for the status line.
 */
import createDebug from "debug";
import {
  type ClaimChain,
  type ClaimChunks,
  type ClaimReceipts,
  type ClaimRound,
  claimFinishedEpochs,
  type PendingEnergy,
  pendingEnergy,
} from "../p2p/claim.ts";

const debug = createDebug("seedcraft:claims");

/** How long after its end an epoch is left for late receipts before the seeder claims it by itself. */
export function settleSecondsFor(epochLengthS: number): number {
  return Math.min(60, Math.ceil(epochLengthS / 4));
}

/** Energy wei a claim round earned: the sum of its claimed epochs' rewards. */
export function earnedIn(round: ClaimRound): bigint {
  return round.claimed.reduce((sum, result) => sum + result.reward, 0n);
}

export class SeederClaims {
  readonly #chain: ClaimChain;
  readonly #receipts: ClaimReceipts;
  readonly #chunks: ClaimChunks;
  readonly #settleS: number;
  readonly #log: (line: string) => void;
  readonly #format: (wei: bigint) => string;
  readonly #nothingSeen = new Map<number, number>();
  #queue: Promise<unknown> = Promise.resolve();
  #timers: ReturnType<typeof setInterval>[] = [];
  #pending: PendingEnergy | undefined;
  #stopped = false;
  /** Energy wei claimed since start. */
  earned = 0n;

  constructor(options: {
    chain: ClaimChain;
    receipts: ClaimReceipts;
    chunks: ClaimChunks;
    epochLengthS: number;
    log: (line: string) => void;
    formatEnergy: (wei: bigint) => string;
  }) {
    this.#format = options.formatEnergy;
    this.#chain = options.chain;
    this.#receipts = options.receipts;
    this.#chunks = options.chunks;
    this.#settleS = settleSecondsFor(options.epochLengthS);
    this.#log = options.log;
  }

  /** Starts the background rounds: pending energy every 10 s, and with `auto`, claims as epochs end. */
  start(options: { auto: boolean; epochLengthS: number }): void {
    const every = (ms: number, task: () => Promise<unknown>) => {
      const timer = setInterval(() => void task().catch((error: Error) => debug("%s", error.message)), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(10_000, () => this.refreshPending());
    void this.refreshPending().catch((error: Error) => debug("pending: %s", error.message));
    if (options.auto) every(Math.max(2_000, Math.min(10_000, (options.epochLengthS * 1000) / 6)), () => this.#auto());
  }

  /** The pending energy as last read from the chain (undefined until the first read). */
  get pending(): PendingEnergy | undefined {
    return this.#pending;
  }

  async refreshPending(): Promise<void> {
    this.#pending = await pendingEnergy(this.#chain, this.#receipts);
  }

  /** Claims the finished epochs now (all of them, or `only`), after any round under way; `say` hears each step. */
  claimNow(say: (line: string) => void, only?: number): Promise<ClaimRound> {
    return this.#serial(() =>
      claimFinishedEpochs({
        chain: this.#chain,
        receipts: this.#receipts,
        chunks: this.#chunks,
        say,
        ...(only === undefined ? {} : { only }),
      }),
    );
  }

  async #auto(): Promise<void> {
    if (this.#stopped) return;
    const round = await this.#serial(() =>
      claimFinishedEpochs({
        chain: this.#chain,
        receipts: this.#receipts,
        chunks: this.#chunks,
        settleS: this.#settleS,
        nothingSeen: this.#nothingSeen,
        say: (line) => debug("%s", line),
      }),
    ).catch((error: Error) => {
      this.#log(`auto-claim: ${error.message.split("\n")[0]} (tried again in a moment)`);
      return undefined;
    });
    if (!round) return;
    for (const result of round.claimed)
      this.#log(
        `auto-claim: epoch ${result.epoch}: claimed ${this.#format(result.reward)} energy for ${result.receipts} receipts`,
      );
    for (const { epoch, details } of round.nothing)
      this.#log(`auto-claim: epoch ${epoch}: nothing the chain would pay for (${details})`);
    if (round.claimed.length > 0 || round.nothing.length > 0) await this.refreshPending().catch(() => undefined);
  }

  #serial(task: () => Promise<ClaimRound>): Promise<ClaimRound> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run.then((round) => {
      this.earned += earnedIn(round);
      return round;
    });
  }

  /** Stops the background rounds and waits for a claim under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#queue;
  }
}
