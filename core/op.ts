/**
 * Block ops: `{chunk, index, block, hlc, author}`, signed by the author's session key as EIP-712 typed
 * data that the contracts can check with `ecrecover`. `author` is the wallet; `signer` must be a session
 * key that wallet authorized (checked by the rules, not here).
 */
import {
  type Address,
  compactSignatureToSignature,
  type Hex,
  hashTypedData,
  type LocalAccount,
  parseCompactSignature,
  recoverAddress,
  serializeCompactSignature,
  serializeSignature,
  signatureToCompactSignature,
} from "viem";
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

export type OpDomain = { chainId: number; verifyingContract: Address };

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

export function opDomain({ chainId, verifyingContract }: OpDomain) {
  return { name: "Seedcraft", version: "1", chainId, verifyingContract } as const;
}

export function validateOp(op: BlockOp): void {
  if (typeof op.chunk !== "bigint" || op.chunk < 0n || op.chunk > MAX_CHUNK_ID)
    throw new InvalidOpError("OP_INVALID", `chunk id ${String(op.chunk)} is out of range`);
  if (!Number.isInteger(op.index) || op.index < 0 || op.index > 32767)
    throw new InvalidOpError("OP_INVALID", `block index ${op.index} is out of range`);
  if (!Number.isInteger(op.block) || op.block < 0 || op.block > 0xffff)
    throw new InvalidOpError("OP_INVALID", `block id ${op.block} is not a uint16`);
  if (!isValidHlc(op.hlc)) throw new InvalidOpError("OP_INVALID", `bad clock stamp ${JSON.stringify(op.hlc)}`);
  if (!/^0x[0-9a-fA-F]{40}$/.test(op.author)) throw new InvalidOpError("OP_INVALID", `bad author ${op.author}`);
}

/** The EIP-712 digest of an op: what the session key signs and what `ecrecover` checks on chain. */
export function opDigest(op: BlockOp, domain: OpDomain): Hex {
  return hashTypedData({
    domain: opDomain(domain),
    types: OP_TYPES,
    primaryType: "BlockOp",
    message: {
      chunk: op.chunk,
      index: op.index,
      block: op.block,
      wallMs: op.hlc.wallMs,
      logical: op.hlc.logical,
      author: op.author,
    },
  });
}

/** Signs an op with a session key. */
export async function signOp(op: BlockOp, sessionKey: LocalAccount, domain: OpDomain): Promise<SignedOp> {
  validateOp(op);
  if (!sessionKey.sign) throw new InvalidOpError("OP_INVALID", "the session key cannot sign digests");
  const signature = await sessionKey.sign({ hash: opDigest(op, domain) });
  return { ...op, signature: serializeCompactSignature(signatureToCompactSignature(parseSignatureHex(signature))) };
}

function parseSignatureHex(signature: Hex) {
  const r = `0x${signature.slice(2, 66)}` as Hex;
  const s = `0x${signature.slice(66, 130)}` as Hex;
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return { r, s, yParity: v >= 27 ? v - 27 : v };
}

/** The session key that signed `op`; throws InvalidOpError if the op or signature is malformed. */
export async function recoverOpSigner(op: SignedOp, domain: OpDomain): Promise<Address> {
  validateOp(op);
  if (!/^0x[0-9a-fA-F]{128}$/.test(op.signature))
    throw new InvalidOpError("OP_BAD_SIGNATURE", "expected a 64-byte compact signature");
  try {
    const signature = serializeSignature(compactSignatureToSignature(parseCompactSignature(op.signature)));
    return await recoverAddress({ hash: opDigest(op, domain), signature });
  } catch (error) {
    throw new InvalidOpError("OP_BAD_SIGNATURE", (error as Error).message.split("\n")[0] ?? "unrecoverable");
  }
}
