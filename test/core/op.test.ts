import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compactSignatureToSignature,
  hashTypedData,
  parseCompactSignature,
  recoverTypedDataAddress,
  serializeSignature,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chunkIdOf } from "../../core/chunk.ts";
import {
  type BlockOp,
  batchDigest,
  InvalidOpError,
  OP_BATCH_TYPES,
  OP_TYPES,
  opDigest,
  opDomain,
  recoverBatchSigner,
  recoverOpSigner,
  signOp,
  signOpBatch,
} from "../../core/op.ts";

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
const message = (o: BlockOp) => ({
  chunk: o.chunk,
  index: o.index,
  block: o.block,
  wallMs: o.hlc.wallMs,
  logical: o.hlc.logical,
  author: o.author,
});

describe("signed block ops", () => {
  it("hash exactly as EIP-712 says (checked against viem's encoder)", () => {
    const expected = hashTypedData({
      domain: opDomain(domain),
      types: OP_TYPES,
      primaryType: "BlockOp",
      message: message(op),
    });
    assert.equal(opDigest(op, domain), expected);
    const ops = [op, { ...op, index: 7, hlc: { wallMs: 1, logical: 0 } }];
    const expectedBatch = hashTypedData({
      domain: opDomain(domain),
      types: OP_BATCH_TYPES,
      primaryType: "BlockOpBatch",
      message: { ops: ops.map(message) },
    });
    assert.equal(batchDigest(ops, domain), expectedBatch);
  });

  it("recover the session key that signed them, with a 64-byte compact signature any EIP-712 verifier accepts", async () => {
    const signed = await signOp(op, session, domain);
    assert.equal(signed.signature.length, 2 + 128);
    assert.equal(recoverOpSigner(signed, domain), session.address);
    const full = serializeSignature(compactSignatureToSignature(parseCompactSignature(signed.signature)));
    const viaViem = await recoverTypedDataAddress({
      domain: opDomain(domain),
      types: OP_TYPES,
      primaryType: "BlockOp",
      message: message(op),
      signature: full,
    });
    assert.equal(viaViem, session.address);
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
    for (const changed of tampered) assert.notEqual(recoverOpSigner(changed, domain), session.address);
    assert.notEqual(recoverOpSigner(signed, { ...domain, chainId: 1 }), session.address);
  });

  it("sign a batch once, and any change to any op of it breaks the signature", async () => {
    const ops = Array.from({ length: 64 }, (_, i) => ({
      ...op,
      index: i,
      hlc: { wallMs: op.hlc.wallMs + i, logical: 0 },
    }));
    const batch = await signOpBatch(ops, session, domain);
    assert.equal(recoverBatchSigner(batch, domain), session.address);
    const changed = { ...batch, ops: batch.ops.map((o, i) => (i === 40 ? { ...o, block: 1 } : o)) };
    assert.notEqual(recoverBatchSigner(changed, domain), session.address);
    assert.notEqual(recoverBatchSigner({ ...batch, ops: batch.ops.slice(1) }, domain), session.address);
    await assert.rejects(signOpBatch([], session, domain), InvalidOpError);
  });

  it("refuse malformed ops and signatures with a typed error", async () => {
    const signed = await signOp(op, session, domain);
    const bad = [
      { ...signed, signature: "0x1234" as const },
      { ...signed, signature: `0x${"00".repeat(64)}` as const },
      { ...signed, index: 32768 },
      { ...signed, block: 70000 },
      { ...signed, chunk: 1n << 96n },
      { ...signed, hlc: { wallMs: -1, logical: 0 } },
    ];
    for (const o of bad) assert.throws(() => recoverOpSigner(o, domain), InvalidOpError);
  });
});
