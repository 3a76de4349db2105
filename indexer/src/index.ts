import { ponder } from "ponder:registry";
import { anchor, anchorBatch, chunk } from "ponder:schema";

// Idempotent: Ponder replays recent blocks on restart, so every write is an upsert keyed by what it records.
ponder.on("ChunkLedger:ChunkAnchored", async ({ event, context }) => {
  const { chunkId, version, hash, infoHash, author, watermark } = event.args;
  const head = {
    version,
    hash,
    infoHash,
    author,
    watermark,
    updatedBlock: event.block.number,
    updatedTx: event.transaction.hash,
  };
  await context.db
    .insert(chunk)
    .values({ id: chunkId, ...head })
    .onConflictDoUpdate((row) => (row.version <= head.version ? head : {}));
  await context.db
    .insert(anchor)
    .values({
      id: `${chunkId}:${version}`,
      chunkId,
      version: head.version,
      hash,
      infoHash,
      author,
      watermark,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
      logIndex: event.log.logIndex,
    })
    .onConflictDoNothing();
});

ponder.on("ChunkLedger:BatchAnchored", async ({ event, context }) => {
  const { root, author, size } = event.args;
  await context.db
    .insert(anchorBatch)
    .values({ root, author, size: Number(size), blockNumber: event.block.number, txHash: event.transaction.hash })
    .onConflictDoNothing();
});
