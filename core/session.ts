/**
 * Session keys: a local secp256k1 key that a wallet authorizes once in SessionRegistry, after which the
 * ops, receipts and transactions it signs count as the wallet's. The key consents first (it signs
 * `SessionConsent(wallet, expiresAt)`), so nobody can enrol another player's address as its own key.
 */
import { type Address, type Hex, hashTypedData, type LocalAccount } from "viem";

export type SessionDomain = { chainId: number; verifyingContract: Address };

export const SESSION_CONSENT_TYPES = {
  SessionConsent: [
    { name: "wallet", type: "address" },
    { name: "expiresAt", type: "uint64" },
  ],
} as const;

export function sessionConsentDigest(wallet: Address, expiresAt: bigint, domain: SessionDomain): Hex {
  return hashTypedData({
    domain: { name: "Seedcraft Sessions", version: "1", ...domain },
    types: SESSION_CONSENT_TYPES,
    primaryType: "SessionConsent",
    message: { wallet, expiresAt },
  });
}

/** The session key's consent to serve `wallet` until `expiresAt` (a 65-byte signature, as the registry takes it). */
export async function signSessionConsent(
  sessionKey: LocalAccount,
  wallet: Address,
  expiresAt: bigint,
  domain: SessionDomain,
): Promise<Hex> {
  return await sessionKey.signTypedData({
    domain: { name: "Seedcraft Sessions", version: "1", ...domain },
    types: SESSION_CONSENT_TYPES,
    primaryType: "SessionConsent",
    message: { wallet, expiresAt },
  });
}
