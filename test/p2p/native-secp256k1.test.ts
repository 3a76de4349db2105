import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { bytesToHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  InvalidOpError,
  type PublicKeyRecovery,
  recoverSigner,
  setPublicKeyRecovery,
  signDigest,
} from "../../core/op.ts";
import { nativeRecovery, nativeSigningAccount } from "../../p2p/node/native-secp256k1.ts";

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });

/** The signer, or "refused": what every backend must agree on. */
function outcome(backend: PublicKeyRecovery | undefined, digest: Hex, signature: Hex): string {
  setPublicKeyRecovery(backend);
  try {
    return recoverSigner(digest, signature);
  } catch (error) {
    assert.ok(error instanceof InvalidOpError, `a typed error, not ${(error as Error).name}`);
    return "refused";
  }
}

describe("p2p: libsecp256k1 recovery", () => {
  after(() => setPublicKeyRecovery(undefined));
  const native = nativeRecovery();

  it("loads here, and agrees with the portable implementation on real and random signatures", async () => {
    assert.ok(native, "the prebuilt binding loads on this machine");
    const signed = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const account = privateKeyToAccount(generatePrivateKey());
        const digest = bytesToHex(new Uint8Array(32).fill(i + 1));
        return { account, digest, signature: await signDigest(digest, account) };
      }),
    );
    for (const { account, digest, signature } of signed) {
      assert.equal(outcome(native, digest, signature), account.address);
      assert.equal(outcome(undefined, digest, signature), account.address);
    }
    // Random 64-byte signatures: the same signer or the same refusal from both.
    fc.assert(
      fc.property(bytes(32), bytes(64), (digest, signature) => {
        const [d, s] = [bytesToHex(digest), bytesToHex(signature)];
        assert.equal(outcome(native, d, s), outcome(undefined, d, s));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses an s above half the curve order with either backend", async () => {
    // A compact signature keeps the parity in s's top bit, so a malleable twin (n - s) cannot be
    // written at all; what is left is the sliver between n/2 and 2^255, refused by the range check.
    const account = privateKeyToAccount(generatePrivateKey());
    const digest = bytesToHex(new Uint8Array(32).fill(7));
    const compact = Buffer.from((await signDigest(digest, account)).slice(2), "hex");
    const halfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
    Buffer.from((halfOrder + 1n).toString(16).padStart(64, "0"), "hex").copy(compact, 32);
    for (const backend of [native, undefined])
      assert.equal(outcome(backend, digest, `0x${compact.toString("hex")}`), "refused");
  });

  it("signs digests byte for byte like viem's account, and leaves everything else to viem", async () => {
    for (let i = 0; i < 50; i++) {
      const privateKey = generatePrivateKey();
      const portable = privateKeyToAccount(privateKey);
      const fast = nativeSigningAccount(privateKey);
      assert.equal(fast.address, portable.address);
      const digest = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
      assert.equal(await signDigest(digest, fast), await signDigest(digest, portable));
      assert.equal(await fast.sign?.({ hash: digest }), await portable.sign?.({ hash: digest }));
    }
    const privateKey = generatePrivateKey();
    assert.equal(
      await nativeSigningAccount(privateKey).signMessage({ message: "seedcraft" }),
      await privateKeyToAccount(privateKey).signMessage({ message: "seedcraft" }),
    );
  });
});
