/**
 * The browser's side of the DHT gateway (p2p/node/gateway.ts): the DHT operations a peer needs, carried
 * over one WebSocket. The ed25519 secret key stays here; every item is signed here and every item read
 * is verified here, so a gateway can withhold data but not forge it. Isomorphic: the WebSocket global
 * (browsers, Node 22+) and @noble/curves, no Node modules.
 *
 * A browser may use several gateways at once, each hosting a DHT node under the same key: items are
 * signed once and put through all of them, reads take the first verified answer, lookups merge
 * theirs, and knocks come from any. One gateway going away leaves the others working, and a gateway
 * that closes (restarted by `seedcraft up`, say) is connected again with backoff, our card put again.
 *
 * A world with its own TURN server has its gateways hand out short-lived credentials for it in the hello
 * (p2p/node/gateway.ts): `iceServers` holds the current ones, asked for again (`ice`) when half their
 * lifetime has gone and brought by every reconnect's hello; `onIceServers` says when they change.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import bencode from "bencode";
import createDebug from "debug";
import { Backoff } from "../core/backoff.ts";
import { SeedcraftError } from "../core/errors.ts";
import { type IceServer, parseIceServers } from "../core/ice-servers.ts";
import { decodeCard, encodeCard, type PeerCard } from "./card.ts";
import { keyOfKind } from "./key-kind.ts";

export type GatewayAddress = { host: string; port: number };

export class GatewayError extends SeedcraftError {
  constructor(code: string, message: string, details?: string) {
    super(code, message, details);
    this.name = "GatewayError";
  }
}

const debug = createDebug("seedcraft:gateway-client");

const CHALLENGE_PREFIX = "seedcraft:gateway:v1:";
const TIMEOUT_MS = 10_000;
/** The soonest a refresh of TURN credentials is asked for (a gateway that gives very short ones). */
const MIN_ICE_REFRESH_MS = 2000;

/** A gateway's STUN/TURN servers and when (performance.now()) their credentials stop working. */
type GatewayIce = { servers: IceServer[]; until: number };

/** The `ice` of a gateway's answer, checked as seedcraft.json's are; a bad one is left out (and logged). */
function parseIce(value: unknown, url: string): GatewayIce | undefined {
  if (value === undefined) return undefined;
  try {
    const { servers, ttl } = (value ?? {}) as { servers?: unknown; ttl?: unknown };
    if (typeof ttl !== "number" || !(ttl > 0)) throw new Error("ttl must be a positive number of seconds");
    // Its own clock: the gateway's may be off, how long they last is not.
    return { servers: parseIceServers(servers, `${url}'s ICE servers`), until: performance.now() + ttl * 1000 };
  } catch (error) {
    debug("gateway %s gave unusable ICE servers: %s", url, (error as Error).message);
    return undefined;
  }
}

type Item = { k: string; v: string; seq: number; sig: string; salt?: string };

function sigData(v: Uint8Array, seq: number, salt?: Uint8Array): Uint8Array {
  return (bencode.encode(salt ? { salt, seq, v } : { seq, v }) as Uint8Array).subarray(1, -1);
}

/** One gateway: its socket, the DHT node it hosts for us, and the requests waiting on it. */
class GatewayLink {
  readonly url: string;
  readonly address: GatewayAddress;
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    { resolve: (body: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  /** When the gateway let us in (performance.now()). */
  readonly openedAt = performance.now();
  /** The STUN/TURN servers its hello gave, with credentials (none when the world runs no TURN server). */
  readonly ice: GatewayIce | undefined;
  /** Called once when the link closes, whoever closed it. */
  onClosed: ((reason: string | undefined) => void) | undefined;
  #nextId = 1;
  #closed = false;

  private constructor(url: string, socket: WebSocket, address: GatewayAddress, ice: GatewayIce | undefined) {
    this.url = url;
    this.#socket = socket;
    this.address = address;
    this.ice = ice;
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** Connects and proves the key with a signed challenge; `port`: the UDP port our node had there before. */
  static async open(
    url: string,
    secretKey: Uint8Array,
    slot: number,
    onKnock: (from: GatewayAddress) => void,
    port?: number,
  ): Promise<GatewayLink> {
    const socket = new WebSocket(url);
    const publicKey = ed25519.getPublicKey(secretKey);
    let link: GatewayLink | undefined;
    const welcome = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const fail = (error: GatewayError) => {
        clearTimeout(timer);
        socket.close();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new GatewayError("GATEWAY_TIMEOUT", "The gateway did not let us in.", url)),
        TIMEOUT_MS,
      );
      socket.addEventListener("close", (event) => {
        if (link) return link.#close(event.reason || undefined);
        fail(new GatewayError("GATEWAY_CLOSED", "The gateway closed the connection.", event.reason || url));
      });
      socket.addEventListener("error", () => {
        if (!link) fail(new GatewayError("GATEWAY_CLOSED", "Could not reach the gateway.", url));
      });
      socket.addEventListener("message", (event) => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(String(event.data)) as Record<string, unknown>;
        } catch {
          return;
        }
        if (link) {
          if (body.event === "knock") onKnock(body.from as GatewayAddress);
          else link.#answer(body);
          return;
        }
        if (body.event === "challenge" && typeof body.nonce === "string") {
          const sig = ed25519.sign(new TextEncoder().encode(CHALLENGE_PREFIX + body.nonce), secretKey);
          const hello = {
            id: 0,
            op: "hello",
            key: bytesToHex(publicKey),
            sig: bytesToHex(sig),
            ...(slot > 0 ? { slot } : {}),
            ...(port === undefined ? {} : { port }),
          };
          socket.send(JSON.stringify(hello));
        } else if (body.id === 0) {
          clearTimeout(timer);
          if (body.ok === true) resolve(body);
          else fail(new GatewayError(String(body.code), "The gateway refused the hello.", String(body.error)));
        }
      });
    });
    link = new GatewayLink(url, socket, welcome.address as GatewayAddress, parseIce(welcome.ice, url));
    return link;
  }

  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#closed)
      return Promise.reject(new GatewayError("GATEWAY_CLOSED", "The gateway closed the connection.", this.url));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new GatewayError("GATEWAY_TIMEOUT", `No answer to ${String(body.op)} in time.`, this.url));
      }, TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.send(JSON.stringify({ id, ...body }));
    });
  }

  close(): void {
    this.#socket.close();
    this.#close("closed here");
  }

  #close(reason: string | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values())
      pending.reject(new GatewayError("GATEWAY_CLOSED", "The gateway closed the connection.", reason ?? this.url));
    this.#pending.clear();
    this.onClosed?.(reason);
  }

  #answer(body: Record<string, unknown>): void {
    const pending = typeof body.id === "number" ? this.#pending.get(body.id) : undefined;
    if (!pending) return;
    this.#pending.delete(body.id as number);
    if (body.ok === true) pending.resolve(body);
    else
      pending.reject(
        new GatewayError(String(body.code), `The gateway refused ${String(body.code)}.`, String(body.error)),
      );
  }
}

export class GatewayDht {
  readonly publicKey: Uint8Array;
  readonly #urls: readonly string[];
  /** Per gateway (its slot): the open link, or undefined while (re)connecting. */
  readonly #links: (GatewayLink | undefined)[];
  readonly #backoffs: Backoff[];
  readonly #secretKey: Uint8Array;
  readonly #knockHandlers: Set<(from: GatewayAddress) => void>;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Per gateway: its STUN/TURN servers and credentials, the latest it gave (kept past a close until they expire). */
  readonly #ice: (GatewayIce | undefined)[];
  readonly #iceTimers: (ReturnType<typeof setTimeout> | undefined)[];
  readonly #iceHandlers = new Set<() => void>();
  /**
   * Per gateway: the UDP port of the node it hosted for us last. Reconnecting, we ask for it again: the
   * DHT's routing tables keep that address for our id, so knocks and mail still land.
   */
  readonly #ports: (number | undefined)[];
  /** The card put last: put again through a gateway we reconnect to (its hosted node is a new one). */
  #card: Uint8Array | undefined;
  #address: GatewayAddress;
  #destroyed = false;
  /** One counter for every gateway: an item is signed once and the same bytes go through all. */
  #seq = Date.now();

  private constructor(
    urls: readonly string[],
    links: (GatewayLink | undefined)[],
    secretKey: Uint8Array,
    knockHandlers: Set<(from: GatewayAddress) => void>,
  ) {
    this.#urls = urls;
    this.#links = links;
    this.#backoffs = urls.map(() => new Backoff());
    this.#knockHandlers = knockHandlers;
    this.#secretKey = secretKey;
    this.publicKey = ed25519.getPublicKey(secretKey);
    this.#address = (links.find((link) => link !== undefined) as GatewayLink).address;
    this.#ports = links.map((link) => link?.address.port);
    this.#ice = urls.map(() => undefined);
    this.#iceTimers = urls.map(() => undefined);
    for (const [slot, link] of links.entries()) this.#keep(slot, link);
  }

  /**
   * The address of the DHT node the first gateway hosts for us (under our own id): what others ping, knock
   * and mail. It changes when we reconnect to that gateway after a restart.
   */
  get address(): GatewayAddress {
    return this.#address;
  }

  /**
   * Connects to one gateway (`ws://…`) or several, and proves the key to each; a random key by default.
   * It needs one of them to let it in; the others are used as long as they answer, and any that closes
   * or did not answer is tried again with backoff (0.5 s doubling to 15 s) until destroy().
   */
  static async connect(
    urls: string | readonly string[],
    // A browser's key (the gateway's clients are browsers): a Node peer's is higher, so we offer to it.
    secretKey: Uint8Array = keyOfKind("browser", () => ed25519.utils.randomSecretKey(), ed25519.getPublicKey),
  ): Promise<GatewayDht> {
    const list = typeof urls === "string" ? [urls] : [...urls];
    if (list.length === 0 || list.length > 16) throw new GatewayError("BAD_REQUEST", "Give 1 to 16 gateways.");
    const knockHandlers = new Set<(from: GatewayAddress) => void>();
    // The first gateway hosts the node under our own id (knocks land there); the others, slots 1, 2…
    const settled = await Promise.allSettled(
      list.map((url, slot) => GatewayLink.open(url, secretKey, slot, GatewayDht.#knocks(knockHandlers))),
    );
    const links = settled.map((result) => (result.status === "fulfilled" ? result.value : undefined));
    if (links.every((link) => link === undefined)) throw (settled[0] as PromiseRejectedResult).reason;
    return new GatewayDht(list, links, secretKey, knockHandlers);
  }

  static #knocks(handlers: Set<(from: GatewayAddress) => void>): (from: GatewayAddress) => void {
    return (from) => {
      for (const handler of handlers) handler(from);
    };
  }

  /** Uses a gateway's new link, or tries again later when there is none (or it closed already). */
  #keep(slot: number, link: GatewayLink | undefined): void {
    this.#links[slot] = link?.open ? link : undefined;
    if (link?.open) {
      link.onClosed = (reason) => this.#lost(slot, link, reason);
      if (link.ice) this.#setIce(slot, link, link.ice);
    } else this.#reconnectLater(slot, 0);
  }

  /** A gateway closed on us: connect to it again after a wait (shorter if it had stayed up a while). */
  #lost(slot: number, link: GatewayLink, reason: string | undefined): void {
    if (this.#destroyed || this.#links[slot] !== link) return;
    this.#links[slot] = undefined;
    this.#reconnectLater(slot, performance.now() - link.openedAt);
    debug("gateway %s closed (%s)", link.url, reason ?? "no reason");
  }

  #reconnectLater(slot: number, ranMs: number): void {
    const url = this.#urls[slot] as string;
    const waitMs = (this.#backoffs[slot] as Backoff).next(ranMs);
    debug("reconnecting to gateway %s in %d ms", url, waitMs);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#destroyed) return;
      const knocks = GatewayDht.#knocks(this.#knockHandlers);
      GatewayLink.open(url, this.#secretKey, slot, knocks, this.#ports[slot]).then(
        (link) => {
          if (this.#destroyed) return link.close();
          this.#keep(slot, link);
          if (!link.open) return;
          this.#ports[slot] = link.address.port;
          if (slot === 0) this.#address = link.address;
          debug("reconnected to gateway %s: our node is at %o", url, link.address);
          // The restarted gateway hosts a new, empty node for us: put our card where others look again.
          if (this.#card) void this.#put(this.#card).catch((error: Error) => debug("card put: %s", error.message));
        },
        (error: Error) => {
          debug("gateway %s: %s", url, error.message);
          if (!this.#destroyed) this.#reconnectLater(slot, 0);
        },
      );
    }, waitMs);
    this.#timers.add(timer);
  }

  /**
   * The STUN/TURN servers the gateways gave, with credentials still good (merged: one entry per server
   * URL list, the freshest). Read it when making an RTCPeerConnection: it changes as they are refreshed.
   */
  get iceServers(): IceServer[] {
    const now = performance.now();
    const freshest = new Map<string, GatewayIce>();
    for (const ice of this.#ice) {
      if (!ice || ice.until <= now) continue;
      for (const server of ice.servers) {
        const key = JSON.stringify(server.urls);
        const seen = freshest.get(key);
        if (!seen || seen.until < ice.until) freshest.set(key, { servers: [server], until: ice.until });
      }
    }
    return [...freshest.values()].flatMap((ice) => ice.servers);
  }

  /** Calls `handler` whenever `iceServers` changes (new credentials from a hello or a refresh). */
  onIceServers(handler: () => void): () => void {
    this.#iceHandlers.add(handler);
    return () => this.#iceHandlers.delete(handler);
  }

  /** A gateway's new credentials: kept, announced, and asked for again when half their life has gone. */
  #setIce(slot: number, link: GatewayLink, ice: GatewayIce): void {
    this.#ice[slot] = ice;
    for (const handler of this.#iceHandlers) handler();
    this.#refreshIceLater(slot, link, Math.max(MIN_ICE_REFRESH_MS, (ice.until - performance.now()) / 2));
  }

  #refreshIceLater(slot: number, link: GatewayLink, waitMs: number): void {
    const previous = this.#iceTimers[slot];
    if (previous !== undefined) {
      clearTimeout(previous);
      this.#timers.delete(previous);
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      // A link that closed meanwhile is replaced by a reconnect, whose hello brings fresh ones.
      if (this.#destroyed || this.#links[slot] !== link || !link.open) return;
      link.request({ op: "ice" }).then(
        (answer) => {
          const ice = parseIce(answer.ice, link.url);
          if (ice && !this.#destroyed && this.#links[slot] === link) this.#setIce(slot, link, ice);
          else debug("gateway %s gave no ICE servers on refresh", link.url);
        },
        (error: Error) => {
          debug("refreshing ICE servers from %s: %s", link.url, error.message);
          const left = (this.#ice[slot]?.until ?? 0) - performance.now();
          if (!this.#destroyed) this.#refreshIceLater(slot, link, Math.max(5000, left / 2));
        },
      );
    }, waitMs);
    this.#iceTimers[slot] = timer;
    this.#timers.add(timer);
  }

  /** The gateways in use (those still open). */
  get gateways(): string[] {
    return this.#open(false).map((link) => link.url);
  }

  /** sha1 of the public key: the hosted node's id, and the BEP44 target of our card. */
  get cardTarget(): Uint8Array {
    return sha1(this.publicKey);
  }

  async publishCard(card: PeerCard): Promise<void> {
    const v = encodeCard(card);
    this.#card = v;
    await this.#put(v);
  }

  /** The card under `target`, checked here: the key hashes to the target and signed the item. */
  async readCard(target: Uint8Array): Promise<PeerCard | undefined> {
    const item = await this.#get(target);
    if (!item) return undefined;
    const k = hexToBytes(item.k);
    if (bytesToHex(sha1(k)) !== bytesToHex(target)) return undefined;
    return decodeCard(k, hexToBytes(item.v));
  }

  /** A signaling message for `to` (see p2p/node/dht.ts), straight into its node too when `recipient` is known. */
  async sendMail(to: Uint8Array, payload: Uint8Array, recipient?: GatewayAddress): Promise<void> {
    if (payload.length >= 1000)
      throw new GatewayError("DHT", "A mailbox message must stay under 1000 bytes.", `${payload.length} bytes`);
    await this.#put(payload, sha1(to), recipient);
  }

  async readMail(from: Uint8Array): Promise<{ payload: Uint8Array; seq: number } | undefined> {
    const salt = sha1(this.publicKey);
    const item = await this.#get(sha1(concatBytes(from, salt)), salt);
    if (!item || item.k !== bytesToHex(from)) return undefined;
    return { payload: hexToBytes(item.v), seq: item.seq };
  }

  async announce(topic: Uint8Array): Promise<void> {
    await this.#request({ op: "announce", topic: bytesToHex(topic) });
  }

  /** What every gateway found, merged, without the nodes hosted for us. */
  async lookup(topic: Uint8Array): Promise<GatewayAddress[]> {
    const answers = await Promise.allSettled(
      this.#open().map((link) => link.request({ op: "lookup", topic: bytesToHex(topic) })),
    );
    const found = answers.flatMap((answer) =>
      answer.status === "fulfilled" ? (answer.value.addresses as GatewayAddress[]) : [],
    );
    if (answers.every((answer) => answer.status === "rejected")) throw (answers[0] as PromiseRejectedResult).reason;
    const seen = new Set(this.#open(false).map((link) => `${link.address.host}:${link.address.port}`));
    return found.filter((a) => {
      const where = `${a.host}:${a.port}`;
      if (seen.has(where)) return false;
      seen.add(where);
      return true;
    });
  }

  async nodeIdOf(address: GatewayAddress): Promise<Uint8Array> {
    const { node } = await this.#request({ op: "ping", host: address.host, port: address.port });
    return hexToBytes(node as string);
  }

  async knock(nodeId: Uint8Array): Promise<void> {
    await this.#request({ op: "knock", node: bytesToHex(nodeId) });
  }

  onKnock(handler: (from: GatewayAddress) => void): () => void {
    this.#knockHandlers.add(handler);
    return () => this.#knockHandlers.delete(handler);
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const link of this.#links) link?.close();
  }

  async #put(v: Uint8Array, salt?: Uint8Array, to?: GatewayAddress): Promise<void> {
    const seq = ++this.#seq;
    const sig = ed25519.sign(sigData(v, seq, salt), this.#secretKey);
    await this.#request({
      op: "put",
      v: bytesToHex(v),
      seq,
      sig: bytesToHex(sig),
      ...(salt ? { salt: bytesToHex(salt) } : {}),
      ...(to ? { to } : {}),
    });
  }

  /**
   * A mutable item through the gateways, verified here (a gateway cannot forge one): the first that
   * gives a valid one, or none when none does. An error only when every gateway failed.
   */
  async #get(target: Uint8Array, salt?: Uint8Array): Promise<Item | undefined> {
    const answers = this.#open().map((link) => link.request({ op: "get", target: bytesToHex(target) }));
    const none = new GatewayError("NOT_FOUND", "No gateway had a valid item.");
    try {
      return await Promise.any(
        answers.map(async (answer) => {
          const item = verifiedItem((await answer).item as Item | undefined, target, salt);
          if (!item) throw none;
          return item;
        }),
      );
    } catch (error) {
      const errors = (error as AggregateError).errors ?? [error];
      if (errors.some((e) => e === none)) return undefined;
      throw errors[0];
    }
  }

  /** Sends to every open gateway; the first that accepts it answers (all failing, the first error). */
  async #request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return await firstOf(this.#open().map((link) => link.request(body)));
  }

  /** The open links; with `required`, an error when none is (every gateway is away, reconnecting). */
  #open(required = true): GatewayLink[] {
    const open = this.#links.filter((link): link is GatewayLink => link?.open === true);
    if (required && open.length === 0)
      throw new GatewayError("GATEWAY_CLOSED", "Every gateway closed the connection (reconnecting).");
    return open;
  }
}

/** The item if its key hashes (with the salt) to the target and it carries the key's signature. */
function verifiedItem(item: Item | undefined, target: Uint8Array, salt?: Uint8Array): Item | undefined {
  if (!item) return undefined;
  try {
    const k = hexToBytes(item.k);
    const v = hexToBytes(item.v);
    const itemSalt = item.salt ? hexToBytes(item.salt) : salt;
    if (bytesToHex(sha1(itemSalt ? concatBytes(k, itemSalt) : k)) !== bytesToHex(target)) return undefined;
    if (!ed25519.verify(hexToBytes(item.sig), sigData(v, item.seq, itemSalt), k)) return undefined;
    return item;
  } catch {
    return undefined;
  }
}

/** The first promise to fulfil; if none does, the first one's error. */
async function firstOf<T>(promises: Promise<T>[]): Promise<T> {
  try {
    return await Promise.any(promises);
  } catch (error) {
    throw (error as AggregateError).errors?.[0] ?? error;
  }
}
