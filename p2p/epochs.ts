/**
 * The seeding epoch, as SeedingRewards counts it (chain time): read once, then followed with the local
 * clock, and re-read by `refresh()` (a local chain's time can jump ahead of the wall clock). Node and browser.
 */
import type { PublicClient } from "viem";
import type { Deployment } from "../core/deployment.ts";

export type EpochClock = { epoch: () => number; refresh: () => Promise<void> };

export async function seedingEpochClock(clients: {
  deployment: Deployment;
  publicClient: Pick<PublicClient, "readContract" | "getBlock">;
}): Promise<EpochClock> {
  const rewards = clients.deployment.contracts.SeedingRewards;
  const read = (functionName: "genesis" | "epochLength") =>
    clients.publicClient.readContract({ address: rewards.address, abi: rewards.abi, functionName }) as Promise<bigint>;
  const [genesis, epochLength] = await Promise.all([read("genesis"), read("epochLength")]);
  let offsetS = 0;
  const refresh = async () => {
    const block = await clients.publicClient.getBlock({ blockTag: "latest" });
    offsetS = Number(block.timestamp) - Date.now() / 1000;
  };
  await refresh();
  return {
    epoch: () => Math.max(0, Math.floor((Date.now() / 1000 + offsetS - Number(genesis)) / Number(epochLength))),
    refresh,
  };
}
