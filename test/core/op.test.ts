import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import { type BlockOp, InvalidOpError, recoverOpSigner, signOp } from "../../core/op.ts";

// Fixed test keys (fake randomness is fine for keys in tests).
const session = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const domain = { chainId: 31337, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } as const;
const op: BlockOp = {
  chunk: chunkIdOf(-1, 0, 3),
  index: 1234,
  block: 9,
  hlc: { wallMs: 1_760_000_000_000, logical: 3 },
  author: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
};

describe("signed block ops", () => {
  it("recover the session key that signed them, with a 64-byte compact signature", async () => {
    const signed = await signOp(op, session, domain);
    assert.equal(signed.signature.length, 2 + 128);
    assert.equal(await recoverOpSigner(signed, domain), session.address);
  });

  it("recover someone else after any field, or the domain, changes", async () => {
    const signed = await signOp(op, session, domain);
    const tampered = [
      { ...signed, block: 10 },
      { ...signed, index: 1235 },
      { ...signed, chunk: signed.chunk + 1n },
      { ...signed, hlc: { ...signed.hlc, logical: 4 } },
      { ...signed, author: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" as const },
    ];
    for (const changed of tampered) assert.notEqual(await recoverOpSigner(changed, domain), session.address);
    assert.notEqual(await recoverOpSigner(signed, { ...domain, chainId: 1 }), session.address);
  });

  it("refuse malformed ops and signatures with a typed error", async () => {
    const signed = await signOp(op, session, domain);
    const bad = [
      { ...signed, signature: "0x1234" as const },
      { ...signed, index: 32768 },
      { ...signed, block: 70000 },
      { ...signed, chunk: 1n << 96n },
      { ...signed, hlc: { wallMs: -1, logical: 0 } },
    ];
    for (const op of bad) await assert.rejects(recoverOpSigner(op, domain), InvalidOpError);
  });
});
