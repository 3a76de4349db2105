/**
 * The composition root: the deployment, the wallet, the world on screen, and, once the player joins, the
 * session key, the peer and the game. The world renders from the first moment (terrain needs no network);
 * joining needs a connected wallet.
 */
import { QueryClient } from "@tanstack/react-query";
import { type Address, createPublicClient, http } from "viem";
import type { Config } from "wagmi";
import { BLOCK_IDS, BLOCKS } from "../../core/blocks.ts";
import { SeedcraftError } from "../../core/errors.ts";
import type { IceServer } from "../../core/ice-servers.ts";
import type { Position } from "../../core/proximity.ts";
import { groundHeight, SEA_LEVEL, terrainSeedOf } from "../../core/terrain.ts";
import { sessionAnchorChain } from "../../p2p/anchor-chain.ts";
import { AnchorQueue } from "../../p2p/anchor-queue.ts";
import type { IdbChunkCache } from "../../p2p/browser/idb-cache.ts";
import type { IdbReceiptStore } from "../../p2p/browser/idb-receipts.ts";
import type { SyncProgress } from "../../p2p/chunk-sync.ts";
import { AssetPacks } from "./assets/packs.ts";
import { SoundBank } from "./assets/sounds.ts";
import type { AppConfig } from "./config.ts";
import { keepOpenEdits, listCarried, settleCarried, takeCarriedEdits } from "./edits/carried.ts";
import { EditList } from "./edits/editList.ts";
import { Game } from "./game/Game.ts";
import { joinWorld } from "./net/join.ts";
import { limitsStore, type PlayerLimits, torrentLimitsOf } from "./net/limits.ts";
import { probeTurn, type TurnStatus } from "./net/turn-probe.ts";
import { createStore, type Store } from "./store.ts";
import { VoiceChat } from "./voice/VoiceChat.ts";
import { createWalletConfig, worldChain } from "./wallet/config.ts";
import { ensureSession, SessionError, type SessionStep } from "./wallet/sessionKey.ts";
import { World } from "./world/World.ts";

/** The hotbar: every block a player places (premium ones locked until unlocked with energy). */
export const HOTBAR: readonly number[] = BLOCKS.filter((b) => b.id !== BLOCK_IDS.air && b.id !== BLOCK_IDS.water)
  .map((b) => b.id)
  .slice(0, 9);

export type JoinState =
  | { step: "idle" }
  /** A wallet is connected, but joining needs a transaction: it waits for the player's click on Join. */
  | { step: "confirm" }
  | { step: SessionStep | "joining" | "linking"; note?: string }
  | { step: "joined"; peerId: string }
  | { step: "failed"; error: string; details?: string };

export type Session = {
  config: AppConfig;
  wagmi: Config;
  queryClient: QueryClient;
  world: World;
  edits: EditList;
  /** The hotbar slot selected. */
  slot: Store<number>;
  unlocked: Store<ReadonlySet<number>>;
  /** Whether a block must be unlocked before it is placed. */
  locked: (block: number) => boolean;
  /** The join sync's progress (it starts at the first link, which may come before the game is set up). */
  sync: Store<SyncProgress | undefined>;
  limits: Store<PlayerLimits>;
  join: Store<JoinState>;
  game: Store<Game | undefined>;
  /** What the claim panel needs once joined: the receipts this player collected as a seeder, and its cache. */
  seeding: Store<{ store: IdbReceiptStore; cache: IdbChunkCache; wallet: Address } | undefined>;
  /** Sound effects: built-in ones, then an asset pack's. */
  sounds: SoundBank;
  /** The deployment's asset pack: fetched, checked and swapped in once the player joins. */
  assets: AssetPacks;
  /** Proximity voice (and video) with the nearest linked players, once joined; started by the player's click. */
  voice: Store<VoiceChat | undefined>;
  /** The last edit refused before it was made, for the HUD. */
  refusal: Store<string | undefined>;
  /** Whether the world's TURN relay works for this tab (checked on joining; the join panel tells a failure). */
  turn: Store<TurnStatus>;
  /** Checks the TURN relay again (the config's ICE servers by default), and keeps the outcome in `turn`. */
  checkTurn(servers?: readonly IceServer[]): Promise<TurnStatus>;
  spawn: Position;
  /**
   * Joins the world as `wallet` (a session key authorized in one wallet step), once. Without `ask` (no click of
   * the player's), only a tab whose session key is still authorized joins; the others wait in "confirm".
   */
  start(wallet: Address, name: string, ask?: boolean): Promise<void>;
};

const BLOCKED_KEY = "seedcraft:voice-blocked";

/** The wallets this player blocked from voice, as stored (anything malformed counts as none). */
function storedBlocked(): string[] {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(BLOCKED_KEY) ?? "[]");
    return Array.isArray(list)
      ? list.filter((item): item is string => typeof item === "string" && /^0x[0-9a-fA-F]{40}$/.test(item))
      : [];
  } catch {
    return [];
  }
}

/** Chunk columns around the spawn brought up to their anchored versions on joining. */
const SYNC_RADIUS = 4;
/** Players appear within this many blocks of the origin, so two who join together do not stand in each other. */
const SPAWN_SPREAD = 6;

function spawnPoint(seed: number): Position {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  const x = Math.floor(((a as number) / 2 ** 32 - 0.5) * 2 * SPAWN_SPREAD) + 0.5;
  const z = Math.floor(((b as number) / 2 ** 32 - 0.5) * 2 * SPAWN_SPREAD) + 0.5;
  return [x, Math.max(groundHeight(seed, Math.floor(x), Math.floor(z)), SEA_LEVEL) + 1, z];
}

export function createSession(config: AppConfig): Session {
  const { deployment } = config;
  // The one client that reads the chain for joining: the session key's state, the epoch clock, the asset pin.
  const chain = createPublicClient({ transport: http(config.rpcUrl), pollingInterval: 250 });
  const seed = terrainSeedOf(deployment.chainId, deployment.contracts.ChunkLedger.address);
  const spawn = spawnPoint(seed);
  const unlocked = createStore<ReadonlySet<number>>(new Set());
  const locked = (block: number) => Boolean(BLOCKS[block]?.premium) && !unlocked.get().has(block);
  const world = new World({
    seed,
    center: spawn,
    viewDistance: 2,
    isSlotSelectable: (i) => HOTBAR[i] !== undefined && !locked(HOTBAR[i]),
  });
  const wagmi = createWalletConfig(config);
  const edits = new EditList();
  const slot = createStore(0);
  world.controls.onSelectSlot = (i) => slot.set(i);
  const session: Session = {
    config,
    wagmi,
    queryClient: new QueryClient(),
    world,
    edits,
    slot,
    unlocked,
    sync: createStore<SyncProgress | undefined>(undefined),
    locked,
    limits: limitsStore(),
    join: createStore<JoinState>({ step: "idle" }),
    game: createStore<Game | undefined>(undefined),
    seeding: createStore<{ store: IdbReceiptStore; cache: IdbChunkCache; wallet: Address } | undefined>(undefined),
    refusal: createStore<string | undefined>(undefined),
    turn: createStore<TurnStatus>({ state: "none" }),
    async checkTurn(servers = config.iceServers) {
      session.turn.set({ state: "checking" });
      const status = await probeTurn(servers);
      session.turn.set(status);
      return status;
    },
    sounds: new SoundBank(),
    assets: new AssetPacks(),
    voice: createStore<VoiceChat | undefined>(undefined),
    spawn,
    start: (wallet, name, ask = false) => {
      started ??= join(wallet, name, ask).catch((error: unknown) => {
        started = undefined;
        if (error instanceof SessionError && error.code === "SESSION_NEEDS_CLICK") {
          session.join.set({ step: "confirm" });
          return;
        }
        const details = error instanceof SeedcraftError ? error.details : undefined;
        session.join.set({ step: "failed", error: error instanceof Error ? error.message : String(error), details });
      });
      return started;
    },
  };
  let started: Promise<void> | undefined;

  async function join(wallet: Address, name: string, ask: boolean): Promise<void> {
    const player = await ensureSession(wagmi, config, chain, wallet, (step) => session.join.set({ step }), ask);
    session.join.set({ step: "joining" });
    const { peer, cache, receipts, heads } = await joinWorld({
      config,
      chain,
      session: player,
      name,
      position: spawn,
      syncRadius: SYNC_RADIUS,
      limits: torrentLimitsOf(session.limits.get()),
      onSyncProgress: (progress) => session.sync.set(progress),
    });
    const queue = new AnchorQueue({
      replica: peer.replica,
      chain: sessionAnchorChain(deployment, worldChain(config), player.key),
      heads,
      sync: peer.sync,
      edits,
      author: wallet,
    });
    const game = new Game({
      world,
      peer,
      edits,
      queue,
      wallet,
      heads,
      locked: session.locked,
      sounds: session.sounds,
    });
    session.game.set(game);
    // Our edits still on their way when this tab's last page went: listed again, settled against the ledger.
    const carried = listCarried(edits, takeCarriedEdits(wallet));
    keepOpenEdits(edits, wallet);
    if (carried.length > 0) void settleCarried({ edits, entries: carried, replica: peer.replica, heads });
    session.seeding.set({ store: receipts, cache, wallet });
    void session.assets.load({ config, chain, peer, world, sounds: session.sounds });
    const voice = new VoiceChat({
      mesh: peer.mesh,
      position: () => world.controls.position as unknown as Position,
      yaw: () => world.controls.yaw,
      blocked: storedBlocked(),
      rtcConfig: { iceServers: config.iceServers },
    });
    // Blocks are kept across reloads (by wallet).
    voice.state.subscribe(() => localStorage.setItem(BLOCKED_KEY, JSON.stringify([...voice.blocked])));
    session.voice.set(voice);
    // Rates change at once; the rest of the limits from the next join.
    session.limits.subscribe(() => {
      const limits = torrentLimitsOf(session.limits.get());
      peer.torrents?.setRateLimits(limits.uploadBytesPerSecond, limits.downloadBytesPerSecond);
    });
    session.join.set({ step: "joined", peerId: peer.id });
    // With the gateway's credentials in the config now: a relay that does not work is told, not silent.
    void session.checkTurn();
  }

  world.onEditRequest = ({ mode, target, clickedAt }) => {
    const game = session.game.get();
    const block = HOTBAR[session.slot.get()] ?? BLOCK_IDS.stone;
    if (!game) {
      session.refusal.set("Connect a wallet and join to build.");
      return;
    }
    void game.edit(mode, target, block, clickedAt).then((refused) => session.refusal.set(refused));
  };
  return session;
}
