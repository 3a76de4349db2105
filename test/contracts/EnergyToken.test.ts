import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { keccak256, parseEther, parseSignature, toHex } from "viem";
import { type TestWallet, testWallets } from "../helpers/accounts.ts";

const { viem } = await network.create();
const publicClient = await viem.getPublicClient();
const [admin, minter, player, other] = (await testWallets(viem, 4)) as [TestWallet, TestWallet, TestWallet, TestWallet];

const CAP = parseEther("1000000");
const MINTER_ROLE = keccak256(toHex("MINTER_ROLE"));
const GOLD = 10n;

async function deploy() {
  const energy = await viem.deployContract("EnergyToken", [CAP, admin.account.address]);
  await energy.write.grantRole([MINTER_ROLE, minter.account.address]);
  await energy.write.setItemPrice([GOLD, parseEther("5")]);
  return energy;
}

describe("EnergyToken", () => {
  it("is minted only by the minter role", async () => {
    const energy = await deploy();
    await energy.write.mint([player.account.address, parseEther("10")], { account: minter.account });
    assert.equal(await energy.read.balanceOf([player.account.address]), parseEther("10"));
    await viem.assertions.revertWithCustomErrorWithArgs(
      energy.write.mint([player.account.address, 1n], { account: player.account }),
      energy,
      "AccessControlUnauthorizedAccount",
      [player.account.address, MINTER_ROLE],
    );
  });

  it("lets only the admin price items, and says so", async () => {
    const energy = await deploy();
    await viem.assertions.emitWithArgs(energy.write.setItemPrice([11n, parseEther("2")]), energy, "ItemPriced", [
      11n,
      parseEther("2"),
    ]);
    assert.equal(await energy.read.priceOf([11n]), parseEther("2"));
    await viem.assertions.revertWithCustomError(
      energy.write.setItemPrice([11n, 1n], { account: player.account }),
      energy,
      "AccessControlUnauthorizedAccount",
    );
    assert.equal(await energy.read.priceOf([11n]), parseEther("2"));
  });

  it("never exceeds its supply cap", async () => {
    const energy = await deploy();
    await energy.write.mint([player.account.address, CAP], { account: minter.account });
    await viem.assertions.revertWithCustomErrorWithArgs(
      energy.write.mint([player.account.address, 1n], { account: minter.account }),
      energy,
      "ERC20ExceededCap",
      [CAP + 1n, CAP],
    );
  });

  it("burns energy to unlock a premium block once, and says so", async () => {
    const energy = await deploy();
    await energy.write.mint([player.account.address, parseEther("12")], { account: minter.account });
    await viem.assertions.emitWithArgs(
      energy.write.spend([parseEther("5"), GOLD], { account: player.account }),
      energy,
      "EnergySpent",
      [player.account.address, GOLD, parseEther("5")],
    );
    assert.equal(await energy.read.hasUnlocked([player.account.address, GOLD]), true);
    assert.equal(await energy.read.totalSupply(), parseEther("7"));
    await viem.assertions.revertWithCustomErrorWithArgs(
      energy.write.spend([parseEther("5"), GOLD], { account: player.account }),
      energy,
      "AlreadyUnlocked",
      [player.account.address, GOLD],
    );
  });

  it("refuses unknown items, short payments and empty wallets, changing nothing", async () => {
    const energy = await deploy();
    await energy.write.mint([player.account.address, parseEther("3")], { account: minter.account });
    await viem.assertions.revertWithCustomErrorWithArgs(
      energy.write.spend([parseEther("1"), 99n], { account: player.account }),
      energy,
      "UnknownItem",
      [99n],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      energy.write.spend([parseEther("1"), GOLD], { account: player.account }),
      energy,
      "PriceNotMet",
      [GOLD, parseEther("1"), parseEther("5")],
    );
    await viem.assertions.revertWithCustomError(
      energy.write.spend([parseEther("5"), GOLD], { account: player.account }),
      energy,
      "ERC20InsufficientBalance",
    );
    assert.equal(await energy.read.balanceOf([player.account.address]), parseEther("3"));
    assert.equal(await energy.read.hasUnlocked([player.account.address, GOLD]), false);
  });

  it("supports EIP-2612 permits", async () => {
    const energy = await deploy();
    await energy.write.mint([player.account.address, parseEther("2")], { account: minter.account });
    const deadline = BigInt((await publicClient.getBlock()).timestamp) + 3600n;
    const signature = await player.signTypedData({
      domain: {
        name: "Seedcraft Energy",
        version: "1",
        chainId: await publicClient.getChainId(),
        verifyingContract: energy.address,
      },
      types: {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      primaryType: "Permit",
      message: {
        owner: player.account.address,
        spender: other.account.address,
        value: parseEther("1"),
        nonce: 0n,
        deadline,
      },
    });
    const { v, r, s } = parseSignature(signature);
    await energy.write.permit(
      [player.account.address, other.account.address, parseEther("1"), deadline, Number(v), r, s],
      {
        account: other.account,
      },
    );
    assert.equal(await energy.read.allowance([player.account.address, other.account.address]), parseEther("1"));
  });
});
