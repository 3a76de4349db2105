/**
 * Detects a chain reset under the index: a restarted hardhat node (its head falls below the indexed
 * block, or the indexed block now has another hash) or another chain behind the same URL. Once seen,
 * it stays seen: the index is stale until `seedcraft reset` clears it.
 */
import type { Hex, PublicClient } from "viem";

type Checkpoint = { blockNumber: bigint; blockHash: Hex };
type ChainReader = Pick<PublicClient, "getChainId" | "getBlockNumber" | "getBlock"> & {
  chain?: { id: number } | undefined;
};

/** How often requests trigger a look at the chain. */
const FRESH_MS = 500;
/** A mismatch must still hold this much later (a short reorg on a live chain resolves itself). */
const CONFIRM_MS = 300;

export class ResetWatch {
  readonly #chain: ChainReader;
  readonly #checkpoint: () => Promise<Checkpoint | undefined>;
  #reset: string | undefined;
  #checkedAt = 0;
  #pending: Promise<string | undefined> | undefined;

  constructor(chain: ChainReader, checkpoint: () => Promise<Checkpoint | undefined>) {
    this.#chain = chain;
    this.#checkpoint = checkpoint;
  }

  /**
   * Why the index is stale, or undefined while it matches the chain. Requests never wait for the chain:
   * the answer is the last check's, and a check starts in the background when that one is old.
   */
  current(): string | undefined {
    if (!this.#reset && !this.#pending && performance.now() - this.#checkedAt >= FRESH_MS)
      this.#start().catch(() => undefined); // a failed look is retried by a later request
    return this.#reset;
  }

  /** Checks now and returns the verdict (for readiness, which may wait). */
  async checkNow(): Promise<string | undefined> {
    return this.#reset ?? (await this.#start());
  }

  /** The check under way, or a new one: one look at the chain at a time. */
  #start(): Promise<string | undefined> {
    this.#pending ??= this.#check().finally(() => {
      this.#pending = undefined;
      this.#checkedAt = performance.now();
    });
    return this.#pending;
  }

  async #check(): Promise<string | undefined> {
    let mismatch = await this.#mismatch();
    if (mismatch === undefined) return undefined;
    await new Promise((resolve) => setTimeout(resolve, CONFIRM_MS));
    mismatch = await this.#mismatch();
    if (mismatch !== undefined) this.#reset = `the chain was reset under the index: ${mismatch}`;
    return this.#reset;
  }

  async #mismatch(): Promise<string | undefined> {
    let chainId: number;
    let head: bigint;
    try {
      [chainId, head] = await Promise.all([this.#chain.getChainId(), this.#chain.getBlockNumber({ cacheTime: 0 })]);
    } catch {
      return undefined; // unreachable is not reset: /v1/ready says so on its own
    }
    const expected = this.#chain.chain?.id;
    if (expected !== undefined && chainId !== expected)
      return `the RPC serves chain ${chainId}, the index is of ${expected}`;
    const checkpoint = await this.#checkpoint();
    if (!checkpoint) return undefined;
    if (head < checkpoint.blockNumber)
      return `its head is block ${head}, the index has block ${checkpoint.blockNumber}`;
    const block = await this.#chain.getBlock({ blockNumber: checkpoint.blockNumber }).catch(() => undefined);
    if (block && block.hash !== checkpoint.blockHash)
      return `block ${checkpoint.blockNumber} has hash ${block.hash}, the index saw ${checkpoint.blockHash}`;
    return undefined;
  }
}
