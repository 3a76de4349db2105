import type { Abi, Address } from "viem";
import { SeedcraftError } from "./errors.ts";

/** The contents of deployments/<network>.json: where the contracts live, and how to talk to them. */
export type Deployment = {
  network: string;
  chainId: number;
  /** The block before the first contract was deployed: indexers start here. */
  startBlock: number;
  contracts: Record<ContractName, DeployedContract>;
};

export type DeployedContract = { address: Address; abi: Abi };

export class InvalidDeploymentError extends SeedcraftError {
  constructor(details: string) {
    super("INVALID_DEPLOYMENT", "The deployment file is not a valid Seedcraft deployment.", details);
    this.name = "InvalidDeploymentError";
  }
}

export const CONTRACT_NAMES = ["ChunkLedger", "SessionRegistry", "EnergyToken", "SeedingRewards"] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

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
  for (const name of CONTRACT_NAMES) {
    const contract = contracts[name];
    if (!isRecord(contract)) throw new InvalidDeploymentError(`\`contracts.${name}\` is missing`);
    if (typeof contract.address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(contract.address))
      throw new InvalidDeploymentError(`\`contracts.${name}.address\` must be a 20-byte hex address`);
    if (!Array.isArray(contract.abi))
      throw new InvalidDeploymentError(`\`contracts.${name}.abi\` must be an ABI array`);
  }
  return value as Deployment;
}
