import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { getAddress, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type TestWallet, testWallets } from "../helpers/accounts.ts";

const { viem, networkHelpers } = await network.create();
const publicClient = await viem.getPublicClient();
const [alice, bob, relayer] = (await testWallets(viem, 3)) as [TestWallet, TestWallet, TestWallet];
const now = async () => BigInt((await publicClient.getBlock()).timestamp);

async function signAuthorization(
  registry: { address: `0x${string}` },
  signer: typeof alice,
  sessionKey: `0x${string}`,
  expiresAt: bigint,
  nonce: bigint,
  deadline: bigint,
) {
  return await signer.signTypedData({
    domain: {
      name: "Seedcraft Sessions",
      version: "1",
      chainId: await publicClient.getChainId(),
      verifyingContract: registry.address,
    },
    types: {
      AuthorizeSession: [
        { name: "wallet", type: "address" },
        { name: "sessionKey", type: "address" },
        { name: "expiresAt", type: "uint64" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "AuthorizeSession",
    message: { wallet: alice.account.address, sessionKey, expiresAt, nonce, deadline },
  });
}

describe("SessionRegistry", () => {
  it("lets a wallet authorize a session key until it expires", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const expiresAt = (await now()) + 3600n;
    await viem.assertions.emitWithArgs(registry.write.authorize([key, expiresAt]), registry, "SessionAuthorized", [
      alice.account.address,
      key,
      expiresAt,
    ]);
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
    assert.equal(await registry.read.canSignFor([key, alice.account.address]), true);
    assert.equal(await registry.read.canSignFor([key, bob.account.address]), false);
    await networkHelpers.time.increase(3601);
    assert.equal(await registry.read.walletOf([key]), zeroAddress);
    assert.equal(await registry.read.canSignFor([key, alice.account.address]), false);
  });

  it("lets only the owning wallet revoke, and a revoked key signs for no one", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const key = privateKeyToAccount(generatePrivateKey()).address;
    await registry.write.authorize([key, (await now()) + 3600n]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.revoke([key], { account: bob.account }),
      registry,
      "NotSessionOwner",
      [key, bob.account.address],
    );
    await viem.assertions.emitWithArgs(registry.write.revoke([key]), registry, "SessionRevoked", [
      alice.account.address,
      key,
    ]);
    assert.equal(await registry.read.walletOf([key]), zeroAddress);
  });

  it("refuses a key another wallet holds, the zero key and past expiries", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const later = (await now()) + 3600n;
    await registry.write.authorize([key, later]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorize([key, later], { account: bob.account }),
      registry,
      "SessionKeyTaken",
      [key, alice.account.address],
    );
    await viem.assertions.revertWithCustomError(
      registry.write.authorize([zeroAddress, later]),
      registry,
      "ZeroSessionKey",
    );
    await viem.assertions.revertWithCustomError(registry.write.authorize([key, 1n]), registry, "ExpiryInPast");
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
  });

  it("accepts a wallet's signed authorization from a relayer, once", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const expiresAt = (await now()) + 3600n;
    const deadline = (await now()) + 600n;
    const signature = await signAuthorization(registry, alice, key, expiresAt, 0n, deadline);
    await registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature], {
      account: relayer.account,
    });
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
    // Replayed: the nonce moved on, so the same signature now recovers someone else.
    await viem.assertions.revertWithCustomError(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature], {
        account: relayer.account,
      }),
      registry,
      "InvalidAuthorization",
    );
  });

  it("refuses forged and late authorizations", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const expiresAt = (await now()) + 3600n;
    const deadline = (await now()) + 600n;
    const forged = await signAuthorization(registry, bob, key, expiresAt, 0n, deadline);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, forged]),
      registry,
      "InvalidAuthorization",
      [alice.account.address, bob.account.address],
    );
    const signature = await signAuthorization(registry, alice, key, expiresAt, 0n, deadline);
    await networkHelpers.time.increase(601);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature]),
      registry,
      "AuthorizationExpired",
      [deadline],
    );
    assert.equal(await registry.read.walletOf([key]), zeroAddress);
  });
});
