/**
 * The asset packs a deployment lists, trusted only once the chain pins their manifest: deployments/<network>.json
 * may come from anywhere (a web server, a copy), AssetManifest on chain is the trust root. Isomorphic.
 */
import type { PublicClient } from "viem";
import { AssetPackError } from "../core/assets.ts";
import type { Deployment, DeploymentAssets } from "../core/deployment.ts";

const MANIFEST_ABI = [
  {
    type: "function",
    name: "manifestHash",
    stateMutability: "view",
    inputs: [],
    outputs: [{ type: "bytes32" }],
  },
] as const;

/**
 * The deployment's assets, after checking that AssetManifest pins their manifest hash (parseDeployment already
 * checked that the packs hash to it). Throws AssetPackError `ASSET_MANIFEST_NOT_PINNED` otherwise.
 */
export async function pinnedAssets(
  client: Pick<PublicClient, "readContract">,
  deployment: Deployment,
): Promise<DeploymentAssets> {
  const { assets } = deployment;
  const manifest = deployment.contracts.AssetManifest;
  if (!assets || !manifest)
    throw new AssetPackError("ASSET_MANIFEST_NOT_PINNED", `deployment ${deployment.network} lists no asset packs`);
  const pinned = await client.readContract({
    address: manifest.address,
    abi: MANIFEST_ABI,
    functionName: "manifestHash",
  });
  if (pinned.toLowerCase() !== assets.manifestHash.toLowerCase())
    throw new AssetPackError(
      "ASSET_MANIFEST_NOT_PINNED",
      `the deployment lists manifest ${assets.manifestHash}, AssetManifest at ${manifest.address} pins ${pinned}`,
    );
  return assets;
}
