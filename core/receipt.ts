/**
 * Seeding receipts: a leecher's EIP-712 statement that a seeder delivered `bytes` of the anchored
 * content `contentHash` in `epoch`. Seeders collect them and claim energy from SeedingRewards, which
 * checks the signature (the leecher's wallet or one of its session keys) under its own domain.
 */
import { type Address, type Hex, hashTypedData, type LocalAccount } from "viem";
import { SeedcraftError } from "./errors.ts";
import { recoverSigner, signDigest } from "./op.ts";

export type Receipt = {
  seeder: Address;
  leecher: Address;
  contentHash: Hex;
  bytes: bigint;
  epoch: number;
  nonce: bigint;
};

export type SignedReceipt = Receipt & { signature: Hex };

export type ReceiptDomain = { chainId: number; verifyingContract: Address };

export class InvalidReceiptError extends SeedcraftError {
  constructor(details: string) {
    super("RECEIPT_INVALID", "Not a valid seeding receipt.", details);
    this.name = "InvalidReceiptError";
  }
}

export const RECEIPT_TYPES = {
  Receipt: [
    { name: "seeder", type: "address" },
    { name: "leecher", type: "address" },
    { name: "contentHash", type: "bytes32" },
    { name: "bytes", type: "uint64" },
    { name: "epoch", type: "uint32" },
    { name: "nonce", type: "uint64" },
  ],
} as const;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const UINT64_MAX = 2n ** 64n - 1n;
/** A receipt covers at most one chunk snapshot (SeedingRewards.MAX_RECEIPT_BYTES). */
export const MAX_RECEIPT_BYTES = 65_536n;

export function validateReceipt(receipt: Receipt): void {
  if (!ADDRESS.test(receipt.seeder) || !ADDRESS.test(receipt.leecher))
    throw new InvalidReceiptError("seeder and leecher must be addresses");
  if (receipt.seeder.toLowerCase() === receipt.leecher.toLowerCase())
    throw new InvalidReceiptError("a seeder cannot sign receipts for itself");
  if (!/^0x[0-9a-fA-F]{64}$/.test(receipt.contentHash)) throw new InvalidReceiptError("contentHash must be 32 bytes");
  if (receipt.bytes <= 0n || receipt.bytes > MAX_RECEIPT_BYTES)
    throw new InvalidReceiptError(`bytes must be 1..${MAX_RECEIPT_BYTES} (one chunk snapshot at most)`);
  if (!Number.isInteger(receipt.epoch) || receipt.epoch < 0 || receipt.epoch > 0xffff_ffff)
    throw new InvalidReceiptError("epoch must be a uint32");
  if (receipt.nonce < 0n || receipt.nonce > UINT64_MAX) throw new InvalidReceiptError("nonce must be a uint64");
}

/** SeedingRewards' EIP-712 domain. */
function typedDomain(domain: ReceiptDomain) {
  return { name: "Seedcraft", version: "1", chainId: domain.chainId, verifyingContract: domain.verifyingContract };
}

export function receiptDigest(receipt: Receipt, domain: ReceiptDomain): Hex {
  return hashTypedData({
    domain: typedDomain(domain),
    types: RECEIPT_TYPES,
    primaryType: "Receipt",
    message: {
      seeder: receipt.seeder,
      leecher: receipt.leecher,
      contentHash: receipt.contentHash,
      bytes: receipt.bytes,
      epoch: receipt.epoch,
      nonce: receipt.nonce,
    },
  });
}

/** The leecher (or its session key) signs a receipt for what it received. */
export async function signReceipt(receipt: Receipt, key: LocalAccount, domain: ReceiptDomain): Promise<SignedReceipt> {
  validateReceipt(receipt);
  return { ...receipt, signature: await signDigest(receiptDigest(receipt, domain), key) };
}

/** Who signed a receipt; throws InvalidReceiptError or InvalidOpError (bad signature). */
export function recoverReceiptSigner(receipt: SignedReceipt, domain: ReceiptDomain): Address {
  validateReceipt(receipt);
  return recoverSigner(receiptDigest(receipt, domain), receipt.signature);
}

/**
 * A leecher signs its receipts to one seeder in one epoch as a batch, under one signature. It re-signs the
 * growing batch as downloads complete, so the seeder keeps one signature per leecher and epoch, and a claim
 * pays one `ecrecover` per leecher instead of one per receipt.
 */
export type ReceiptBatch = {
  seeder: Address;
  leecher: Address;
  epoch: number;
  receipts: { contentHash: Hex; bytes: bigint; nonce: bigint }[];
};

export type SignedReceiptBatch = ReceiptBatch & { signature: Hex };

export const RECEIPT_BATCH_TYPES = {
  ReceiptBatch: [{ name: "receipts", type: "Receipt[]" }],
  Receipt: RECEIPT_TYPES.Receipt,
} as const;

/** The most receipts one batch may hold (one leecher's downloads from one seeder in one epoch). */
export const MAX_BATCH_RECEIPTS = 4096;

/** Checks every receipt of a batch, and that nonces strictly increase (what SeedingRewards requires). */
export function validateReceiptBatch(batch: ReceiptBatch): void {
  if (!Array.isArray(batch.receipts) || batch.receipts.length === 0 || batch.receipts.length > MAX_BATCH_RECEIPTS)
    throw new InvalidReceiptError(`a batch holds 1..${MAX_BATCH_RECEIPTS} receipts`);
  let last = -1n;
  for (const item of batch.receipts) {
    validateReceipt({ ...item, seeder: batch.seeder, leecher: batch.leecher, epoch: batch.epoch });
    if (item.nonce <= last)
      throw new InvalidReceiptError(`nonces must strictly increase (${item.nonce} after ${last})`);
    last = item.nonce;
  }
}

export function receiptBatchDigest(batch: ReceiptBatch, domain: ReceiptDomain): Hex {
  return hashTypedData({
    domain: typedDomain(domain),
    types: RECEIPT_BATCH_TYPES,
    primaryType: "ReceiptBatch",
    message: {
      receipts: batch.receipts.map((item) => ({
        seeder: batch.seeder,
        leecher: batch.leecher,
        contentHash: item.contentHash,
        bytes: item.bytes,
        epoch: batch.epoch,
        nonce: item.nonce,
      })),
    },
  });
}

/** The leecher (or its session key) signs its batch of receipts to one seeder. */
export async function signReceiptBatch(
  batch: ReceiptBatch,
  key: LocalAccount,
  domain: ReceiptDomain,
): Promise<SignedReceiptBatch> {
  validateReceiptBatch(batch);
  return { ...batch, signature: await signDigest(receiptBatchDigest(batch, domain), key) };
}

/** Who signed a batch; throws InvalidReceiptError or InvalidOpError (bad signature). */
export function recoverReceiptBatchSigner(batch: SignedReceiptBatch, domain: ReceiptDomain): Address {
  validateReceiptBatch(batch);
  return recoverSigner(receiptBatchDigest(batch, domain), batch.signature);
}
