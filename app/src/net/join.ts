/**
 * The browser's peer: the DHT through the world's gateways, WebRTC links signaled through it, and the data
 * plane (chunk torrents on the links, the IndexedDB cache, the ledger's heads from the indexer, receipts
 * signed for what seeders send us).
 */
import type { PublicClient } from "viem";
import { worldKeyOf } from "../../../core/deployment.ts";
import type { Position } from "../../../core/proximity.ts";
import { CAPABILITIES } from "../../../core/wire.ts";
import { IdbChunkCache } from "../../../p2p/browser/idb-cache.ts";
import type { IdbReceiptStore } from "../../../p2p/browser/idb-receipts.ts";
import { createBrowserTorrentClient } from "../../../p2p/browser/torrent-client.ts";
import { ledgerHeadsOf } from "../../../p2p/chain-heads.ts";
import type { SyncProgress, SyncResult } from "../../../p2p/chunk-sync.ts";
import type { TorrentLimits } from "../../../p2p/chunk-torrents.ts";
import { seedingEpochClock } from "../../../p2p/epochs.ts";
import { GatewayDht } from "../../../p2p/gateway-client.ts";
import type { HeadSource } from "../../../p2p/heads.ts";
import { IndexerLedger } from "../../../p2p/ledger.ts";
import { WorldPeer } from "../../../p2p/peer.ts";
import { connectThroughDht } from "../../../p2p/signal.ts";
import { type AppConfig, followGatewayIceServers } from "../config.ts";
import type { PlayerSession } from "../wallet/sessionKey.ts";
import { openReceiptStore } from "./claim.ts";

export type JoinOptions = {
  config: AppConfig;
  /** Reads the chain (the seeding epoch clock). */
  chain: PublicClient;
  session: PlayerSession;
  name: string;
  position: Position;
  /** The chunk columns around the spawn brought up to their anchored versions on the first link. */
  syncRadius: number;
  limits?: Partial<TorrentLimits>;
  onSync?: (result: SyncResult) => void;
  onSyncProgress?: (progress: SyncProgress) => void;
};

/** The peer, and what it keeps in IndexedDB: chunk snapshots, and the receipts leechers gave it as a seeder. */
/** `heads`: the indexer's, and the chain's while the indexer cannot answer (p2p/chain-heads.ts). */
export type JoinedPeer = { peer: WorldPeer; cache: IdbChunkCache; receipts: IdbReceiptStore; heads: HeadSource };

export async function joinWorld(options: JoinOptions): Promise<JoinedPeer> {
  const { config, session, chain } = options;
  if (config.gateways.length === 0) throw new Error("seedcraft.json lists no DHT gateway: the world has none running");
  const { deployment } = config;
  const [dht, cache, epochs, receipts] = await Promise.all([
    GatewayDht.connect(config.gateways),
    IdbChunkCache.openForWorld(worldKeyOf(deployment)),
    seedingEpochClock({ deployment, publicClient: chain }),
    openReceiptStore(config, session.wallet),
  ]);
  // The world's TURN server with the credentials its gateway gave (refreshed as they age), after
  // seedcraft.json's servers, in config.iceServers itself: the mesh, torrents and voice read it per connection.
  followGatewayIceServers(config, dht);
  const heads = ledgerHeadsOf(config.indexerUrl, chain, deployment);
  const peer = await WorldPeer.start({
    dht,
    // The browser's own WebRTC, with the world's STUN/TURN servers (none on a loopback world).
    connect: (mailboxes, key, connectOptions) =>
      connectThroughDht(mailboxes, key, { ...connectOptions, config: { iceServers: [...config.iceServers] } }),
    domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address },
    ledger: new IndexerLedger(config.indexerUrl),
    wallet: session.wallet,
    sessionKey: session.key,
    name: options.name,
    // The app answers calls (VoiceChat; a player who has not joined voice says so with a bye).
    capabilities: CAPABILITIES.voice,
    position: options.position,
    data: {
      client: createBrowserTorrentClient({ iceServers: () => config.iceServers }),
      store: cache,
      heads,
      trackers: config.trackers,
      limits: options.limits,
      syncRadius: options.syncRadius,
      onSync: options.onSync,
      onSyncProgress: options.onSyncProgress,
      receipts: {
        domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.SeedingRewards.address },
        epoch: epochs.epoch,
        sink: receipts,
      },
    },
  });
  return { peer, cache, receipts, heads };
}
