/**
 * The Seedcraft read API on Ponder's server (Ponder adds CORS, /health, /ready, /status, /metrics):
 *   GET /v1/chunks/:id   the anchored head of a chunk (version 0, hash null: untouched terrain)
 *   GET /v1/ready        200 once caught up with the chain head, else 503 with progress
 *   GET /v1/status       chain id, indexed block, head block, lag
 *   /graphql, /sql/*     Ponder's GraphQL and SQL-over-HTTP
 */
import { db, publicClients } from "ponder:api";
import schema from "ponder:schema";
import { type Context, Hono } from "hono";
import { client, eq, graphql } from "ponder";
import { InvalidChunkError, parseChunkId } from "../../../core/chunk.ts";

const app = new Hono();

app.use("/sql/*", client({ db, schema }));
app.use("/graphql", graphql({ db, schema }));

function apiError(c: Context, status: 400 | 404 | 500 | 503, code: string, message: string) {
  return c.json({ error: { code, message } }, status);
}

app.get("/v1/chunks/:id", async (c) => {
  let id: bigint;
  try {
    id = parseChunkId(c.req.param("id"));
  } catch (error) {
    if (error instanceof InvalidChunkError) return apiError(c, 400, "INVALID_CHUNK_ID", error.details ?? error.message);
    throw error;
  }
  const [row] = await db.select().from(schema.chunk).where(eq(schema.chunk.id, id)).limit(1);
  if (!row)
    return c.json({
      chunkId: id.toString(),
      version: 0,
      hash: null,
      infoHash: null,
      author: null,
      watermark: null,
      updatedBlock: null,
    });
  return c.json({
    chunkId: id.toString(),
    version: row.version,
    hash: row.hash,
    infoHash: row.infoHash,
    author: row.author,
    watermark: row.watermark.toString(),
    updatedBlock: Number(row.updatedBlock),
  });
});

type Progress = {
  chainId: number;
  indexedBlock: number | null;
  headBlock: number;
  lag: number | null;
  historicalDone: boolean;
};

/** Reads Ponder's own /ready and /status (same server) and the chain head. */
async function progress(c: Context): Promise<Progress> {
  const chain = publicClients.seedcraft;
  const [ready, status, headBlock, chainId] = await Promise.all([
    fetch(new URL("/ready", c.req.url)),
    fetch(new URL("/status", c.req.url)).then(
      (response) => response.json() as Promise<Record<string, { block?: { number?: number } }>>,
    ),
    chain.getBlockNumber({ cacheTime: 0 }).then(Number),
    chain.getChainId(),
  ]);
  const indexedBlock = status.seedcraft?.block?.number ?? null;
  return {
    chainId,
    indexedBlock,
    headBlock,
    lag: indexedBlock === null ? null : Math.max(0, headBlock - indexedBlock),
    historicalDone: ready.status === 200,
  };
}

app.get("/v1/status", async (c) => {
  const { historicalDone: _, ...status } = await progress(c);
  return c.json(status);
});

app.get("/v1/ready", async (c) => {
  let current: Progress;
  try {
    current = await progress(c);
  } catch (error) {
    return c.json({ ready: false, reason: `chain unreachable: ${(error as Error).message.split("\n")[0]}` }, 503);
  }
  const { historicalDone, ...status } = current;
  const ready = historicalDone && status.lag !== null && status.lag <= 1;
  return c.json({ ready, ...status }, ready ? 200 : 503);
});

app.onError((error, c) => apiError(c, 500, "INTERNAL", error.message));

export default app;
