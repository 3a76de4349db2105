/**
 * Node-only: a peer's node in the BitTorrent DHT (bittorrent-dht), for discovery.
 * - Its node id is sha1 of its ed25519 public key, which is also the BEP44 target of its peer card:
 *   whoever learns the node's address can ping it for its id and fetch its card under that id.
 * - Peers announce themselves (their DHT port) on a topic per region, and look up the regions they see.
 * - Every node drops announces `maxAgeMs` after their last refresh and BEP44 items `itemMaxAgeMs` after
 *   their last put (bittorrent-dht keeps both forever by default: see p2p/dht-lifetime.ts), so lookups
 *   stop returning peers that left; living peers refresh theirs (p2p/peer.ts).
 * BEP44 signatures use Node's own ed25519 (OpenSSL): every node checks every item put to it, and
 * OpenSSL verifies in tens of microseconds where JavaScript takes milliseconds.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { once } from "node:events";
import bencode from "bencode";
import DHT, { type GetResult } from "bittorrent-dht";
import createDebug from "debug";
import { SeedcraftError } from "../../core/errors.ts";
import { decodeCard, encodeCard, type PeerCard } from "../card.ts";
import { ANNOUNCE_MAX_AGE_MS, ITEM_MAX_AGE_MS, lifetimeMs } from "../dht-lifetime.ts";
import { keyOfKind } from "../key-kind.ts";
import type { DhtAddress } from "../signal.ts";
import { nodeIdOfKey } from "../topics.ts";

const debug = createDebug("seedcraft:dht");

export type { DhtAddress } from "../signal.ts";
export { nodeIdOfKey, regionTopic } from "../topics.ts";

export class DhtError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("DHT", message, details);
    this.name = "DhtError";
  }
}

const sha1 = (data: Uint8Array | string) => new Uint8Array(createHash("sha1").update(data).digest());

// DER wrappers of raw ed25519 keys (RFC 8410): SubjectPublicKeyInfo and PKCS #8.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The public half of an ed25519 secret key (32 bytes each way). */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyOf(secretKey)).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

function privateKeyOf(secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== 32) throw new DhtError("An ed25519 secret key is 32 bytes.");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: "der", type: "pkcs8" });
}

/** Checks a BEP44 signature; anything malformed is simply not valid. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

export type WorldDhtOptions = {
  /** Bootstrap nodes as "host:port"; false for the first (bootstrap) node itself. */
  bootstrap: string[] | false;
  host?: string;
  port?: number;
  /**
   * Instead of `port`: a port to take if it is free, else any free one. A gateway re-hosting a browser's
   * node after a restart asks for the old node's port, where the other nodes' routing tables still point.
   */
  preferredPort?: number;
  /** The ed25519 secret key (32 bytes); random by default. */
  secretKey?: Uint8Array;
  /**
   * Instead of a secret key: the public key of someone who signs their own items elsewhere (a browser
   * behind the gateway). The node takes that key's id, and puts only items signed already.
   */
  hostedKey?: Uint8Array;
  /**
   * With `hostedKey`, another node for the same key (a browser using several gateways): its id is
   * sha1(key ‖ slot) rather than sha1(key), so the DHT tells the nodes apart. Slot 0 is the key's own.
   */
  slot?: number;
  /**
   * How long this node keeps others' announces after their last refresh (ms; 15 minutes by default,
   * ANNOUNCE_MAX_AGE_MS). Tests shorten it to watch peers come and go.
   */
  maxAgeMs?: number;
  /** How long this node keeps a BEP44 item after its last put (ms; BEP44's 2 hours by default). */
  itemMaxAgeMs?: number;
  /**
   * How often this node pings the nodes of its routing table it has not heard from meanwhile, and drops those
   * that do not answer (ms; NODE_CHECK_MS by default). Tests shorten it.
   */
  nodeCheckMs?: number;
};

/**
 * A node that left (a player's process ended, a browser's gateway node went) stays in every routing table
 * that holds it: bittorrent-dht pings its table only after 15 minutes without a change, and then drops one
 * dead node a round. In a world's small DHT every lookup visits nearly every node, and waits out k-rpc's 2 s
 * timeout on each dead one, so a player joining after others left spent seconds per lookup. Each node checks
 * its table itself instead: a node silent for this long is pinged, and dropped if it does not answer.
 */
export const NODE_CHECK_MS = 30_000;

/** The highest slot: a browser may use up to MAX_SLOT + 1 gateways. */
export const MAX_SLOT = 15;

/** A BEP44 mutable item signed by its owner: `sig` covers salt, seq and v (BEP44's encoding). */
export type SignedItem = { k: Uint8Array; v: Uint8Array; seq: number; salt?: Uint8Array; sig: Uint8Array };

/** The bytes a BEP44 mutable item's signature covers. */
export function itemSigData(item: { v: Uint8Array; seq: number; salt?: Uint8Array }): Uint8Array {
  const fields = item.salt ? { salt: item.salt, seq: item.seq, v: item.v } : { seq: item.seq, v: item.v };
  return bencode.encode(fields).subarray(1, -1);
}

function listen(dht: DHT, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    dht.once("error", reject);
    dht.listen(port, host, () => {
      dht.off("error", reject);
      resolve();
    });
  });
}

type RoutingNode = { id: Buffer; host: string; port: number; seen?: number };
/** bittorrent-dht's routing table (k-rpc's k-bucket), which it does not expose. */
type RoutingTable = { toArray(): RoutingNode[]; remove(id: Buffer): void };

export class WorldDht {
  readonly #dht: DHT;
  readonly #secretKey: KeyObject | undefined;
  readonly publicKey: Uint8Array;
  #seq = 0;
  #checkTimer: ReturnType<typeof setTimeout> | undefined;
  #destroyed = false;
  /** Nodes dropped from the routing table for not answering a check (for the tests and the logs). */
  droppedNodes = 0;

  private constructor(dht: DHT, secretKey: Uint8Array | undefined, publicKey: Uint8Array, nodeCheckMs: number) {
    this.#dht = dht;
    this.#secretKey = secretKey && privateKeyOf(secretKey);
    this.publicKey = publicKey;
    this.#scheduleCheck(nodeCheckMs);
  }

  /** Every `everyMs` (±20 %), the nodes silent that long are pinged; those that do not answer are dropped. */
  #scheduleCheck(everyMs: number): void {
    if (this.#destroyed) return;
    this.#checkTimer = setTimeout(
      () => {
        void this.#checkNodes(everyMs).finally(() => this.#scheduleCheck(everyMs));
      },
      everyMs * (0.8 + 0.4 * Math.random()),
    );
    this.#checkTimer.unref?.();
  }

  /** The nodes this node's routing table holds. */
  routingTable(): DhtAddress[] {
    return this.#table()
      .toArray()
      .map((node) => ({ host: node.host, port: node.port }));
  }

  #table(): RoutingTable {
    return (this.#dht as unknown as { _rpc: { nodes: RoutingTable } })._rpc.nodes;
  }

  async #checkNodes(silentMs: number): Promise<void> {
    const table = this.#table();
    const before = Date.now() - silentMs;
    const silent = table.toArray().filter((node) => (node.seen ?? 0) < before);
    const { query } = this.#rpc();
    await Promise.all(
      silent.map(async (node) => {
        try {
          await query({ host: node.host, port: node.port }, { q: "ping" });
        } catch {
          if (this.#destroyed) return;
          table.remove(node.id);
          this.droppedNodes++;
          debug("dropped node %s:%d from the routing table: it did not answer", node.host, node.port);
        }
      }),
    );
  }

  #sign = (message: Uint8Array): Buffer => {
    if (!this.#secretKey) throw new DhtError("This node hosts someone else's key: it cannot sign.");
    return sign(null, message, this.#secretKey);
  };

  /** Starts a node listening on `host:port` (127.0.0.1 and a free port by default). */
  static async start(options: WorldDhtOptions): Promise<WorldDht> {
    if (options.hostedKey && options.hostedKey.length !== 32) throw new DhtError("An ed25519 public key is 32 bytes.");
    // A Node peer's own key is of the Node kind: a browser then offers to it (p2p/key-kind.ts).
    const secretKey = options.hostedKey
      ? undefined
      : (options.secretKey ?? keyOfKind("node", () => new Uint8Array(randomBytes(32)), ed25519PublicKey));
    const publicKey = secretKey ? ed25519PublicKey(secretKey) : (options.hostedKey as Uint8Array);
    const slot = options.slot ?? 0;
    if (!Number.isInteger(slot) || slot < 0 || slot > MAX_SLOT || (slot > 0 && !options.hostedKey))
      throw new DhtError(`A slot is an integer 0..${MAX_SLOT}, for a hosted key only.`);
    const maxAgeMs = lifetimeMs(options.maxAgeMs, ANNOUNCE_MAX_AGE_MS, "maxAgeMs");
    const itemMaxAgeMs = lifetimeMs(options.itemMaxAgeMs, ITEM_MAX_AGE_MS, "itemMaxAgeMs");
    const host = options.host ?? "127.0.0.1";
    const make = () => {
      const made = new DHT({
        bootstrap: options.bootstrap,
        host,
        verify: ed25519Verify,
        ...({
          // Announces expire (record-cache: dropped ⅔ to 1⅓ maxAge after their last announce).
          maxAge: maxAgeMs,
          // The node id is the card's BEP44 target (another slot's differs: see `slot`).
          nodeId: Buffer.from(sha1(slot > 0 ? Buffer.concat([publicKey, Buffer.from([slot])]) : publicKey)),
        } as object),
      });
      // BEP44 items expire too: bittorrent-dht's LRU of values takes a maxAge (it reads it on every set
      // and get, so setting it before the node listens covers every item), though no option sets it.
      (made as unknown as { _values: { maxAge: number } })._values.maxAge = itemMaxAgeMs;
      return made;
    };
    let dht = make();
    try {
      await listen(dht, options.port ?? options.preferredPort ?? 0, host);
    } catch (error) {
      await new Promise<void>((resolve) => dht.destroy(() => resolve()));
      if (options.port !== undefined || options.preferredPort === undefined) throw error;
      debug("port %d is taken: listening on a free one", options.preferredPort);
      dht = make();
      await listen(dht, 0, host);
    }
    const node = new WorldDht(dht, secretKey, publicKey, lifetimeMs(options.nodeCheckMs, NODE_CHECK_MS, "nodeCheckMs"));
    // With bootstrap nodes, wait until the routing table is filled from them.
    if (options.bootstrap !== false && options.bootstrap.length > 0 && !(dht as unknown as { ready: boolean }).ready)
      await once(dht, "ready");
    return node;
  }

  get address(): DhtAddress {
    const { address, port } = this.#dht.address();
    return { host: address, port };
  }

  /** sha1 of the public key: this node's id, and the BEP44 target of its card. */
  get cardTarget(): Uint8Array {
    return nodeIdOfKey(this.publicKey);
  }

  /** Publishes (or replaces) this peer's card as a BEP44 mutable item under its key. */
  async publishCard(card: PeerCard): Promise<void> {
    if (Buffer.compare(Buffer.from(card.dhtKey), Buffer.from(this.publicKey)) !== 0)
      throw new DhtError("The card names another DHT key.");
    const value = Buffer.from(encodeCard(card));
    this.#seq += 1;
    await new Promise<void>((resolve, reject) =>
      this.#dht.put(
        {
          k: Buffer.from(this.publicKey),
          v: value,
          seq: this.#seq,
          sign: this.#sign,
        },
        (error) => (error ? reject(new DhtError("Could not publish the peer card.", error.message)) : resolve()),
      ),
    );
  }

  /** Fetches and checks the card stored under `target` (a node id); undefined if none is found. */
  async readCard(target: Uint8Array): Promise<PeerCard | undefined> {
    const item = await this.getItem(target);
    if (!item || Buffer.compare(Buffer.from(sha1(item.k)), Buffer.from(target)) !== 0) return undefined;
    return decodeCard(item.k, item.v);
  }

  /**
   * Signaling mailboxes: a message to peer `to` is a BEP44 mutable item under this node's key, salted
   * with sha1 of the recipient's key, so the recipient knows where to look once it knows the sender.
   * Each new message replaces the previous one (a higher seq); the value stays under 1000 bytes.
   * The item goes to the nodes closest to its target, as any BEP44 put does, and, when the recipient's
   * address is known, straight to the recipient's own node as well (a get for a write token, then the
   * put): its read then finds the item locally, without a traversal that a dead node can hold up for
   * seconds. It fails only when neither way delivers.
   */
  async sendMail(to: Uint8Array, payload: Uint8Array, recipient?: DhtAddress): Promise<void> {
    if (payload.length >= 1000)
      throw new DhtError("A mailbox message must stay under 1000 bytes.", `${payload.length} bytes`);
    this.#seq += 1;
    const item = { k: this.publicKey, v: payload, seq: this.#seq, salt: sha1(to) };
    await this.putSigned({ ...item, sig: this.#sign(itemSigData(item)) }, recipient);
  }

  /**
   * Puts an item its owner signed already, to the nodes closest to its target and, if `recipient` is
   * given, straight into that node too (see sendMail). The signature is checked first.
   */
  async putSigned(item: SignedItem, recipient?: DhtAddress): Promise<void> {
    if (item.v.length >= 1000)
      throw new DhtError("A BEP44 value must stay under 1000 bytes.", `${item.v.length} bytes`);
    if (item.salt && item.salt.length > 64) throw new DhtError("A BEP44 salt is at most 64 bytes.");
    if (!Number.isSafeInteger(item.seq) || item.seq < 0) throw new DhtError("A BEP44 seq is a non-negative integer.");
    if (!ed25519Verify(item.sig, itemSigData(item), item.k))
      throw new DhtError("The item's signature does not verify.");
    const put = {
      k: Buffer.from(item.k),
      v: Buffer.from(item.v),
      seq: item.seq,
      sig: Buffer.from(item.sig),
      ...(item.salt ? { salt: Buffer.from(item.salt) } : {}),
    };
    const network = new Promise<void>((resolve, reject) =>
      this.#dht.put(put, (error) =>
        error ? reject(new DhtError("Could not deliver the mailbox message.", error.message)) : resolve(),
      ),
    );
    if (!recipient) return await network;
    const target = sha1(put.salt ? Buffer.concat([put.k, put.salt]) : put.k);
    const direct = this.#putDirect(recipient, target, put);
    await Promise.any([network, direct]).catch(() => {
      throw new DhtError("Could not deliver the mailbox message.", "neither the DHT nor the recipient took it");
    });
  }

  /** The raw mutable item under `target` (its signature checked by the DHT), or undefined. */
  async getItem(target: Uint8Array): Promise<SignedItem | undefined> {
    const result = await new Promise<GetResult>((resolve, reject) =>
      this.#dht.get(Buffer.from(target), (error, found) =>
        error ? reject(new DhtError("DHT get failed.", error.message)) : resolve(found),
      ),
    );
    if (!result?.k || !result.v || !result.sig) return undefined;
    const salt = (result as { salt?: Uint8Array }).salt;
    return {
      k: new Uint8Array(result.k),
      v: new Uint8Array(result.v),
      seq: result.seq ?? 0,
      sig: new Uint8Array(result.sig),
      ...(salt ? { salt: new Uint8Array(salt) } : {}),
    };
  }

  async #putDirect(
    node: DhtAddress,
    target: Uint8Array,
    item: { k: Buffer; v: Buffer; seq: number; salt?: Buffer; sig: Buffer },
  ): Promise<void> {
    const { id, query } = this.#rpc();
    const got = await query(node, { q: "get", a: { id, target: Buffer.from(target) } });
    const token = got.r?.token;
    if (!token) throw new DhtError("The recipient gave no write token.");
    await query(node, { q: "put", a: { id, token, ...item } });
  }

  #rpc(): { id: Buffer; query: (node: DhtAddress, message: object) => Promise<{ r?: Record<string, Uint8Array> }> } {
    const rpc = (
      this.#dht as unknown as {
        _rpc: {
          id: Buffer;
          query: (
            node: DhtAddress,
            message: object,
            cb: (error: Error | null, response?: { r?: Record<string, Uint8Array> }) => void,
          ) => void;
        };
      }
    )._rpc;
    return {
      id: rpc.id,
      query: (node, message) =>
        new Promise((resolve, reject) =>
          rpc.query(node, message, (error, response) =>
            error || !response
              ? reject(new DhtError(`No answer from ${node.host}:${node.port}.`, error?.message))
              : resolve(response),
          ),
        ),
    };
  }

  onMail(from: Uint8Array, handler: () => void): () => void {
    const target = Buffer.from(sha1(Buffer.concat([Buffer.from(from), Buffer.from(sha1(this.publicKey))])));
    const listener = (key: Uint8Array) => {
      if (target.equals(key)) handler();
    };
    this.#dht.on("put", listener);
    return () => this.#dht.off("put", listener);
  }

  /** The latest message `from` left for this node, with its sequence number; undefined if none. */
  async readMail(from: Uint8Array): Promise<{ payload: Uint8Array; seq: number } | undefined> {
    const salt = sha1(this.publicKey);
    const item = await this.getItem(sha1(Buffer.concat([Buffer.from(from), Buffer.from(salt)])));
    if (!item || Buffer.compare(Buffer.from(item.k), Buffer.from(from)) !== 0) return undefined;
    return { payload: item.v, seq: item.seq };
  }

  /**
   * Announces this node (its DHT address) on a topic. The port is implied (BEP5's implied_port): each
   * node records the port the announce came from, which behind a NAT is the NAT's mapping of our socket,
   * not the socket's own port that only our side of the NAT knows.
   */
  async announce(topic: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.#dht.announce(Buffer.from(topic), 0, (error) =>
        error ? reject(new DhtError("Could not announce.", error.message)) : resolve(),
      ),
    );
  }

  /** The addresses announced on a topic (this node's own excluded). */
  async lookup(topic: Uint8Array): Promise<DhtAddress[]> {
    const found = new Map<string, DhtAddress>();
    const own = `${this.address.host}:${this.address.port}`;
    const onPeer = (peer: DhtAddress, infoHash: Uint8Array) => {
      if (Buffer.compare(Buffer.from(infoHash), Buffer.from(topic)) !== 0) return;
      const key = `${peer.host}:${peer.port}`;
      if (key !== own) found.set(key, { host: peer.host, port: peer.port });
    };
    this.#dht.on("peer", onPeer);
    try {
      await new Promise<void>((resolve, reject) =>
        this.#dht.lookup(Buffer.from(topic), (error) =>
          error ? reject(new DhtError("Lookup failed.", error.message)) : resolve(),
        ),
      );
    } finally {
      this.#dht.off("peer", onPeer);
    }
    return [...found.values()];
  }

  /**
   * Knocks on a node's door: announces this node on the topic that is the other node's own id. The
   * closest node to an id is the node itself, so the announce reaches it directly, and it learns at
   * once that someone wants to connect, instead of waiting until its own lookups find the newcomer.
   */
  async knock(nodeId: Uint8Array): Promise<void> {
    // bittorrent-dht announces to the nodes (and write tokens) its last lookup of this id found, for five
    // minutes. A browser's node re-hosted by a restarted gateway answers at the old address with new
    // secrets, so an old token is refused and the knock lost: look the id up afresh every time.
    (this.#dht as unknown as { _tables: { remove(key: string): void } })._tables.remove(
      Buffer.from(nodeId).toString("hex"),
    );
    await this.announce(nodeId);
  }

  /** Calls `handler` with the DHT address of each node that knocks on this one; returns the unsubscriber. */
  onKnock(handler: (from: DhtAddress) => void): () => void {
    const target = Buffer.from(this.cardTarget);
    const listener = (peer: DhtAddress, infoHash: Uint8Array) => {
      if (target.equals(infoHash)) handler({ host: peer.host, port: peer.port });
    };
    this.#dht.on("announce", listener);
    return () => this.#dht.off("announce", listener);
  }

  /** Asks a node at `address` for its id (a KRPC ping): the target of its card. */
  async nodeIdOf(address: DhtAddress): Promise<Uint8Array> {
    const response = await this.#rpc().query(address, { q: "ping" });
    const id = response.r?.id;
    if (!id) throw new DhtError(`No node id from ${address.host}:${address.port}.`);
    return new Uint8Array(id);
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
    clearTimeout(this.#checkTimer);
    await new Promise<void>((resolve) => this.#dht.destroy(() => resolve()));
  }
}
