/** Why an anchor failed, with a short reason the edit list shows. Isomorphic: the app and `seedcraft peer` anchor alike. */
import { BaseError, ContractFunctionRevertedError, type Hex, UserRejectedRequestError } from "viem";
import { SeedcraftError } from "../core/errors.ts";

export type AnchorErrorCode =
  | "STALE_CHUNK_VERSION"
  | "REVERTED"
  | "REJECTED"
  | "RPC"
  | "NOT_CONFIRMED"
  | "HASH_MISMATCH";

export class AnchorError extends SeedcraftError {
  declare readonly code: AnchorErrorCode;
  /** One line for the HUD. */
  readonly reason: string;
  /** For STALE_CHUNK_VERSION: the chunk another anchor moved on, and where the ledger is now. */
  readonly stale: { chunkId: bigint; expected: number; actual: number } | undefined;

  constructor(
    code: AnchorErrorCode,
    reason: string,
    details?: string,
    stale?: { chunkId: bigint; expected: number; actual: number },
  ) {
    super(code, `Anchoring failed: ${reason}`, details);
    this.name = "AnchorError";
    this.reason = reason;
    this.stale = stale;
  }
}

/** Turns what viem or the wallet threw into an AnchorError; custom errors of the ledger are decoded by name. */
export function toAnchorError(error: unknown): AnchorError {
  if (error instanceof AnchorError) return error;
  if (error instanceof BaseError) {
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const name = revert.data?.errorName;
      const args = revert.data?.args ?? [];
      if (name === "StaleChunkVersion") {
        const [chunkId, expected, actual] = args;
        return new AnchorError(
          "STALE_CHUNK_VERSION",
          `StaleChunkVersion: built on v${String(expected)}, ledger is at v${String(actual)}`,
          revert.shortMessage,
          typeof chunkId === "bigint" ? { chunkId, expected: Number(expected), actual: Number(actual) } : undefined,
        );
      }
      return new AnchorError("REVERTED", name ? `reverted: ${name}` : revert.shortMessage, error.message);
    }
    if (error.walk((e) => e instanceof UserRejectedRequestError))
      return new AnchorError("REJECTED", "rejected in the wallet", error.message);
    return new AnchorError("RPC", error.shortMessage, error.message);
  }
  return new AnchorError("RPC", error instanceof Error ? error.message : String(error));
}

export function isHex32(value: unknown): value is Hex {
  return typeof value === "string" && /^0x[0-9a-fA-F]{64}$/.test(value);
}
