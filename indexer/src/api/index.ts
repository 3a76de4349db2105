/**
 * The Seedcraft read API on Ponder's server (Ponder adds CORS, /health, /ready, /status, /metrics):
 *   POST /v1/check             one update {chunkId, version, hash} or {items: [...]} (≤ 1000): anchored,
 *                              pending, conflict or invalid, from indexed state only
 *   GET  /v1/chunks/:id        the anchored head of a chunk (version 0, hash null: untouched terrain)
 *   GET  /v1/chunks?region=rx,rz[&region=…]   the anchored heads of 8×8-chunk regions (join sync)
 *   GET  /v1/players/:address  energy, spent, unlocks, sessions, anchors
 *   GET  /v1/seeders/:address  claims and totals
 *   GET  /v1/events            server-sent events: `head` for every chunk version indexed from now on
 *   GET  /v1/ready             200 once caught up with the chain head, else 503 with progress
 *   GET  /v1/status            chain id, indexed block, head block, lag, whether the chain was reset, the
 *                              indexer's state (syncing, live, recovering, stalled) and its recoveries
 *   /graphql, /sql/*           Ponder's GraphQL and SQL-over-HTTP
 * Every /v1 data route answers 503 CHAIN_RESET once the chain under the index was reset, and 503
 * INDEX_BEHIND while the index lags the chain head (lag.ts): stale data is worse than none.
 */

import { db, publicClients } from "ponder:api";
import schema from "ponder:schema";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { and, asc, client, desc, eq, graphql, gt, gte, inArray, lte, or } from "ponder";
import { type Address, createPublicClient, getAddress, type Hex, http, isAddress } from "viem";
import { InvalidChunkError, parseChunkId } from "../../../core/chunk.ts";
import { REGION_CHUNKS } from "../../../core/proximity.ts";
import { indexBehindBody } from "../../../p2p/index-behind.ts";
import { indexedDeployment } from "../../deployment.ts";
import { indexerHeads } from "../../head/process.ts";
import {
  type CheckItem,
  CheckRequestError,
  invalidOps,
  judge,
  type OpFacts,
  parseCheckRequest,
  recoverSigners,
} from "./check.ts";
import { type HeadEvent, HeadFeed } from "./feed.ts";
import { IndexLag } from "./lag.ts";
import { ResetWatch } from "./reset.ts";

const app = new Hono();

app.use("/sql/*", client({ db, schema }));
app.use("/graphql", graphql({ db, schema }));

type ErrorStatus = 400 | 404 | 413 | 500 | 503;
function apiError(c: Context, status: ErrorStatus, code: string, message: string, extra: object = {}) {
  return c.json({ error: { code, message, ...extra } }, status);
}

// Our own client for status and reset checks: Ponder's shares an adaptive rate limit (from 20 requests a
// second) with its block fetching, and every request of ours would delay indexing.
const chain = createPublicClient({
  chain: publicClients.seedcraft.chain,
  transport: http(process.env.SEEDCRAFT_RPC_URL || "http://127.0.0.1:8545"),
});
const resets = new ResetWatch(chain, async () => {
  const [row] = await db.select().from(schema.checkpoint).where(eq(schema.checkpoint.id, 0)).limit(1);
  return row ? { blockNumber: row.blockNumber, blockHash: row.blockHash } : undefined;
});

const heads = await indexerHeads();

/** Our own server (Ponder's /status and /ready say what it indexed), on the port Ponder was given. */
const ponderOptions = (globalThis as { PONDER_COMMON?: { options?: { port?: number; hostname?: string } } })
  .PONDER_COMMON?.options;
const self = `http://${
  !ponderOptions?.hostname || ponderOptions.hostname === "0.0.0.0" || ponderOptions.hostname === "::"
    ? "127.0.0.1"
    : ponderOptions.hostname
}:${ponderOptions?.port ?? 42069}`;

const lag = new IndexLag({
  sample: async () => {
    const [ready, status] = await Promise.all([
      fetch(`${self}/ready`, { signal: AbortSignal.timeout(2_000) }),
      fetch(`${self}/status`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.json() as Promise<Record<string, { block?: { number?: number } }>>,
      ),
    ]);
    // Only the status matters; an unread body stays buffered until GC, four times a second.
    await ready.body?.cancel();
    return { indexed: status.seedcraft?.block?.number, live: ready.status === 200 };
  },
  head: () => heads?.watch.head,
  onStuck: ({ indexed, head, stuckForMs }) => {
    console.error(
      `indexer: the index has stayed at block ${indexed} for ${Math.round(stuckForMs / 1000)} s while the chain moved to ${head}; exiting so that it is restarted`,
    );
    process.exit(75); // EX_TEMPFAIL: a restart is the cure
  },
});
// Without the heads (a process that did not load our config) there is no independent head to compare with.
if (heads) lag.start();

// Stale data is worse than none: once the chain was reset under the index, or while the index lags the
// chain, data routes refuse to answer. The events stream stays open while the index lags (it only ever sends
// what is indexed), but not over a reset chain: its heads would belong to another world.
app.use("/v1/*", async (c, next) => {
  if (c.req.path === "/v1/status" || c.req.path === "/v1/ready") return next();
  const reset = resets.current();
  if (reset) return apiError(c, 503, "CHAIN_RESET", reset, { hint: "run `npm run seedcraft -- reset`" });
  if (c.req.path === "/v1/events") return next();
  const verdict = lag.current();
  if (verdict.behind) return c.json(indexBehindBody(verdict), 503);
  return next();
});

function chunkJson(id: bigint, row: typeof schema.chunk.$inferSelect | undefined) {
  if (!row)
    return {
      chunkId: id.toString(),
      version: 0,
      hash: null,
      infoHash: null,
      author: null,
      watermark: null,
      updatedBlock: null,
    };
  return {
    chunkId: id.toString(),
    version: row.version,
    hash: row.hash,
    infoHash: row.infoHash,
    author: row.author,
    watermark: row.watermark.toString(),
    updatedBlock: Number(row.updatedBlock),
  };
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
  return c.json(chunkJson(id, row));
});

const MAX_REGIONS = 25;
const INT32 = /^-?\d{1,10}$/;

app.get("/v1/chunks", async (c) => {
  const regions = c.req.queries("region") ?? [];
  if (regions.length === 0 || regions.length > MAX_REGIONS)
    return apiError(c, 400, "BAD_REGION", `give 1..${MAX_REGIONS} region=rx,rz parameters`);
  const bounds = [];
  for (const region of regions) {
    const parts = region.split(",");
    const [rx, rz] = parts.map(Number);
    if (parts.length !== 2 || !parts.every((p) => INT32.test(p)) || rx === undefined || rz === undefined)
      return apiError(c, 400, "BAD_REGION", `${JSON.stringify(region.slice(0, 40))} is not rx,rz`);
    const x0 = rx * REGION_CHUNKS;
    const z0 = rz * REGION_CHUNKS;
    if (!Number.isSafeInteger(x0) || Math.abs(x0) > 2 ** 31 || Math.abs(z0) > 2 ** 31)
      return apiError(c, 400, "BAD_REGION", `region ${region} is outside the world`);
    bounds.push(
      and(
        gte(schema.chunk.cx, x0),
        lte(schema.chunk.cx, x0 + REGION_CHUNKS - 1),
        gte(schema.chunk.cz, z0),
        lte(schema.chunk.cz, z0 + REGION_CHUNKS - 1),
      ),
    );
  }
  const rows = await db
    .select()
    .from(schema.chunk)
    .where(or(...bounds));
  return c.json({ regions, chunks: rows.map((row) => chunkJson(row.id, row)) });
});

app.post(
  "/v1/check",
  bodyLimit({ maxSize: 1 << 20, onError: (c) => apiError(c, 413, "TOO_LARGE", "at most 1 MiB") }),
  async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return apiError(c, 400, "BAD_JSON", "the body is not JSON");
    }
    let request: ReturnType<typeof parseCheckRequest>;
    try {
      request = parseCheckRequest(body);
    } catch (error) {
      if (error instanceof CheckRequestError) return apiError(c, 400, error.code, error.details ?? error.message);
      throw error;
    }
    const { items } = request;
    const anchorIds = [...new Set(items.map((item) => `${item.chunkId}:${item.version}`))];
    const anchors = await db
      .select({
        id: schema.anchor.id,
        hash: schema.anchor.hash,
        infoHash: schema.anchor.infoHash,
        author: schema.anchor.author,
        blockNumber: schema.anchor.blockNumber,
      })
      .from(schema.anchor)
      .where(inArray(schema.anchor.id, anchorIds));
    // Heads only matter for the items that are not anchored yet (the reason names the ledger's version).
    const found = new Set(anchors.map((row) => row.id));
    const chunkIds = [
      ...new Set(items.filter((item) => !found.has(`${item.chunkId}:${item.version}`)).map((item) => item.chunkId)),
    ];
    const heads =
      chunkIds.length === 0
        ? []
        : await db
            .select({ id: schema.chunk.id, version: schema.chunk.version })
            .from(schema.chunk)
            .where(inArray(schema.chunk.id, chunkIds));
    const anchorById = new Map(anchors.map((row) => [row.id, row]));
    const headById = new Map(heads.map((row) => [row.id, row.version]));
    const invalid = await opVerdicts(items);
    const results = items.map((item, i) =>
      judge(
        item,
        { anchor: anchorById.get(`${item.chunkId}:${item.version}`), headVersion: headById.get(item.chunkId) ?? 0 },
        invalid[i],
      ),
    );
    return c.json(request.batch ? { results } : results[0]);
  },
);

/** Ops are EIP-712 signed under ChunkLedger's domain. */
const opDomain = {
  chainId: indexedDeployment.chainId,
  verifyingContract: indexedDeployment.contracts.ChunkLedger.address,
};

/** For each item, why its ops are refused (or undefined): signatures, then the indexed sessions and unlocks. */
async function opVerdicts(items: readonly CheckItem[]): Promise<(string | undefined)[]> {
  if (!items.some((item) => item.ops)) return items.map(() => undefined);
  const signers = recoverSigners(items, opDomain);
  const keys = [
    ...new Set([...signers.values()].filter((s) => typeof s === "string").map((s) => s.toLowerCase() as Hex)),
  ];
  const authors = [...new Set(items.flatMap((item) => item.ops ?? []).map((op) => op.author.toLowerCase() as Hex))];
  const [sessions, unlocks] = await Promise.all([
    keys.length === 0 ? [] : db.select().from(schema.session).where(inArray(schema.session.key, keys)),
    db.select().from(schema.unlock).where(inArray(schema.unlock.player, authors)),
  ]);
  const sessionByKey = new Map(sessions.map((row) => [row.key.toLowerCase(), row]));
  const unlocked = new Set(unlocks.map((row) => `${row.player.toLowerCase()}:${row.itemId}`));
  const facts: OpFacts = {
    sessionOf: (key) => {
      const row = sessionByKey.get(key.toLowerCase());
      return row && { wallet: row.wallet as Address, expiresAt: row.expiresAt, revoked: row.revoked };
    },
    hasUnlocked: (player, block) => unlocked.has(`${player.toLowerCase()}:${block}`),
  };
  return items.map((item) => (item.ops ? invalidOps(item, signers, facts) : undefined));
}

function parseAddress(c: Context): Hex | Response {
  const text = c.req.param("address") ?? "";
  if (!isAddress(text, { strict: false })) return apiError(c, 400, "INVALID_ADDRESS", "expected a 20-byte 0x address");
  return getAddress(text);
}

app.get("/v1/players/:address", async (c) => {
  const address = parseAddress(c);
  if (address instanceof Response) return address;
  const key = address.toLowerCase() as Hex;
  const [[row], sessions, unlocks] = await Promise.all([
    db.select().from(schema.player).where(eq(schema.player.address, key)).limit(1),
    db.select().from(schema.session).where(eq(schema.session.wallet, key)),
    db.select().from(schema.unlock).where(eq(schema.unlock.player, key)),
  ]);
  const now = BigInt(Math.floor(Date.now() / 1000));
  return c.json({
    address,
    energy: (row?.energy ?? 0n).toString(),
    spent: (row?.spent ?? 0n).toString(),
    anchors: row?.anchors ?? 0,
    firstAnchorBlock: row?.firstAnchorBlock === null || row === undefined ? null : Number(row.firstAnchorBlock),
    unlocks: unlocks.map((u) => ({
      itemId: Number(u.itemId),
      amount: u.amount.toString(),
      blockNumber: Number(u.blockNumber),
    })),
    sessions: sessions.map((s) => ({
      key: getAddress(s.key),
      expiresAt: Number(s.expiresAt),
      revoked: s.revoked,
      live: !s.revoked && s.expiresAt > now,
    })),
  });
});

app.get("/v1/seeders/:address", async (c) => {
  const address = parseAddress(c);
  if (address instanceof Response) return address;
  const key = address.toLowerCase() as Hex;
  const [[row], claims] = await Promise.all([
    db.select().from(schema.seeder).where(eq(schema.seeder.address, key)).limit(1),
    db.select().from(schema.claim).where(eq(schema.claim.seeder, key)),
  ]);
  return c.json({
    address,
    claims: row?.claims ?? 0,
    bytes: (row?.bytes ?? 0n).toString(),
    rewards: (row?.rewards ?? 0n).toString(),
    lastClaimedEpoch: row?.lastClaimedEpoch ?? null,
    committedEpoch: row?.committedEpoch ?? null,
    history: claims
      .sort((a, b) => a.epoch - b.epoch)
      .map((claim) => ({
        epoch: claim.epoch,
        claimed: claim.claimed,
        challengeBlock: Number(claim.challengeBlock),
        receipts: claim.receipts,
        bytes: claim.bytes?.toString() ?? null,
        reward: claim.reward?.toString() ?? null,
      })),
  });
});

const feed = new HeadFeed({
  start: async () => {
    const [last] = await db
      .select({ block: schema.anchor.blockNumber, log: schema.anchor.logIndex })
      .from(schema.anchor)
      .orderBy(desc(schema.anchor.blockNumber), desc(schema.anchor.logIndex))
      .limit(1);
    return { block: Number(last?.block ?? 0n), log: last?.log ?? -1 };
  },
  poll: async (afterBlock, afterLog) => {
    const rows = await db
      .select()
      .from(schema.anchor)
      .where(
        or(
          gt(schema.anchor.blockNumber, BigInt(afterBlock)),
          and(eq(schema.anchor.blockNumber, BigInt(afterBlock)), gt(schema.anchor.logIndex, afterLog)),
        ),
      )
      .orderBy(asc(schema.anchor.blockNumber), asc(schema.anchor.logIndex))
      .limit(1000);
    return rows.map((row) => ({
      chunkId: row.chunkId.toString(),
      version: row.version,
      hash: row.hash,
      infoHash: row.infoHash,
      author: row.author,
      blockNumber: Number(row.blockNumber),
      logIndex: row.logIndex,
    }));
  },
});

const HEARTBEAT_MS = 15_000;

app.get("/v1/events", (c) =>
  streamSSE(c, async (stream) => {
    const pending: HeadEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = feed.subscribe((events) => {
      pending.push(...events);
      wake?.();
    });
    stream.onAbort(unsubscribe);
    await stream.writeSSE({ event: "ready", data: "{}" });
    while (!stream.aborted) {
      if (pending.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, HEARTBEAT_MS);
        });
        wake = undefined;
        if (pending.length === 0 && !stream.aborted) await stream.write(": heartbeat\n\n");
      }
      for (const event of pending.splice(0)) {
        await stream.writeSSE({
          event: "head",
          id: `${event.blockNumber}:${event.logIndex}`,
          data: JSON.stringify(event),
        });
      }
    }
    unsubscribe();
  }),
);

type Progress = {
  chainId: number;
  indexedBlock: number | null;
  headBlock: number;
  lag: number | null;
  historicalDone: boolean;
  reset: string | null;
  /** syncing: historical sync; live; recovering: the relay is bringing blocks the subscription did not;
   * stalled: the index lags the head (INDEX_BEHIND) and nothing is recovering it yet. */
  state: "syncing" | "live" | "recovering" | "stalled";
  /** For how long the index has lagged the head by more than 2 blocks (ms). */
  behindForMs: number;
  /** Stalls of the chain's newHeads subscription since the indexer started, each recovered or recovering. */
  recoveries: number;
  /** Blocks delivered to Ponder from HTTP instead of the subscription. */
  synthesizedBlocks: number;
  /** How long the last stall lasted until the subscription delivered again (ms). */
  lastRecoveryMs: number | null;
};

/** Reads Ponder's own /ready and /status (same server), the chain head and the reset watch. */
async function progress(c: Context): Promise<Progress> {
  const [ready, status, headBlock, chainId, reset] = await Promise.all([
    fetch(new URL("/ready", c.req.url)),
    fetch(new URL("/status", c.req.url)).then(
      (response) => response.json() as Promise<Record<string, { block?: { number?: number } }>>,
    ),
    chain.getBlockNumber({ cacheTime: 0 }).then(Number),
    chain.getChainId(),
    resets.checkNow(),
  ]);
  const indexedBlock = status.seedcraft?.block?.number ?? null;
  const historicalDone = ready.status === 200;
  const verdict = lag.current();
  const relay = heads?.relay?.stats();
  const state = !historicalDone
    ? "syncing"
    : relay?.state === "recovering"
      ? "recovering"
      : verdict.behind
        ? "stalled"
        : "live";
  return {
    chainId,
    indexedBlock,
    headBlock,
    lag: indexedBlock === null ? null : Math.max(0, headBlock - indexedBlock),
    historicalDone,
    reset: reset ?? null,
    state,
    behindForMs: verdict.behindForMs,
    recoveries: relay?.recoveries ?? 0,
    synthesizedBlocks: relay?.synthesized ?? 0,
    lastRecoveryMs: relay?.lastRecoveryMs ?? null,
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
  if (status.reset) return c.json({ ready: false, reason: status.reset, ...status }, 503);
  const verdict = lag.current();
  if (verdict.behind) return c.json({ ready: false, ...status, ...indexBehindBody(verdict) }, 503);
  const ready = historicalDone && status.lag !== null && status.lag <= 1;
  return c.json({ ready, ...status }, ready ? 200 : 503);
});

app.onError((error, c) => apiError(c, 500, "INTERNAL", error.message));

export default app;
