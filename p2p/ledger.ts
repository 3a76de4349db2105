/**
 * What a peer needs from the ledger to judge an op: the author's session keys and premium unlocks.
 * `IndexerLedger` reads them from the indexer (`GET /v1/players/:address`), so every peer judges ops
 * against the same on-chain SessionRegistry and EnergyToken, and caches them for a short while: a
 * session authorized a moment ago becomes visible at the next miss or after `ttlMs`.
 */
import { type Address, getAddress } from "viem";
import type { Session } from "../core/rules.ts";
import { IndexBehindError, indexBehindOf } from "./index-behind.ts";
import { LedgerError } from "./ledger-error.ts";

export type PlayerFacts = {
  wallet: Address;
  /** Live sessions (not revoked), with their expiry. */
  sessions: Session[];
  /** Unlocked premium block ids. */
  unlocks: ReadonlySet<number>;
};

export interface LedgerView {
  /** The facts of one wallet; rejects with LedgerError when the ledger cannot be read. */
  player(wallet: Address): Promise<PlayerFacts>;
  /** The facts already known (cached), without asking. */
  known(wallet: Address): PlayerFacts | undefined;
  /** Forgets a wallet, so the next look asks the ledger again. */
  forget(wallet: Address): void;
}

export { LedgerError };

const MAX_CACHED = 10_000;

type PlayerJson = {
  sessions?: { key?: unknown; expiresAt?: unknown; revoked?: unknown }[];
  unlocks?: { itemId?: unknown }[];
};

export class IndexerLedger implements LedgerView {
  readonly #url: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { facts: PlayerFacts; atMs: number }>();
  readonly #pending = new Map<string, Promise<PlayerFacts>>();

  constructor(indexerUrl: string, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#url = indexerUrl.replace(/\/$/, "");
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Stale while revalidating: facts older than `ttlMs` are still served (up to 10 × `ttlMs`) while a
   * fresh read runs in the background, so an op never waits on the indexer for a player it knows.
   * A revoked session stops counting once that read lands; an expired one at once (the rules check it).
   */
  known(wallet: Address): PlayerFacts | undefined {
    const entry = this.#cache.get(wallet.toLowerCase());
    if (!entry) return undefined;
    const age = this.#now() - entry.atMs;
    if (age < this.#ttlMs) return entry.facts;
    if (age >= 10 * this.#ttlMs) return undefined;
    if (!this.#pending.has(wallet.toLowerCase())) void this.#refresh(wallet).catch(() => undefined);
    return entry.facts;
  }

  #refresh(wallet: Address): Promise<PlayerFacts> {
    const key = wallet.toLowerCase();
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#fetch(wallet).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  /** Forgets a wallet, so the next look asks the indexer (after an op signed by an unknown key, say). */
  forget(wallet: Address): void {
    this.#cache.delete(wallet.toLowerCase());
  }

  async player(wallet: Address): Promise<PlayerFacts> {
    return this.known(wallet) ?? (await this.#refresh(wallet));
  }

  async #fetch(wallet: Address): Promise<PlayerFacts> {
    let body: PlayerJson;
    try {
      const response = await fetch(`${this.#url}/v1/players/${wallet}`, { signal: AbortSignal.timeout(5000) });
      body = (await response.json().catch(() => undefined)) as PlayerJson;
      const behind = indexBehindOf(response.status, body);
      if (behind) throw new IndexBehindError(behind, `GET /v1/players/${wallet}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (body === undefined) throw new Error("the answer is not JSON");
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      throw new LedgerError("The indexer did not answer for a player.", `${wallet}: ${(error as Error).message}`);
    }
    const author = getAddress(wallet);
    const sessions: Session[] = [];
    for (const s of body.sessions ?? [])
      if (typeof s.key === "string" && typeof s.expiresAt === "number" && s.revoked === false)
        sessions.push({ author, sessionKey: getAddress(s.key), expiresAtMs: s.expiresAt * 1000 });
    const unlocks = new Set<number>();
    for (const u of body.unlocks ?? []) if (typeof u.itemId === "number") unlocks.add(u.itemId);
    const facts = { wallet: author, sessions, unlocks };
    // Bounded: the oldest entries go first (a Map iterates in insertion order).
    if (this.#cache.size >= MAX_CACHED)
      for (const key of [...this.#cache.keys()].slice(0, MAX_CACHED / 10)) this.#cache.delete(key);
    this.#cache.set(wallet.toLowerCase(), { facts, atMs: this.#now() });
    return facts;
  }
}
