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

/** Whether the indexer serves (GET /v1/ready): the one reading of it every client shares. */
export type IndexerReadiness = "ready" | "syncing" | "behind" | "unreachable";

export type IndexerStatus = {
  status: IndexerReadiness;
  /** Why it does not serve, in words ("indexer behind by 4 blocks, recovering", the 503's reason, a network error). */
  details: string;
  /** The HTTP status of an answer that is neither 200 nor 503 (then `status` is unreachable). */
  httpStatus?: number;
};

/** The message of one of the API's answers: {error: {code, message}}, /v1/ready's {reason}, or an older string. */
export function answerReason(body: unknown): string {
  if (typeof body !== "object" || body === null) return "";
  const record = body as Record<string, unknown>;
  const error = record.error as { message?: unknown } | string | undefined;
  const text = (typeof error === "object" && error !== null ? error.message : error) ?? record.reason ?? record.message;
  return typeof text === "string" ? text : "";
}

/**
 * The indexer's readiness at `indexerUrl` (GET /v1/ready): 200 ready, 503 INDEX_BEHIND behind, any other 503
 * syncing (or the chain was reset under it), no answer unreachable. Never throws. Isomorphic.
 */
export async function indexerStatus(indexerUrl: string, timeoutMs = 2000): Promise<IndexerStatus> {
  let response: Response;
  try {
    // Joined as text, not new URL(): an app's indexer URL may carry a path (a proxy's prefix).
    response = await fetch(`${indexerUrl.replace(/\/$/, "")}/v1/ready`, {
      cache: "no-store",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { status: "unreachable", details: error instanceof Error ? error.message : String(error) };
  }
  if (response.ok) {
    await response.body?.cancel();
    return { status: "ready", details: "" };
  }
  const body: unknown = await response.json().catch(() => undefined);
  const behind = indexBehindOf(response.status, body);
  if (behind) return { status: "behind", details: describeIndexBehind(behind) };
  if (response.status === 503) return { status: "syncing", details: answerReason(body) };
  const details = `HTTP ${response.status} ${answerReason(body)}`.trim();
  return { status: "unreachable", details, httpStatus: response.status };
}

/**
 * What a status line says about the indexer at `indexerUrl`: undefined while it serves, else why it does not
 * ("indexer behind by 4 blocks, recovering", "indexer syncing", "indexer unreachable"). Never throws.
 */
export async function indexerNotServing(indexerUrl: string, timeoutMs = 2000): Promise<string | undefined> {
  const { status, details, httpStatus } = await indexerStatus(indexerUrl, timeoutMs);
  if (status === "ready") return undefined;
  if (status === "behind") return details;
  if (status === "syncing") return "indexer syncing";
  return httpStatus === undefined ? "indexer unreachable" : `indexer answers HTTP ${httpStatus}`;
}
