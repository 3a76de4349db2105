import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { type Address, getAddress, type Hex, type LocalAccount, recoverAddress, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { sessionConsentDigest, signSessionConsent } from "../../core/session.ts";
import { type TestWallet, testWallets } from "../helpers/accounts.ts";

const { viem, networkHelpers } = await network.create();
const publicClient = await viem.getPublicClient();
const [alice, bob, relayer] = (await testWallets(viem, 3)) as [TestWallet, TestWallet, TestWallet];
const now = async () => BigInt((await publicClient.getBlock()).timestamp);
const chainId = await publicClient.getChainId();

/** The session key's consent to serve `wallet` until `expiresAt`. */
async function consent(registry: { address: Address }, key: LocalAccount, wallet: Address, expiresAt: bigint) {
  return await signSessionConsent(key, wallet, expiresAt, { chainId, verifyingContract: registry.address });
}

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

async function recoverConsentSigner(
  registry: { address: Address },
  signature: Hex,
  wallet: Address,
  expiresAt: bigint,
) {
  return await recoverAddress({
    hash: sessionConsentDigest(wallet, expiresAt, { chainId, verifyingContract: registry.address }),
    signature,
  });
}

describe("SessionRegistry", () => {
  it("lets a wallet authorize a session key until it expires", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const key = keyAccount.address;
    const expiresAt = (await now()) + 3600n;
    const signed = await consent(registry, keyAccount, alice.account.address, expiresAt);
    await viem.assertions.emitWithArgs(
      registry.write.authorize([key, expiresAt, signed]),
      registry,
      "SessionAuthorized",
      [alice.account.address, key, expiresAt],
    );
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
    assert.equal(await registry.read.canSignFor([key, alice.account.address]), true);
    assert.equal(await registry.read.canSignFor([key, bob.account.address]), false);
    await networkHelpers.time.increase(3601);
    assert.equal(await registry.read.walletOf([key]), zeroAddress);
    assert.equal(await registry.read.canSignFor([key, alice.account.address]), false);
  });

  it("passes the ETH sent with an authorization on to the session key, for its gas", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const expiresAt = (await now()) + 3600n;
    const signed = await consent(registry, keyAccount, alice.account.address, expiresAt);
    const gas = 10n ** 16n;
    await registry.write.authorize([keyAccount.address, expiresAt, signed], { value: gas });
    assert.equal(await publicClient.getBalance({ address: keyAccount.address }), gas);
    assert.equal(await publicClient.getBalance({ address: registry.address }), 0n);
    // A refused authorization keeps the ETH with the sender: the whole transaction reverts.
    const other = privateKeyToAccount(generatePrivateKey());
    await viem.assertions.revertWithCustomError(
      registry.write.authorize([other.address, expiresAt, signed], { value: gas }),
      registry,
      "NoKeyConsent",
    );
    assert.equal(await publicClient.getBalance({ address: other.address }), 0n);
  });

  it("lets only the owning wallet revoke, and a revoked key signs for no one", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const key = keyAccount.address;
    const expiresAt = (await now()) + 3600n;
    await registry.write.authorize([
      key,
      expiresAt,
      await consent(registry, keyAccount, alice.account.address, expiresAt),
    ]);
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
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const key = keyAccount.address;
    const later = (await now()) + 3600n;
    await registry.write.authorize([key, later, await consent(registry, keyAccount, alice.account.address, later)]);
    const toBob = await consent(registry, keyAccount, bob.account.address, later);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorize([key, later, toBob], { account: bob.account }),
      registry,
      "SessionKeyTaken",
      [key, alice.account.address],
    );
    await viem.assertions.revertWithCustomError(
      registry.write.authorize([zeroAddress, later, "0x"]),
      registry,
      "ZeroSessionKey",
    );
    const past = await consent(registry, keyAccount, alice.account.address, 1n);
    await viem.assertions.revertWithCustomError(registry.write.authorize([key, 1n, past]), registry, "ExpiryInPast");
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
  });

  it("accepts a wallet's signed authorization from a relayer, once", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const key = keyAccount.address;
    const expiresAt = (await now()) + 3600n;
    const deadline = (await now()) + 600n;
    const signature = await signAuthorization(registry, alice, key, expiresAt, 0n, deadline);
    const signed = await consent(registry, keyAccount, alice.account.address, expiresAt);
    await registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature, signed], {
      account: relayer.account,
    });
    assert.equal(await registry.read.walletOf([key]), getAddress(alice.account.address));
    // Replayed: the nonce moved on, so the same signature now recovers someone else.
    await viem.assertions.revertWithCustomError(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature, signed], {
        account: relayer.account,
      }),
      registry,
      "InvalidAuthorization",
    );
  });

  it("refuses forged and late authorizations", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const keyAccount = privateKeyToAccount(generatePrivateKey());
    const key = keyAccount.address;
    const expiresAt = (await now()) + 3600n;
    const deadline = (await now()) + 600n;
    const forged = await signAuthorization(registry, bob, key, expiresAt, 0n, deadline);
    const signed = await consent(registry, keyAccount, alice.account.address, expiresAt);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, forged, signed]),
      registry,
      "InvalidAuthorization",
      [alice.account.address, bob.account.address],
    );
    const signature = await signAuthorization(registry, alice, key, expiresAt, 0n, deadline);
    await networkHelpers.time.increase(601);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorizeWithSig([alice.account.address, key, expiresAt, deadline, signature, signed]),
      registry,
      "AuthorizationExpired",
      [deadline],
    );
    assert.equal(await registry.read.walletOf([key]), zeroAddress);
  });

  it("refuses to enrol an address that did not consent, so nobody can take credit for another player", async () => {
    const registry = await viem.deployContract("SessionRegistry");
    const victim = privateKeyToAccount(generatePrivateKey());
    const expiresAt = (await now()) + 3600n;
    // Bob tries to enrol Alice's key as his own: a consent Alice's key gave to Alice does not serve Bob,
    // a consent Bob signs himself is not the key's, and garbage is nobody's.
    const toAlice = await consent(registry, victim, alice.account.address, expiresAt);
    const byBob = await bob.signTypedData({
      domain: { name: "Seedcraft Sessions", version: "1", chainId, verifyingContract: registry.address },
      types: {
        SessionConsent: [
          { name: "wallet", type: "address" },
          { name: "expiresAt", type: "uint64" },
        ],
      },
      primaryType: "SessionConsent",
      message: { wallet: bob.account.address, expiresAt },
    });
    for (const proof of [toAlice, byBob, "0x1234" as const]) {
      await viem.assertions.revertWithCustomError(
        registry.write.authorize([victim.address, expiresAt, proof], { account: bob.account }),
        registry,
        "NoKeyConsent",
      );
    }
    // A consent for another expiry does not stretch to this one.
    const shorter = await consent(registry, victim, alice.account.address, expiresAt - 1n);
    await viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.authorize([victim.address, expiresAt, shorter]),
      registry,
      "NoKeyConsent",
      [victim.address, await recoverConsentSigner(registry, shorter, alice.account.address, expiresAt)],
    );
    assert.equal(await registry.read.walletOf([victim.address]), zeroAddress);
    await registry.write.authorize([victim.address, expiresAt, toAlice]);
    assert.equal(await registry.read.walletOf([victim.address]), getAddress(alice.account.address));
  });
});
