import { index, onchainTable } from "ponder";

/** The head of every anchored chunk: what `/v1/chunks/:id` serves. */
export const chunk = onchainTable("chunk", (t) => ({
  id: t.bigint().primaryKey(),
  version: t.integer().notNull(),
  hash: t.hex().notNull(),
  infoHash: t.hex().notNull(),
  author: t.hex().notNull(),
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
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
  }),
  (table) => ({ chunkIdx: index().on(table.chunkId) }),
);
