/**
 * The deployment's asset pack in the app: the world starts with its built-in textures and sounds; once the
 * player joins, the pack the deployment pins (its manifest checked against AssetManifest on chain) comes from
 * the IndexedDB cache or over torrents, is checked against its pinned hash, decoded, and swapped in without a
 * reload. The peer then seeds it too. A cached copy that no longer hashes right is dropped and fetched again.
 */
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { Hex, PublicClient } from "viem";
import type { AssetPackPin } from "../../../core/assets.ts";
import { type AssetPack, assetPackHash, assetPackTorrent, decodeAssetPack } from "../../../core/assets.ts";
import { SeedcraftError } from "../../../core/errors.ts";
import { pinnedAssets } from "../../../p2p/asset-manifest.ts";
import type { WorldPeer } from "../../../p2p/peer.ts";
import type { AppConfig } from "../config.ts";
import { createStore, type Store } from "../store.ts";
import { type Atlas, TILES } from "../world/atlas.ts";
import type { World } from "../world/World.ts";
import type { PcmSound, SoundBank } from "./sounds.ts";

export type AssetState =
  | { step: "built-in"; note?: string }
  | { step: "checking"; name: string; bytes: number }
  /** `failures`: why each earlier try gave up ("CODE: message", the details in the message), each in turn. */
  | { step: "fetching"; name: string; bytes: number; failures: string[] }
  | {
      step: "ready";
      name: string;
      bytes: number;
      from: "cache" | "peers";
      ms: number;
      rejectedCache: boolean;
      failures: string[];
      /** How the fetch went (chunk-torrents' timeline), when it came from peers. */
      timeline?: string;
      /** Milliseconds reading the pinned manifest on chain took (part of `ms`). */
      manifestMs: number;
    }
  | { step: "failed"; name?: string; code: string; reason: string };

interface AssetSchema extends DBSchema {
  packs: { key: string; value: Uint8Array };
}

/**
 * Fetches give up after this long, and are tried again while the player stays (a seeder may join later),
 * after a pause that doubles each time: a pack nobody serves costs little while the player waits.
 */
const FETCH_TIMEOUT_MS = 30_000;
const RETRIES = 5;
const FIRST_PAUSE_MS = 10_000;

export class AssetPacks {
  readonly state: Store<AssetState> = createStore<AssetState>({ step: "built-in" });
  /** The pack in use, once one is. */
  pack: AssetPack | undefined;
  readonly #db: Promise<IDBPDatabase<AssetSchema>>;

  constructor(dbName = "seedcraft-assets") {
    this.#db = openDB<AssetSchema>(dbName, 1, {
      upgrade(db) {
        db.createObjectStore("packs");
      },
    });
  }

  /** Brings in the deployment's first pinned pack; never throws (the state says what went wrong). */
  async load(options: {
    config: AppConfig;
    chain: Pick<PublicClient, "readContract">;
    peer: WorldPeer;
    world: World;
    sounds: SoundBank;
  }): Promise<void> {
    const { config, chain, peer, world, sounds } = options;
    const started = performance.now();
    let pin: AssetPackPin | undefined;
    try {
      if (!config.deployment.assets) {
        this.state.set({ step: "built-in", note: "the deployment pins no asset pack" });
        return;
      }
      pin = (await pinnedAssets(chain, config.deployment)).packs[0];
      const manifestMs = performance.now() - started;
      if (!pin) {
        this.state.set({ step: "built-in", note: "the deployment pins no asset pack" });
        return;
      }
      this.state.set({ step: "checking", name: pin.name, bytes: pin.bytes });
      const { bytes, from, rejectedCache, failures, timeline } = await this.#bytes(pin, peer);
      const pack = decodeAssetPack(bytes);
      world.setTextures(atlasOf(pack));
      sounds.replace(soundsOf(pack), pack.name);
      this.pack = pack;
      // Whoever holds it serves it: the pack spreads like the chunks do.
      await peer.torrents?.seedFile(assetPackTorrent(bytes), bytes);
      this.state.set({
        step: "ready",
        name: pack.name,
        bytes: bytes.length,
        from,
        ms: performance.now() - started,
        rejectedCache,
        failures,
        ...(timeline ? { timeline } : {}),
        manifestMs,
      });
    } catch (error) {
      const code = error instanceof SeedcraftError ? error.code : "ASSETS_FAILED";
      const reason = error instanceof Error ? error.message : String(error);
      this.state.set({ step: "failed", name: pin?.name, code, reason });
    }
  }

  async #bytes(
    pin: AssetPackPin,
    peer: WorldPeer,
  ): Promise<{
    bytes: Uint8Array;
    from: "cache" | "peers";
    rejectedCache: boolean;
    failures: string[];
    timeline?: string;
  }> {
    const db = await this.#db;
    const cached = await db.get("packs", pin.hash.toLowerCase());
    let rejectedCache = false;
    if (cached) {
      if (assetPackHash(cached).toLowerCase() === pin.hash.toLowerCase())
        return { bytes: cached, from: "cache", rejectedCache, failures: [] };
      // Changed on disk since it was checked: never used, fetched again.
      rejectedCache = true;
      await db.delete("packs", pin.hash.toLowerCase());
    }
    const torrents = peer.torrents;
    if (!torrents) throw new SeedcraftError("ASSETS_NO_DATA_PLANE", "The peer has no data plane to fetch the pack.");
    const failures: string[] = [];
    this.state.set({ step: "fetching", name: pin.name, bytes: pin.bytes, failures: [] });
    let lastError: unknown;
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      if (attempt > 0 && !(lastError instanceof SeedcraftError && lastError.code === "FILE_MISMATCH"))
        await new Promise((resolve) => setTimeout(resolve, FIRST_PAUSE_MS * 2 ** (attempt - 1)));
      try {
        // fetchFile resolves only with bytes that hash to the pinned hash (others ban their senders).
        const { bytes, timeline } = await torrents.fetchFile(pin.infoHash, pin.hash as Hex, {
          timeoutMs: FETCH_TIMEOUT_MS,
        });
        await db.put("packs", bytes, pin.hash.toLowerCase());
        return { bytes, from: "peers", rejectedCache, failures, timeline };
      } catch (error) {
        lastError = error;
        failures.push(describe(error));
        this.state.set({ step: "fetching", name: pin.name, bytes: pin.bytes, failures: [...failures] });
        if (error instanceof SeedcraftError && error.code === "FILE_MISMATCH") continue;
        if (error instanceof SeedcraftError && error.code === "FILE_TOO_LARGE") throw error;
      }
    }
    throw lastError;
  }
}

/** A try's error as the state keeps it: a SeedcraftError's message already carries its details. */
function describe(error: unknown): string {
  if (error instanceof SeedcraftError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The pack's textures as the world's atlas: one layer per tile, in the built-in atlas's order. */
export function atlasOf(pack: AssetPack): Atlas {
  const first = pack.textures[0];
  if (!first) throw new SeedcraftError("ASSETS_NO_TEXTURES", "The asset pack has no textures.");
  const size = first.width;
  const layer = size * size * 4;
  const pixels = new Uint8Array(layer * TILES.length);
  TILES.forEach((tile, i) => {
    const texture = pack.textures.find((t) => t.name === tile);
    if (!texture || texture.width !== size || texture.height !== size)
      throw new SeedcraftError("ASSETS_MISSING_TILE", `The asset pack lacks a ${size}×${size} texture for ${tile}.`);
    pixels.set(texture.pixels, i * layer);
  });
  return { tileSize: size, tiles: TILES, pixels };
}

function soundsOf(pack: AssetPack): Map<string, PcmSound> {
  return new Map(pack.sounds.map((s) => [s.name, { samples: s.samples, sampleRate: s.sampleRate }]));
}
