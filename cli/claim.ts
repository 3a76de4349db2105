/**
 * `seedcraft claim`: turns a seeder's stored receipts into energy. For each finished epoch it has receipts
 * for (oldest first): plan the claim (core/claim.ts), commit to it, wait for the challenge block, prove the
 * challenged leaf of the challenged chunk from the cache, and claim; then mark the epoch claimed in the
 * receipt store and show the energy earned and the balance. An epoch with nothing the chain would pay is
 * said, with the reasons, and passed over. When a seeder runs in the directory, it asks that seeder to claim
 * (cli/seeder-control.ts) instead of opening the files it writes: the world's own seeder claims while it runs.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { worldKeyOf } from "../core/deployment.ts";
import { readDeployment } from "../deploy/deployment-file.ts";
import { type ClaimChain, ClaimFailedError, claimFinishedEpochs } from "../p2p/claim.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { ReceiptStore } from "../p2p/node/receipt-store.ts";
import { UsageError } from "./errors.ts";
import { advanceToNextEpoch, type LocalChainClients, localChainClients, worldEnv } from "./local-chain.ts";
import { formatEnergy, readSeederWallet, SeederBusyError, seederIn } from "./seed.ts";
import { earnedIn } from "./seeder-claims.ts";
import { askSeeder, pingSeeder, SeederControlError } from "./seeder-control.ts";

export const CLAIM_HELP = `  claim    Claim energy for the seeder's receipts: commit, wait for the challenge, prove, claim.
           --cache <dir>          the seeder's directory (SEEDCRAFT_STATE_DIR/seeder)
           --epoch <n>            only this epoch (every finished epoch with receipts, oldest first)
           --advance-time         local chain only: move the chain's clock past the current epoch first
           (with a seeder running in the directory, that seeder makes the claims)`;

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

  // Everything that could refuse is checked before anything moves the chain's clock.
  if (values["advance-time"] && deployment.chainId !== 31337)
    throw new UsageError("--advance-time works on the local chain only");
  // The seeder writes its receipt log and cache as it runs: a running one is asked to claim, through its socket.
  const running = await seederIn(dir);
  if (running !== undefined && running.control === undefined) throw new SeederBusyError(dir, running.pid);
  // A seeder whose socket does not answer would fail the claim after the clock moved: it is asked first.
  if (running?.control !== undefined) {
    const control = running.control;
    await pingSeeder(control).catch((error: SeederControlError) => {
      throw new SeederControlError(
        `a seeder (pid ${running.pid}) runs in ${dir} but does not answer on ${control}: nothing was claimed and the chain's clock did not move`,
        error.details ?? error.message,
        "SEEDER_UNREACHABLE",
      );
    });
  }

  if (values["advance-time"]) {
    const epochLength = await read<bigint>(clients, rewards, "epochLength");
    const epoch = await advanceToNextEpoch(clients);
    say(`moved the local chain's clock to epoch ${epoch} (epochs are ${epochLength} s)`);
  }

  let earned: bigint;
  let failed = false;
  if (running?.control !== undefined) {
    say(`a seeder (pid ${running.pid}) runs in ${dir}: asking it to claim`);
    const done = await askSeeder(running.control, { t: "claim", ...(only === undefined ? {} : { epoch: only }) }, say);
    earned = BigInt(done.earned);
    if (done.error) {
      say(`the claim failed: ${done.error.message}`);
      failed = true;
    }
    if (only !== undefined && !done.claimed.includes(only)) failed = true;
    if (done.claimed.length === 0 && done.nothing.length === 0 && done.waiting.length === 0 && !done.error)
      say("nothing to claim");
  } else {
    const chain: ClaimChain = {
      deployment,
      publicClient: clients.publicClient,
      seeder: wallet.address,
      write: (request) => clients.walletClient.writeContract(request),
    };
    const world = worldKeyOf(deployment);
    const store = await ReceiptStore.open(path.join(dir, "receipts"), { world, log: say });
    const cache = await NodeChunkCache.open(path.join(dir, "cache"), { world, log: say });
    try {
      const round = await claimFinishedEpochs({
        chain,
        receipts: store,
        chunks: cache,
        say,
        ...(only === undefined ? {} : { only }),
      });
      for (const result of round.claimed)
        say(`epoch ${result.epoch}: claimed ${formatEnergy(result.reward, 4)} energy`);
      earned = earnedIn(round);
      if (round.claimed.length === 0 && round.nothing.length === 0 && round.waiting.length === 0)
        say("nothing to claim");
      if (only !== undefined && !round.claimed.some((result) => result.epoch === only)) failed = true;
    } finally {
      await cache.close();
      await store.close();
    }
  }
  const energy = deployment.contracts.EnergyToken;
  const balance = (await clients.publicClient.readContract({
    address: energy.address,
    abi: energy.abi,
    functionName: "balanceOf",
    args: [wallet.address as Address],
  })) as bigint;
  say(`earned ${formatEnergy(earned, 4)} energy; ${wallet.address} holds ${formatEnergy(balance, 4)}`);
  return failed ? 1 : 0;
}
