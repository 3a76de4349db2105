/**
 * Node-only: secp256k1 by libsecp256k1 (the `secp256k1` package's prebuilt N-API binding).
 * - Recovery: about 75 µs a signature against about 1.5 ms for the pure-JavaScript one. Every op a
 *   peer receives costs one recovery, so this is what lets a Node peer keep up with a busy area.
 * - Signing: a session key whose `sign` (raw digests, what ops use) runs in libsecp256k1; the same
 *   RFC 6979 nonces and low s as @noble/curves, so the signatures are byte for byte the same, and the
 *   first one does not wait a few hundred milliseconds for JavaScript to build its tables.
 * If the binding cannot load (another platform, no prebuild), peers keep the portable implementation.
 */
import { createRequire } from "node:module";
import { bytesToHex, type Hex, hexToBytes, type LocalAccount } from "viem";
import { privateKeyToAccount, toAccount } from "viem/accounts";
import { type PublicKeyRecovery, setPublicKeyRecovery } from "../../core/op.ts";

type Native = {
  ecdsaRecover(signature: Uint8Array, recoveryId: number, digest: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(digest: Uint8Array, secretKey: Uint8Array): { signature: Uint8Array; recid: number };
};

let native: Native | null | undefined;

function binding(): Native | undefined {
  if (native === undefined) {
    try {
      // bindings.js is the native binding alone: the package's index falls back to JavaScript silently.
      native = createRequire(import.meta.url)("secp256k1/bindings.js") as Native;
    } catch {
      native = null;
    }
  }
  return native ?? undefined;
}

/** libsecp256k1's recovery, or undefined when the binding does not load here. */
export function nativeRecovery(): PublicKeyRecovery | undefined {
  const lib = binding();
  return lib && ((signature, recoveryId, digest) => lib.ecdsaRecover(signature, recoveryId, digest, false));
}

/**
 * viem's account for `privateKey`, with digests signed by libsecp256k1 (messages, transactions and
 * typed data stay with viem); viem's own account when the binding does not load.
 */
export function nativeSigningAccount(privateKey: Hex): LocalAccount {
  const account = privateKeyToAccount(privateKey);
  const lib = binding();
  if (!lib) return account;
  const secretKey = hexToBytes(privateKey);
  return toAccount({
    address: account.address,
    signMessage: account.signMessage,
    signTransaction: account.signTransaction,
    signTypedData: account.signTypedData,
    sign: async ({ hash }) => {
      const { signature, recid } = lib.ecdsaSign(hexToBytes(hash), secretKey);
      const full = new Uint8Array(65);
      full.set(signature);
      full[64] = 27 + recid;
      return bytesToHex(full);
    },
  });
}

/** Plugs libsecp256k1 into core/op.ts's recovery; returns whether it could. */
export function installNativeSecp256k1(): boolean {
  const recovery = nativeRecovery();
  if (recovery) setPublicKeyRecovery(recovery);
  return recovery !== undefined;
}
