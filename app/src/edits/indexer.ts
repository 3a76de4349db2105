/** The indexer's HTTP API, as the app uses it: chunk heads and readiness. Answers never throw. */
import type { Hex } from "viem";
import { isHex32 } from "../../../p2p/anchor-errors.ts";
import {
  answerReason,
  describeIndexBehind,
  IndexBehindError,
  type IndexerReadiness,
  indexBehindOf,
  indexerStatus,
} from "../../../p2p/index-behind.ts";

export type IndexedHead = { version: bigint; hash: Hex | null };

export type IndexerAnswer<T> =
  | { status: "ok"; value: T }
  /** 503: the indexer is catching up (or found the chain reset); it serves no data meanwhile. */
  | { status: "syncing"; details: string }
  /** 503 INDEX_BEHIND: the index lags the chain head and is recovering; ask again shortly. */
  | { status: "behind"; error: IndexBehindError; details: string }
  | { status: "unreachable"; details: string };

const TIMEOUT_MS = 2_000;

async function getJson(url: string): Promise<IndexerAnswer<unknown>> {
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    return { status: "unreachable", details: error instanceof Error ? error.message : String(error) };
  }
  const body: unknown = await response.json().catch(() => undefined);
  const behind = indexBehindOf(response.status, body);
  if (behind) {
    const error = new IndexBehindError(behind, url);
    return { status: "behind", error, details: describeIndexBehind(behind) };
  }
  if (response.status === 503) return { status: "syncing", details: answerReason(body) };
  if (!response.ok) return { status: "unreachable", details: `HTTP ${response.status} ${answerReason(body)}`.trim() };
  return { status: "ok", value: body };
}

/** GET /v1/chunks/:id → `{ chunkId, version, hash, infoHash, author }`. */
export async function fetchIndexedHead(indexerUrl: string, chunkId: bigint): Promise<IndexerAnswer<IndexedHead>> {
  const answer = await getJson(`${indexerUrl}/v1/chunks/${chunkId}`);
  if (answer.status !== "ok") return answer;
  const body = answer.value;
  if (typeof body !== "object" || body === null) return { status: "unreachable", details: "not a JSON object" };
  const { version, hash } = body as Record<string, unknown>;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)
    return { status: "unreachable", details: "answer has no version" };
  if (hash !== null && !isHex32(hash)) return { status: "unreachable", details: "answer has a bad hash" };
  return { status: "ok", value: { version: BigInt(version), hash } };
}

export type IndexerStatus = IndexerReadiness;

/** GET /v1/ready, read as every client reads it (p2p/index-behind.ts indexerStatus). */
export async function fetchIndexerStatus(indexerUrl: string): Promise<{ status: IndexerStatus; details: string }> {
  const { status, details } = await indexerStatus(indexerUrl, TIMEOUT_MS);
  return { status, details };
}
