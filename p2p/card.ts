/**
 * Peer cards: what a peer publishes in the DHT as a BEP44 mutable item under its ed25519 key. A card
 * names the wallet and the session key the peer plays with, and carries the session key's signature
 * over the ed25519 key and the wallet, so the DHT identity is bound to the session key (which the
 * wallet authorized on chain). Isomorphic: no I/O.
 */
import bencode from "bencode";
import {
  type Address,
  bytesToHex,
  concatBytes,
  getAddress,
  type Hex,
  hexToBytes,
  keccak256,
  type LocalAccount,
} from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { recoverSigner, signDigest } from "../core/op.ts";

export const CARD_VERSION = 1;
/** BEP44 values must stay under 1000 bytes. */
export const MAX_CARD_BYTES = 999;

export type PeerCard = {
  /** The peer's ed25519 DHT public key (32 bytes). */
  dhtKey: Uint8Array;
  wallet: Address;
  sessionKey: Address;
  /** The session key's compact signature over `cardDigest(dhtKey, wallet)`. */
  binding: Hex;
};

export class InvalidCardError extends SeedcraftError {
  constructor(details: string) {
    super("CARD_INVALID", "Not a valid peer card.", details);
    this.name = "InvalidCardError";
  }
}

const DOMAIN = new TextEncoder().encode("seedcraft:peer-card:v1");

/** What the session key signs: the DHT key it vouches for and the wallet it plays for. */
export function cardDigest(dhtKey: Uint8Array, wallet: Address): Hex {
  return keccak256(concatBytes([DOMAIN, dhtKey, hexToBytes(wallet)]));
}

/** Makes the card for a DHT key; the session key signs the binding. */
export async function makeCard(dhtKey: Uint8Array, wallet: Address, sessionKey: LocalAccount): Promise<PeerCard> {
  if (dhtKey.length !== 32) throw new InvalidCardError("the DHT key must be 32 bytes");
  const binding = await signDigest(cardDigest(dhtKey, wallet), sessionKey);
  return { dhtKey, wallet: getAddress(wallet), sessionKey: sessionKey.address, binding };
}

/** The BEP44 value of a card (bencoded, under 1000 bytes). */
export function encodeCard(card: PeerCard): Uint8Array {
  const value = bencode.encode({
    v: CARD_VERSION,
    w: hexToBytes(card.wallet),
    s: hexToBytes(card.sessionKey),
    b: hexToBytes(card.binding),
  });
  if (value.length > MAX_CARD_BYTES)
    throw new InvalidCardError(`a card is ${value.length} bytes, the DHT takes ${MAX_CARD_BYTES}`);
  return value;
}

/**
 * Reads a card fetched from the DHT under `dhtKey` (the DHT has checked the ed25519 signature) and
 * checks that its session key really signed the binding. Throws InvalidCardError on anything else.
 */
export function decodeCard(dhtKey: Uint8Array, value: Uint8Array): PeerCard {
  if (value.length > MAX_CARD_BYTES) throw new InvalidCardError("too large");
  let decoded: unknown;
  try {
    decoded = bencode.decode(value);
  } catch {
    throw new InvalidCardError("not bencoded");
  }
  if (typeof decoded !== "object" || decoded === null) throw new InvalidCardError("not a dictionary");
  const { v, w, s, b } = decoded as Record<string, unknown>;
  const bytes = (field: unknown, length: number, name: string) => {
    if (!(field instanceof Uint8Array) || field.length !== length)
      throw new InvalidCardError(`${name} must be ${length} bytes`);
    return field;
  };
  if (v !== CARD_VERSION) throw new InvalidCardError(`unknown card version ${String(v)}`);
  const wallet = getAddress(bytesToHex(bytes(w, 20, "wallet")));
  const sessionKey = getAddress(bytesToHex(bytes(s, 20, "session key")));
  const binding = bytesToHex(bytes(b, 64, "binding"));
  let signer: Address;
  try {
    signer = recoverSigner(cardDigest(dhtKey, wallet), binding);
  } catch {
    throw new InvalidCardError("the binding is not a signature");
  }
  if (signer !== sessionKey)
    throw new InvalidCardError(`the binding is signed by ${signer}, not the session key ${sessionKey}`);
  return { dhtKey, wallet, sessionKey, binding };
}
