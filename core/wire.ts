/**
 * The binary wire protocol of the real-time plane (WebRTC data channels). Every message is
 * `version u8 ‖ type u8 ‖ body`, big-endian, with fixed fields or short length-prefixed ones.
 * `decodeMessage` checks everything before it trusts it and throws only `WireError`: it never allocates
 * from a length it has not checked against both its limit and the bytes actually there.
 * Addresses and hashes decode to lowercase 0x-hex.
 */
import type { Address, Hex } from "viem";
import { CHAT_HISTORY_LINES, type ChatLine } from "./chat.ts";
import { MAX_CHUNK_ID } from "./chunk.ts";
import { SeedcraftError } from "./errors.ts";
import type { BlockOp, SignedOp, SignedOpBatch } from "./op.ts";
import { MAX_BATCH_OPS } from "./op.ts";

export const WIRE_VERSION = 1;
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const MAX_NAME_BYTES = 32;
export const MAX_CHAT_BYTES = 500;
export const MAX_BOUNCE_TEXT_BYTES = 120;
/** A relayed WebRTC signal (a whole SDP with its candidates). */
export const MAX_SIGNAL_BYTES = 2048;
/** A media connection's signal (an SDP with audio and video, or one ICE candidate), as UTF-8 text. */
export const MAX_MEDIA_SIGNAL_BYTES = 16 * 1024;
/** Peer ids a `peers` message may list. */
export const MAX_PEER_IDS = 64;
/** Hops an op may still travel when it leaves its author. */
export const DEFAULT_OP_TTL = 4;

export type WireErrorCode =
  | "WIRE_TRUNCATED"
  | "WIRE_TOO_LARGE"
  | "WIRE_VERSION"
  | "WIRE_TYPE"
  | "WIRE_FIELD"
  | "WIRE_TRAILING";

export class WireError extends SeedcraftError {
  override readonly code: WireErrorCode;

  constructor(code: WireErrorCode, details: string) {
    super(code, "Malformed wire message.", details);
    this.name = "WireError";
    this.code = code;
  }
}

export type Vec3 = [number, number, number];

/**
 * The hello's capability bits. A peer sets those it serves; the others leave it alone for them (a Node
 * seeder has no voice: nobody calls it).
 */
export const CAPABILITIES = {
  /** Takes voice and video calls (`media` messages). */
  voice: 1,
  /**
   * Seeds the world's data as its job (`seedcraft seed`, paid in receipts): a fetch asks it before other peers
   * (p2p/chunk-torrents.ts SEEDERS_FIRST_MS).
   */
  seeds: 2,
} as const;

export type HelloMessage = {
  type: "hello";
  wallet: Address;
  sessionKey: Address;
  /** The peer's ed25519 DHT public key. */
  peerId: Hex;
  /** What the peer does beside the mesh's own messages: a bit set of CAPABILITIES. */
  capabilities: number;
  name: string;
  /** The session key's signature over the hello and this channel's binding (see p2p/hello.ts). */
  proof: Hex;
};
/** Movement delta: only the fields that changed are present. */
export type MoveMessage = {
  type: "move";
  seq: number;
  position?: Vec3;
  look?: [yaw: number, pitch: number];
  velocity?: Vec3;
};
export type InteractMessage = { type: "interact"; kind: number; target: Vec3; item?: number };
/** `ttl`: how many more hops a peer may forward it (its signature is its id for deduplication). */
export type OpMessage = { type: "op"; op: SignedOp; ttl: number };
export type OpBatchMessage = { type: "opBatch"; batch: SignedOpBatch; ttl: number };
export type ChunkMetaMessage = {
  type: "chunkMeta";
  chunk: bigint;
  version: bigint;
  hash: Hex;
  infoHash: Hex;
  watermark: { wallMs: number; logical: number };
};
/**
 * A chat line to a linked peer. Signed lines (`atMs` and `signature` both, see core/chat.ts) may be replayed
 * to newcomers; an unsigned one is shown live only.
 */
export type ChatMessage = { type: "chat"; seq: number; text: string; atMs?: number; signature?: Hex };
/** The last signed chat lines a neighbour heard, oldest first, for a peer that just linked with it. */
export type ChatHistoryMessage = { type: "chatHistory"; lines: ChatLine[] };
export type BounceMessage = {
  type: "bounce";
  op: Pick<BlockOp, "chunk" | "index" | "hlc" | "author">;
  reason: number;
  text: string;
};

/** The DHT keys of the peers the sender is linked with (so forwarders can skip common neighbours). */
export type PeersMessage = { type: "peers"; ids: Hex[] };

/** A WebRTC signal relayed in-band by a common neighbour: `from` and `to` are DHT keys. */
export type SignalMessage = { type: "signal"; from: Hex; to: Hex; payload: Uint8Array };

/** What a media signal carries: an SDP, an ICE candidate (JSON), or the end of that media connection. */
export type MediaSignalKind = "offer" | "answer" | "candidate" | "bye";
/**
 * Voice and video between two linked peers travel on a media-only RTCPeerConnection of their own (the
 * link stays data-only); this carries its signaling, one hop. `session` names one media connection, so
 * a late signal of an older one is told apart. A `bye` carries no text.
 */
export type MediaMessage = { type: "media"; kind: MediaSignalKind; session: number; text: string };

export type WireMessage =
  | HelloMessage
  | MoveMessage
  | InteractMessage
  | OpMessage
  | OpBatchMessage
  | ChunkMetaMessage
  | ChatMessage
  | ChatHistoryMessage
  | BounceMessage
  | SignalMessage
  | PeersMessage
  | MediaMessage;

export type MessageClass = "control" | "movement" | "interaction" | "edit" | "chat";

const TYPE_CODES = {
  hello: 1,
  move: 2,
  interact: 3,
  op: 4,
  opBatch: 5,
  chunkMeta: 6,
  chat: 7,
  bounce: 8,
  signal: 9,
  peers: 10,
  media: 11,
  chatHistory: 12,
} as const satisfies Record<WireMessage["type"], number>;

const CLASSES: Record<WireMessage["type"], MessageClass> = {
  hello: "control",
  move: "movement",
  interact: "interaction",
  op: "edit",
  opBatch: "edit",
  chunkMeta: "edit",
  chat: "chat",
  chatHistory: "chat",
  bounce: "edit",
  signal: "control",
  peers: "control",
  media: "control",
};

/** The channel class a message travels on (its reliability and priority). */
export function messageClass(message: WireMessage): MessageClass {
  return CLASSES[message.type];
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

// Field sizes.
const CHUNK_BYTES = 12;
const ADDRESS_BYTES = 20;
const SIGNATURE_BYTES = 64;
const OP_CORE_BYTES = CHUNK_BYTES + 2 + 2 + 6 + 2 + ADDRESS_BYTES; // chunk, index, block, wallMs, logical, author

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(value: number): void {
    this.view.setUint8(this.offset, value);
    this.offset += 1;
  }
  u16(value: number): void {
    this.view.setUint16(this.offset, value);
    this.offset += 2;
  }
  u32(value: number): void {
    this.view.setUint32(this.offset, value);
    this.offset += 4;
  }
  i32(value: number): void {
    this.view.setInt32(this.offset, value);
    this.offset += 4;
  }
  f32(value: number): void {
    this.view.setFloat32(this.offset, value);
    this.offset += 4;
  }
  u48(value: number): void {
    this.view.setUint16(this.offset, Math.floor(value / 2 ** 32));
    this.view.setUint32(this.offset + 2, value % 2 ** 32);
    this.offset += 6;
  }
  u64(value: bigint): void {
    this.view.setBigUint64(this.offset, value);
    this.offset += 8;
  }
  u96(value: bigint): void {
    this.view.setUint32(this.offset, Number(value >> 64n));
    this.view.setBigUint64(this.offset + 4, value & 0xffff_ffff_ffff_ffffn);
    this.offset += 12;
  }
  hex(value: string, length: number): void {
    const digits = value.slice(2);
    if (!/^0x[0-9a-fA-F]*$/.test(value) || digits.length !== length * 2)
      throw new WireError("WIRE_FIELD", `expected ${length} bytes of 0x-hex`);
    for (let i = 0; i < length; i++) this.bytes[this.offset + i] = Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16);
    this.offset += length;
  }
  raw(value: Uint8Array): void {
    this.bytes.set(value, this.offset);
    this.offset += value.length;
  }
}

class Reader {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  need(count: number, what: string): void {
    if (count > this.remaining)
      throw new WireError("WIRE_TRUNCATED", `${what}: needs ${count} bytes, ${this.remaining} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }
  i32(what: string): number {
    this.need(4, what);
    const value = this.view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }
  f32(what: string): number {
    this.need(4, what);
    const value = this.view.getFloat32(this.offset);
    this.offset += 4;
    if (!Number.isFinite(value)) throw new WireError("WIRE_FIELD", `${what} is not a finite number`);
    return value;
  }
  u48(what: string): number {
    this.need(6, what);
    const value = this.view.getUint16(this.offset) * 2 ** 32 + this.view.getUint32(this.offset + 2);
    this.offset += 6;
    return value;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const value = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return value;
  }
  u96(what: string): bigint {
    this.need(12, what);
    const value = (BigInt(this.view.getUint32(this.offset)) << 64n) | this.view.getBigUint64(this.offset + 4);
    this.offset += 12;
    return value;
  }
  hex(length: number, what: string): `0x${string}` {
    this.need(length, what);
    let out = "0x";
    for (let i = 0; i < length; i++) out += (this.bytes[this.offset + i] as number).toString(16).padStart(2, "0");
    this.offset += length;
    return out as `0x${string}`;
  }
  text(length: number, what: string): string {
    this.need(length, what);
    try {
      const text = strictUtf8.decode(this.bytes.subarray(this.offset, this.offset + length));
      this.offset += length;
      return text;
    } catch {
      throw new WireError("WIRE_FIELD", `${what} is not valid UTF-8`);
    }
  }

  /** A copy of the next `length` bytes (the message's buffer may be reused by the transport). */
  raw(length: number, what: string): Uint8Array {
    this.need(length, what);
    const bytes = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new WireError("WIRE_FIELD", `${what} ${value} is outside ${min}..${max}`);
}

function checkFinite(what: string, values: readonly number[]): void {
  for (const value of values)
    if (!Number.isFinite(value) || Math.abs(value) > 3.4e38) throw new WireError("WIRE_FIELD", `${what} is not finite`);
}

function encodeText(text: string, limit: number, what: string): Uint8Array {
  const bytes = utf8.encode(text);
  if (bytes.length > limit) throw new WireError("WIRE_TOO_LARGE", `${what} is ${bytes.length} bytes, limit ${limit}`);
  return bytes;
}

function checkOpCore(op: Omit<BlockOp, "block"> & { block?: number }): void {
  if (op.chunk < 0n || op.chunk > MAX_CHUNK_ID) throw new WireError("WIRE_FIELD", "chunk id out of range");
  checkRange("block index", op.index, 0, 32767);
  if (op.block !== undefined) checkRange("block id", op.block, 0, 0xffff);
  checkRange("wallMs", op.hlc.wallMs, 0, 2 ** 48 - 1);
  checkRange("logical", op.hlc.logical, 0, 0xffff);
}

function writeOpCore(writer: Writer, op: BlockOp): void {
  checkOpCore(op);
  writer.u96(op.chunk);
  writer.u16(op.index);
  writer.u16(op.block);
  writer.u48(op.hlc.wallMs);
  writer.u16(op.hlc.logical);
  writer.hex(op.author, ADDRESS_BYTES);
}

function readOpCore(reader: Reader): BlockOp {
  const chunk = reader.u96("op chunk");
  if (chunk > MAX_CHUNK_ID) throw new WireError("WIRE_FIELD", "chunk id out of range");
  const index = reader.u16("op index");
  if (index > 32767) throw new WireError("WIRE_FIELD", `block index ${index} is outside 0..32767`);
  const block = reader.u16("op block");
  const wallMs = reader.u48("op wallMs");
  const logical = reader.u16("op logical");
  const author = reader.hex(ADDRESS_BYTES, "op author");
  return { chunk, index, block, hlc: { wallMs, logical }, author };
}

function chatLineSize(line: ChatLine): number {
  return (
    ADDRESS_BYTES * 2 + 1 + utf8.encode(line.name).length + 4 + 6 + 2 + utf8.encode(line.text).length + SIGNATURE_BYTES
  );
}

function writeChatLine(writer: Writer, line: ChatLine): void {
  const name = encodeText(line.name, MAX_NAME_BYTES, "chat name");
  const text = encodeText(line.text, MAX_CHAT_BYTES, "chat text");
  checkRange("seq", line.seq, 0, 0xffff_ffff);
  checkRange("chat time", line.atMs, 0, 2 ** 48 - 1);
  writer.hex(line.wallet, ADDRESS_BYTES);
  writer.hex(line.sessionKey, ADDRESS_BYTES);
  writer.u8(name.length);
  writer.raw(name);
  writer.u32(line.seq);
  writer.u48(line.atMs);
  writer.u16(text.length);
  writer.raw(text);
  writer.hex(line.signature, SIGNATURE_BYTES);
}

function readChatLine(reader: Reader): ChatLine {
  const wallet = reader.hex(ADDRESS_BYTES, "chat wallet");
  const sessionKey = reader.hex(ADDRESS_BYTES, "chat session key");
  const nameLength = reader.u8("chat name length");
  if (nameLength > MAX_NAME_BYTES) throw new WireError("WIRE_TOO_LARGE", `chat name is ${nameLength} bytes`);
  const name = reader.text(nameLength, "chat name");
  const seq = reader.u32("chat seq");
  const atMs = reader.u48("chat time");
  const length = reader.u16("chat length");
  if (length > MAX_CHAT_BYTES) throw new WireError("WIRE_TOO_LARGE", `chat text is ${length} bytes`);
  const text = reader.text(length, "chat text");
  return { wallet, sessionKey, name, seq, atMs, text, signature: reader.hex(SIGNATURE_BYTES, "chat signature") };
}

const MEDIA_KINDS: readonly MediaSignalKind[] = ["offer", "answer", "candidate", "bye"];

const MOVE_POSITION = 1;
const MOVE_LOOK = 2;
const MOVE_VELOCITY = 4;

/** The encoded size of a message, header included. */
export function encodedSize(message: WireMessage): number {
  switch (message.type) {
    case "hello":
      return 2 + 20 + 20 + 32 + 2 + 1 + utf8.encode(message.name).length + SIGNATURE_BYTES;
    case "move":
      return 2 + 4 + 1 + (message.position ? 12 : 0) + (message.look ? 8 : 0) + (message.velocity ? 12 : 0);
    case "interact":
      return 2 + 1 + 12 + 1 + (message.item === undefined ? 0 : 2);
    case "op":
      return 2 + OP_CORE_BYTES + SIGNATURE_BYTES + 1;
    case "opBatch":
      return 2 + 2 + message.batch.ops.length * OP_CORE_BYTES + SIGNATURE_BYTES + 1;
    case "chunkMeta":
      return 2 + CHUNK_BYTES + 8 + 32 + 20 + 6 + 2;
    case "chat":
      return (
        2 + 4 + 2 + utf8.encode(message.text).length + 1 + (message.signature === undefined ? 0 : 6 + SIGNATURE_BYTES)
      );
    case "chatHistory":
      return 2 + 1 + message.lines.reduce((sum, line) => sum + chatLineSize(line), 0);
    case "bounce":
      return 2 + CHUNK_BYTES + 2 + 6 + 2 + ADDRESS_BYTES + 1 + 1 + utf8.encode(message.text).length;
    case "signal":
      return 2 + 32 + 32 + 2 + message.payload.length;
    case "peers":
      return 2 + 1 + 32 * message.ids.length;
    case "media":
      return 2 + 1 + 4 + 2 + utf8.encode(message.text).length;
  }
}

/** Encodes a message; throws WireError if a field is out of range. */
export function encodeMessage(message: WireMessage): Uint8Array {
  const size = encodedSize(message);
  if (size > MAX_MESSAGE_BYTES) throw new WireError("WIRE_TOO_LARGE", `${size} bytes, limit ${MAX_MESSAGE_BYTES}`);
  const writer = new Writer(size);
  writer.u8(WIRE_VERSION);
  writer.u8(TYPE_CODES[message.type]);
  switch (message.type) {
    case "hello": {
      const name = encodeText(message.name, MAX_NAME_BYTES, "name");
      checkRange("capabilities", message.capabilities, 0, 0xffff);
      writer.hex(message.wallet, 20);
      writer.hex(message.sessionKey, 20);
      writer.hex(message.peerId, 32);
      writer.u16(message.capabilities);
      writer.u8(name.length);
      writer.raw(name);
      writer.hex(message.proof, SIGNATURE_BYTES);
      break;
    }
    case "move": {
      checkRange("seq", message.seq, 0, 0xffff_ffff);
      writer.u32(message.seq);
      writer.u8(
        (message.position ? MOVE_POSITION : 0) |
          (message.look ? MOVE_LOOK : 0) |
          (message.velocity ? MOVE_VELOCITY : 0),
      );
      for (const field of [message.position, message.look, message.velocity]) {
        if (!field) continue;
        checkFinite("movement", field);
        for (const value of field) writer.f32(value);
      }
      break;
    }
    case "interact":
      checkRange("kind", message.kind, 0, 0xff);
      writer.u8(message.kind);
      for (const value of message.target) {
        checkRange("target", value, -(2 ** 31), 2 ** 31 - 1);
        writer.i32(value);
      }
      writer.u8(message.item === undefined ? 0 : 1);
      if (message.item !== undefined) {
        checkRange("item", message.item, 0, 0xffff);
        writer.u16(message.item);
      }
      break;
    case "op":
      checkRange("ttl", message.ttl, 0, 0xff);
      writeOpCore(writer, message.op);
      writer.hex(message.op.signature, SIGNATURE_BYTES);
      writer.u8(message.ttl);
      break;
    case "opBatch": {
      const { ops, signature } = message.batch;
      checkRange("batch size", ops.length, 1, MAX_BATCH_OPS);
      checkRange("ttl", message.ttl, 0, 0xff);
      writer.u16(ops.length);
      for (const op of ops) writeOpCore(writer, op);
      writer.hex(signature, SIGNATURE_BYTES);
      writer.u8(message.ttl);
      break;
    }
    case "chunkMeta":
      if (message.chunk < 0n || message.chunk > MAX_CHUNK_ID)
        throw new WireError("WIRE_FIELD", "chunk id out of range");
      if (message.version < 0n || message.version >= 2n ** 64n)
        throw new WireError("WIRE_FIELD", "version out of range");
      checkRange("wallMs", message.watermark.wallMs, 0, 2 ** 48 - 1);
      checkRange("logical", message.watermark.logical, 0, 0xffff);
      writer.u96(message.chunk);
      writer.u64(message.version);
      writer.hex(message.hash, 32);
      writer.hex(message.infoHash, 20);
      writer.u48(message.watermark.wallMs);
      writer.u16(message.watermark.logical);
      break;
    case "chat": {
      const text = encodeText(message.text, MAX_CHAT_BYTES, "chat text");
      checkRange("seq", message.seq, 0, 0xffff_ffff);
      writer.u32(message.seq);
      writer.u16(text.length);
      writer.raw(text);
      if ((message.atMs === undefined) !== (message.signature === undefined))
        throw new WireError("WIRE_FIELD", "a signed chat line carries both its time and its signature");
      writer.u8(message.signature === undefined ? 0 : 1);
      if (message.atMs !== undefined && message.signature !== undefined) {
        checkRange("chat time", message.atMs, 0, 2 ** 48 - 1);
        writer.u48(message.atMs);
        writer.hex(message.signature, SIGNATURE_BYTES);
      }
      break;
    }
    case "chatHistory":
      checkRange("chat history lines", message.lines.length, 0, CHAT_HISTORY_LINES);
      writer.u8(message.lines.length);
      for (const line of message.lines) writeChatLine(writer, line);
      break;
    case "bounce": {
      const text = encodeText(message.text, MAX_BOUNCE_TEXT_BYTES, "bounce text");
      checkOpCore(message.op);
      checkRange("reason", message.reason, 0, 0xff);
      writer.u96(message.op.chunk);
      writer.u16(message.op.index);
      writer.u48(message.op.hlc.wallMs);
      writer.u16(message.op.hlc.logical);
      writer.hex(message.op.author, ADDRESS_BYTES);
      writer.u8(message.reason);
      writer.u8(text.length);
      writer.raw(text);
      break;
    }
    case "peers":
      checkRange("peer count", message.ids.length, 0, MAX_PEER_IDS);
      writer.u8(message.ids.length);
      for (const id of message.ids) writer.hex(id, 32);
      break;
    case "signal":
      checkRange("signal size", message.payload.length, 1, MAX_SIGNAL_BYTES);
      writer.hex(message.from, 32);
      writer.hex(message.to, 32);
      writer.u16(message.payload.length);
      writer.raw(message.payload);
      break;
    case "media": {
      const kind = MEDIA_KINDS.indexOf(message.kind);
      if (kind < 0) throw new WireError("WIRE_FIELD", `media kind ${String(message.kind)}`);
      checkRange("media session", message.session, 0, 0xffff_ffff);
      const text = encodeText(message.text, MAX_MEDIA_SIGNAL_BYTES, "media signal");
      if (message.kind === "bye" && text.length > 0) throw new WireError("WIRE_FIELD", "a media bye carries no text");
      if (message.kind !== "bye" && text.length === 0) throw new WireError("WIRE_FIELD", "an empty media signal");
      writer.u8(kind + 1);
      writer.u32(message.session);
      writer.u16(text.length);
      writer.raw(text);
      break;
    }
  }
  return writer.bytes;
}

/** Decodes one message; throws only WireError. */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  if (!(bytes instanceof Uint8Array)) throw new WireError("WIRE_FIELD", "expected bytes");
  if (bytes.length > MAX_MESSAGE_BYTES)
    throw new WireError("WIRE_TOO_LARGE", `${bytes.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  const reader = new Reader(bytes);
  const version = reader.u8("version");
  if (version !== WIRE_VERSION) throw new WireError("WIRE_VERSION", `version ${version}, expected ${WIRE_VERSION}`);
  const code = reader.u8("type");
  const message = decodeBody(reader, code);
  if (reader.remaining !== 0) throw new WireError("WIRE_TRAILING", `${reader.remaining} bytes after the message`);
  return message;
}

function decodeBody(reader: Reader, code: number): WireMessage {
  switch (code) {
    case TYPE_CODES.hello: {
      const wallet = reader.hex(20, "wallet");
      const sessionKey = reader.hex(20, "session key");
      const peerId = reader.hex(32, "peer id");
      const capabilities = reader.u16("capabilities");
      const length = reader.u8("name length");
      if (length > MAX_NAME_BYTES) throw new WireError("WIRE_TOO_LARGE", `name is ${length} bytes`);
      const name = reader.text(length, "name");
      return {
        type: "hello",
        wallet,
        sessionKey,
        peerId,
        capabilities,
        name,
        proof: reader.hex(SIGNATURE_BYTES, "proof"),
      };
    }
    case TYPE_CODES.move: {
      const seq = reader.u32("seq");
      const mask = reader.u8("move mask");
      if (mask & ~(MOVE_POSITION | MOVE_LOOK | MOVE_VELOCITY)) throw new WireError("WIRE_FIELD", `move mask ${mask}`);
      const message: MoveMessage = { type: "move", seq };
      if (mask & MOVE_POSITION) message.position = [reader.f32("x"), reader.f32("y"), reader.f32("z")];
      if (mask & MOVE_LOOK) message.look = [reader.f32("yaw"), reader.f32("pitch")];
      if (mask & MOVE_VELOCITY) message.velocity = [reader.f32("vx"), reader.f32("vy"), reader.f32("vz")];
      return message;
    }
    case TYPE_CODES.interact: {
      const kind = reader.u8("kind");
      const target: Vec3 = [reader.i32("x"), reader.i32("y"), reader.i32("z")];
      const hasItem = reader.u8("item flag");
      if (hasItem > 1) throw new WireError("WIRE_FIELD", `item flag ${hasItem}`);
      const message: InteractMessage = { type: "interact", kind, target };
      if (hasItem === 1) message.item = reader.u16("item");
      return message;
    }
    case TYPE_CODES.op: {
      const op = readOpCore(reader);
      const signature = reader.hex(SIGNATURE_BYTES, "signature");
      return { type: "op", op: { ...op, signature }, ttl: reader.u8("ttl") };
    }
    case TYPE_CODES.opBatch: {
      const count = reader.u16("batch size");
      if (count < 1 || count > MAX_BATCH_OPS) throw new WireError("WIRE_FIELD", `batch of ${count} ops`);
      // Checked before any allocation: the ops and the signature must all be there.
      reader.need(count * OP_CORE_BYTES + SIGNATURE_BYTES + 1, "batch");
      const ops: BlockOp[] = [];
      for (let i = 0; i < count; i++) ops.push(readOpCore(reader));
      const signature = reader.hex(SIGNATURE_BYTES, "signature");
      return { type: "opBatch", batch: { ops, signature }, ttl: reader.u8("ttl") };
    }
    case TYPE_CODES.chunkMeta: {
      const chunk = reader.u96("chunk");
      if (chunk > MAX_CHUNK_ID) throw new WireError("WIRE_FIELD", "chunk id out of range");
      const version = reader.u64("version");
      const hash = reader.hex(32, "hash");
      const infoHash = reader.hex(20, "info hash");
      const wallMs = reader.u48("wallMs");
      const logical = reader.u16("logical");
      return { type: "chunkMeta", chunk, version, hash, infoHash, watermark: { wallMs, logical } };
    }
    case TYPE_CODES.chat: {
      const seq = reader.u32("seq");
      const length = reader.u16("chat length");
      if (length > MAX_CHAT_BYTES) throw new WireError("WIRE_TOO_LARGE", `chat text is ${length} bytes`);
      const text = reader.text(length, "chat text");
      const signed = reader.u8("chat signed flag");
      if (signed > 1) throw new WireError("WIRE_FIELD", `chat signed flag ${signed}`);
      if (signed === 0) return { type: "chat", seq, text };
      const atMs = reader.u48("chat time");
      return { type: "chat", seq, text, atMs, signature: reader.hex(SIGNATURE_BYTES, "chat signature") };
    }
    case TYPE_CODES.chatHistory: {
      const count = reader.u8("chat history lines");
      if (count > CHAT_HISTORY_LINES) throw new WireError("WIRE_TOO_LARGE", `${count} chat history lines`);
      const lines: ChatLine[] = [];
      for (let i = 0; i < count; i++) lines.push(readChatLine(reader));
      return { type: "chatHistory", lines };
    }
    case TYPE_CODES.bounce: {
      const chunk = reader.u96("chunk");
      if (chunk > MAX_CHUNK_ID) throw new WireError("WIRE_FIELD", "chunk id out of range");
      const index = reader.u16("index");
      if (index > 32767) throw new WireError("WIRE_FIELD", `block index ${index}`);
      const wallMs = reader.u48("wallMs");
      const logical = reader.u16("logical");
      const author = reader.hex(ADDRESS_BYTES, "author");
      const reason = reader.u8("reason");
      const length = reader.u8("text length");
      if (length > MAX_BOUNCE_TEXT_BYTES) throw new WireError("WIRE_TOO_LARGE", `bounce text is ${length} bytes`);
      return {
        type: "bounce",
        op: { chunk, index, hlc: { wallMs, logical }, author },
        reason,
        text: reader.text(length, "bounce text"),
      };
    }
    case TYPE_CODES.peers: {
      const count = reader.u8("peer count");
      if (count > MAX_PEER_IDS) throw new WireError("WIRE_TOO_LARGE", `${count} peer ids`);
      const ids: Hex[] = [];
      for (let i = 0; i < count; i++) ids.push(reader.hex(32, "peer id"));
      return { type: "peers", ids };
    }
    case TYPE_CODES.signal: {
      const from = reader.hex(32, "signal from");
      const to = reader.hex(32, "signal to");
      const length = reader.u16("signal length");
      if (length < 1 || length > MAX_SIGNAL_BYTES) throw new WireError("WIRE_TOO_LARGE", `signal of ${length} bytes`);
      return { type: "signal", from, to, payload: reader.raw(length, "signal") };
    }
    case TYPE_CODES.media: {
      const code = reader.u8("media kind");
      const kind = MEDIA_KINDS[code - 1];
      if (kind === undefined) throw new WireError("WIRE_FIELD", `media kind ${code}`);
      const session = reader.u32("media session");
      const length = reader.u16("media signal length");
      if (length > MAX_MEDIA_SIGNAL_BYTES) throw new WireError("WIRE_TOO_LARGE", `media signal of ${length} bytes`);
      if ((kind === "bye") !== (length === 0))
        throw new WireError("WIRE_FIELD", kind === "bye" ? "a media bye carries no text" : "an empty media signal");
      return { type: "media", kind, session, text: reader.text(length, "media signal") };
    }
    default:
      throw new WireError("WIRE_TYPE", `unknown message type ${code}`);
  }
}
