/**
 * A peer of the world: it publishes its card in the DHT, announces itself on the region it stands in
 * (both put again every few minutes, before DHT nodes drop them: p2p/dht-lifetime.ts),
 * finds the peers of the regions it sees (and answers those that knock), connects to them over WebRTC
 * signaled through DHT mailboxes, and plays through the mesh (p2p/mesh.ts): it moves, edits blocks
 * and keeps a replica of the chunks around it. A peer that drops is dialled again with exponential
 * backoff. Isomorphic: Node runs it on its own DHT node (p2p/node/peer.ts), a browser through the
 * gateway (p2p/gateway-client.ts), each with its own WebRTC.
 */
import createDebug from "debug";
import type Peer from "simple-peer";
import { bytesToHex, type Hex, hexToBytes, keccak256, type LocalAccount, toHex } from "viem";
import { CHUNK_SIZE, chunkIdOf, locateBlock } from "../core/chunk.ts";
import { HybridClock } from "../core/hlc.ts";
import { type OpDomain, signDigest } from "../core/op.ts";
import {
  chunkOfPosition,
  chunksInView,
  distance,
  type PeerPlace,
  type Position,
  REGION_CHUNKS,
  type Region,
  regionsInView,
  selectNeighbours,
} from "../core/proximity.ts";
import type { ReceiptDomain } from "../core/receipt.ts";
import { terrainSeedOf } from "../core/terrain.ts";
import { CAPABILITIES } from "../core/wire.ts";
import { makeCard, type PeerCard } from "./card.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { ChunkSync, type SyncProgress, type SyncResult } from "./chunk-sync.ts";
import { ChunkTorrents, type FetchResult, type TorrentClient, type TorrentLimits } from "./chunk-torrents.ts";
import { lifetimeMs, REFRESH_EVERY_MS, refreshDelayMs } from "./dht-lifetime.ts";
import type { HeadSource } from "./heads.ts";
import type { LedgerView } from "./ledger.ts";
import { SimplePeerLink } from "./link.ts";
import { Mesh, type MeshLimits } from "./mesh.ts";
import { MeshMailboxes } from "./mesh-mailboxes.ts";
import { PeerEditExpiry } from "./peer-edit-expiry.ts";
import { decodeReceiptMessage, ReceiptDesk, ReceiptSigner, type ReceiptSink } from "./receipts.ts";
import { WorldReplica } from "./replica.ts";
import {
  answeringNewerOffers,
  type ConnectOptions,
  type DhtAddress,
  type Mailboxes,
  SignalingError,
} from "./signal.ts";
import { nodeIdOfKey, regionTopic } from "./topics.ts";

/** What a peer needs of the DHT: a node of its own (Node) or one the gateway hosts (browsers). */
export type PeerDht = Mailboxes & {
  readonly cardTarget: Uint8Array;
  readonly address: DhtAddress;
  publishCard(card: PeerCard): Promise<void>;
  readCard(target: Uint8Array): Promise<PeerCard | undefined>;
  announce(topic: Uint8Array): Promise<void>;
  lookup(topic: Uint8Array): Promise<DhtAddress[]>;
  nodeIdOf(address: DhtAddress): Promise<Uint8Array>;
  knock(nodeId: Uint8Array): Promise<void>;
  onKnock(handler: (from: DhtAddress) => void): () => void;
  destroy(): Promise<void>;
};

export type WorldPeerOptions = {
  dht: PeerDht;
  /**
   * Opens a WebRTC connection signaled through mailboxes (p2p/signal.ts, with this side's WebRTC):
   * the DHT's, or the mesh's when a neighbour is linked with the other peer.
   */
  connect: (mailboxes: readonly Mailboxes[], remoteKey: Uint8Array, options: ConnectOptions) => Promise<Peer>;
  domain: OpDomain;
  ledger: LedgerView;
  wallet: `0x${string}`;
  sessionKey: LocalAccount;
  name: string;
  /** The hello's CAPABILITIES bits (default none). */
  capabilities?: number;
  position: Position;
  /** Links at most, those others opened included; more are refused. */
  maxPeers?: number;
  /** How many of the nearest peers this one dials (default 12). */
  nearest?: number;
  /** How many random long links it dials among the others (default 2). */
  randomLinks?: number;
  /** Uniform in [0, 1), for the random links and jitter. */
  random?: () => number;
  /** How often to look for peers (ms). */
  discoverEveryMs?: number;
  /**
   * How often to announce the region again and put the card again (ms, jittered ±20 %), before DHT nodes
   * drop them (p2p/dht-lifetime.ts: 5 minutes by default, a third of their announce maxAge).
   */
  refreshEveryMs?: number;
  limits?: Partial<MeshLimits>;
  /** The data plane: chunk torrents on the links, the cache, and the ledger's heads. */
  data?: DataPlaneOptions;
  now?: () => number;
  log?: (line: string) => void;
};

export type DataPlaneOptions = {
  client: TorrentClient;
  store: ChunkStore;
  heads: HeadSource;
  trackers?: string[];
  limits?: Partial<TorrentLimits>;
  /** Once the first link stands, bring the anchored chunks within this many chunk columns up to date. */
  syncRadius?: number;
  /** After the join sync, read the heads within `syncRadius` again this often (ms), and load what is behind. */
  resyncMs?: number;
  onSync?: (result: SyncResult) => void;
  onSyncProgress?: (progress: SyncProgress) => void;
  onFetched?: (result: FetchResult) => void;
  /** Seeding receipts: signed for what seeders send us; collected (into `sink`) for what we send. */
  receipts?: { domain: ReceiptDomain; epoch: () => number; sink?: ReceiptSink };
};

const debug = createDebug("seedcraft:peer");
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** Settled, a peer looks for others only every this many rounds (newcomers knock instead). */
const SETTLED_EVERY = 5;
/** Knocks answered at most this often from one address, and this many a second in all. */
const KNOCK_REPEAT_MS = 1000;
const KNOCKS_PER_S = 20;
/** A peer with no link yet dials this many of the nearest first, the rest in the next rounds. */
const FIRST_WAVE = 3;
/** An in-band attempt gives up sooner than one through the DHT (the next one goes through the DHT). */
const IN_BAND_TIMEOUT_MS = 3000;
/** A link dropped to make room cannot take another's place by knocking for this long. */
const DISPLACED_MS = 60_000;
/** The chunks within this many chunks of the avatar are generated ahead of any op into them. */
const PREPARE_RADIUS_CHUNKS = 1;

export class WorldPeer {
  readonly dht: PeerDht;
  readonly mesh: Mesh;
  readonly replica: WorldReplica;
  readonly #options: WorldPeerOptions;
  readonly #dialing = new Set<string>();
  readonly #backoff = new Map<string, { failures: number; nextAtMs: number }>();
  /** DHT address → DHT key (a ping and a card read answer it once). */
  readonly #ids = new Map<string, Hex>();
  /** DHT key → its card, as read when the key was found (in-band links are checked against it). */
  readonly #cards = new Map<Hex, PeerCard>();
  /** DHT key → its node's address (signals go straight there too). */
  readonly #addresses = new Map<Hex, DhtAddress>();
  readonly #knocks = new Map<string, number>();
  #knockWindow = { startMs: 0, count: 0 };
  #stopKnocks: (() => void) | undefined;
  #announced = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The card as published, put again by each refresh (the DHT signs it anew, with a higher seq). */
  #card: PeerCard | undefined;
  #refreshing: ReturnType<typeof setTimeout> | undefined;
  /** The chunk the avatar stood in when the chunks around it were last queued for generation. */
  #preparedAround: bigint | undefined;
  #preparing: ReturnType<typeof setTimeout> | undefined;
  #settled = false;
  #round = 0;
  #stopped = false;
  /** Signals through a common neighbour (in-band), for peers we are not linked with yet. */
  readonly #inBand: MeshMailboxes;
  /** Peers whose last in-band attempt failed: the next one goes through the DHT. */
  readonly #inBandFailed = new Set<string>();
  /** Aborted on stop: connection attempts in flight are given up and closed. */
  readonly #stopping = new AbortController();
  readonly startedAtMs: number;
  firstPeerAtMs: number | undefined;
  /** The peers the last discovery round wanted linked (its nearest and its random links). */
  #wanted = new Set<string>();
  /** Links dropped to make room, until when their knocks cannot make room in turn. */
  readonly #displaced = new Map<string, number>();
  /** Links opened by this side's dials or answers, by the way their signals went. */
  readonly dials = { dht: 0, mesh: 0 };
  /** The data plane, when the peer was given one. */
  readonly torrents: ChunkTorrents | undefined;
  readonly sync: ChunkSync | undefined;
  /** Receipts we sign as a leecher, and the ones we collect as a seeder. */
  readonly receiptSigner: ReceiptSigner | undefined;
  readonly receiptDesk: ReceiptDesk | undefined;
  /** The join sync, once it ran. */
  joined: Promise<SyncResult> | undefined;
  /** Ends peers' ops no anchor covers in time, so the replica's provisional set stays bounded. */
  readonly expiry: PeerEditExpiry;

  private constructor(options: WorldPeerOptions) {
    const dht = options.dht;
    this.dht = dht;
    this.#options = options;
    const now = options.now ?? Date.now;
    this.startedAtMs = now();
    this.replica = new WorldReplica({
      domain: options.domain,
      seed: terrainSeedOf(options.domain.chainId, options.domain.verifyingContract),
      ledger: options.ledger,
      now,
      clock: new HybridClock({ now }),
    });
    this.mesh = new Mesh({
      identity: {
        wallet: options.wallet,
        sessionKey: options.sessionKey,
        peerId: bytesToHex(dht.publicKey),
        name: options.name,
        capabilities: options.capabilities,
      },
      replica: this.replica,
      ledger: options.ledger,
      limits: { ...(options.maxPeers ? { maxPeers: options.maxPeers } : {}), ...options.limits },
      now,
    });
    this.mesh.on("peer", () => {
      if (this.firstPeerAtMs !== undefined) return;
      this.firstPeerAtMs = now();
      // Ops come only over links: the terrain around us is generated once the first one stands, so
      // that it does not compete with the handshakes of a join.
      this.#prepareAround(this.#position());
    });
    this.#inBand = new MeshMailboxes(this.mesh, (from) => {
      if (this.#admitKnock(`mesh:${from}`, from)) void this.dial(from, { knock: false, route: "mesh" });
    });
    this.mesh.on("left", (peer) => {
      // Dial it again later if it is still around.
      this.#fail(peer.id);
    });
    const data = options.data;
    if (data) {
      const torrents = new ChunkTorrents({
        client: data.client,
        store: data.store,
        trackers: data.trackers,
        limits: data.limits,
        now,
        onStrike: (peerId, code) => {
          if (code === "SNAPSHOT_MISMATCH") this.mesh.ban(peerId as Hex, code);
          else this.mesh.strike(peerId as Hex, code);
        },
        onServe: (peerId, head) => this.receiptDesk?.served(peerId, head.hash),
        onControl: (peerId, bytes) => {
          const message = decodeReceiptMessage(bytes);
          if (!message) return this.mesh.strike(peerId as Hex, "CONTROL_MALFORMED");
          if (message.t === "receipts") void this.receiptDesk?.onControl(peerId, message);
          else this.receiptSigner?.onControl(peerId, message);
        },
      });
      this.torrents = torrents;
      const receipts = data.receipts;
      const send = (peerId: string, bytes: Uint8Array) => torrents.control(peerId, bytes);
      if (receipts) {
        this.receiptSigner = new ReceiptSigner({
          wallet: options.wallet,
          key: options.sessionKey,
          domain: receipts.domain,
          epoch: receipts.epoch,
          send,
        });
        if (receipts.sink)
          this.receiptDesk = new ReceiptDesk({
            wallet: options.wallet,
            domain: receipts.domain,
            store: receipts.sink,
            send,
            epoch: receipts.epoch,
            peerOf: (peerId) => this.mesh.peer(peerId as Hex),
          });
      }
      this.sync = new ChunkSync({
        mesh: this.mesh,
        replica: this.replica,
        torrents,
        store: data.store,
        heads: data.heads,
        onFetched: (result) => {
          for (const source of result.sources) {
            const seeder = this.mesh.peer(source.peerId as Hex);
            if (seeder) this.receiptSigner?.record(source.peerId, seeder.wallet, result.head, source.bytes);
          }
          data.onFetched?.(result);
        },
        now,
      });
      this.mesh.on("peer", (peer) => {
        const channel = this.mesh.torrentChannel(peer.id);
        if (channel) torrents.addLink(peer.id, channel, { seeder: (peer.capabilities & CAPABILITIES.seeds) !== 0 });
        this.receiptSigner?.relink(peer.id, peer.wallet);
        if (data.syncRadius !== undefined && !this.joined) {
          const { cx, cz } = chunkOfPosition(this.#position());
          this.joined = this.sync?.syncAround(cx, cz, data.syncRadius, data.onSyncProgress);
          const radius = data.syncRadius;
          const keepUp = () => {
            if (data.resyncMs && !this.#stopped)
              this.sync?.keepUp(() => chunkOfPosition(this.#position()), radius, data.resyncMs);
          };
          void this.joined
            ?.then(
              (result) => data.onSync?.(result),
              (error: Error) => debug("%s: join sync failed: %s", options.name, error.message),
            )
            .finally(keepUp);
        }
      });
      this.mesh.on("left", (peer) => {
        torrents.removeLink(peer.id);
        this.receiptDesk?.forget(peer.id);
      });
    }
    this.expiry = new PeerEditExpiry({ replica: this.replica, heads: data?.heads, sync: this.sync });
  }

  /** Joins with a started DHT (its card and announcements are published here). */
  static async start(options: WorldPeerOptions): Promise<WorldPeer> {
    const dht = options.dht;
    lifetimeMs(options.refreshEveryMs, REFRESH_EVERY_MS, "refreshEveryMs");
    const peer = new WorldPeer(options);
    debug("%s: DHT node on %o, key %s", options.name, dht.address, bytesToHex(dht.publicKey).slice(0, 10));
    // Warm up before anyone waits on us: the first signature builds the curve's tables (a few hundred
    // ms of JavaScript), and the chunk underfoot is generated and hashed once.
    await signDigest(keccak256(toHex("seedcraft:warm-up")), options.sessionKey);
    const [x, y, z] = options.position;
    const { cx, cy, cz } = locateBlock(Math.floor(x), Math.floor(y), Math.floor(z));
    peer.replica.hash(chunkIdOf(cx, cy, cz));
    peer.#card = await makeCard(dht.publicKey, options.wallet, options.sessionKey);
    await dht.publishCard(peer.#card);
    peer.mesh.move(options.position);
    peer.#stopKnocks = dht.onKnock((from) => peer.#knocked(from));
    debug("%s: card published; %d ms since start", options.name, Date.now() - peer.startedAtMs);
    // Looking around needs only the card (those we knock read it); announcing goes on beside it.
    peer.#schedule(0);
    await peer.#announce();
    peer.#scheduleRefresh();
    return peer;
  }

  get id(): Hex {
    return this.mesh.id;
  }

  /** Moves the avatar (movement deltas go out), announcing on new regions. */
  move(position: Position): void {
    this.mesh.move(position);
    this.#prepareAround(position);
    void this.#announce().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    clearTimeout(this.#timer);
    clearTimeout(this.#refreshing);
    clearTimeout(this.#preparing);
    this.#stopKnocks?.();
    this.expiry.destroy();
    this.sync?.stop();
    this.receiptSigner?.stop();
    this.mesh.close();
    await this.torrents?.destroy();
    await this.dht.destroy();
  }

  /** Announces the region it stands in, if it has not yet (or `again`, to refresh the announce). */
  async #announce(again = false): Promise<void> {
    const { chainId, verifyingContract } = this.#options.domain;
    const [here] = regionsInView(this.#position(), 0);
    if (!here) return;
    const key = `${here.rx}:${here.rz}`;
    if (this.#announced.has(key) && !again) return;
    this.#announced = new Set([key]);
    await this.dht.announce(regionTopic(chainId, verifyingContract, here));
  }

  /**
   * Every `refreshEveryMs` or so, until it stops: the region's announce and the card again, so that DHT
   * nodes, which drop announces after their maxAge and BEP44 items after theirs (p2p/node/dht.ts), keep
   * finding it as long as it plays. An announce of a region left behind is not refreshed: it runs out.
   * Through the gateway (browsers) the same calls reach the node hosted there.
   */
  #scheduleRefresh(): void {
    if (this.#stopped) return;
    const everyMs = lifetimeMs(this.#options.refreshEveryMs, REFRESH_EVERY_MS, "refreshEveryMs");
    this.#refreshing = setTimeout(
      () => {
        // The next one is timed from here: an announce or put returns only once every node it went to
        // answered or timed out (2 s each), and the records land when the queries arrive, not then.
        this.#scheduleRefresh();
        const card = this.#card;
        void Promise.all([card && this.dht.publishCard(card), this.#announce(true)]).catch((error: Error) => {
          if (this.#stopped) return;
          debug("%s: refresh failed: %s", this.#options.name, error.message);
          this.#options.log?.(`DHT refresh failed: ${error.message}`);
        });
      },
      refreshDelayMs(everyMs, this.#random),
    );
  }

  /**
   * Generates the terrain of the chunks next to the avatar's in the background, one chunk a task and
   * nearest first, so that an edit arriving there does not wait a few milliseconds for it (the
   * first ops into a chunk nobody had touched took 20 to 70 ms to apply at 16 peers on 2 cores).
   */
  #prepareAround(position: Position): void {
    if (this.firstPeerAtMs === undefined) return;
    const { cx, cy, cz } = chunkOfPosition(position);
    const centre = chunkIdOf(cx, cy, cz);
    if (centre === this.#preparedAround) return;
    this.#preparedAround = centre;
    clearTimeout(this.#preparing);
    const queue = chunksInView(position, PREPARE_RADIUS_CHUNKS).map((c) => chunkIdOf(c.cx, c.cy, c.cz));
    const next = () => {
      if (this.#stopped) return;
      let id = queue.shift();
      while (id !== undefined && this.replica.holds(id)) id = queue.shift();
      if (id === undefined) return;
      this.replica.chunk(id);
      this.#preparing = setTimeout(next, 0);
    };
    this.#preparing = setTimeout(next, 0);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#discover(), delayMs);
  }

  async #discover(): Promise<void> {
    try {
      const { chainId, verifyingContract } = this.#options.domain;
      // Settled, a peer looks around only every fifth round, at its own region and then the rest of
      // its view in turn: newcomers knock on its door rather than wait for it to find them.
      const round = this.#round++;
      if (this.#settled && round % SETTLED_EVERY !== 0) return;
      const view = regionsInView(this.#position());
      const regions = this.#settled && round % (2 * SETTLED_EVERY) !== 0 ? view.slice(0, 1) : view;
      const found = await Promise.all(
        regions.map(async (region) => ({
          region,
          addresses: await this.dht.lookup(regionTopic(chainId, verifyingContract, region)).catch(() => []),
        })),
      );
      // The peers linked already count too, where they stand.
      const candidates: PeerPlace[] = this.mesh.peers.flatMap((peer) =>
        peer.position ? [{ id: peer.id, position: peer.position }] : [],
      );
      await Promise.all(
        found.flatMap(({ region, addresses }) =>
          addresses.map(async (address) => {
            const id = await this.#identify(address);
            if (!id || id === this.id) return;
            // Not linked yet, it is placed at the centre of the region whose lookup found it.
            const position = this.mesh.peer(id)?.position ?? regionCentre(region, this.#position()[1]);
            candidates.push({ id, position });
          }),
        ),
      );
      const wanted = selectNeighbours({ id: this.id, position: this.#position() }, candidates, {
        k: this.#options.nearest ?? 12,
        randomLinks: this.#options.randomLinks ?? 2,
        random: this.#random,
      });
      debug(
        "%s: round %d, %d regions, %d found, %d wanted, %d linked",
        this.#options.name,
        round,
        regions.length,
        candidates.length,
        wanted.length,
        this.mesh.peers.length,
      );
      this.#wanted = new Set(wanted.map((peer) => peer.id));
      this.#makeRoom(wanted);
      // A newcomer dials its nearest few first: a dozen handshakes at once would each finish later.
      const joining = this.mesh.peers.length === 0;
      await Promise.all((joining ? wanted.slice(0, FIRST_WAVE) : wanted).map((peer) => this.dial(peer.id as Hex)));
      // Linked with everyone it wants (or backing off from them): settled until something changes.
      const now = Date.now();
      this.#settled =
        wanted.length > 0 && wanted.every((peer) => this.mesh.has(peer.id as Hex) || this.#backingOff(peer.id, now));
    } catch (error) {
      this.#options.log?.(`discovery failed: ${(error as Error).message}`);
    } finally {
      this.#schedule((this.#options.discoverEveryMs ?? 1000) * (0.75 + this.#random() * 0.5));
    }
  }

  #position(): Position {
    return this.mesh.position ?? this.#options.position;
  }

  /**
   * Full, while some peer it wants (among its nearest, or its few random links) is not linked: the
   * farthest links it does not want go, one for each, so that nearer peers are not refused because
   * farther ones came first. A peer dropped so may dial again; it is refused while the mesh is full.
   */
  #makeRoom(wanted: readonly PeerPlace[]): void {
    const now = Date.now();
    const missing = wanted.filter((peer) => !this.mesh.has(peer.id as Hex) && !this.#backingOff(peer.id, now)).length;
    const free = this.mesh.limits.maxPeers - this.mesh.peers.length;
    if (missing > free) this.#dropFarthestSpare(missing - free, this.#wanted);
  }

  /**
   * Drops up to `count` links not in `keep`, farthest first; whether any went. Without `keep`, the
   * nearest links are kept (as many as the peer dials), by where they stand now.
   */
  #dropFarthestSpare(count: number, keep?: ReadonlySet<string>): boolean {
    const here = this.#position();
    const byDistance = this.mesh.peers
      .map((peer) => ({ peer, distance: peer.position ? distance(peer.position, here) : Number.POSITIVE_INFINITY }))
      .sort((a, b) => a.distance - b.distance);
    const kept = keep ?? new Set(byDistance.slice(0, this.#options.nearest ?? 12).map(({ peer }) => peer.id));
    const spare = byDistance
      .filter(({ peer }) => !kept.has(peer.id))
      .reverse()
      .slice(0, count);
    if (this.#displaced.size > 4096) this.#displaced.clear();
    for (const { peer } of spare) {
      this.#displaced.set(peer.id, Date.now() + DISPLACED_MS);
      debug("%s: dropping %s to make room", this.#options.name, peer.id.slice(0, 10));
      this.mesh.disconnect(peer.id, "room for another peer");
    }
    return spare.length > 0;
  }

  #random = (): number => (this.#options.random ?? Math.random)();

  /** The DHT key of the node at `address`: a ping gives its id, and the card under that id its key. */
  async #identify(address: DhtAddress): Promise<Hex | undefined> {
    const where = `${address.host}:${address.port}`;
    const known = this.#ids.get(where);
    // A node we failed to reach is pinged again: one that left stays in the DHT's peer lists for a
    // while, and dialling it costs a signaling attempt each time.
    if (known) {
      if (!this.#backoff.has(known) || (await this.dht.nodeIdOf(address).catch(() => undefined))) return known;
      this.#ids.delete(where);
      this.#addresses.delete(known);
      return undefined;
    }
    const nodeId = await this.dht.nodeIdOf(address).catch(() => undefined);
    const card = nodeId && (await this.dht.readCard(nodeId).catch(() => undefined));
    if (!card) return undefined;
    const id = bytesToHex(card.dhtKey).toLowerCase() as Hex;
    if (this.#cards.size > 4096) this.#cards.clear();
    this.#cards.set(id, card);
    this.#ids.set(where, id);
    this.#addresses.set(id, address);
    return id;
  }

  /** Someone knocked through the DHT (p2p/node/dht.ts): dial back if there is room. */
  #knocked(from: DhtAddress): void {
    const where = `${from.host}:${from.port}`;
    if (!this.#admitKnock(where, this.#ids.get(where))) return;
    void this.#identify(from)
      .then((id) => id && this.dial(id, { knock: false, route: "dht" }))
      .catch(() => undefined);
  }

  /** A knock is answered at most once a second from one place, and KNOCKS_PER_S in all, if there is room. */
  #admitKnock(where: string, id: Hex | undefined): boolean {
    const now = Date.now();
    if (now - (this.#knocks.get(where) ?? Number.NEGATIVE_INFINITY) < KNOCK_REPEAT_MS) return false;
    if (now - this.#knockWindow.startMs >= 1000) this.#knockWindow = { startMs: now, count: 0 };
    if (++this.#knockWindow.count > KNOCKS_PER_S) return false;
    if (this.#knocks.size > 4096) this.#knocks.clear();
    this.#knocks.set(where, now);
    if (this.#stopped) return false;
    // Full: a newcomer takes the place of the farthest link beyond our nearest (it may be nearer; where
    // it stands is known only once linked, and the next round keeps whichever is nearer).
    // One we made room against does not come back the same way for a while (they would take turns).
    const full = this.mesh.peers.length >= this.mesh.limits.maxPeers;
    if (full && ((id && (this.#displaced.get(id) ?? 0) > now) || !this.#dropFarthestSpare(1))) return false;
    debug("%s: knock from %s", this.#options.name, where);
    return true;
  }

  /**
   * Connects to a peer by DHT key, unless linked, banned, full or backing off. The signals go through
   * a neighbour linked with it when there is one (in-band), else through DHT mailboxes; an answer to
   * a knock goes the way the knock came (`route`). The dialler knocks (`knock`, default true) so that
   * the other side dials back at once.
   */
  async dial(id: Hex, { knock = true, route }: { knock?: boolean; route?: "dht" | "mesh" } = {}): Promise<void> {
    const key = id.toLowerCase();
    const now = Date.now();
    if (this.#stopped || key === this.id || this.#dialing.has(key) || this.mesh.has(id) || this.mesh.isBanned(key))
      return;
    if (this.mesh.peers.length >= this.mesh.limits.maxPeers) return;
    if (this.#backingOff(key, now)) return;
    const inBand =
      route === "mesh" ||
      (route === undefined && !this.#inBandFailed.has(key) && this.#inBand.via(key as Hex) !== undefined);
    this.#dialing.add(key);
    const startedAtMs = Date.now();
    try {
      const remoteKey = hexToBytes(id);
      // In-band, nothing in the signaling proves the key (a relay could carry anyone's signals): the
      // hello must show the session key the key's own card binds. The card read when the key was
      // found serves for every link, since even a dial through the DHT may be answered in-band.
      const card =
        this.#cards.get(key as Hex) ??
        (inBand ? await this.dht.readCard(nodeIdOfKey(remoteKey)).catch(() => undefined) : undefined);
      if (inBand && !card) throw new SignalingError("The peer has no card in the DHT.", key);
      if (knock && inBand) await this.#inBand.knock(key as Hex);
      else if (knock)
        void this.dht.knock(nodeIdOfKey(remoteKey)).catch((error: Error) => debug("knock failed: %s", error.message));
      // Both are read: the other side may be dialling us at the same time the other way.
      const boxes = inBand ? [this.#inBand, this.dht] : [this.dht, this.#inBand];
      const signal = this.#stopping.signal;
      const options = inBand
        ? { timeoutMs: IN_BAND_TIMEOUT_MS, signal }
        : { timeoutMs: 8000, address: this.#addresses.get(key as Hex), signal };
      const peer = await answeringNewerOffers(() => this.#options.connect(boxes, remoteKey, options));
      debug(
        "%s: connected to %s in %d ms (%s)",
        this.#options.name,
        key.slice(0, 10),
        Date.now() - startedAtMs,
        inBand ? "in-band" : "DHT",
      );
      if (this.#stopped) {
        peer.destroy();
        return;
      }
      await this.mesh.attach(new SimplePeerLink(peer), id, card?.sessionKey);
      this.#backoff.delete(key);
      this.#inBandFailed.delete(key);
      this.dials[inBand ? "mesh" : "dht"]++;
    } catch (error) {
      if (inBand) this.#inBandFailed.add(key);
      this.#fail(key);
      debug(
        "%s: dial %s failed after %d ms: %s (%s)",
        this.#options.name,
        key.slice(0, 10),
        Date.now() - startedAtMs,
        (error as Error).message,
        (error as { details?: string }).details ?? "",
      );
      this.#options.log?.(`dial ${key.slice(0, 10)} failed: ${(error as Error).message}`);
    } finally {
      this.#dialing.delete(key);
    }
  }

  #backingOff(id: string, now: number): boolean {
    return (this.#backoff.get(id)?.nextAtMs ?? 0) > now;
  }

  #fail(id: string): void {
    const previous = this.#backoff.get(id)?.failures ?? 0;
    const failures = previous + 1;
    const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (failures - 1));
    // Jitter, so two peers that failed together do not retry in lockstep.
    this.#backoff.set(id, { failures, nextAtMs: Date.now() + delay * (0.75 + this.#random() * 0.5) });
  }
}

/** The centre of a region at height `y`: where a peer found by that region's lookup is assumed to be. */
function regionCentre({ rx, rz }: Region, y: number): Position {
  const side = REGION_CHUNKS * CHUNK_SIZE;
  return [(rx + 0.5) * side, y, (rz + 0.5) * side];
}
