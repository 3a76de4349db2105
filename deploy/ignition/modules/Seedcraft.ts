import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { keccak256, toHex } from "viem";
import { BLOCKS } from "../../../core/blocks.ts";

const ENERGY = 10n ** 18n;
const MIB = 1024n * 1024n;

/**
 * Defaults for a local world; any of them can be overridden with Ignition parameters
 * (`--parameters` file: `{ "Seedcraft": { "epochLength": 600, ... } }`).
 */
export const SEEDCRAFT_DEFAULTS = {
  /** The most energy that can ever exist. */
  energyCap: 100_000_000n * ENERGY,
  /** Seconds per seeding epoch. */
  epochLength: 3600n,
  /** Epochs after its end during which an epoch can be claimed. */
  claimWindow: 24n,
  /** Energy wei per byte, 18-decimal fixed point: one energy per MiB served. */
  rewardRate: (ENERGY * ENERGY) / MIB,
  /** Bytes one leecher may attest per epoch: 1,024 chunk snapshots. */
  leecherCap: 64n * MIB,
  /** Bytes one seeder may claim per epoch. */
  seederCap: 1024n * MIB,
  /** The price in energy of each premium block. */
  premiumPrice: 5n * ENERGY,
} as const;

export const MINTER_ROLE = keccak256(toHex("MINTER_ROLE"));

/** Every Seedcraft contract, wired together. The deploy script turns its result into deployments/<network>.json. */
export default buildModule("Seedcraft", (m) => {
  const admin = m.getAccount(0);
  const param = <K extends keyof typeof SEEDCRAFT_DEFAULTS>(name: K) => m.getParameter(name, SEEDCRAFT_DEFAULTS[name]);

  const sessionRegistry = m.contract("SessionRegistry");
  const chunkLedger = m.contract("ChunkLedger", [sessionRegistry]);
  const energyToken = m.contract("EnergyToken", [param("energyCap"), admin]);
  const seedingRewards = m.contract("SeedingRewards", [
    chunkLedger,
    sessionRegistry,
    energyToken,
    param("epochLength"),
    param("claimWindow"),
    param("rewardRate"),
    param("leecherCap"),
    param("seederCap"),
  ]);
  // SeedingRewards is the only minter.
  m.call(energyToken, "grantRole", [MINTER_ROLE, seedingRewards]);
  for (const block of BLOCKS.filter((b) => b.premium)) {
    m.call(energyToken, "setItemPrice", [BigInt(block.id), param("premiumPrice")], { id: `price_${block.name}` });
  }
  return { sessionRegistry, chunkLedger, energyToken, seedingRewards };
});
