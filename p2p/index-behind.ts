/**
 * The indexer's answer while its index lags the chain head, shared by the indexer that sends it and the
 * clients that read it: HTTP 503 with {error: {code: "INDEX_BEHIND", message, details: {indexed, head, lag}}}.
 * Clients turn it into IndexBehindError, a LedgerError: whoever retries an unavailable indexer retries this.
 */
import { LedgerError } from "./ledger-error.ts";

export const INDEX_BEHIND = "INDEX_BEHIND";

export type IndexBehindDetails = { indexed: number | null; head: number | null; lag: number | null };

/** The lag in words, as every client shows it. */
export function describeIndexBehind({ lag }: IndexBehindDetails): string {
  return lag === null ? "indexer behind the chain, recovering" : `indexer behind by ${lag} blocks, recovering`;
}

/** The body the indexer answers with (status 503). */
export function indexBehindBody(state: { indexed?: number; head?: number; lag?: number }) {
  const details: IndexBehindDetails = {
    indexed: state.indexed ?? null,
    head: state.head ?? null,
    lag: state.lag ?? null,
  };
  return {
    error: {
      code: INDEX_BEHIND,
      message: `The index is behind the chain head (block ${details.indexed} of ${details.head}); it is recovering and serves no stale data meanwhile.`,
      details,
    },
  };
}

/** The details of an INDEX_BEHIND answer, or undefined for any other answer. */
export function indexBehindOf(status: number, body: unknown): IndexBehindDetails | undefined {
  if (status !== 503 || typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null || (error as { code?: unknown }).code !== INDEX_BEHIND)
    return undefined;
  const raw = (error as { details?: unknown }).details;
  const field = (name: string): number | null => {
    const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[name] : undefined;
    return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;
  };
  return { indexed: field("indexed"), head: field("head"), lag: field("lag") };
}

export class IndexBehindError extends LedgerError {
  readonly indexed: number | null;
  readonly head: number | null;
  readonly lag: number | null;

  constructor(details: IndexBehindDetails, what: string) {
    super(`The ${describeIndexBehind(details)}.`, what, INDEX_BEHIND);
    this.name = "IndexBehindError";
    this.indexed = details.indexed;
    this.head = details.head;
    this.lag = details.lag;
  }
}

/**
 * What a status line says about the indexer at `indexerUrl` (GET /v1/ready): undefined while it serves, else
 * why it does not ("indexer behind by 4 blocks, recovering", "indexer syncing", "indexer unreachable").
 * Never throws.
 */
export async function indexerNotServing(indexerUrl: string, timeoutMs = 2000): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(new URL("/v1/ready", indexerUrl), { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return "indexer unreachable";
  }
  if (response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const behind = indexBehindOf(response.status, await response.json().catch(() => undefined));
  if (behind) return describeIndexBehind(behind);
  return response.status === 503 ? "indexer syncing" : `indexer answers HTTP ${response.status}`;
}
