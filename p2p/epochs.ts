/**
 * The seeding epoch, as SeedingRewards counts it (chain time): read once, then followed with the local
 * clock, and re-read by `refresh()` and every 10 s in the background (a local chain's time can jump ahead of
 * the wall clock). Node and browser.
 */
import type { PublicClient } from "viem";
import type { Deployment } from "../core/deployment.ts";

/** How often the chain's time is read again. */
const REFRESH_MS = 10_000;

export type EpochClock = { epoch: () => number; refresh: () => Promise<void>; stop: () => void };

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
  // Never keeps a Node process alive by itself; a failed read keeps the last offset.
  const timer = setInterval(() => void refresh().catch(() => undefined), REFRESH_MS);
  (timer as { unref?: () => void }).unref?.();
  return {
    epoch: () => Math.max(0, Math.floor((Date.now() / 1000 + offsetS - Number(genesis)) / Number(epochLength))),
    refresh,
    stop: () => clearInterval(timer),
  };
}
