/** Node-only: reading and writing deployments/<network>.json. */
import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";
import { AssetPackError, assetPackHash, assetPackTorrent } from "../core/assets.ts";
import { type Deployment, InvalidDeploymentError, parseDeployment } from "../core/deployment.ts";

export const DEPLOYMENTS_DIR = fileURLToPath(new URL("../deployments/", import.meta.url));

export function deploymentPath(network: string): string {
  if (!/^[a-zA-Z0-9_-]+$/.test(network))
    throw new InvalidDeploymentError(`bad network name ${JSON.stringify(network)}`);
  return path.join(DEPLOYMENTS_DIR, `${network}.json`);
}

/** Writes the file atomically, so a reader never sees half of it. Returns its path. */
export async function writeDeployment(deployment: Deployment): Promise<string> {
  const file = deploymentPath(deployment.network);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(parseDeployment(deployment), null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

export async function readDeployment(network: string): Promise<Deployment> {
  const file = deploymentPath(network);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw missing(file);
  }
  return parseFile(file, text);
}

/** The same, synchronously: for configuration modules that must know the deployment as they load. */
export function readDeploymentSync(network: string): Deployment {
  const file = deploymentPath(network);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw missing(file);
  }
  return parseFile(file, text);
}

function missing(file: string): InvalidDeploymentError {
  return new InvalidDeploymentError(`${file} does not exist: deploy first (npm start, or npm run deploy:localhost)`);
}

function parseFile(file: string, text: string): Deployment {
  try {
    return parseDeployment(JSON.parse(text));
  } catch (error) {
    if (error instanceof InvalidDeploymentError) throw error;
    throw new InvalidDeploymentError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

/** Where a deployment's pack lives: deployments/<network>.assets/<infoHash>.pack (generated, not in git). */
export function assetPackPath(network: string, infoHash: Hex): string {
  if (!/^0x[0-9a-f]{40}$/.test(infoHash)) throw new InvalidDeploymentError(`bad infoHash ${JSON.stringify(infoHash)}`);
  return path.join(DEPLOYMENTS_DIR, `${network}.assets`, `${infoHash.slice(2)}.pack`);
}

/** Writes a pack next to the deployment file (atomically); returns its path. */
export async function writeAssetPack(network: string, bytes: Uint8Array): Promise<string> {
  const file = assetPackPath(network, assetPackTorrent(bytes).infoHash);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  return file;
}

/** The deployment's packs from disk, each checked against the hash the deployment lists. Throws AssetPackError. */
export async function readAssetPacks(deployment: Deployment): Promise<{ infoHash: Hex; bytes: Uint8Array }[]> {
  return await Promise.all(
    (deployment.assets?.packs ?? []).map(async (pack) => {
      const file = assetPackPath(deployment.network, pack.infoHash);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch {
        throw new AssetPackError("ASSET_PACK_TRUNCATED", `${file} does not exist: deploy again`);
      }
      if (assetPackHash(bytes) !== pack.hash.toLowerCase())
        throw new AssetPackError(
          "ASSET_PACK_HASH_MISMATCH",
          `${file} is not the pack ${pack.hash} the deployment lists`,
        );
      return { infoHash: pack.infoHash, bytes };
    }),
  );
}
