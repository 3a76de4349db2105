import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assetManifestHash, assetPackPin, generateAssetPack } from "../../core/assets.ts";
import { CONTRACT_NAMES, InvalidDeploymentError, parseDeployment } from "../../core/deployment.ts";

const contract = (n: number) => ({ address: `0x${n.toString(16).padStart(40, "0")}`, abi: [] });
const older = {
  network: "t",
  chainId: 31337,
  startBlock: 0,
  contracts: Object.fromEntries(CONTRACT_NAMES.map((name, i) => [name, contract(i + 1)])),
};
const pin = assetPackPin(generateAssetPack());
const current = {
  ...older,
  contracts: { ...older.contracts, AssetManifest: contract(9) },
  assets: { manifestHash: assetManifestHash([pin]), packs: [pin] },
};

const refused = (value: unknown, field: RegExp) =>
  assert.throws(
    () => parseDeployment(value),
    (error: unknown) => error instanceof InvalidDeploymentError && field.test(error.message),
  );

describe("core/deployment: the assets field", () => {
  it("parses files written before assets existed, and files that list them", () => {
    assert.equal(parseDeployment(older).assets, undefined);
    assert.deepEqual(parseDeployment(current).assets?.packs, [pin]);
  });

  it("refuses assets that do not hash to their manifest, malformed packs, and assets with no AssetManifest", () => {
    refused({ ...current, assets: { ...current.assets, packs: [{ ...pin, bytes: pin.bytes + 1 }] } }, /manifestHash/);
    refused({ ...current, assets: { ...current.assets, packs: [{ ...pin, infoHash: "0x12" }] } }, /infoHash/);
    refused({ ...current, assets: { ...current.assets, packs: [{ ...pin, bytes: 0 }] } }, /bytes/);
    refused({ ...current, assets: { packs: "none" } }, /packs/);
    refused({ ...current, contracts: older.contracts }, /AssetManifest/);
    refused(
      { ...current, contracts: { ...current.contracts, AssetManifest: { address: "0x1", abi: [] } } },
      /AssetManifest/,
    );
  });
});
