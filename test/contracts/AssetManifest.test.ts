import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { getAddress, zeroHash } from "viem";
import { assetManifestHash, assetPackPin, generateAssetPack } from "../../core/assets.ts";
import { type TestWallet, testWallets } from "../helpers/accounts.ts";

const { viem } = await network.create();
const [admin, stranger] = (await testWallets(viem, 2)) as [TestWallet, TestWallet];
const manifest = assetManifestHash([assetPackPin(generateAssetPack())]);

describe("AssetManifest", () => {
  it("pins the manifest hash for its owner, with an event naming the one it replaces", async () => {
    const pins = await viem.deployContract("AssetManifest", [admin.account.address]);
    assert.equal(getAddress(await pins.read.owner()), getAddress(admin.account.address));
    assert.equal(await pins.read.manifestHash(), zeroHash);
    await viem.assertions.emitWithArgs(pins.write.pin([manifest], { account: admin.account }), pins, "ManifestPinned", [
      manifest,
      zeroHash,
    ]);
    assert.equal(await pins.read.manifestHash(), manifest);
    const next = `0x${"ab".repeat(32)}` as const;
    await viem.assertions.emitWithArgs(pins.write.pin([next], { account: admin.account }), pins, "ManifestPinned", [
      next,
      manifest,
    ]);
    assert.equal(await pins.read.manifestHash(), next);
  });

  it("refuses a pin by anyone else, and an empty hash", async () => {
    const pins = await viem.deployContract("AssetManifest", [admin.account.address]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      pins.write.pin([manifest], { account: stranger.account }),
      pins,
      "OwnableUnauthorizedAccount",
      [getAddress(stranger.account.address)],
    );
    await viem.assertions.revertWithCustomError(
      pins.write.pin([zeroHash], { account: admin.account }),
      pins,
      "EmptyManifest",
    );
    assert.equal(await pins.read.manifestHash(), zeroHash);
  });
});
