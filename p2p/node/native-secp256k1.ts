/**
 * Node-only: public-key recovery by libsecp256k1 (the `secp256k1` package's prebuilt N-API binding),
 * about 75 µs a signature against about 1.5 ms for the pure-JavaScript one. Every op a peer receives
 * costs one recovery, so this is what lets a Node peer keep up with a busy area. If the binding cannot
 * load (another platform, no prebuild), peers keep the portable implementation.
 */
import { createRequire } from "node:module";
import { type PublicKeyRecovery, setPublicKeyRecovery } from "../../core/op.ts";

type Native = {
  ecdsaRecover(signature: Uint8Array, recoveryId: number, digest: Uint8Array, compressed: boolean): Uint8Array;
};

let loaded: PublicKeyRecovery | null | undefined;

/** libsecp256k1's recovery, or undefined when the binding does not load here. */
export function nativeRecovery(): PublicKeyRecovery | undefined {
  if (loaded === undefined) {
    try {
      // bindings.js is the native binding alone: the package's index falls back to JavaScript silently.
      const native = createRequire(import.meta.url)("secp256k1/bindings.js") as Native;
      loaded = (signature, recoveryId, digest) => native.ecdsaRecover(signature, recoveryId, digest, false);
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/** Plugs libsecp256k1 into core/op.ts's recovery; returns whether it could. */
export function installNativeSecp256k1(): boolean {
  const recovery = nativeRecovery();
  if (recovery) setPublicKeyRecovery(recovery);
  return recovery !== undefined;
}
