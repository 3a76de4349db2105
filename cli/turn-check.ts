/**
 * Asks a STUN/TURN server over UDP what a peer's ICE agent would, so that a bad server gets a clear error in
 * seconds instead of a connection that never opens: a Binding request (does it answer, and where does it see
 * us?) and a TURN Allocate with long-term credentials (do they get a relay?), whose allocation is then freed.
 * RFC 8489 (STUN) and RFC 8656 (TURN), only the few attributes these two requests need. Node-only.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { SeedcraftError } from "../core/errors.ts";

const MAGIC_COOKIE = 0x2112a442;
const BINDING = 0x0001;
const ALLOCATE = 0x0003;
const REFRESH = 0x0004;
const SUCCESS = 0x0100;
const ERROR = 0x0110;
const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  LIFETIME: 0x000d,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
  XOR_MAPPED_ADDRESS: 0x0020,
} as const;
const UDP = 17;

export type TurnCheckCode = "TURN_UNREACHABLE" | "TURN_AUTH_FAILED" | "TURN_REFUSED";

export class TurnCheckError extends SeedcraftError {
  /** host:port of the server asked. */
  readonly server: string;

  constructor(code: TurnCheckCode, server: string, message: string, details?: string, cause?: Error) {
    super(code, message, details);
    this.name = "TurnCheckError";
    this.server = server;
    if (cause) this.cause = cause;
  }
}

export type TransportAddress = { address: string; port: number };

type Attributes = Map<number, Buffer>;
type Message = { type: number; transactionId: Buffer; attributes: Attributes };

function encode(type: number, attributes: [number, Buffer][], integrityKey?: Buffer): { bytes: Buffer; id: Buffer } {
  const id = randomBytes(12);
  const body = Buffer.concat(
    attributes.map(([attrType, value]) => {
      const header = Buffer.alloc(4);
      header.writeUInt16BE(attrType, 0);
      header.writeUInt16BE(value.length, 2);
      return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
    }),
  );
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(body.length + (integrityKey ? 24 : 0), 2);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  id.copy(header, 8);
  let bytes = Buffer.concat([header, body]);
  if (integrityKey) {
    // The HMAC covers the message up to the attribute, with a length that already counts it.
    const mac = createHmac("sha1", integrityKey).update(bytes).digest();
    const attribute = Buffer.alloc(4);
    attribute.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
    attribute.writeUInt16BE(20, 2);
    bytes = Buffer.concat([bytes, attribute, mac]);
  }
  return { bytes, id };
}

function decode(bytes: Buffer): Message | undefined {
  if (bytes.length < 20 || bytes.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const length = bytes.readUInt16BE(2);
  if (20 + length > bytes.length) return undefined;
  const attributes: Attributes = new Map();
  for (let offset = 20; offset + 4 <= 20 + length; ) {
    const type = bytes.readUInt16BE(offset);
    const size = bytes.readUInt16BE(offset + 2);
    if (offset + 4 + size > bytes.length) return undefined;
    if (!attributes.has(type)) attributes.set(type, bytes.subarray(offset + 4, offset + 4 + size));
    offset += 4 + size + ((4 - (size % 4)) % 4);
  }
  return { type: bytes.readUInt16BE(0), transactionId: bytes.subarray(8, 20), attributes };
}

function xorAddress(value: Buffer | undefined): TransportAddress | undefined {
  if (!value || value.length < 8 || value[1] !== 0x01) return undefined; // IPv4 only
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const address = (value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0;
  return { address: [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join("."), port };
}

function errorCode(message: Message): { code: number; reason: string } | undefined {
  const value = message.attributes.get(ATTR.ERROR_CODE);
  if (!value || value.length < 4) return undefined;
  return { code: ((value[2] ?? 0) & 0x7) * 100 + (value[3] ?? 0), reason: value.subarray(4).toString("utf8") };
}

/** One UDP socket to one server: requests retransmitted (RTO 250 ms, doubling) until an answer or the deadline. */
class StunClient {
  readonly server: string;
  readonly #socket: dgram.Socket;
  readonly #deadline: number;
  readonly #pending = new Map<string, (message: Message) => void>();
  readonly #timeoutMs: number;
  readonly #failed: Promise<never>;

  private constructor(server: string, socket: dgram.Socket, timeoutMs: number) {
    this.server = server;
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#deadline = Date.now() + timeoutMs;
    let fail: (error: Error) => void = () => undefined;
    this.#failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.#failed.catch(() => undefined);
    // A connected socket hears the server's host say "port unreachable" (ECONNREFUSED).
    socket.on("error", (error) => {
      fail(error);
    });
    socket.on("message", (bytes) => {
      const message = decode(bytes);
      if (message) this.#pending.get(message.transactionId.toString("hex"))?.(message);
    });
  }

  static async connect(host: string, port: number, timeoutMs: number): Promise<StunClient> {
    const server = `${host}:${port}`;
    const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    let timer: NodeJS.Timeout | undefined;
    try {
      // connect() looks a name up first, and a resolver can hang: the deadline covers that too.
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no address for ${host} within ${timeoutMs / 1000} s`)), timeoutMs);
        socket.once("error", reject);
        socket.connect(port, host, () => {
          socket.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new TurnCheckError(
        "TURN_UNREACHABLE",
        server,
        `STUN/TURN server ${server} cannot be reached.`,
        (error as Error).message,
        error as Error,
      );
    } finally {
      clearTimeout(timer);
    }
    return new StunClient(server, socket, timeoutMs);
  }

  async request(type: number, attributes: [number, Buffer][], integrityKey?: Buffer): Promise<Message> {
    const { bytes, id } = encode(type, attributes, integrityKey);
    const key = id.toString("hex");
    let done = false;
    let wake: () => void = () => undefined;
    const answered = new Promise<Message>((resolve) => this.#pending.set(key, resolve));
    const sending = (async (): Promise<never> => {
      for (let rto = 250; !done && Date.now() < this.#deadline; rto *= 2) {
        this.#socket.send(bytes);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(rto, Math.max(0, this.#deadline - Date.now())));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      throw new TurnCheckError(
        "TURN_UNREACHABLE",
        this.server,
        `STUN/TURN server ${this.server} did not answer within ${this.#timeoutMs / 1000} s.`,
        "no answer over UDP before the deadline: is the address and port right, and is UDP let through?",
      );
    })();
    sending.catch(() => undefined);
    try {
      return await Promise.race([answered, sending, this.#failed]);
    } catch (error) {
      if (error instanceof TurnCheckError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new TurnCheckError(
        "TURN_UNREACHABLE",
        this.server,
        code === "ECONNREFUSED"
          ? `STUN/TURN server ${this.server} refused: nothing listens on that UDP port.`
          : `STUN/TURN server ${this.server} cannot be reached.`,
        code === "EHOSTUNREACH" || code === "ENETUNREACH"
          ? `${(error as Error).message}: no route to that host`
          : (error as Error).message,
        error as Error,
      );
    } finally {
      done = true;
      wake();
      this.#pending.delete(key);
    }
  }

  close(): void {
    this.#socket.close();
  }
}

/** Where the server sees this host (its server-reflexive address), or a TurnCheckError within `timeoutMs`. */
export async function stunBinding(host: string, port: number, timeoutMs = 5000): Promise<TransportAddress> {
  const client = await StunClient.connect(host, port, timeoutMs);
  try {
    const answer = await client.request(BINDING, []);
    const mapped = xorAddress(answer.attributes.get(ATTR.XOR_MAPPED_ADDRESS));
    if (answer.type !== (BINDING | SUCCESS) || !mapped)
      throw new TurnCheckError(
        "TURN_REFUSED",
        client.server,
        `${client.server} did not answer a STUN Binding request.`,
      );
    return mapped;
  } finally {
    client.close();
  }
}

export type TurnCheck = {
  /** The relay address the server allocated (and freed again). */
  relayed: TransportAddress;
  /** Where it saw us. */
  mapped: TransportAddress | undefined;
  ms: number;
};

/**
 * Allocates a UDP relay with long-term credentials (a TURN REST username and password work the same), then
 * frees it. Throws TurnCheckError: TURN_UNREACHABLE (no answer within `timeoutMs`, or refused),
 * TURN_AUTH_FAILED (the server refused the credentials: wrong, or expired), TURN_REFUSED (any other error).
 */
export async function checkTurn(options: {
  host: string;
  port: number;
  username: string;
  credential: string;
  timeoutMs?: number;
}): Promise<TurnCheck> {
  const started = performance.now();
  const client = await StunClient.connect(options.host, options.port, options.timeoutMs ?? 5000);
  const transport: [number, Buffer] = [ATTR.REQUESTED_TRANSPORT, Buffer.from([UDP, 0, 0, 0])];
  try {
    let answer = await client.request(ALLOCATE, [transport]);
    let key: Buffer | undefined;
    let auth: [number, Buffer][] = [];
    for (let attempt = 0; answer.type === (ALLOCATE | ERROR) && attempt < 3; attempt++) {
      const error = errorCode(answer);
      const realm = answer.attributes.get(ATTR.REALM);
      const nonce = answer.attributes.get(ATTR.NONCE);
      // 401 first (the challenge), and 438 whenever the nonce went stale; 401 again means the credentials failed.
      const challenge = (error?.code === 401 && key === undefined) || error?.code === 438;
      if (!challenge || !realm || !nonce) break;
      key = createHash("md5")
        .update(`${options.username}:${realm.toString("utf8")}:${options.credential}`)
        .digest();
      auth = [
        [ATTR.USERNAME, Buffer.from(options.username, "utf8")],
        [ATTR.REALM, realm],
        [ATTR.NONCE, nonce],
      ];
      answer = await client.request(ALLOCATE, [transport, ...auth], key);
    }
    if (answer.type === (ALLOCATE | ERROR)) {
      const error = errorCode(answer);
      if (error?.code === 401)
        throw new TurnCheckError(
          "TURN_AUTH_FAILED",
          client.server,
          `TURN server ${client.server} refused the credentials of ${JSON.stringify(options.username)}.`,
          `401 ${error.reason || "Unauthorized"}: a wrong username or password, or TURN REST credentials past their expiry or minted with another secret`,
        );
      throw new TurnCheckError(
        "TURN_REFUSED",
        client.server,
        `TURN server ${client.server} refused a relay.`,
        error ? `${error.code} ${error.reason}` : "an error answer without an error code",
      );
    }
    const relayed = xorAddress(answer.attributes.get(ATTR.XOR_RELAYED_ADDRESS));
    if (answer.type !== (ALLOCATE | SUCCESS) || !relayed)
      throw new TurnCheckError("TURN_REFUSED", client.server, `${client.server} gave no relay address.`);
    const mapped = xorAddress(answer.attributes.get(ATTR.XOR_MAPPED_ADDRESS));
    // Free the allocation (a Refresh with lifetime 0) rather than hold a relay port for ten minutes.
    if (key)
      await client.request(REFRESH, [[ATTR.LIFETIME, Buffer.from([0, 0, 0, 0])], ...auth], key).catch(() => undefined);
    return { relayed, mapped, ms: performance.now() - started };
  } finally {
    client.close();
  }
}
