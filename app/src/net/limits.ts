/**
 * The player's resource limits for the data plane, kept in localStorage across reloads. Upload and download
 * rates apply at once; the hashing budget and the wire count from the next join.
 */
import type { TorrentLimits } from "../../../p2p/chunk-torrents.ts";
import { createStore, type Store } from "../store.ts";

export type PlayerLimits = {
  /** KiB a second; 0: no limit. */
  uploadKiBs: number;
  downloadKiBs: number;
  /** Milliseconds of snapshot hashing a second. */
  hashMsPerSecond: number;
  maxWires: number;
};

export const DEFAULT_LIMITS: PlayerLimits = { uploadKiBs: 0, downloadKiBs: 0, hashMsPerSecond: 250, maxWires: 256 };
const RANGES: Record<keyof PlayerLimits, [number, number]> = {
  uploadKiBs: [0, 1_000_000],
  downloadKiBs: [0, 1_000_000],
  hashMsPerSecond: [10, 1000],
  maxWires: [4, 4096],
};
const STORAGE_KEY = "seedcraft:limits";

/** A limit read from storage or typed in: a whole number in its range, or undefined. */
export function checkLimit(name: keyof PlayerLimits, value: unknown): number | undefined {
  const [min, max] = RANGES[name];
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

export function loadLimits(storage: Pick<Storage, "getItem"> = localStorage): PlayerLimits {
  let stored: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(storage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof parsed === "object" && parsed !== null) stored = parsed as Record<string, unknown>;
  } catch {
    // A corrupt entry falls back to the defaults; the next save replaces it.
  }
  const limits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof PlayerLimits)[])
    limits[name] = checkLimit(name, stored[name]) ?? DEFAULT_LIMITS[name];
  return limits;
}

export function limitsStore(): Store<PlayerLimits> {
  const store = createStore(loadLimits());
  store.subscribe(() => localStorage.setItem(STORAGE_KEY, JSON.stringify(store.get())));
  return store;
}

export function torrentLimitsOf(limits: PlayerLimits): Partial<TorrentLimits> {
  return {
    uploadBytesPerSecond: limits.uploadKiBs > 0 ? limits.uploadKiBs * 1024 : undefined,
    downloadBytesPerSecond: limits.downloadKiBs > 0 ? limits.downloadKiBs * 1024 : undefined,
    hashMsPerSecond: limits.hashMsPerSecond,
    maxWires: limits.maxWires,
  };
}
