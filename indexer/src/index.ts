import { ponder } from "ponder:registry";
import {
  anchor,
  anchorBatch,
  checkpoint,
  chunk,
  claim,
  player,
  seeder,
  session,
  transfer,
  unlock,
} from "ponder:schema";
import { zeroAddress } from "viem";
import { chunkCoordsOf } from "../../core/chunk.ts";

// Idempotent: Ponder replays recent blocks on restart. Plain facts are upserts keyed by what they record;
// counters move only when the row that records their event is new (an insert that finds its key returns null).

const NEW_PLAYER = { energy: 0n, spent: 0n, unlocks: 0, anchors: 0, firstAnchorBlock: null } as const;
const NEW_SEEDER = { claims: 0, bytes: 0n, rewards: 0n, lastClaimedEpoch: null, committedEpoch: null } as const;

/** What every handler's context holds (the same for every event). */
type Context = Parameters<Parameters<typeof ponder.on<"ChunkLedger:ChunkAnchored">>[1]>[0]["context"];
type BlockRef = { block: { number: bigint; hash: `0x${string}`; timestamp: bigint } };

/**
 * Remembers the newest block that carried one of our events, with its hash: a chain that no longer has
 * that hash at that height was reset under the index. Empty blocks cost nothing.
 */
async function touch({ db }: Context, { block }: BlockRef): Promise<void> {
  const row = { blockNumber: block.number, blockHash: block.hash, timestamp: block.timestamp };
  await db
    .insert(checkpoint)
    .values({ id: 0, ...row })
    .onConflictDoUpdate((current) => (current.blockNumber <= row.blockNumber ? row : {}));
}

ponder.on("ChunkLedger:ChunkAnchored", async ({ event, context }) => {
  await touch(context, event);
  const { chunkId, version, hash, infoHash, author, watermark } = event.args;
  const fresh = await context.db
    .insert(anchor)
    .values({
      id: `${chunkId}:${version}`,
      chunkId,
      version,
      hash,
      infoHash,
      author,
      watermark,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
      logIndex: event.log.logIndex,
    })
    .onConflictDoNothing();
  const head = {
    version,
    hash,
    infoHash,
    author,
    watermark,
    updatedBlock: event.block.number,
    updatedTx: event.transaction.hash,
  };
  const { cx, cy, cz } = chunkCoordsOf(chunkId);
  await context.db
    .insert(chunk)
    .values({ id: chunkId, cx, cy, cz, ...head })
    .onConflictDoUpdate((row) => (row.version <= head.version ? head : {}));
  if (!fresh) return;
  await context.db
    .insert(player)
    .values({ address: author, ...NEW_PLAYER, anchors: 1, firstAnchorBlock: event.block.number })
    .onConflictDoUpdate((row) => ({
      anchors: row.anchors + 1,
      firstAnchorBlock: row.firstAnchorBlock ?? event.block.number,
    }));
});

ponder.on("ChunkLedger:BatchAnchored", async ({ event, context }) => {
  await touch(context, event);
  const { root, author, size } = event.args;
  await context.db
    .insert(anchorBatch)
    .values({ root, author, size: Number(size), blockNumber: event.block.number, txHash: event.transaction.hash })
    .onConflictDoNothing();
});

ponder.on("SessionRegistry:SessionAuthorized", async ({ event, context }) => {
  await touch(context, event);
  const { wallet, sessionKey, expiresAt } = event.args;
  const row = { wallet, expiresAt, revoked: false, updatedBlock: event.block.number };
  await context.db
    .insert(session)
    .values({ key: sessionKey, ...row })
    .onConflictDoUpdate(() => row);
});

ponder.on("SessionRegistry:SessionRevoked", async ({ event, context }) => {
  await touch(context, event);
  const { sessionKey } = event.args;
  const existing = await context.db.find(session, { key: sessionKey });
  if (existing)
    await context.db.update(session, { key: sessionKey }).set({ revoked: true, updatedBlock: event.block.number });
});

ponder.on("EnergyToken:Transfer", async ({ event, context }) => {
  await touch(context, event);
  const { from, to, value } = event.args;
  const fresh = await context.db
    .insert(transfer)
    .values({ id: event.id, from, to, value, blockNumber: event.block.number })
    .onConflictDoNothing();
  if (!fresh) return;
  if (from !== zeroAddress)
    await context.db
      .insert(player)
      .values({ address: from, ...NEW_PLAYER, energy: -value })
      .onConflictDoUpdate((row) => ({ energy: row.energy - value }));
  if (to !== zeroAddress)
    await context.db
      .insert(player)
      .values({ address: to, ...NEW_PLAYER, energy: value })
      .onConflictDoUpdate((row) => ({ energy: row.energy + value }));
});

ponder.on("EnergyToken:EnergySpent", async ({ event, context }) => {
  await touch(context, event);
  const { player: address, itemId, amount } = event.args;
  const fresh = await context.db
    .insert(unlock)
    .values({ id: `${address}:${itemId}`, player: address, itemId, amount, blockNumber: event.block.number })
    .onConflictDoNothing();
  if (!fresh) return;
  await context.db
    .insert(player)
    .values({ address, ...NEW_PLAYER, spent: amount, unlocks: 1 })
    .onConflictDoUpdate((row) => ({ spent: row.spent + amount, unlocks: row.unlocks + 1 }));
});

ponder.on("SeedingRewards:ClaimCommitted", async ({ event, context }) => {
  await touch(context, event);
  const { seeder: address, epoch, digest, challengeBlock } = event.args;
  await context.db
    .insert(claim)
    .values({ id: `${address}:${epoch}`, seeder: address, epoch, digest, challengeBlock, claimed: false })
    .onConflictDoNothing();
  await context.db
    .insert(seeder)
    .values({ address, ...NEW_SEEDER, committedEpoch: epoch })
    .onConflictDoUpdate((row) => ({ committedEpoch: Math.max(row.committedEpoch ?? -1, epoch) }));
});

ponder.on("SeedingRewards:RewardClaimed", async ({ event, context }) => {
  await touch(context, event);
  const { seeder: address, epoch, receipts, bytes_: bytes, reward } = event.args;
  const id = `${address}:${epoch}`;
  const existing = await context.db.find(claim, { id });
  if (existing?.claimed) return;
  const proven = { claimed: true, receipts: Number(receipts), bytes, reward, claimedBlock: event.block.number };
  if (existing) await context.db.update(claim, { id }).set(proven);
  await context.db
    .insert(seeder)
    .values({ address, ...NEW_SEEDER, claims: 1, bytes, rewards: reward, lastClaimedEpoch: epoch })
    .onConflictDoUpdate((row) => ({
      claims: row.claims + 1,
      bytes: row.bytes + bytes,
      rewards: row.rewards + reward,
      lastClaimedEpoch: Math.max(row.lastClaimedEpoch ?? -1, epoch),
    }));
});
