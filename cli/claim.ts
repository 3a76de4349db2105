/**
 * `seedcraft claim`: turns a seeder's stored receipts into energy. For each finished epoch it has receipts
 * for (oldest first): plan the claim (core/claim.ts), commit to it, wait for the challenge block, prove the
 * challenged leaf of the challenged chunk from the cache, and claim; then mark the epoch claimed in the
 * receipt store and show the energy earned and the balance.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readDeployment } from "../deploy/deployment-file.ts";
import { type ClaimChain, ClaimFailedError, claimEpoch, epochState, readClaimWindow } from "../p2p/claim.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { ReceiptStore } from "../p2p/node/receipt-store.ts";
import { UsageError } from "./errors.ts";
import { advanceToNextEpoch, type LocalChainClients, localChainClients, worldEnv } from "./local-chain.ts";
import { formatEnergy, readSeederWallet, seederRunningIn } from "./seed.ts";

export const CLAIM_HELP = `  claim    Claim energy for the seeder's receipts: commit, wait for the challenge, prove, claim.
           --cache <dir>          the seeder's directory (SEEDCRAFT_STATE_DIR/seeder)
           --epoch <n>            only this epoch (every finished epoch with receipts, oldest first)
           --advance-time         local chain only: move the chain's clock past the current epoch first`;

export { ClaimFailedError };

type Contract = LocalChainClients["deployment"]["contracts"]["SeedingRewards"];

async function read<T>(clients: LocalChainClients, contract: Contract, functionName: string, args: unknown[] = []) {
  return (await clients.publicClient.readContract({
    address: contract.address,
    abi: contract.abi,
    functionName,
    args,
  })) as T;
}

export async function claim(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { cache: { type: "string" }, epoch: { type: "string" }, "advance-time": { type: "boolean" } },
    strict: true,
    allowPositionals: false,
  });
  const only = values.epoch === undefined ? undefined : Number(values.epoch);
  if (only !== undefined && (!Number.isInteger(only) || only < 0 || only > 0xffff_ffff))
    throw new UsageError(`--epoch must be an epoch number, got ${JSON.stringify(values.epoch)}`);
  const stateDir = process.env.SEEDCRAFT_STATE_DIR || ".seedcraft";
  const dir = path.resolve(values.cache ?? path.join(stateDir, "seeder"));
  const { network, rpc } = worldEnv();
  const deployment = await readDeployment(network);
  const wallet = privateKeyToAccount(await readSeederWallet(dir));
  const clients = localChainClients(deployment, rpc, wallet);
  const rewards = deployment.contracts.SeedingRewards;
  const say = (line: string) => console.log(line);

  if (values["advance-time"]) {
    if (deployment.chainId !== 31337) throw new UsageError("--advance-time works on the local chain only");
    const epochLength = await read<bigint>(clients, rewards, "epochLength");
    const epoch = await advanceToNextEpoch(clients);
    say(`moved the local chain's clock to epoch ${epoch} (epochs are ${epochLength} s)`);
  }

  // The seeder writes its receipt log and cache as it runs: claim from a stopped seeder's directory.
  const running = await seederRunningIn(dir);
  if (running !== undefined)
    throw new UsageError(`a seeder (pid ${running}) runs in ${dir}: stop it first, then claim`);
  const chain: ClaimChain = {
    deployment,
    publicClient: clients.publicClient,
    seeder: wallet.address,
    write: (request) => clients.walletClient.writeContract(request),
  };
  const store = await ReceiptStore.open(path.join(dir, "receipts"));
  const cache = await NodeChunkCache.open(path.join(dir, "cache"));
  try {
    // The window alone, as before: an epoch the chain no longer takes fails in its commit, with the reason.
    const { current, window } = await readClaimWindow(chain);
    const epochs = store.epochs().filter((epoch) => !store.claimed(epoch) && (only === undefined || epoch === only));
    const finished = epochs.filter((epoch) => epochState(epoch, { current, window }) === "claimable");
    for (const epoch of epochs)
      if (!finished.includes(epoch))
        say(
          epochState(epoch, { current, window }) === "open"
            ? `epoch ${epoch}: not over yet (the chain is in epoch ${current})`
            : `epoch ${epoch}: its claim window has closed`,
        );
    if (finished.length === 0) {
      say("nothing to claim");
      return only === undefined ? 0 : 1;
    }
    let earned = 0n;
    for (const epoch of finished) {
      const { reward } = await claimEpoch({
        chain,
        receipts: store,
        chunks: cache,
        epoch,
        onProgress: (progress) => progress.text !== undefined && say(progress.text),
      });
      say(`epoch ${epoch}: claimed ${formatEnergy(reward, 4)} energy`);
      earned += reward;
    }
    const energy = deployment.contracts.EnergyToken;
    const balance = (await clients.publicClient.readContract({
      address: energy.address,
      abi: energy.abi,
      functionName: "balanceOf",
      args: [wallet.address as Address],
    })) as bigint;
    say(`earned ${formatEnergy(earned, 4)} energy; ${wallet.address} holds ${formatEnergy(balance, 4)}`);
    return 0;
  } finally {
    await cache.close();
    await store.close();
  }
}
