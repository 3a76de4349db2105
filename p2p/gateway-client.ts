/**
 * The browser's side of the DHT gateway (p2p/node/gateway.ts): the DHT operations a peer needs, carried
 * over one WebSocket. The ed25519 secret key stays here; every item is signed here and every item read
 * is verified here, so a gateway can withhold data but not forge it. Isomorphic: the WebSocket global
 * (browsers, Node 22+) and @noble/curves, no Node modules. A browser may connect to several gateways
 * and use whichever answers.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import bencode from "bencode";
import { SeedcraftError } from "../core/errors.ts";
import { decodeCard, encodeCard, type PeerCard } from "./card.ts";

export type GatewayAddress = { host: string; port: number };

export class GatewayError extends SeedcraftError {
  constructor(code: string, message: string, details?: string) {
    super(code, message, details);
    this.name = "GatewayError";
  }
}

const CHALLENGE_PREFIX = "seedcraft:gateway:v1:";
const TIMEOUT_MS = 10_000;

type Item = { k: string; v: string; seq: number; sig: string; salt?: string };

function sigData(v: Uint8Array, seq: number, salt?: Uint8Array): Uint8Array {
  return (bencode.encode(salt ? { salt, seq, v } : { seq, v }) as Uint8Array).subarray(1, -1);
}

export class GatewayDht {
  readonly publicKey: Uint8Array;
  /** The address of the DHT node the gateway hosts for us: what others ping, knock and mail. */
  readonly address: GatewayAddress;
  readonly #socket: WebSocket;
  readonly #secretKey: Uint8Array;
  readonly #pending = new Map<
    number,
    { resolve: (body: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  readonly #knockHandlers = new Set<(from: GatewayAddress) => void>();
  #nextId = 1;
  #seq = Date.now();

  private constructor(socket: WebSocket, secretKey: Uint8Array, address: GatewayAddress) {
    this.#socket = socket;
    this.#secretKey = secretKey;
    this.publicKey = ed25519.getPublicKey(secretKey);
    this.address = address;
  }

  /** Connects to a gateway (`ws://…`) and proves the key; a random key by default. */
  static async connect(url: string, secretKey: Uint8Array = ed25519.utils.randomSecretKey()): Promise<GatewayDht> {
    const socket = new WebSocket(url);
    const publicKey = ed25519.getPublicKey(secretKey);
    let dht: GatewayDht | undefined;
    const address = await new Promise<GatewayAddress>((resolve, reject) => {
      const fail = (error: GatewayError) => {
        clearTimeout(timer);
        socket.close();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new GatewayError("GATEWAY_TIMEOUT", "The gateway did not let us in.")),
        TIMEOUT_MS,
      );
      socket.addEventListener("close", (event) =>
        fail(new GatewayError("GATEWAY_CLOSED", "The gateway closed the connection.", event.reason || undefined)),
      );
      socket.addEventListener("error", () =>
        fail(new GatewayError("GATEWAY_CLOSED", "Could not reach the gateway.", url)),
      );
      socket.addEventListener("message", (event) => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(String(event.data)) as Record<string, unknown>;
        } catch {
          return;
        }
        if (dht) return dht.#onMessage(body);
        if (body.event === "challenge" && typeof body.nonce === "string") {
          const sig = ed25519.sign(new TextEncoder().encode(CHALLENGE_PREFIX + body.nonce), secretKey);
          socket.send(JSON.stringify({ id: 0, op: "hello", key: bytesToHex(publicKey), sig: bytesToHex(sig) }));
        } else if (body.id === 0) {
          clearTimeout(timer);
          if (body.ok === true) resolve(body.address as GatewayAddress);
          else fail(new GatewayError(String(body.code), "The gateway refused the hello.", String(body.error)));
        }
      });
    });
    dht = new GatewayDht(socket, secretKey, address);
    return dht;
  }

  /** sha1 of the public key: the hosted node's id, and the BEP44 target of our card. */
  get cardTarget(): Uint8Array {
    return sha1(this.publicKey);
  }

  async publishCard(card: PeerCard): Promise<void> {
    const v = encodeCard(card);
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

  async lookup(topic: Uint8Array): Promise<GatewayAddress[]> {
    const { addresses } = await this.#request({ op: "lookup", topic: bytesToHex(topic) });
    return (addresses as GatewayAddress[]).filter((a) => a.host !== this.address.host || a.port !== this.address.port);
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
    this.#socket.close();
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

  /** A mutable item through the gateway, verified here (a gateway cannot forge one). */
  async #get(target: Uint8Array, salt?: Uint8Array): Promise<Item | undefined> {
    const { item } = await this.#request({ op: "get", target: bytesToHex(target) });
    if (!item) return undefined;
    const found = item as Item;
    try {
      const k = hexToBytes(found.k);
      const v = hexToBytes(found.v);
      const itemSalt = found.salt ? hexToBytes(found.salt) : salt;
      if (bytesToHex(sha1(itemSalt ? concatBytes(k, itemSalt) : k)) !== bytesToHex(target)) return undefined;
      if (!ed25519.verify(hexToBytes(found.sig), sigData(v, found.seq, itemSalt), k)) return undefined;
      return found;
    } catch {
      return undefined;
    }
  }

  #request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new GatewayError("GATEWAY_TIMEOUT", `No answer to ${String(body.op)} in time.`));
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

  #onMessage(body: Record<string, unknown>): void {
    if (body.event === "knock") {
      for (const handler of this.#knockHandlers) handler(body.from as GatewayAddress);
      return;
    }
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
