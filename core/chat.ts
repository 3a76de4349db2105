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

/** Whether the line's signature is its session key's (whether that key serves the wallet is the ledger's to say). */
export function chatSignedBySessionKey(line: ChatLine): boolean {
  try {
    return recoverSigner(chatDigest(line), line.signature).toLowerCase() === line.sessionKey.toLowerCase();
  } catch {
    return false;
  }
}
