/**
 * Deploys every Seedcraft contract with Ignition and writes deployments/<network>.json: the one file
 * the app, the indexer and the CLI read addresses, ABIs, chain id and start block from.
 * Run through hardhat: `hardhat run deploy/deploy.ts --network localhost` (which compiles the contracts first:
 * hardhat.config.ts leaves the Solidity tests out of that build).
 * SEEDCRAFT_WAIT_FOR_CHAIN_MS: how long to wait for the chain's RPC to answer (default 0: ask once). `seedcraft up`
 * sets it when it starts the chain itself, so the compile runs while the chain starts instead of after it.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import hre from "hardhat";
import { assetManifestHash, assetPackPin } from "../core/assets.ts";
import { CONTRACT_NAMES, type Deployment } from "../core/deployment.ts";
import { creationBlockOf } from "./deploy-block.ts";
import { writeAssetPack, writeDeployment } from "./deployment-file.ts";
import SeedcraftModule, { ASSET_PACKS, SEEDCRAFT_DEFAULTS } from "./ignition/modules/Seedcraft.ts";
import { waitForChainId } from "./wait-for-chain.ts";

/**
 * The world's economy, from SEEDCRAFT_DEPLOY_PARAMETERS: a JSON object of whole numbers (as strings) named
 * like SEEDCRAFT_DEFAULTS, e.g. {"premiumPrice":"1000000000000000000"}; anything else stops the deploy.
 */
function deployParameters(json: string | undefined): Record<string, string> {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`SEEDCRAFT_DEPLOY_PARAMETERS is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error("SEEDCRAFT_DEPLOY_PARAMETERS must be a JSON object");
  const parameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!(name in SEEDCRAFT_DEFAULTS))
      throw new Error(
        `SEEDCRAFT_DEPLOY_PARAMETERS: no parameter ${name} (${Object.keys(SEEDCRAFT_DEFAULTS).join(", ")})`,
      );
    if (typeof value !== "string" || !/^\d{1,78}$/.test(value))
      throw new Error(
        `SEEDCRAFT_DEPLOY_PARAMETERS: ${name} must be a whole number as a string, got ${JSON.stringify(value)}`,
      );
    parameters[name] = value;
  }
  return parameters;
}

const LOCAL_CHAIN_ID = 31337;

/**
 * The developer's own local world (`npm start`: network localhost on chain 31337) pays seeders within minutes:
 * its epochs last a minute unless SEEDCRAFT_DEPLOY_PARAMETERS says otherwise. Test worlds (their own network
 * names) keep the hour-long default, so a test's clock moves only when it says so.
 */
const LOCAL_WORLD_DEFAULTS: Record<string, string> = { epochLength: "60" };

/** The parameters the deploy uses: the environment's, over the local world's defaults where they apply. */
function parametersFor(chainId: number, network: string, json: string | undefined): Record<string, string> {
  const local = chainId === LOCAL_CHAIN_ID && network === "localhost" ? LOCAL_WORLD_DEFAULTS : {};
  return { ...local, ...deployParameters(json) };
}

/** A whole number of milliseconds from the environment, or the default. */
function waitMs(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  if (!/^\d{1,7}$/.test(value))
    throw new Error(`SEEDCRAFT_WAIT_FOR_CHAIN_MS must be a whole number of milliseconds, got ${JSON.stringify(value)}`);
  return Number(value);
}

const chainWaitMs = waitMs(process.env.SEEDCRAFT_WAIT_FOR_CHAIN_MS);
// Each line says what the deploy is doing now: `seedcraft up` shows the last one while it waits.
console.log("compiled the contracts; connecting to the chain");
const connection = await hre.network.create();
const rpcUrl =
  connection.networkConfig.type === "http"
    ? await connection.networkConfig.url.getUrl()
    : `the network ${connection.networkName}`;
// The viem client asks the chain its id as it is made: wait for an answer first.
const chainId = await waitForChainId(
  async () => Number(await connection.provider.request({ method: "eth_chainId" })),
  rpcUrl,
  chainWaitMs,
);
const publicClient = await connection.viem.getPublicClient();

// SEEDCRAFT_NETWORK names the file when one hardhat network config serves several chains (tests, side-by-side worlds).
const networkName = process.env.SEEDCRAFT_NETWORK ?? connection.networkName;
// One Ignition journal per network name, so side-by-side local chains never share one.
const deploymentId = `${networkName}-${chainId}`;
// A local hardhat node starts empty every time: Ignition's journal of an earlier chain would only confuse it.
if (chainId === LOCAL_CHAIN_ID) {
  await rm(path.resolve("ignition", "deployments", deploymentId), { recursive: true, force: true });
}

const startBlock = await publicClient.getBlockNumber();
console.log(`deploying the contracts to chain ${chainId} (Ignition)`);
const deployed = await connection.ignition.deploy(SeedcraftModule, {
  displayUi: false,
  deploymentId,
  // Ignition waits for each batch's block by polling, once a second by default; a local chain mines at once.
  ...(chainId === LOCAL_CHAIN_ID ? { config: { blockPollingInterval: 50 } } : {}),
  parameters: { Seedcraft: parametersFor(chainId, networkName, process.env.SEEDCRAFT_DEPLOY_PARAMETERS) },
});
const addresses = {
  ChunkLedger: deployed.chunkLedger.address,
  SessionRegistry: deployed.sessionRegistry.address,
  EnergyToken: deployed.energyToken.address,
  SeedingRewards: deployed.seedingRewards.address,
  AssetManifest: deployed.assetManifest.address,
};
const contracts = Object.fromEntries(
  await Promise.all(
    [...CONTRACT_NAMES, "AssetManifest" as const].map(async (name) => [
      name,
      { address: addresses[name], abi: (await hre.artifacts.readArtifact(name)).abi },
    ]),
  ),
) as Deployment["contracts"];

// The ledger's creation block names this world: a fresh chain redeploys to the same addresses, in another block.
const deployBlock = await creationBlockOf(publicClient, addresses.ChunkLedger, startBlock);

// The packs go next to the deployment file, which lists them with the manifest hash the module pinned.
const packs = ASSET_PACKS.map(assetPackPin);
for (const bytes of ASSET_PACKS) await writeAssetPack(networkName, bytes);
const file = await writeDeployment({
  network: networkName,
  chainId,
  startBlock: Number(startBlock),
  deployBlockHash: deployBlock.hash,
  contracts,
  assets: { manifestHash: assetManifestHash(packs), packs },
});
console.log(
  `deployed to chain ${chainId}: ${CONTRACT_NAMES.map((name) => `${name} ${addresses[name]}`).join(", ")} → ${file}`,
);
