/**
 * The IndexedDB receipt store (p2p/browser/idb-receipts.ts) on a page of its own, for the Chromium test: it
 * stores batches signed for real, grows one, reads them back after a reload, marks an epoch claimed, and
 * offers batches that must be refused.
 */
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type ReceiptDomain, type SignedReceiptBatch, signReceiptBatch } from "../../../core/receipt.ts";
import { IdbReceiptStore } from "../../../p2p/browser/idb-receipts.ts";

const NAME = "seedcraft-receipts-test";
const domain: ReceiptDomain = { chainId: 31337, verifyingContract: `0x${"ab".repeat(20)}` };
const leechers = { a: privateKeyToAccount(`0x${"11".repeat(32)}`), b: privateKeyToAccount(`0x${"22".repeat(32)}`) };
const seeder = privateKeyToAccount(`0x${"33".repeat(32)}`).address;
const content = (n: number): Hex => keccak256(toHex(`chunk ${n}`));

/** Leecher `who`'s batch of `count` receipts in `epoch` (nonces 0..count-1), `bytes` each. */
function batchOf(who: keyof typeof leechers, epoch: number, count: number, bytes = 65_536n) {
  const key = leechers[who];
  return signReceiptBatch(
    {
      seeder,
      leecher: key.address,
      epoch,
      receipts: Array.from({ length: count }, (_, i) => ({ contentHash: content(i), bytes, nonce: BigInt(i) })),
    },
    key,
    domain,
  );
}

/** What crosses to the test: bigints as strings. */
const plain = (batch: SignedReceiptBatch) => ({
  leecher: batch.leecher,
  epoch: batch.epoch,
  receipts: batch.receipts.map((r) => `${r.contentHash.slice(0, 10)}:${r.bytes}:${r.nonce}`),
});

async function codeOf(attempt: Promise<unknown>): Promise<string | undefined> {
  try {
    await attempt;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function summary(store: IdbReceiptStore) {
  const { batches, receipts, bytes, leechers: count } = store.stats;
  return {
    batches: store.batches().map(plain),
    epochs: store.epochs(),
    claimed: store.epochs().filter((epoch) => store.claimed(epoch)),
    stats: { batches, receipts, bytes: `${bytes}`, leechers: count },
  };
}

const harness = {
  /** Stores a's batch in epoch 3 (2 receipts), b's (1), a's in epoch 4 (1); grows a's to 3; sends it again. */
  async fill() {
    const store = await IdbReceiptStore.open(NAME);
    let notified = 0;
    store.subscribe(() => notified++);
    const puts = [];
    puts.push(await store.put(await batchOf("a", 3, 2)));
    puts.push(await store.put(await batchOf("b", 3, 1)));
    puts.push(await store.put(await batchOf("a", 4, 1, 1000n)));
    puts.push(await store.put(await batchOf("a", 3, 3)));
    puts.push(await store.put(await batchOf("a", 3, 3)));
    const result = { puts, notified, ...(await summary(store)) };
    await store.close();
    return result;
  },
  async read() {
    const store = await IdbReceiptStore.open(NAME);
    const result = await summary(store);
    await store.close();
    return result;
  },
  async markClaimed(epoch: number) {
    const store = await IdbReceiptStore.open(NAME);
    await store.markClaimed(epoch);
    await store.markClaimed(epoch);
    const result = await summary(store);
    await store.close();
    return result;
  },
  /** Batches that must be refused, each leaving the store as it was. */
  async putBad() {
    const store = await IdbReceiptStore.open(NAME);
    const grown = await batchOf("a", 3, 3);
    const changed = { ...grown, receipts: grown.receipts.map((r, i) => (i === 1 ? { ...r, bytes: 7n } : r)) };
    const codes = {
      shorter: await codeOf(store.put(await batchOf("a", 3, 2))),
      changed: await codeOf(store.put(await signReceiptBatch(changed, leechers.a, domain))),
      otherSeeder: await codeOf(
        store.put({ ...(await batchOf("a", 3, 4)), seeder: privateKeyToAccount(`0x${"44".repeat(32)}`).address }),
      ),
      notABatch: await codeOf(store.put({} as SignedReceiptBatch)),
      numberBytes: await codeOf(
        store.put({ ...grown, receipts: grown.receipts.map((r) => ({ ...r, bytes: 1 as unknown as bigint })) }),
      ),
      empty: await codeOf(store.put({ ...grown, receipts: [] })),
    };
    const result = { codes, ...(await summary(store)) };
    await store.close();
    const closed = await codeOf(Promise.resolve().then(() => store.batches()));
    return { ...result, closed };
  },
};

(window as unknown as { seedcraftReceipts: typeof harness }).seedcraftReceipts = harness;
document.body.dataset.ready = "1";
