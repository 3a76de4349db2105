/**
 * Node-only: a headless peer. It joins a world's DHT, publishes its card, announces itself on the
 * regions it stands in, finds the peers of the regions it sees, connects to them over WebRTC signaled
 * through DHT mailboxes, and plays through the mesh (p2p/mesh.ts): it moves, edits blocks and keeps a
 * replica of the chunks around it. A peer that drops is dialled again with exponential backoff.
 * `seedcraft peer`, the tests and bench:propagation all run this class.
 */
import { bytesToHex, type Hex, hexToBytes, keccak256, type LocalAccount, toHex } from "viem";
import { chunkIdOf, locateBlock } from "../../core/chunk.ts";
import { HybridClock } from "../../core/hlc.ts";
import { type OpDomain, signDigest } from "../../core/op.ts";
import { type Position, regionsInView } from "../../core/proximity.ts";
import { terrainSeedOf } from "../../core/terrain.ts";
import { makeCard } from "../card.ts";
import type { LedgerView } from "../ledger.ts";
import { SimplePeerLink } from "../link.ts";
import { Mesh, type MeshLimits } from "../mesh.ts";
import { WorldReplica } from "../replica.ts";
import { type DhtAddress, regionTopic, WorldDht } from "./dht.ts";
import { installNativeSecp256k1 } from "./native-secp256k1.ts";
import { connectThroughDht } from "./signal.ts";

export type NodePeerOptions = {
  /** DHT bootstrap nodes, "host:port". */
  bootstrap: string[];
  domain: OpDomain;
  ledger: LedgerView;
  wallet: `0x${string}`;
  sessionKey: LocalAccount;
  name: string;
  position: Position;
  /** Peers to keep linked (nearest first); more are refused. */
  maxPeers?: number;
  /** How often to look for peers (ms). */
  discoverEveryMs?: number;
  limits?: Partial<MeshLimits>;
  now?: () => number;
  log?: (line: string) => void;
};

const MIN_BACKOFF_MS = 250;
/** With this many links a peer looks beyond its own region only every tenth round. */
const SETTLED_LINKS = 8;
const MAX_BACKOFF_MS = 30_000;

export class NodePeer {
  readonly dht: WorldDht;
  readonly mesh: Mesh;
  readonly replica: WorldReplica;
  readonly #options: NodePeerOptions;
  readonly #dialing = new Set<string>();
  readonly #backoff = new Map<string, { failures: number; nextAtMs: number }>();
  /** DHT address → node id (a ping answers it once). */
  readonly #ids = new Map<string, Hex>();
  #announced = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #allLinked = false;
  #settled = false;
  #round = 0;
  #stopped = false;
  readonly startedAtMs: number;
  firstPeerAtMs: number | undefined;

  private constructor(dht: WorldDht, options: NodePeerOptions) {
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
      },
      replica: this.replica,
      ledger: options.ledger,
      limits: { maxPeers: options.maxPeers ?? 12, ...options.limits },
      now,
    });
    this.mesh.on("peer", () => {
      this.firstPeerAtMs ??= now();
    });
    this.mesh.on("left", (peer) => {
      // Dial it again later if it is still around.
      this.#fail(peer.id);
    });
  }

  static async start(options: NodePeerOptions): Promise<NodePeer> {
    // Every op received is a signature recovery: libsecp256k1 when it loads here.
    installNativeSecp256k1();
    const dht = await WorldDht.start({ bootstrap: options.bootstrap });
    const peer = new NodePeer(dht, options);
    // Warm up before anyone waits on us: the first signature builds the curve's tables (a few hundred
    // ms of JavaScript), and the chunk underfoot is generated and hashed once.
    await signDigest(keccak256(toHex("seedcraft:warm-up")), options.sessionKey);
    const [x, y, z] = options.position;
    const { cx, cy, cz } = locateBlock(Math.floor(x), Math.floor(y), Math.floor(z));
    peer.replica.hash(chunkIdOf(cx, cy, cz));
    await dht.publishCard(await makeCard(dht.publicKey, options.wallet, options.sessionKey));
    peer.mesh.move(options.position);
    await peer.#announce();
    peer.#schedule(0);
    return peer;
  }

  get id(): Hex {
    return this.mesh.id;
  }

  /** Moves the avatar (movement deltas go out), announcing on new regions. */
  move(position: Position): void {
    this.mesh.move(position);
    void this.#announce().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.mesh.close();
    await this.dht.destroy();
  }

  #regions(): { rx: number; rz: number }[] {
    return regionsInView(this.mesh.position ?? this.#options.position);
  }

  async #announce(): Promise<void> {
    const { chainId, verifyingContract } = this.#options.domain;
    const own = this.mesh.position ?? this.#options.position;
    const [here] = regionsInView(own, 0);
    if (!here) return;
    const key = `${here.rx}:${here.rz}`;
    if (this.#announced.has(key)) return;
    this.#announced = new Set([key]);
    await this.dht.announce(regionTopic(chainId, verifyingContract, here));
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#discover(), delayMs);
  }

  async #discover(): Promise<void> {
    try {
      const { chainId, verifyingContract } = this.#options.domain;
      // Settled, a peer still looks at its own region every round (newcomers there must not wait
      // long for an answer), and at the rest of its view every tenth round.
      const regions = this.#settled && this.#round % 10 !== 0 ? this.#regions().slice(0, 1) : this.#regions();
      this.#round++;
      const topics = regions.map((region) => regionTopic(chainId, verifyingContract, region));
      const found = (await Promise.all(topics.map((topic) => this.dht.lookup(topic).catch(() => [])))).flat();
      await Promise.all(found.map((address) => this.#consider(address)));
      // Everyone found is linked (or refused for now): nobody new around.
      this.#allLinked =
        found.length > 0 &&
        found.every((address) => {
          const id = this.#ids.get(`${address.host}:${address.port}`);
          return id !== undefined && (this.mesh.has(id) || id.toLowerCase() === this.id);
        });
    } catch (error) {
      this.#options.log?.(`discovery failed: ${(error as Error).message}`);
    }
    // Looking is a DHT lookup per region in view, so a peer that has its fill, or is linked with
    // everyone it found, looks at fewer regions (above); always with jitter.
    this.#settled = this.#allLinked || this.mesh.peers.length >= Math.min(this.mesh.limits.maxPeers, SETTLED_LINKS);
    this.#schedule((this.#options.discoverEveryMs ?? 1000) * (0.75 + Math.random() * 0.5));
  }

  async #consider(address: DhtAddress): Promise<void> {
    const where = `${address.host}:${address.port}`;
    let id = this.#ids.get(where);
    if (!id) {
      const nodeId = await this.dht.nodeIdOf(address).catch(() => undefined);
      if (!nodeId) return;
      const card = await this.dht.readCard(nodeId).catch(() => undefined);
      if (!card) return;
      id = bytesToHex(card.dhtKey);
      this.#ids.set(where, id);
    }
    await this.dial(id);
  }

  /** Connects to a peer by DHT key (through DHT mailboxes), unless linked, banned, full or backing off. */
  async dial(id: Hex): Promise<void> {
    const key = id.toLowerCase();
    const now = Date.now();
    if (this.#stopped || key === this.id || this.#dialing.has(key) || this.mesh.has(id) || this.mesh.isBanned(key))
      return;
    if (this.mesh.peers.length >= this.mesh.limits.maxPeers) return;
    const backoff = this.#backoff.get(key);
    if (backoff && backoff.nextAtMs > now) return;
    this.#dialing.add(key);
    try {
      const peer = await connectThroughDht(this.dht, hexToBytes(id), { timeoutMs: 8000 });
      if (this.#stopped) {
        peer.destroy();
        return;
      }
      await this.mesh.attach(new SimplePeerLink(peer), id);
      this.#backoff.delete(key);
    } catch (error) {
      this.#fail(key);
      this.#options.log?.(`dial ${key.slice(0, 10)} failed: ${(error as Error).message}`);
    } finally {
      this.#dialing.delete(key);
    }
  }

  #fail(id: string): void {
    const previous = this.#backoff.get(id)?.failures ?? 0;
    const failures = previous + 1;
    const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (failures - 1));
    // Jitter, so two peers that failed together do not retry in lockstep.
    this.#backoff.set(id, { failures, nextAtMs: Date.now() + delay * (0.75 + Math.random() * 0.5) });
  }
}
