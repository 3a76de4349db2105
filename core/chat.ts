/**
 * Signed chat lines: the session key signs each line with its author's wallet and name, so a neighbour can
 * replay the last lines to a newcomer (as history) and the newcomer can still tell who said what.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type Address, bytesToHex, concatHex, type Hex, hexToBytes, type LocalAccount, numberToHex } from "viem";
import { recoverSigner, signDigest } from "./op.ts";

/** A chat line as its author signed it. */
export type ChatLine = {
  wallet: Address;
  sessionKey: Address;
  name: string;
  seq: number;
  /** When the author sent it (ms since the epoch, its clock). */
  atMs: number;
  text: string;
  signature: Hex;
};

/** Lines a newcomer is sent by each neighbour when it links. */
export const CHAT_HISTORY_LINES = 20;
/** Lines from further back than this are old news: not kept, not shown. */
export const CHAT_HISTORY_MAX_AGE_MS = 60 * 60_000;
/** A line stamped this far in the future (clocks drift a little, not this much) is refused. */
export const CHAT_MAX_AHEAD_MS = 60_000;

const encoder = new TextEncoder();

export function chatDigest(line: Omit<ChatLine, "sessionKey" | "signature">): Hex {
  const fields = concatHex([
    bytesToHex(encoder.encode("seedcraft:chat:v1")),
    line.wallet,
    numberToHex(line.seq, { size: 4 }),
    numberToHex(line.atMs, { size: 6 }),
    numberToHex(encoder.encode(line.name).length, { size: 1 }),
    bytesToHex(encoder.encode(line.name)),
    bytesToHex(encoder.encode(line.text)),
  ]);
  return bytesToHex(keccak_256(hexToBytes(fields)));
}

export async function signChatLine(
  line: Omit<ChatLine, "sessionKey" | "signature">,
  sessionKey: LocalAccount,
): Promise<ChatLine> {
  const signature = await signDigest(chatDigest(line), sessionKey);
  return { ...line, sessionKey: sessionKey.address.toLowerCase() as Address, signature };
}

/** Where a line's stamp falls against our clock: only "fresh" lines are kept and shown. */
export function chatLineAge(atMs: number, nowMs: number): "fresh" | "ahead" | "stale" {
  if (atMs > nowMs + CHAT_MAX_AHEAD_MS) return "ahead";
  if (atMs < nowMs - CHAT_HISTORY_MAX_AGE_MS) return "stale";
  return "fresh";
}

/** Oldest first; lines of the same millisecond by author, then by the author's own order, so every peer agrees. */
export function compareChatLines(a: ChatLine, b: ChatLine): number {
  if (a.atMs !== b.atMs) return a.atMs - b.atMs;
  const wa = a.wallet.toLowerCase();
  const wb = b.wallet.toLowerCase();
  if (wa !== wb) return wa < wb ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * A line's identity for "already checked": everything its signature covers plus the key it names, hashed.
 * Keyed by the signature alone, a forged copy (a real signature over other words) would shadow the real line.
 */
export function chatLineId(line: ChatLine): string {
  return bytesToHex(keccak_256(hexToBytes(concatHex([chatDigest(line), line.sessionKey, line.signature]))));
}

/** Whether the line's signature is its session key's (whether that key serves the wallet is the ledger's to say). */
export function chatSignedBySessionKey(line: ChatLine): boolean {
  try {
    return recoverSigner(chatDigest(line), line.signature).toLowerCase() === line.sessionKey.toLowerCase();
  } catch {
    return false;
  }
}
