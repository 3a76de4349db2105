import { index, onchainTable } from "ponder";

/** The head of every anchored chunk: what `/v1/chunks/:id` serves. */
export const chunk = onchainTable("chunk", (t) => ({
  id: t.bigint().primaryKey(),
  version: t.integer().notNull(),
  hash: t.hex().notNull(),
  infoHash: t.hex().notNull(),
  author: t.hex().notNull(),
  /** The HLC of the newest op the anchored snapshot holds: `wallMs << 16 | logical`. */
  watermark: t.bigint().notNull(),
  updatedBlock: t.bigint().notNull(),
  updatedTx: t.hex().notNull(),
}));

/** Every anchor ever made: a chunk's history, one row per version. */
export const anchor = onchainTable(
  "anchor",
  (t) => ({
    id: t.text().primaryKey(), // `${chunkId}:${version}`
    chunkId: t.bigint().notNull(),
    version: t.integer().notNull(),
    hash: t.hex().notNull(),
    infoHash: t.hex().notNull(),
    author: t.hex().notNull(),
    watermark: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
  }),
  (table) => ({ chunkIdx: index().on(table.chunkId) }),
);

/** Every anchored batch: its Merkle root over `(chunkId, version, hash)` leaves, for anchoring proofs. */
export const anchorBatch = onchainTable("anchor_batch", (t) => ({
  root: t.hex().primaryKey(),
  author: t.hex().notNull(),
  size: t.integer().notNull(),
  blockNumber: t.bigint().notNull(),
  txHash: t.hex().notNull(),
}));
