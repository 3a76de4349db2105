import { ponder } from "ponder:registry";
import { anchor, chunk } from "ponder:schema";

// Idempotent: Ponder replays recent blocks on restart, so every write is an upsert keyed by what it records.
ponder.on("ChunkLedger:ChunkAnchored", async ({ event, context }) => {
  const { chunkId, version, hash, infoHash, author } = event.args;
  const head = {
    version: Number(version),
    hash,
    infoHash,
    author,
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
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
      logIndex: event.log.logIndex,
    })
    .onConflictDoNothing();
});
