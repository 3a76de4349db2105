/**
 * The anchored heads of chunks, as the data plane reads them: the indexer's `GET /v1/chunks` (by region)
 * and `GET /v1/chunks/:id`. A snapshot is only ever checked against a head read here, never against the
 * hash a peer claims. Isomorphic.
 */
import type { Hex } from "viem";
import { parseChunkId } from "../core/chunk.ts";
import { type Hlc, unpackHlc } from "../core/hlc.ts";
import { REGION_CHUNKS, type Region } from "../core/proximity.ts";
import type { ChunkHead } from "./chunk-store.ts";
import { IndexBehindError, indexBehindOf } from "./index-behind.ts";
import { LedgerError } from "./ledger.ts";

/** A head with the clock watermark of its snapshot (ops at or below it are final). */
export type AnchoredHead = ChunkHead & { watermark: Hlc };

export interface HeadSource {
  /** The anchored heads (version ≥ 1) of the chunks in these regions. Rejects with LedgerError. */
  regions(regions: readonly Region[]): Promise<AnchoredHead[]>;
  /**
   * One chunk's head; undefined if it was never anchored. Rejects with LedgerError. `atLeast`: the version the
   * caller was told of (a peer's claim, a race lost); a source that can look further for it may (LedgerHeads).
   */
  head(chunkId: bigint, atLeast?: number): Promise<AnchoredHead | undefined>;
}

type ChunkJson = { chunkId?: unknown; version?: unknown; hash?: unknown; infoHash?: unknown; watermark?: unknown };

const HASH = /^0x[0-9a-fA-F]{64}$/;
const INFO_HASH = /^0x[0-9a-fA-F]{40}$/;
/** The indexer takes at most this many regions a request. */
const REGIONS_PER_REQUEST = 25;

/** A head from the indexer's JSON, or undefined for a row that is not one (it is skipped, never trusted). */
function headOf(row: ChunkJson): AnchoredHead | undefined {
  if (typeof row !== "object" || row === null) return undefined;
  if (!Number.isInteger(row.version) || (row.version as number) < 1 || (row.version as number) > 0xffff_ffff)
    return undefined;
  if (typeof row.chunkId !== "string" || typeof row.hash !== "string" || typeof row.infoHash !== "string")
    return undefined;
  if (!HASH.test(row.hash) || !INFO_HASH.test(row.infoHash)) return undefined;
  if (typeof row.watermark !== "string" || !/^\d{1,20}$/.test(row.watermark)) return undefined;
  let chunkId: bigint;
  try {
    chunkId = parseChunkId(row.chunkId);
  } catch {
    return undefined;
  }
  return {
    chunkId,
    version: row.version as number,
    hash: row.hash.toLowerCase() as Hex,
    infoHash: row.infoHash.toLowerCase() as Hex,
    watermark: unpackHlc(BigInt(row.watermark)),
  };
}

export class IndexerHeads implements HeadSource {
  readonly #url: string;

  constructor(indexerUrl: string) {
    this.#url = indexerUrl.replace(/\/$/, "");
  }

  async regions(regions: readonly Region[]): Promise<AnchoredHead[]> {
    const heads: AnchoredHead[] = [];
    for (let i = 0; i < regions.length; i += REGIONS_PER_REQUEST) {
      const query = regions
        .slice(i, i + REGIONS_PER_REQUEST)
        .map((r) => `region=${r.rx},${r.rz}`)
        .join("&");
      const body = (await this.#get(`/v1/chunks?${query}`)) as { chunks?: ChunkJson[] };
      for (const row of body.chunks ?? []) {
        const head = headOf(row);
        if (head) heads.push(head);
      }
    }
    return heads;
  }

  async head(chunkId: bigint): Promise<AnchoredHead | undefined> {
    return headOf((await this.#get(`/v1/chunks/${chunkId}`)) as ChunkJson);
  }

  /** Rejects with IndexBehindError while the indexer lags the chain (it serves no stale heads then). */
  async #get(path: string): Promise<unknown> {
    try {
      const response = await fetch(`${this.#url}${path}`, { signal: AbortSignal.timeout(5000) });
      const body: unknown = await response.json().catch(() => undefined);
      const behind = indexBehindOf(response.status, body);
      if (behind) throw new IndexBehindError(behind, `GET ${path}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (body === undefined) throw new Error("the answer is not JSON");
      return body;
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      throw new LedgerError("The indexer did not answer for chunk heads.", `${path}: ${(error as Error).message}`);
    }
  }
}

/** The regions that hold the chunks within `radius` chunks (in x and z) of chunk column (cx, cz). */
export function regionsAround(cx: number, cz: number, radius: number): Region[] {
  const regions: Region[] = [];
  const lo = (v: number) => Math.floor((v - radius) / REGION_CHUNKS);
  const hi = (v: number) => Math.floor((v + radius) / REGION_CHUNKS);
  for (let rx = lo(cx); rx <= hi(cx); rx++) for (let rz = lo(cz); rz <= hi(cz); rz++) regions.push({ rx, rz });
  return regions;
}
