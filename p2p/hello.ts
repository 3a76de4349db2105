/**
 * The hello that opens every mesh channel. It names the peer (DHT key, wallet, session key) and proves
 * it: the session key signs the hello together with the channel's binding, the hash of both sides'
 * DTLS fingerprints. A hello copied from another connection carries another binding and fails, so a
 * peer cannot pass itself off as someone else. Whether the session key serves the wallet is the
 * ledger's to say (SessionRegistry, read through the indexer), not the hello's.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type Address, bytesToHex, concatHex, type Hex, hexToBytes, type LocalAccount } from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { recoverSigner, signDigest } from "../core/op.ts";
import type { HelloMessage } from "../core/wire.ts";

export class HelloError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("BAD_HELLO", message, details);
    this.name = "HelloError";
  }
}

const FINGERPRINT = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]{95})\s*$/m;

/** The DTLS certificate fingerprint an SDP announces, as lowercase hex. */
export function sdpFingerprint(sdp: string): string {
  const match = FINGERPRINT.exec(sdp);
  if (!match?.[1]) throw new HelloError("The session description has no sha-256 fingerprint.");
  return match[1].replaceAll(":", "").toLowerCase();
}

/** The binding of one WebRTC connection: the same on both sides, different on every other connection. */
export function channelBinding(localSdp: string, remoteSdp: string): Hex {
  const both = [sdpFingerprint(localSdp), sdpFingerprint(remoteSdp)].sort();
  return bytesToHex(keccak_256(new TextEncoder().encode(`seedcraft:channel:v1:${both.join(":")}`)));
}

function helloDigest(hello: Omit<HelloMessage, "type" | "proof">, binding: Hex): Hex {
  const name = bytesToHex(new TextEncoder().encode(hello.name));
  const fields = concatHex([
    bytesToHex(new TextEncoder().encode("seedcraft:hello:v1")),
    hello.wallet,
    hello.sessionKey,
    hello.peerId,
    `0x${hello.capabilities.toString(16).padStart(4, "0")}`,
    binding,
    name,
  ]);
  return bytesToHex(keccak_256(hexToBytes(fields)));
}

export type HelloIdentity = {
  wallet: Address;
  sessionKey: LocalAccount;
  /** The ed25519 DHT key, 32 bytes. */
  peerId: Hex;
  name: string;
  capabilities?: number;
};

export async function makeHello(identity: HelloIdentity, binding: Hex): Promise<HelloMessage> {
  const fields = {
    wallet: identity.wallet.toLowerCase() as Address,
    sessionKey: identity.sessionKey.address.toLowerCase() as Address,
    peerId: identity.peerId.toLowerCase() as Hex,
    capabilities: identity.capabilities ?? 0,
    name: identity.name,
  };
  const proof = await signDigest(helloDigest(fields, binding), identity.sessionKey);
  return { type: "hello", ...fields, proof };
}

/** Throws HelloError unless `hello` was signed by its session key for this channel (and this peer, if known). */
export function verifyHello(hello: HelloMessage, binding: Hex, expectedPeerId?: Hex): void {
  if (expectedPeerId && hello.peerId.toLowerCase() !== expectedPeerId.toLowerCase())
    throw new HelloError("The hello names another peer than the one dialled.", hello.peerId);
  let signer: Address;
  try {
    signer = recoverSigner(helloDigest(hello, binding), hello.proof);
  } catch (error) {
    throw new HelloError("The hello's proof does not verify.", (error as Error).message);
  }
  if (signer.toLowerCase() !== hello.sessionKey.toLowerCase())
    throw new HelloError("The hello is not signed by its session key for this channel.", signer);
}
