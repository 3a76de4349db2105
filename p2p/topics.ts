/** DHT names every peer computes alike, in Node and in browsers (isomorphic). */
import { sha1 } from "@noble/hashes/legacy.js";
import type { Address } from "viem";

/** A node's id (and its card's BEP44 target): sha1 of its ed25519 public key. */
export const nodeIdOfKey = (publicKey: Uint8Array): Uint8Array => sha1(publicKey);

/** The DHT topic of one region of one world (a deployment: chain id and ledger address). */
export function regionTopic(chainId: number, ledger: Address, region: { rx: number; rz: number }): Uint8Array {
  return sha1(
    new TextEncoder().encode(`seedcraft:region:${chainId}:${ledger.toLowerCase()}:${region.rx}:${region.rz}`),
  );
}
