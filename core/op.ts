/**
 * Block ops: `{chunk, index, block, hlc, author}`, signed by the author's session key as EIP-712 typed
 * data that the contracts can check with `ecrecover`. `author` is the wallet; the signer must be a
 * session key that wallet authorized (the rules check that, not this module).
 *
 * An op travels signed alone (`SignedOp`), or in a batch under one signature (`SignedOpBatch`, the
 * EIP-712 type `BlockOpBatch(BlockOp[] ops)`): secp256k1 recovery costs about a millisecond in
 * JavaScript, so batching is what makes signature checks keep up with a busy area.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type Address, bytesToHex, type Hex, hashDomain, hexToBytes, type LocalAccount } from "viem";
import { MAX_CHUNK_ID } from "./chunk.ts";
import { SeedcraftError } from "./errors.ts";
import { type Hlc, isValidHlc } from "./hlc.ts";

export type BlockOp = {
  chunk: bigint;
  /** Block index inside the chunk, 0..32767. */
  index: number;
  /** New block id. */
  block: number;
  hlc: Hlc;
  /** The wallet the op counts for. */
  author: Address;
};

/** An op with its EIP-2098 compact signature (64 bytes: r ‖ yParity·s). */
export type SignedOp = BlockOp & { signature: Hex };

/** Ops signed together: one compact signature over `BlockOpBatch(ops)`. */
export type SignedOpBatch = { ops: BlockOp[]; signature: Hex };

export type OpDomain = { chainId: number; verifyingContract: Address };

export const MAX_BATCH_OPS = 256;

export class InvalidOpError extends SeedcraftError {
  constructor(code: "OP_INVALID" | "OP_BAD_SIGNATURE", details: string) {
    super(code, code === "OP_INVALID" ? "Not a valid block op." : "The op's signature does not verify.", details);
    this.name = "InvalidOpError";
  }
}

export const OP_TYPES = {
  BlockOp: [
    { name: "chunk", type: "uint96" },
    { name: "index", type: "uint16" },
    { name: "block", type: "uint16" },
    { name: "wallMs", type: "uint48" },
    { name: "logical", type: "uint16" },
    { name: "author", type: "address" },
  ],
} as const;

export const OP_BATCH_TYPES = { ...OP_TYPES, BlockOpBatch: [{ name: "ops", type: "BlockOp[]" }] } as const;

const encoder = new TextEncoder();
const OP_TYPEHASH = keccak_256(
  encoder.encode("BlockOp(uint96 chunk,uint16 index,uint16 block,uint48 wallMs,uint16 logical,address author)"),
);
const BATCH_TYPEHASH = keccak_256(
  encoder.encode(
    "BlockOpBatch(BlockOp[] ops)BlockOp(uint96 chunk,uint16 index,uint16 block,uint48 wallMs,uint16 logical,address author)",
  ),
);

export function opDomain({ chainId, verifyingContract }: OpDomain) {
  return { name: "Seedcraft", version: "1", chainId, verifyingContract } as const;
}

const domainSeparators = new Map<string, Uint8Array>();
function domainSeparator(domain: OpDomain): Uint8Array {
  const key = `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`;
  let separator = domainSeparators.get(key);
  if (!separator) {
    separator = hexToBytes(
      hashDomain({
        domain: { ...opDomain(domain), chainId: BigInt(domain.chainId) },
        types: {
          EIP712Domain: [
            { name: "name", type: "string" },
            { name: "version", type: "string" },
            { name: "chainId", type: "uint256" },
            { name: "verifyingContract", type: "address" },
          ],
        },
      }),
    );
    domainSeparators.set(key, separator);
  }
  return separator;
}

export function validateOp(op: BlockOp): void {
  if (typeof op.chunk !== "bigint" || op.chunk < 0n || op.chunk > MAX_CHUNK_ID)
    throw new InvalidOpError("OP_INVALID", `chunk id ${String(op.chunk)} is out of range`);
  if (!Number.isInteger(op.index) || op.index < 0 || op.index > 32767)
    throw new InvalidOpError("OP_INVALID", `block index ${op.index} is out of range`);
  if (!Number.isInteger(op.block) || op.block < 0 || op.block > 0xffff)
    throw new InvalidOpError("OP_INVALID", `block id ${op.block} is not a uint16`);
  if (!isValidHlc(op.hlc)) throw new InvalidOpError("OP_INVALID", `bad clock stamp ${JSON.stringify(op.hlc)}`);
  if (typeof op.author !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(op.author))
    throw new InvalidOpError("OP_INVALID", `bad author ${String(op.author)}`);
}

/** Writes `value` big-endian into the 32-byte word ending at `end`. */
function putUint(buffer: Uint8Array, end: number, value: number | bigint): void {
  let rest = BigInt(value);
  for (let i = end - 1; rest > 0n; i--) {
    buffer[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

/** hashStruct(BlockOp), encoded by hand: 7 words, no allocation beyond one buffer. */
export function opStructHash(op: BlockOp): Uint8Array {
  const words = new Uint8Array(7 * 32);
  words.set(OP_TYPEHASH, 0);
  putUint(words, 64, op.chunk);
  putUint(words, 96, op.index);
  putUint(words, 128, op.block);
  putUint(words, 160, op.hlc.wallMs);
  putUint(words, 192, op.hlc.logical);
  words.set(hexToBytes(op.author), 204);
  return keccak_256(words);
}

function typedDigest(domain: OpDomain, structHash: Uint8Array): Uint8Array {
  const input = new Uint8Array(66);
  input[0] = 0x19;
  input[1] = 0x01;
  input.set(domainSeparator(domain), 2);
  input.set(structHash, 34);
  return keccak_256(input);
}

/** The EIP-712 digest of one op: what its session key signs and what `ecrecover` checks on chain. */
export function opDigest(op: BlockOp, domain: OpDomain): Hex {
  return bytesToHex(typedDigest(domain, opStructHash(op)));
}

/** The EIP-712 digest of `BlockOpBatch(ops)`. */
export function batchDigest(ops: readonly BlockOp[], domain: OpDomain): Hex {
  const hashes = new Uint8Array(ops.length * 32);
  for (let i = 0; i < ops.length; i++) hashes.set(opStructHash(ops[i] as BlockOp), i * 32);
  const struct = new Uint8Array(64);
  struct.set(BATCH_TYPEHASH, 0);
  struct.set(keccak_256(hashes), 32);
  return bytesToHex(typedDigest(domain, keccak_256(struct)));
}

/** Signs a digest with a session key; returns the 64-byte EIP-2098 compact signature. */
export async function signDigest(digest: Hex, sessionKey: LocalAccount): Promise<Hex> {
  if (!sessionKey.sign) throw new InvalidOpError("OP_INVALID", "the session key cannot sign digests");
  const signature = hexToBytes(await sessionKey.sign({ hash: digest }));
  // 65-byte r ‖ s ‖ v → EIP-2098 compact: the recovery bit (yParity) goes into s's top bit.
  const v = signature[64] as number;
  const yParity = v >= 27 ? v - 27 : v;
  const compact = signature.slice(0, 64);
  if (yParity === 1) compact[32] = (compact[32] as number) | 0x80;
  return bytesToHex(compact);
}

/**
 * Recovers the uncompressed (65-byte) public key from `r ‖ s` (64 bytes, low s), the recovery id and a
 * 32-byte digest; throws if there is none. @noble/curves by default (everywhere); Node peers may plug in
 * libsecp256k1, about twenty times faster (p2p/node/native-secp256k1.ts).
 */
export type PublicKeyRecovery = (signature: Uint8Array, recoveryId: number, digest: Uint8Array) => Uint8Array;

const nobleRecovery: PublicKeyRecovery = (signature, recoveryId, digest) => {
  const recovered = new Uint8Array(65);
  recovered[0] = recoveryId;
  recovered.set(signature, 1);
  const publicKey = secp256k1.recoverPublicKey(recovered, digest, { prehash: false });
  return secp256k1.Point.fromBytes(publicKey).toBytes(false);
};

let recovery: PublicKeyRecovery = nobleRecovery;

/** Replaces the public-key recovery (every backend must give the same answers: see the tests). */
export function setPublicKeyRecovery(implementation: PublicKeyRecovery | undefined): void {
  recovery = implementation ?? nobleRecovery;
}

const HALF_ORDER = secp256k1.Point.CURVE().n >> 1n;

/** The address that produced a compact signature over `digest`; throws InvalidOpError if none did. */
export function recoverSigner(digest: Hex, signature: Hex): Address {
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(signature))
    throw new InvalidOpError("OP_BAD_SIGNATURE", "expected a 64-byte compact signature");
  const compact = hexToBytes(signature);
  const recoveryId = (compact[32] as number) >> 7;
  compact[32] = (compact[32] as number) & 0x7f;
  // Low s only, whatever the backend: a malleable twin of a signature must not count as another op.
  if (BigInt(bytesToHex(compact.subarray(32))) > HALF_ORDER)
    throw new InvalidOpError("OP_BAD_SIGNATURE", "s is in the upper half of the curve order");
  try {
    const uncompressed = recovery(compact, recoveryId, hexToBytes(digest));
    return toChecksum(keccak_256(uncompressed.subarray(1)).subarray(12));
  } catch (error) {
    throw new InvalidOpError("OP_BAD_SIGNATURE", (error as Error).message.split("\n")[0] ?? "unrecoverable");
  }
}

function toChecksum(address: Uint8Array): Address {
  const hex = bytesToHex(address).slice(2);
  const hash = keccak_256(encoder.encode(hex));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = ((hash[i >> 1] as number) >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? (hex[i] as string).toUpperCase() : hex[i];
  }
  return out as Address;
}

/** Signs one op with a session key. */
export async function signOp(op: BlockOp, sessionKey: LocalAccount, domain: OpDomain): Promise<SignedOp> {
  validateOp(op);
  return { ...op, signature: await signDigest(opDigest(op, domain), sessionKey) };
}

/** Signs ops together under one signature. */
export async function signOpBatch(
  ops: readonly BlockOp[],
  sessionKey: LocalAccount,
  domain: OpDomain,
): Promise<SignedOpBatch> {
  if (ops.length === 0 || ops.length > MAX_BATCH_OPS)
    throw new InvalidOpError("OP_INVALID", `a batch holds 1..${MAX_BATCH_OPS} ops, not ${ops.length}`);
  for (const op of ops) validateOp(op);
  return { ops: [...ops], signature: await signDigest(batchDigest(ops, domain), sessionKey) };
}

/** The session key that signed `op`; throws InvalidOpError if the op or signature is malformed. */
export function recoverOpSigner(op: SignedOp, domain: OpDomain): Address {
  validateOp(op);
  return recoverSigner(opDigest(op, domain), op.signature);
}

/** The session key that signed a batch (one recovery for all its ops). */
export function recoverBatchSigner(batch: SignedOpBatch, domain: OpDomain): Address {
  if (batch.ops.length === 0 || batch.ops.length > MAX_BATCH_OPS)
    throw new InvalidOpError("OP_INVALID", `a batch holds 1..${MAX_BATCH_OPS} ops, not ${batch.ops.length}`);
  for (const op of batch.ops) validateOp(op);
  return recoverSigner(batchDigest(batch.ops, domain), batch.signature);
}
