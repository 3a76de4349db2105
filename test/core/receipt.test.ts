import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { InvalidOpError } from "../../core/op.ts";
import { InvalidReceiptError, type Receipt, recoverReceiptSigner, signReceipt } from "../../core/receipt.ts";

const leecherSession = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const domain = { chainId: 31337, verifyingContract: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9" } as const;
const receipt: Receipt = {
  seeder: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
  leecher: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
  contentHash: keccak256(toHex("chunk 0,0,0 v3")),
  bytes: 65_536n,
  epoch: 12,
  nonce: 1n,
};

describe("seeding receipts", () => {
  it("recover the leecher's signing key, and someone else after any change", async () => {
    const signed = await signReceipt(receipt, leecherSession, domain);
    assert.equal(recoverReceiptSigner(signed, domain), leecherSession.address);
    for (const changed of [
      { ...signed, bytes: 65_535n },
      { ...signed, epoch: 13 },
      { ...signed, nonce: 2n },
      { ...signed, seeder: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc" as const },
    ])
      assert.notEqual(recoverReceiptSigner(changed, domain), leecherSession.address);
  });

  it("refuse a seeder's receipt to itself and malformed fields with a typed error", async () => {
    await assert.rejects(
      signReceipt({ ...receipt, leecher: receipt.seeder }, leecherSession, domain),
      InvalidReceiptError,
    );
    await assert.rejects(signReceipt({ ...receipt, bytes: 0n }, leecherSession, domain), InvalidReceiptError);
    await assert.rejects(signReceipt({ ...receipt, bytes: 65_537n }, leecherSession, domain), InvalidReceiptError);
    await assert.rejects(signReceipt({ ...receipt, epoch: -1 }, leecherSession, domain), InvalidReceiptError);
    const signed = await signReceipt(receipt, leecherSession, domain);
    assert.throws(() => recoverReceiptSigner({ ...signed, signature: "0x00" }, domain), InvalidOpError);
  });
});
