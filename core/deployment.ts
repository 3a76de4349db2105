import type { Abi, Address, Hex } from "viem";
import { type AssetPackPin, assetManifestHash, MAX_ASSET_PACK_BYTES } from "./assets.ts";
import { SeedcraftError } from "./errors.ts";

/** The contents of deployments/<network>.json: where the contracts live, and how to talk to them. */
export type Deployment = {
  network: string;
  chainId: number;
  /** The block before the first contract was deployed: indexers start here. */
  startBlock: number;
  /**
   * The hash of the block that created ChunkLedger. A fresh local chain redeploys to the same addresses;
   * this hash tells the two worlds apart (caches are keyed by it). Older files have none.
   */
  deployBlockHash?: Hex;
  contracts: Record<ContractName, DeployedContract> & Partial<Record<OptionalContractName, DeployedContract>>;
  /** The asset packs the world uses, and the manifest hash AssetManifest pins on chain. Older files have none. */
  assets?: DeploymentAssets;
};

export type DeploymentAssets = { manifestHash: Hex; packs: AssetPackPin[] };

export type DeployedContract = { address: Address; abi: Abi };

export class InvalidDeploymentError extends SeedcraftError {
  constructor(details: string) {
    super("INVALID_DEPLOYMENT", "The deployment file is not a valid Seedcraft deployment.", details);
    this.name = "InvalidDeploymentError";
  }
}

export const CONTRACT_NAMES = ["ChunkLedger", "SessionRegistry", "EnergyToken", "SeedingRewards"] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];
/** Contracts a deployment may lack (files written before they existed). */
export const OPTIONAL_CONTRACT_NAMES = ["AssetManifest"] as const;
export type OptionalContractName = (typeof OPTIONAL_CONTRACT_NAMES)[number];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isHex = (value: unknown, bytes: number): value is Hex =>
  typeof value === "string" && new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`).test(value);

/** Checks the shape of a parsed deployment file; throws `InvalidDeploymentError` naming the bad field. */
export function parseDeployment(value: unknown): Deployment {
  if (!isRecord(value)) throw new InvalidDeploymentError("expected a JSON object");
  const { network, chainId, startBlock, contracts } = value;
  if (typeof network !== "string" || network === "") throw new InvalidDeploymentError("`network` must be a name");
  if (!Number.isSafeInteger(chainId) || (chainId as number) <= 0)
    throw new InvalidDeploymentError("`chainId` must be a positive integer");
  if (!Number.isSafeInteger(startBlock) || (startBlock as number) < 0)
    throw new InvalidDeploymentError("`startBlock` must be a block number");
  if (!isRecord(contracts)) throw new InvalidDeploymentError("`contracts` must be an object");
  for (const name of [...CONTRACT_NAMES, ...OPTIONAL_CONTRACT_NAMES]) {
    const contract = contracts[name];
    if (contract === undefined && (OPTIONAL_CONTRACT_NAMES as readonly string[]).includes(name)) continue;
    if (!isRecord(contract)) throw new InvalidDeploymentError(`\`contracts.${name}\` is missing`);
    if (typeof contract.address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(contract.address))
      throw new InvalidDeploymentError(`\`contracts.${name}.address\` must be a 20-byte hex address`);
    if (!Array.isArray(contract.abi))
      throw new InvalidDeploymentError(`\`contracts.${name}.abi\` must be an ABI array`);
  }
  if (value.deployBlockHash !== undefined && !isHex(value.deployBlockHash, 32))
    throw new InvalidDeploymentError("`deployBlockHash` must be 32 bytes of hex");
  if (value.assets !== undefined) parseAssets(value.assets, contracts);
  return value as Deployment;
}

/**
 * Which world a deployment is, as a name for caches and stores: chain id, ledger address and the hash of the
 * ledger's deploy block (`31337-<ledger>-<16 hex of the block hash>`). A fresh chain that redeploys to the
 * same address is another world; a file without the hash falls back to chain id and ledger.
 */
export function worldKeyOf(deployment: Pick<Deployment, "chainId" | "contracts" | "deployBlockHash">): string {
  const ledger = deployment.contracts.ChunkLedger.address.slice(2).toLowerCase();
  const block = deployment.deployBlockHash?.slice(2, 18).toLowerCase();
  return block ? `${deployment.chainId}-${ledger}-${block}` : `${deployment.chainId}-${ledger}`;
}

function parseAssets(assets: unknown, contracts: Record<string, unknown>): void {
  if (!isRecord(assets) || !Array.isArray(assets.packs))
    throw new InvalidDeploymentError("`assets` must be an object with a `packs` array");
  if (contracts.AssetManifest === undefined)
    throw new InvalidDeploymentError("`assets` needs `contracts.AssetManifest`, which pins them");
  assets.packs.forEach((pack: unknown, i: number) => {
    const at = `\`assets.packs[${i}]\``;
    if (!isRecord(pack)) throw new InvalidDeploymentError(`${at} must be an object`);
    if (typeof pack.name !== "string" || pack.name === "")
      throw new InvalidDeploymentError(`${at}.name must be a name`);
    if (!isHex(pack.infoHash, 20)) throw new InvalidDeploymentError(`${at}.infoHash must be 20 bytes of hex`);
    if (!isHex(pack.hash, 32)) throw new InvalidDeploymentError(`${at}.hash must be 32 bytes of hex`);
    if (
      !Number.isSafeInteger(pack.bytes) ||
      (pack.bytes as number) <= 0 ||
      (pack.bytes as number) > MAX_ASSET_PACK_BYTES
    )
      throw new InvalidDeploymentError(`${at}.bytes must be a size of 1–${MAX_ASSET_PACK_BYTES} bytes`);
  });
  if (!isHex(assets.manifestHash, 32))
    throw new InvalidDeploymentError("`assets.manifestHash` must be 32 bytes of hex");
  const computed = assetManifestHash(assets.packs as AssetPackPin[]);
  if (computed !== assets.manifestHash.toLowerCase())
    throw new InvalidDeploymentError(
      `\`assets.manifestHash\` is ${assets.manifestHash}, its packs hash to ${computed}`,
    );
}
