/**
 * The browser seeder's claims: the receipts it collected (p2p/browser/idb-receipts.ts), the epochs it can claim
 * now, and the claim itself (p2p/claim.ts) from the IndexedDB cache, sent with the connected wallet through
 * wagmi. SeedingRewards pays the wallet of msg.sender, which must be the seeder wallet the receipts name.
 */
import { type Address, createPublicClient, formatUnits, getAddress, http } from "viem";
import type { Config } from "wagmi";
import { writeContract } from "wagmi/actions";
import { worldKeyOf } from "../../../core/deployment.ts";
import { SeedcraftError } from "../../../core/errors.ts";
import type { IdbChunkCache } from "../../../p2p/browser/idb-cache.ts";
import { IdbReceiptStore } from "../../../p2p/browser/idb-receipts.ts";
import {
  type ClaimChain,
  ClaimFailedError,
  type ClaimProgress,
  claimEpoch,
  type EpochSummary,
  epochsToClaim,
  pendingEnergy,
  rewardFor,
  unpayableNote,
} from "../../../p2p/claim.ts";
import type { AppConfig } from "../config.ts";
import { createStore, type Store } from "../store.ts";
import { worldChain } from "../wallet/config.ts";

/**
 * Opens the receipt store the peer's ReceiptDesk fills (`data.receipts.sink`) and the claims read: `wallet`'s, in
 * this world (chain id, ledger and its deploy block: a fresh chain's world never sees an old one's receipts).
 */
export function openReceiptStore(config: AppConfig, wallet: Address): Promise<IdbReceiptStore> {
  return IdbReceiptStore.openForWorld(worldKeyOf(config.deployment), wallet);
}

export type ClaimRun =
  | { state: "idle"; lines: string[] }
  | { state: "running"; epoch: number; progress: ClaimProgress; fraction: number; lines: string[] }
  | { state: "done"; earned: bigint; epochs: number[]; lines: string[] }
  | { state: "failed"; error: string; code?: string; details?: string; lines: string[] };

export type SeederFigures = {
  /** Receipts and bytes collected in the epochs not claimed yet. */
  receipts: number;
  bytes: bigint;
  /** The energy the chain will pay for them (payable receipts only), once read. */
  pending: bigint | undefined;
  /** What the chain will not pay, and why ("0.40 energy not payable: leecher 0xab12…cdef first anchored in this epoch"). */
  notPayable?: string;
  /** Every epoch with receipts, and where it stands; the chain's epoch. */
  epochs: EpochSummary[];
  current: number | undefined;
  /** Why the chain could not be read, if it could not. */
  chainError?: string;
};

export type SeederClaimsOptions = {
  config: AppConfig;
  wagmi: Config;
  store: IdbReceiptStore;
  cache: IdbChunkCache;
  /** The seeder wallet: the peer's wallet, which receipts name and which must send the claim. */
  wallet: Address;
  /** How often the chain is read for the epoch and the seeder's commitment (4 s). */
  refreshMs?: number;
};

/** Log lines a run keeps for the panel. */
const MAX_LINES = 12;

function describe(error: unknown): { error: string; code?: string; details?: string } {
  if (error instanceof SeedcraftError)
    return { error: error.message.split("\n")[0] ?? error.message, code: error.code, details: error.details };
  const short = (error as { shortMessage?: string } | undefined)?.shortMessage;
  return { error: short ?? (error instanceof Error ? error.message : String(error)) };
}

/** Follows a seeder's receipts and the chain, and claims every claimable epoch on request (oldest first). */
export class SeederClaims {
  readonly figures: Store<SeederFigures>;
  readonly run: Store<ClaimRun> = createStore<ClaimRun>({ state: "idle", lines: [] });
  readonly #options: SeederClaimsOptions;
  readonly #chain: ClaimChain;
  readonly #unsubscribe: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #rewardRate: bigint | undefined;
  #chainState: Pick<SeederFigures, "epochs" | "current" | "chainError" | "pending" | "notPayable"> = {
    epochs: [],
    current: undefined,
    pending: undefined,
  };
  #destroyed = false;

  constructor(options: SeederClaimsOptions) {
    this.#options = options;
    const { config, wagmi, wallet } = options;
    const { deployment } = config;
    this.#chain = {
      deployment,
      publicClient: createPublicClient({
        chain: worldChain(config),
        transport: http(config.rpcUrl),
        pollingInterval: 250,
      }),
      seeder: getAddress(wallet),
      write: (request) =>
        // The connected wallet's own account (not an address): a local one, like the dev account, signs itself.
        writeContract(wagmi, {
          ...request,
          chainId: deployment.chainId,
        } as Parameters<typeof writeContract>[1]),
    };
    this.figures = createStore(this.#figures());
    this.#unsubscribe = options.store.subscribe(() => this.#publish());
    this.#timer = setInterval(() => void this.refresh(), options.refreshMs ?? 4000);
    void this.refresh();
  }

  /** Reads the chain again: the epoch, the claim window, the seeder's commitment. */
  async refresh(): Promise<void> {
    if (this.#destroyed) return;
    const rewards = this.#options.config.deployment.contracts.SeedingRewards;
    try {
      this.#rewardRate ??= (await this.#chain.publicClient.readContract({
        address: rewards.address,
        abi: rewards.abi,
        functionName: "rewardRate",
      })) as bigint;
      const { window, epochs } = await epochsToClaim(this.#chain, this.#options.store);
      // Pending is what the chain will pay: a leecher too new, a session gone, a cap passed are left out, and said.
      const pending = await pendingEnergy(this.#chain, this.#options.store);
      const rate = this.#rewardRate;
      const notPayable = unpayableNote(pending, rate, (wei) => Number(formatUnits(wei, 18)).toFixed(4));
      this.#chainState = {
        epochs,
        current: window.current,
        pending: rewardFor(pending.payableBytes, rate),
        ...(notPayable ? { notPayable } : {}),
      };
    } catch (error) {
      this.#chainState = { ...this.#chainState, chainError: describe(error).error };
    }
    this.#publish();
  }

  /** Claims every claimable epoch, oldest first (a commit passes every older epoch); never throws. */
  async claim(): Promise<void> {
    if (this.run.get().state === "running" || this.#destroyed) return;
    const { store, cache } = this.#options;
    const lines: string[] = [];
    const note = (line: string) => {
      lines.push(line);
      if (lines.length > MAX_LINES) lines.shift();
    };
    const start: ClaimProgress = { epoch: 0, step: "filtering", fraction: 0 };
    this.run.set({ state: "running", epoch: 0, progress: start, fraction: 0, lines: [] });
    const earned: bigint[] = [];
    const claimed: number[] = [];
    let nothing: unknown;
    try {
      const { epochs } = await epochsToClaim(this.#chain, store);
      // An epoch the chain shows claimed but the store does not (a tab closed right after a claim) is marked too.
      const todo = epochs.filter((e) => e.state === "claimable" || (e.state === "claimed" && !store.claimed(e.epoch)));
      if (todo.length === 0)
        throw new ClaimFailedError(
          "CLAIM_NOTHING",
          "No epoch to claim now.",
          "an epoch can be claimed once it is over",
        );
      for (const [i, { epoch }] of todo.entries()) {
        try {
          const result = await claimEpoch({
            chain: this.#chain,
            receipts: store,
            chunks: cache,
            epoch,
            receiptPollingMs: 250,
            onProgress: (progress) => {
              if (progress.text !== undefined) note(progress.text);
              const fraction = (i + progress.fraction) / todo.length;
              this.run.set({ state: "running", epoch, progress, fraction, lines: [...lines] });
            },
          });
          earned.push(result.reward);
          claimed.push(epoch);
        } catch (error) {
          // An epoch with nothing the chain would pay for stays behind; the next ones can still be claimed.
          if (!(error instanceof ClaimFailedError && error.code === "CLAIM_NOTHING")) throw error;
          note(`epoch ${epoch}: ${error.message}`);
          nothing = error;
        }
      }
      if (claimed.length === 0 && nothing) throw nothing;
      this.run.set({ state: "done", earned: earned.reduce((a, b) => a + b, 0n), epochs: claimed, lines: [...lines] });
    } catch (error) {
      this.run.set({ state: "failed", ...describe(error), lines: [...lines] });
    } finally {
      await this.refresh();
    }
  }

  /** Stops following the chain and the store. Idempotent. */
  destroy(): void {
    this.#destroyed = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
  }

  #figures(): SeederFigures {
    const { receipts, bytes } = this.#options.store.stats;
    return { receipts, bytes, ...this.#chainState };
  }

  #publish(): void {
    if (!this.#destroyed) this.figures.set(this.#figures());
  }
}
