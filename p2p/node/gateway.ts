/**
 * Node-only: the browser gateway. Browsers cannot speak UDP, so a gateway hosts a DHT node for each
 * browser that connects over WebSocket and relays what the browser asks of it: BEP44 get and put,
 * announce, lookup, ping and knock. The browser keeps its ed25519 secret key and signs its own items;
 * the gateway checks every signature and cannot forge one. Its hosted node takes the browser key's id,
 * so Node peers find a browser exactly as they find each other (lookup → ping → card), and a knock or
 * a mailbox put addressed to the browser lands on that node.
 *
 * Protocol: JSON text frames, binary fields as lowercase hex without 0x.
 * - gateway → browser on connect: `{event: "challenge", nonce}`.
 * - browser → gateway: `{id, op, ...}`; answered `{id, ok: true, ...}` or `{id, ok: false, code, error}`.
 *   `hello {key, sig, slot?, port?}` first (sig: ed25519 over "seedcraft:gateway:v1:" ‖ nonce; slot 1..15
 *   when this is not the browser's first gateway, see WorldDht's `slot`; port: the UDP port its node had
 *   before this gateway restarted, taken again if free, and ignored (any free port is used) outside the OS's
 *   ephemeral range, where listen(0) put the old node, or on a port the gateway reserves); then
 *   `put {v, seq, salt?, sig, to?}`, `get {target}`, `announce {topic}`, `lookup {topic}`,
 *   `ping {host, port}`, `knock {node}`, `ice` (fresh TURN credentials, below).
 * - A gateway given the world's TURN secret (`turn`, or SEEDCRAFT_TURN_SECRET and SEEDCRAFT_TURN_URLS from
 *   `seedcraft up`) answers the hello and `ice` with `ice: {servers, ttl}`: RTCIceServers for the world's
 *   STUN/TURN server with credentials minted for that browser's key (TURN REST, core/turn-credentials.ts),
 *   good for `ttl` seconds (an hour). A browser asks `ice` again when half of that has gone; coturn keeps an
 *   allocation made in time alive past the expiry, so only new connections need fresh ones.
 * - gateway → browser: `{event: "knock", from: {host, port}}` when someone knocks on the hosted node.
 * Limits per client: a frame of 4 KiB, 20 requests a second (bursts of 40), 16 in flight; too many bad
 * frames close the socket. Clients beyond `maxClients` are refused.
 *
 * A browser that leaves does not take its node down at once: the node lingers (`lingerMs`, 5 minutes), still
 * answering the DHT, and a browser back with the same key (a reload) gets it again. The other nodes' routing
 * tables hold a node that left until they find it dead, and in a world's small DHT every lookup visits it
 * and waits out a timeout on it: a player joining just after another left paid seconds for it. When a
 * lingering node does end, the other nodes' routing-table checks (p2p/node/dht.ts NODE_CHECK_MS) drop it
 * within about half a minute, a window far rarer than every departure.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import createDebug from "debug";
import { type WebSocket, WebSocketServer } from "ws";
import { type IceServer, parseIceServers } from "../../core/ice-servers.ts";
import { TurnCredentialsError, turnCredentials, turnIceServer } from "../../core/turn-credentials.ts";
import { type DhtAddress, ed25519Verify, itemSigData, MAX_SLOT, WorldDht, type WorldDhtOptions } from "./dht.ts";

const debug = createDebug("seedcraft:gateway");

export const GATEWAY_CHALLENGE_PREFIX = "seedcraft:gateway:v1:";
const MAX_FRAME_BYTES = 4096;
const MAX_BAD_FRAMES = 10;
/**
 * An hour: long enough that a browser's refresh (at half of it) is rare, short enough that credentials a
 * player passes on stop working soon. What a connection allocated in time keeps working past it.
 */
export const GATEWAY_TURN_TTL_S = 3600;

/** The world's TURN server, for the credentials a gateway hands to each browser. */
export type GatewayTurn = {
  /** The secret coturn was started with (`static-auth-secret`). Never sent to anyone. */
  secret: string;
  /** Its stun:/turn: URLs as players reach it. */
  urls: readonly string[];
  /** How long the credentials are good for. Default GATEWAY_TURN_TTL_S. */
  ttlSeconds?: number;
};

/**
 * The TURN server `seedcraft up` gives its gateway part: SEEDCRAFT_TURN_SECRET and SEEDCRAFT_TURN_URLS
 * (comma-separated); neither (or both empty) is none. One without the other, bad URLs or a short secret
 * throw a typed error (TurnCredentialsError, IceServersError) before the gateway listens.
 */
export function gatewayTurnFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayTurn | undefined {
  const secret = env.SEEDCRAFT_TURN_SECRET ?? "";
  const urls = (env.SEEDCRAFT_TURN_URLS ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter(Boolean);
  if (secret === "" && urls.length === 0) return undefined;
  if (urls.length === 0)
    throw new TurnCredentialsError(
      "BAD_TURN_SECRET",
      "SEEDCRAFT_TURN_SECRET is set but SEEDCRAFT_TURN_URLS is not: the gateway cannot say where its TURN server is.",
      "give SEEDCRAFT_TURN_URLS as turn:host:port?transport=udp,…, or unset SEEDCRAFT_TURN_SECRET",
    );
  return checkTurn({ secret, urls }, "SEEDCRAFT_TURN_URLS");
}

/** Checks the URLs (as seedcraft.json's are) and the secret (by minting once); throws typed errors. */
function checkTurn(turn: GatewayTurn, source = "the gateway's TURN urls"): GatewayTurn {
  const ttlSeconds = turn.ttlSeconds ?? GATEWAY_TURN_TTL_S;
  const probe = turnCredentials({ secret: turn.secret, key: "check", ttlSeconds });
  parseIceServers([turnIceServer([...turn.urls], probe)], source);
  return turn;
}

export type GatewayOptions = {
  /** DHT bootstrap nodes ("host:port") the hosted nodes start from. */
  bootstrap: string[];
  /** Where the WebSocket server and every hosted DHT node listen (127.0.0.1 by default). */
  host?: string;
  port?: number;
  maxClients?: number;
  requestsPerSecond?: number;
  maxInFlight?: number;
  /**
   * UDP ports a hosted node never takes, even asked for by name: the world's own (its DHT's), which a
   * browser could otherwise grab while `seedcraft up` restarts that part.
   */
  reservedPorts?: readonly number[];
  /** The world's TURN server, whose credentials each browser gets. Default gatewayTurnFromEnv(); null: none. */
  turn?: GatewayTurn | null;
  /** The hosted nodes' announce and BEP44 item lifetimes (p2p/dht-lifetime.ts's by default); tests shorten them. */
  dhtLifetimes?: Pick<WorldDhtOptions, "maxAgeMs" | "itemMaxAgeMs" | "nodeCheckMs">;
  /** How long a departed browser's node keeps answering the DHT (ms; LINGER_MS by default, 0: none). */
  lingerMs?: number;
};

/** A departed browser's node answers the DHT this long (see the header); at most `maxClients` linger at once. */
export const LINGER_MS = 5 * 60_000;

/** A departed browser's node, and the timer that ends it. */
type Lingering = { node: WorldDht; timer: ReturnType<typeof setTimeout> };

function endLingering(entry: Lingering): Promise<void> {
  clearTimeout(entry.timer);
  return entry.node.destroy();
}

/** Where the OS puts a socket bound to port 0 (Linux's own default when /proc does not say). */
export function ephemeralPortRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && (low as number) <= (high as number))
      return { low: low as number, high: high as number };
  } catch {
    // Not Linux, or no /proc: the default below.
  }
  return { low: 32768, high: 60999 };
}

/** A request the gateway refuses; `code` is stable. */
export class GatewayRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "GatewayRequestError";
  }
}

type Client = {
  socket: WebSocket;
  nonce: string;
  node: WorldDht | undefined;
  key: Uint8Array | undefined;
  tokens: number;
  atMs: number;
  inFlight: number;
  bad: number;
  stopKnocks: (() => void) | undefined;
  /** Its key and slot, once its hello came: where its node lingers after it leaves. */
  lingerKey?: string;
};

const HEX = /^(?:[0-9a-f]{2})*$/;

function bytes(value: unknown, field: string, length?: number, max = 1000): Uint8Array {
  if (typeof value !== "string" || !HEX.test(value))
    throw new GatewayRequestError("BAD_REQUEST", `${field} must be lowercase hex`);
  const out = Buffer.from(value, "hex");
  if (length !== undefined && out.length !== length)
    throw new GatewayRequestError("BAD_REQUEST", `${field} must be ${length} bytes`);
  if (out.length > max) throw new GatewayRequestError("BAD_REQUEST", `${field} is too long`);
  return new Uint8Array(out);
}

function address(value: unknown): DhtAddress {
  const { host, port } = (value ?? {}) as { host?: unknown; port?: unknown };
  if (typeof host !== "string" || !/^\d{1,3}(\.\d{1,3}){3}$/.test(host))
    throw new GatewayRequestError("BAD_REQUEST", "host must be an IPv4 address");
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new GatewayRequestError("BAD_REQUEST", "port must be 1-65535");
  return { host, port };
}

const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

export class DhtGateway {
  readonly #server: WebSocketServer;
  readonly #options: Required<Omit<GatewayOptions, "port" | "reservedPorts" | "turn" | "dhtLifetimes">>;
  readonly #lifetimes: Pick<WorldDhtOptions, "maxAgeMs" | "itemMaxAgeMs" | "nodeCheckMs">;
  readonly #clients = new Set<Client>();
  /** Departed browsers' nodes, by key and slot, oldest first, each with the timer that ends it. */
  readonly #lingering = new Map<string, Lingering>();
  readonly #turn: GatewayTurn | undefined;
  /** The ports a browser may ask for back: those listen(0) hands out, less the reserved ones. */
  readonly #ephemeral = ephemeralPortRange();
  readonly #reserved: ReadonlySet<number>;

  private constructor(server: WebSocketServer, options: GatewayOptions, turn: GatewayTurn | undefined) {
    this.#server = server;
    this.#turn = turn;
    this.#options = {
      bootstrap: options.bootstrap,
      host: options.host ?? "127.0.0.1",
      maxClients: options.maxClients ?? 64,
      requestsPerSecond: options.requestsPerSecond ?? 20,
      maxInFlight: options.maxInFlight ?? 16,
      lingerMs: options.lingerMs ?? LINGER_MS,
    };
    this.#reserved = new Set(options.reservedPorts ?? []);
    this.#lifetimes = options.dhtLifetimes ?? {};
    server.on("connection", (socket) => this.#accept(socket));
  }

  /** Listens on ws://host:port (127.0.0.1 and a free port by default). */
  static async start(options: GatewayOptions): Promise<DhtGateway> {
    // Bad TURN settings fail here, before anything listens.
    const turn = options.turn === undefined ? gatewayTurnFromEnv() : (options.turn ?? undefined);
    if (options.turn) checkTurn(options.turn);
    const server = new WebSocketServer({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      maxPayload: MAX_FRAME_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", () => resolve());
      server.once("error", reject);
    });
    if (turn)
      debug("TURN credentials for %s, good for %d s", turn.urls.join(" "), turn.ttlSeconds ?? GATEWAY_TURN_TTL_S);
    return new DhtGateway(server, options, turn);
  }

  get url(): string {
    const { address: host, port } = this.#server.address() as AddressInfo;
    return `ws://${host}:${port}`;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Departed browsers' nodes still answering the DHT. */
  get lingering(): number {
    return this.#lingering.size;
  }

  async close(): Promise<void> {
    this.#options.lingerMs = 0;
    for (const client of [...this.#clients]) client.socket.terminate();
    await Promise.all([...this.#clients].map((client) => this.#release(client)));
    const lingering = [...this.#lingering.values()];
    this.#lingering.clear();
    await Promise.all(lingering.map(endLingering));
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: WebSocket): void {
    if (this.#clients.size >= this.#options.maxClients) {
      socket.close(1013, "gateway full");
      return;
    }
    const client: Client = {
      socket,
      nonce: randomBytes(16).toString("hex"),
      node: undefined,
      key: undefined,
      tokens: 2 * this.#options.requestsPerSecond,
      atMs: Date.now(),
      inFlight: 0,
      bad: 0,
      stopKnocks: undefined,
    };
    this.#clients.add(client);
    socket.on("message", (data, isBinary) => void this.#onFrame(client, data as Buffer, isBinary));
    socket.on("close", () => void this.#release(client));
    socket.on("error", () => socket.terminate());
    socket.send(JSON.stringify({ event: "challenge", nonce: client.nonce }));
  }

  async #release(client: Client): Promise<void> {
    if (!this.#clients.delete(client)) return;
    client.stopKnocks?.();
    const { node } = client;
    if (node && client.lingerKey && this.#options.lingerMs > 0) this.#linger(client.lingerKey, node);
    else await node?.destroy();
    debug("client %s left", client.key ? hex(client.key).slice(0, 12) : "(no hello)");
  }

  async #onFrame(client: Client, data: Buffer, isBinary: boolean): Promise<void> {
    let id: unknown;
    try {
      if (isBinary) throw new GatewayRequestError("BAD_REQUEST", "frames are JSON text");
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(data.toString("utf8")) as Record<string, unknown>;
      } catch {
        throw new GatewayRequestError("BAD_REQUEST", "not JSON");
      }
      if (typeof request !== "object" || request === null)
        throw new GatewayRequestError("BAD_REQUEST", "not an object");
      id = request.id;
      if (typeof id !== "number" || !Number.isSafeInteger(id))
        throw new GatewayRequestError("BAD_REQUEST", "id must be an integer");
      this.#admit(client);
      client.inFlight++;
      try {
        const result = await this.#handle(client, request);
        this.#reply(client, { id, ok: true, ...result });
      } finally {
        client.inFlight--;
      }
    } catch (error) {
      const known = error instanceof GatewayRequestError;
      if (known && error.code === "BAD_REQUEST") client.bad++;
      this.#reply(client, {
        id: typeof id === "number" ? id : null,
        ok: false,
        code: known ? error.code : "DHT",
        error: (error as Error).message,
      });
      if (client.bad > MAX_BAD_FRAMES) client.socket.close(1008, "too many bad requests");
    }
  }

  #admit(client: Client): void {
    const now = Date.now();
    const rate = this.#options.requestsPerSecond;
    client.tokens = Math.min(2 * rate, client.tokens + ((now - client.atMs) * rate) / 1000);
    client.atMs = now;
    if (client.tokens < 1) throw new GatewayRequestError("RATE_LIMITED", `over ${rate} requests a second`);
    if (client.inFlight >= this.#options.maxInFlight)
      throw new GatewayRequestError("RATE_LIMITED", `over ${this.#options.maxInFlight} requests in flight`);
    client.tokens -= 1;
  }

  #reply(client: Client, body: object): void {
    if (client.socket.readyState === client.socket.OPEN) client.socket.send(JSON.stringify(body));
  }

  async #handle(client: Client, request: Record<string, unknown>): Promise<object> {
    if (request.op === "hello") return await this.#hello(client, request);
    const node = client.node;
    if (!node) throw new GatewayRequestError("HELLO_FIRST", "say hello first");
    switch (request.op) {
      case "put": {
        const item = {
          k: client.key as Uint8Array,
          v: bytes(request.v, "v", undefined, 999),
          seq: request.seq as number,
          sig: bytes(request.sig, "sig", 64),
          ...(request.salt === undefined ? {} : { salt: bytes(request.salt, "salt", undefined, 64) }),
        };
        if (typeof item.seq !== "number" || !Number.isSafeInteger(item.seq) || item.seq < 0)
          throw new GatewayRequestError("BAD_REQUEST", "seq must be a non-negative integer");
        if (!ed25519Verify(item.sig, itemSigData(item), item.k))
          throw new GatewayRequestError("BAD_SIGNATURE", "the item's signature does not verify under your key");
        await node.putSigned(item, request.to === undefined ? undefined : address(request.to));
        return {};
      }
      case "get": {
        const item = await node.getItem(bytes(request.target, "target", 20));
        return {
          item: item && {
            k: hex(item.k),
            v: hex(item.v),
            seq: item.seq,
            sig: hex(item.sig),
            ...(item.salt ? { salt: hex(item.salt) } : {}),
          },
        };
      }
      case "announce":
        await node.announce(bytes(request.topic, "topic", 20));
        return {};
      case "lookup":
        return { addresses: await node.lookup(bytes(request.topic, "topic", 20)) };
      case "ping":
        return { node: hex(await node.nodeIdOf(address(request))) };
      case "knock":
        await node.knock(bytes(request.node, "node", 20));
        return {};
      case "ice":
        return this.#ice(client);
      default:
        throw new GatewayRequestError("BAD_REQUEST", `unknown op ${JSON.stringify(request.op)}`);
    }
  }

  async #hello(client: Client, request: Record<string, unknown>): Promise<object> {
    if (client.node) throw new GatewayRequestError("BAD_REQUEST", "hello twice");
    const key = bytes(request.key, "key", 32);
    const sig = bytes(request.sig, "sig", 64);
    if (!ed25519Verify(sig, new TextEncoder().encode(GATEWAY_CHALLENGE_PREFIX + client.nonce), key))
      throw new GatewayRequestError("BAD_SIGNATURE", "the challenge signature does not verify");
    const slot = request.slot ?? 0;
    if (!Number.isInteger(slot) || (slot as number) < 0 || (slot as number) > MAX_SLOT)
      throw new GatewayRequestError("BAD_REQUEST", `slot must be an integer 0..${MAX_SLOT}`);
    const port = request.port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535))
      throw new GatewayRequestError("BAD_REQUEST", "port must be an integer 1-65535");
    client.key = key;
    // Back after a restart, the browser's node takes its old port if it can: the other nodes' routing
    // tables keep a node's first address for its id (k-rpc never updates it), so knocks and mail find it
    // there. A port taken meanwhile only costs that (a free one is used). The port is on the gateway's own
    // host, so only a port listen(0) could have given is honoured: never another service's, nor the world's.
    // Back within the linger (a reload): its node, still in everyone's routing tables, is its own again.
    const lingerKey = `${hex(key)}:${slot}`;
    client.lingerKey = lingerKey;
    const lingering = this.#lingering.get(lingerKey);
    if (lingering) {
      this.#lingering.delete(lingerKey);
      clearTimeout(lingering.timer);
      client.node = lingering.node;
      client.stopKnocks = lingering.node.onKnock((from) => this.#reply(client, { event: "knock", from }));
      debug("client %s back on its lingering node %o", hex(key).slice(0, 12), lingering.node.address);
      return { address: lingering.node.address, ...this.#ice(client) };
    }
    const preferred = port !== undefined && this.#mayTake(port as number) ? (port as number) : undefined;
    if (port !== undefined && preferred === undefined) debug("hello asked for udp port %d: using a free one", port);
    const node = await WorldDht.start({
      bootstrap: this.#options.bootstrap,
      // Others reach a browser's node where they reach the gateway: on its host, not loopback.
      host: this.#options.host,
      hostedKey: key,
      slot: slot as number,
      ...this.#lifetimes,
      ...(preferred === undefined ? {} : { preferredPort: preferred }),
    });
    if (!this.#clients.has(client)) {
      await node.destroy();
      throw new GatewayRequestError("GONE", "the client left");
    }
    client.node = node;
    client.stopKnocks = node.onKnock((from) => this.#reply(client, { event: "knock", from }));
    debug("client %s hosted on udp %o", hex(key).slice(0, 12), node.address);
    return { address: node.address, ...this.#ice(client) };
  }

  /** `{ice: {servers, ttl}}` with credentials for this client's key, or nothing when the world has no TURN server. */
  #ice(client: Client): { ice?: { servers: IceServer[]; ttl: number } } {
    if (!this.#turn || !client.key) return {};
    const ttl = this.#turn.ttlSeconds ?? GATEWAY_TURN_TTL_S;
    // The key names the browser in coturn's log (and any quota); 16 hex digits of it are enough for that.
    const key = hex(client.key).slice(0, 16);
    const credentials = turnCredentials({ secret: this.#turn.secret, key, ttlSeconds: ttl });
    return { ice: { servers: [turnIceServer([...this.#turn.urls], credentials)], ttl } };
  }

  /** Keeps a departed browser's node answering for `lingerMs`; the oldest goes first past `maxClients`. */
  #linger(key: string, node: WorldDht): void {
    const earlier = this.#lingering.get(key);
    if (earlier) void endLingering(earlier);
    this.#lingering.delete(key);
    const timer = setTimeout(() => {
      const entry = this.#lingering.get(key);
      if (entry?.node !== node) return;
      this.#lingering.delete(key);
      void node.destroy();
      debug("lingering node %s ended", key.slice(0, 12));
    }, this.#options.lingerMs);
    timer.unref?.();
    this.#lingering.set(key, { node, timer });
    while (this.#lingering.size > this.#options.maxClients) {
      const [oldest, entry] = this.#lingering.entries().next().value as [string, Lingering];
      this.#lingering.delete(oldest);
      void endLingering(entry);
    }
  }

  #mayTake(port: number): boolean {
    return port >= this.#ephemeral.low && port <= this.#ephemeral.high && !this.#reserved.has(port);
  }
}
