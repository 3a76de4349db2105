import { index, onchainTable } from "ponder";

/**
 * Every anchor ever made: a chunk's history, one row per version. Declared first: Ponder writes a block's
 * rows table by table in declaration order, and `/v1/check` answers `anchored` from this table.
 */
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

/** The head of every anchored chunk: what `/v1/chunks/:id` serves. */
export const chunk = onchainTable(
  "chunk",
  (t) => ({
    id: t.bigint().primaryKey(),
    /** The chunk's coordinates, unpacked from its id, so an area can be queried. */
    cx: t.integer().notNull(),
    cy: t.integer().notNull(),
    cz: t.integer().notNull(),
    version: t.integer().notNull(),
    hash: t.hex().notNull(),
    infoHash: t.hex().notNull(),
    author: t.hex().notNull(),
    /** The HLC of the newest op the anchored snapshot holds: `wallMs << 16 | logical`. */
    watermark: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
    updatedTx: t.hex().notNull(),
  }),
  (table) => ({ columnIdx: index().on(table.cx, table.cz) }),
);

/** Every anchored batch: its Merkle root over `(chunkId, version, hash)` leaves, for anchoring proofs. */
export const anchorBatch = onchainTable("anchor_batch", (t) => ({
  root: t.hex().primaryKey(),
  author: t.hex().notNull(),
  size: t.integer().notNull(),
  blockNumber: t.bigint().notNull(),
  txHash: t.hex().notNull(),
}));

/** Session keys and the wallets they sign for (SessionRegistry). */
export const session = onchainTable(
  "session",
  (t) => ({
    key: t.hex().primaryKey(),
    wallet: t.hex().notNull(),
    expiresAt: t.bigint().notNull(),
    revoked: t.boolean().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ walletIdx: index().on(table.wallet) }),
);

/** A wallet as a player: energy held and spent, unlocks, and when it first anchored (eligibility). */
export const player = onchainTable("player", (t) => ({
  address: t.hex().primaryKey(),
  energy: t.bigint().notNull(),
  spent: t.bigint().notNull(),
  unlocks: t.integer().notNull(),
  anchors: t.integer().notNull(),
  firstAnchorBlock: t.bigint(),
}));

/** Premium blocks unlocked with energy (EnergyToken.EnergySpent). */
export const unlock = onchainTable(
  "unlock",
  (t) => ({
    id: t.text().primaryKey(), // `${player}:${itemId}`
    player: t.hex().notNull(),
    itemId: t.bigint().notNull(),
    amount: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
  }),
  (table) => ({ playerIdx: index().on(table.player) }),
);

/** Every energy transfer, keyed by its log: applied to balances exactly once, even when Ponder replays it. */
export const transfer = onchainTable("transfer", (t) => ({
  id: t.text().primaryKey(),
  from: t.hex().notNull(),
  to: t.hex().notNull(),
  value: t.bigint().notNull(),
  blockNumber: t.bigint().notNull(),
}));

/** A seeder's totals (SeedingRewards). */
export const seeder = onchainTable("seeder", (t) => ({
  address: t.hex().primaryKey(),
  claims: t.integer().notNull(),
  bytes: t.bigint().notNull(),
  rewards: t.bigint().notNull(),
  lastClaimedEpoch: t.integer(),
  committedEpoch: t.integer(),
}));

/** One claim per seeder and epoch: committed, then (maybe) proven. */
export const claim = onchainTable(
  "claim",
  (t) => ({
    id: t.text().primaryKey(), // `${seeder}:${epoch}`
    seeder: t.hex().notNull(),
    epoch: t.integer().notNull(),
    digest: t.hex().notNull(),
    challengeBlock: t.bigint().notNull(),
    claimed: t.boolean().notNull(),
    receipts: t.integer(),
    bytes: t.bigint(),
    reward: t.bigint(),
    claimedBlock: t.bigint(),
  }),
  (table) => ({ seederIdx: index().on(table.seeder) }),
);

/** The last block indexed, with its hash: a chain that no longer has this hash at this height was reset. */
export const checkpoint = onchainTable("checkpoint", (t) => ({
  id: t.integer().primaryKey(), // always 0
  blockNumber: t.bigint().notNull(),
  blockHash: t.hex().notNull(),
  timestamp: t.bigint().notNull(),
}));
