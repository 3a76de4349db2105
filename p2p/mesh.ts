/**
 * The real-time mesh: the links to nearby peers and what travels on them. Isomorphic (Node and
 * browser); links come from outside (DHT signaling in Node, the gateway in browsers).
 *
 * - Every link starts with a hello each way (p2p/hello.ts). Until the other side's hello is verified,
 *   and the ledger says its session key serves its wallet, nothing else it sends is read.
 * - Movement goes on the lossy channel as deltas (only the fields that changed), at a rate that falls
 *   with distance (core/proximity.ts). Block ops, chat and interactions go on the reliable channel.
 * - Chat lines are signed by their author's session key. Each peer keeps the last few it heard and replays
 *   them to a peer that links with it, so a newcomer sees the conversation it walked into; it checks each
 *   replayed line's signature, and the ledger for its session key, as it would a hello.
 * - Block ops pass the replica (signature, session, rules, clock bound, conflict fold) before they are
 *   applied or forwarded. An applied op goes on to the peers whose area of interest holds its chunk,
 *   nearest first, except the one it came from, while its hop count lasts; its signature is its id,
 *   and a peer forwards an id once.
 * - Limits: links, message size, and a token bucket per peer. A peer whose messages keep failing
 *   (malformed, forged, over its budget) is disconnected and banned for a while.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import createDebug from "debug";
import { type Address, bytesToHex, type Hex } from "viem";
import {
  CHAT_HISTORY_LINES,
  type ChatLine,
  chatLineAge,
  chatLineId,
  chatSignedBySessionKey,
  compareChatLines,
  signChatLine,
} from "../core/chat.ts";
import { chunkCoordsOf } from "../core/chunk.ts";
import { SeedcraftError } from "../core/errors.ts";
import type { BlockOp, SignedOp } from "../core/op.ts";
import { distance, inAreaOfInterest, type Position, priorityOrder, RateGate } from "../core/proximity.ts";
import {
  type ChatHistoryMessage,
  type ChatMessage,
  type ChunkMetaMessage,
  DEFAULT_OP_TTL,
  decodeMessage,
  encodeMessage,
  type HelloMessage,
  MAX_MESSAGE_BYTES,
  MAX_PEER_IDS,
  type MediaMessage,
  type MoveMessage,
  messageClass,
  type OpBatchMessage,
  type OpMessage,
  type SignalMessage,
  type WireMessage,
} from "../core/wire.ts";
import { type HelloIdentity, makeHello, verifyHello } from "./hello.ts";
import { INDEX_BEHIND } from "./index-behind.ts";
import type { LedgerView, PlayerFacts } from "./ledger.ts";
import type { Link } from "./link.ts";
import type { OpVerdict, WorldReplica } from "./replica.ts";
import type { FrameChannel } from "./torrent-mux.ts";

export type MeshLimits = {
  /** Links kept at most (hellos included). */
  maxPeers: number;
  /** Inbound messages a peer may send per second, sustained; bursts up to twice that. */
  messagesPerSecond: number;
  /** Inbound bytes a peer may send per second, sustained; bursts up to twice that. */
  bytesPerSecond: number;
  /** Strikes (bad messages) before a peer is dropped and banned. */
  maxStrikes: number;
  banMs: number;
  /** How long a hello may take. */
  helloTimeoutMs: number;
  /** Media signals (voice and video signaling) a peer may send per second, sustained; bursts up to 4× that. */
  mediaSignalsPerSecond: number;
  /**
   * A verified link that brought nothing for this long is dropped (its peer may dial again). Each side sends
   * something at least every third of it (a bare movement message when it has nothing else to say), so only a
   * link that stopped carrying is dropped: a connection gone without a close, or a peer that stopped reading.
   */
  silentMs: number;
};

export const DEFAULT_MESH_LIMITS: MeshLimits = {
  maxPeers: 24,
  messagesPerSecond: 500,
  bytesPerSecond: 512 * 1024,
  maxStrikes: 5,
  banMs: 10 * 60_000,
  helloTimeoutMs: 5_000,
  mediaSignalsPerSecond: 10,
  silentMs: 20_000,
};

export class MeshError extends SeedcraftError {
  constructor(code: "MESH_FULL" | "MESH_BANNED", message: string, details?: string) {
    super(code, message, details);
    this.name = "MeshError";
  }
}

export type MeshPeer = {
  /** DHT key, lowercase hex: the peer's id in the mesh. */
  id: Hex;
  wallet: Address;
  sessionKey: Address;
  name: string;
  /** Its hello's CAPABILITIES bits. */
  capabilities: number;
  position: Position | undefined;
  strikes: number;
  /** Ops this peer sent that failed the checks. */
  invalidOps: number;
  /** The peers it says it is linked with: an op it forwards reaches them, so we need not. */
  neighbours: ReadonlySet<string>;
  /** Its last velocity (blocks a second) and when its last position came: we extrapolate from them. */
  velocity: Position;
  movedAtMs: number;
};

/** Who said a chat line: a linked peer, or the author a replayed line names. */
export type ChatAuthor = Pick<MeshPeer, "wallet" | "sessionKey" | "name">;

type Conn = {
  link: Link;
  peer: MeshPeer | undefined;
  expectedId: Hex | undefined;
  /** The session key the dialled key's card binds (in-band links: nothing else proves the key). */
  expectedSessionKey: Hex | undefined;
  bucket: { messages: number; bytes: number; atMs: number };
  /** Media signals are few (an offer, an answer, a dozen candidates): their own, smaller budget. */
  mediaBucket: { signals: number; atMs: number };
  helloTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why its hello is not taken yet, when it waits on something (the ledger): said if time runs out. */
  helloWait: string | undefined;
  moveSeq: number;
  /** The last movement sent on this link: what the peer extrapolates from. */
  sentMove: { position: Position; velocity: Position; atMs: number } | undefined;
  /** A link's messages are handled one at a time, in order (a hello's ledger look holds the rest). */
  queue: Promise<void>;
  /** Its chat history came: a link replays it once, as it opens (each line costs us a recovery and a ledger look). */
  chatHistoryHeard: boolean;
  /** When the link last brought a message, and when we last sent on it (see MeshLimits.silentMs). */
  heardAtMs: number;
  sentAtMs: number;
};

export type MeshEvents = {
  /** A peer's hello was verified: it is in the mesh. */
  peer: (peer: MeshPeer) => void;
  /** A peer left (closed, dropped or banned). */
  left: (peer: MeshPeer, why: string) => void;
  /** An op was judged (ours or a peer's); `from` is undefined for our own edits. */
  op: (verdict: OpVerdict, from: MeshPeer | undefined) => void;
  move: (peer: MeshPeer, message: MoveMessage) => void;
  /**
   * A chat line: from a linked peer (`line.history` false), or replayed by one from before we linked
   * (`from` is then its author as the line names it, signed; oldest first).
   */
  chat: (from: ChatAuthor, text: string, line: { atMs: number; history: boolean }) => void;
  signal: (message: SignalMessage, via: MeshPeer) => void;
  /** A linked peer's signal for a media (voice/video) connection with us. */
  media: (peer: MeshPeer, message: MediaMessage) => void;
  /** A peer earned a strike; `code` says why. */
  strike: (peer: MeshPeer | undefined, code: string) => void;
  /** A peer says a chunk version was anchored (the data plane checks it against the ledger). */
  chunkMeta: (message: ChunkMetaMessage, from: MeshPeer) => void;
};

export type MeshOptions = {
  identity: HelloIdentity;
  replica: WorldReplica;
  ledger: LedgerView;
  limits?: Partial<MeshLimits>;
  now?: () => number;
};

const debug = createDebug("seedcraft:mesh");
/**
 * A keep-alive (a bare movement message) is answered when we sent nothing for this long: the other side then
 * hears from us even when our own timers run late. Two answers never chase each other on a link whose round
 * trip is shorter than this.
 */
const KEEPALIVE_ANSWER_MS = 2000;
/** A message whose handling takes longer is logged (it holds every later message of its link). */
const SLOW_MESSAGE_MS = 2000;

/** An op message the ledger could not judge yet, with what judges it again. */
type HeldOps = {
  conn: Conn;
  message: OpMessage | OpBatchMessage;
  ops: readonly BlockOp[];
  judge: (held: boolean) => Promise<OpVerdict[]>;
  since: number;
};

/** Remember forwarded op ids this long (ops older than the clock bound are refused anyway). */
const SEEN_MS = 120_000;
/** A peer's guess of our position may be off by this much before we send a movement delta. */
const MOVE_ERROR_BLOCKS = 0.25;
/** …and it hears from us at least this often while we are linked. */
const MOVE_HEARTBEAT_MS = 1000;
/** Links change in bursts (a peer joining links with several at once): tell peers after a pause. */
const PEERS_DEBOUNCE_MS = 100;
const MAX_SEEN = 50_000;
/** A peer's media-signal bucket holds this many seconds' worth (a connection's candidates come at once). */
const MEDIA_BURST = 4;
/**
 * A newcomer is caught up on the edits around it (not anchored yet) by each neighbour, as history:
 * ops with a hop count of 0, never forwarded. At most this many, in slices that stay well inside its
 * message budget.
 */
const HISTORY_MAX_OPS = 4096;
const HISTORY_SLICE = 200;
const HISTORY_SLICE_MS = 500;
/** History this close to the clock's skew bound is left out too: it would be past it on arrival. */
const HISTORY_AGE_MARGIN_MS = 2000;
/** A hello waiting on a ledger that cannot answer asks it again this often (until the hello's time is up). */
const HELLO_LEDGER_RETRY_MS = 500;
/** Chat lines already checked, kept or not (a newcomer hears the same history from each neighbour). */
const CHAT_SEEN_MAX = 512;
/**
 * Op messages refused only because the ledger could not say (the indexer down or catching up) are held
 * and judged again once it answers, instead of lost: at most this many (the oldest go first), this many
 * from one link, for this long (or until an op is past the clock's skew bound); the oldest is tried every
 * HELD_RETRY_MS and, once it passes, the rest.
 */
const HELD_MAX = 1024;
const HELD_PER_LINK = 128;
const HELD_MS = 180_000;
const HELD_RETRY_MS = 2000;

/** Rejections that no honest peer would forward, whatever it knows. */
const ALWAYS_WRONG = new Set([
  "OP_BAD_SIGNATURE",
  "OP_INVALID",
  "UNKNOWN_BLOCK",
  "OUT_OF_WORLD",
  "MIXED_AUTHORS",
  "NO_SESSION",
]);

/** The ledger could not say (it did not answer, or its index lags the chain): nobody's fault. */
const LEDGER_UNKNOWN = new Set(["LEDGER_UNAVAILABLE", INDEX_BEHIND]);
/**
 * What history (ops a neighbour replays as we link, judged when they were live) may fail for its age
 * alone: a stamp now further behind our clock than its bound, a session that has expired since, an op
 * we rolled back meanwhile. An honest author replaying its own older edits hits these.
 */
const AGED = new Set(["HLC_SKEW", "SESSION_EXPIRED", "RETRACTED"]);

/**
 * Whether a refusal says nothing against the author that sent the op: the ledger could not answer, or
 * a historical op is merely old (a stamp ahead of our clock is still the author's own clock lying).
 * Striking these got honest neighbours banned: a player who joined or reloaded once the others held
 * edits over a minute old banned each of them as their history came (5 strikes), for ten minutes.
 */
function blameless(code: string, op: BlockOp, historical: boolean, nowMs: number): boolean {
  if (LEDGER_UNKNOWN.has(code)) return true;
  return historical && AGED.has(code) && (code !== "HLC_SKEW" || op.hlc.wallMs < nowMs);
}

/**
 * An op message's id: its signature and its ops' fields, as a Map key. A single op's key is short
 * enough as it is; a batch's is hashed, so remembered ids stay small whatever a peer sends.
 */
function opId(signed: { signature: Hex }, ops: readonly BlockOp[]): string {
  let id = signed.signature.toLowerCase();
  for (const op of ops)
    id += `|${op.chunk}:${op.index}:${op.block}:${op.hlc.wallMs}:${op.hlc.logical}:${op.author.toLowerCase()}`;
  return ops.length === 1 ? id : bytesToHex(keccak_256(new TextEncoder().encode(id)));
}

export class Mesh {
  readonly identity: HelloIdentity;
  readonly replica: WorldReplica;
  readonly limits: MeshLimits;
  readonly #ledger: LedgerView;
  readonly #now: () => number;
  readonly #conns = new Set<Conn>();
  readonly #banned = new Map<string, number>();
  readonly #seen = new Map<string, number>();
  readonly #gate = new RateGate();
  readonly #listeners: { [K in keyof MeshEvents]: Set<MeshEvents[K]> } = {
    peer: new Set(),
    left: new Set(),
    op: new Set(),
    move: new Set(),
    chat: new Set(),
    signal: new Set(),
    media: new Set(),
    strike: new Set(),
    chunkMeta: new Set(),
  };
  #position: Position | undefined;
  #movedAtMs = 0;
  #peersTimer: ReturnType<typeof setTimeout> | undefined;
  /** Op messages waiting for the ledger to answer, oldest first (see HELD_MAX). */
  readonly #held: HeldOps[] = [];
  #heldTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #livenessTimer: ReturnType<typeof setInterval>;
  #retrying = false;
  #chatSeq = 0;
  /** The last signed chat lines heard or said, oldest first (what a newcomer is sent). */
  #chatLines: ChatLine[] = [];
  readonly #chatSeen = new Set<string>();
  /** Messages received and sent over every link (for the figures). */
  received = 0;
  sent = 0;
  #closed = false;

  constructor(options: MeshOptions) {
    this.identity = options.identity;
    this.replica = options.replica;
    this.limits = { ...DEFAULT_MESH_LIMITS, ...options.limits };
    this.#ledger = options.ledger;
    this.#now = options.now ?? Date.now;
    this.#livenessTimer = setInterval(() => this.#checkLiveness(), Math.max(50, this.limits.silentMs / 6));
    (this.#livenessTimer as { unref?: () => void }).unref?.();
  }

  get id(): Hex {
    return this.identity.peerId.toLowerCase() as Hex;
  }

  get position(): Position | undefined {
    return this.#position;
  }

  on<K extends keyof MeshEvents>(event: K, listener: MeshEvents[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  #emit<K extends keyof MeshEvents>(event: K, ...args: Parameters<MeshEvents[K]>): void {
    for (const listener of this.#listeners[event]) (listener as (...a: Parameters<MeshEvents[K]>) => void)(...args);
  }

  /** The peers whose hello was verified. */
  get peers(): MeshPeer[] {
    return [...this.#conns].flatMap((conn) => (conn.peer ? [conn.peer] : []));
  }

  /** A linked peer by DHT key, once its hello was verified. */
  peer(id: Hex): MeshPeer | undefined {
    const key = id.toLowerCase();
    for (const conn of this.#conns) if (conn.peer?.id === key) return conn.peer;
    return undefined;
  }

  /** The round trip to a linked peer, as its WebRTC connection measures it (undefined where it cannot). */
  async roundTripMs(id: Hex): Promise<number | undefined> {
    const key = id.toLowerCase();
    for (const conn of this.#conns) if (conn.peer?.id === key) return await conn.link.roundTripMs?.();
    return undefined;
  }

  /** Whether a peer (by DHT key) is linked or being linked. */
  has(id: Hex): boolean {
    const key = id.toLowerCase();
    return [...this.#conns].some((conn) => conn.peer?.id === key || conn.expectedId === key);
  }

  isBanned(idOrWallet: string): boolean {
    const until = this.#banned.get(idOrWallet.toLowerCase());
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#banned.delete(idOrWallet.toLowerCase());
    return false;
  }

  /**
   * Takes a connected link into the mesh. `expectedId` is the DHT key dialled (the hello must name it),
   * `expectedSessionKey` the session key that key's card binds, when the signaling did not prove the
   * key (in-band: a relay could have carried anyone's signals). Throws MeshError (and closes the link)
   * when the mesh is full or the peer is banned.
   */
  async attach(link: Link, expectedId?: Hex, expectedSessionKey?: Hex): Promise<void> {
    if (this.#closed) {
      link.close();
      return;
    }
    if (expectedId && this.isBanned(expectedId)) {
      link.close();
      throw new MeshError("MESH_BANNED", "That peer is banned for now.", expectedId);
    }
    if (this.#conns.size >= this.limits.maxPeers) {
      link.close();
      throw new MeshError("MESH_FULL", "The mesh has as many peers as it may.", `${this.limits.maxPeers}`);
    }
    const conn: Conn = {
      link,
      peer: undefined,
      expectedId: expectedId?.toLowerCase() as Hex | undefined,
      expectedSessionKey: expectedSessionKey?.toLowerCase() as Hex | undefined,
      bucket: { messages: 2 * this.limits.messagesPerSecond, bytes: 2 * this.limits.bytesPerSecond, atMs: this.#now() },
      mediaBucket: { signals: MEDIA_BURST * this.limits.mediaSignalsPerSecond, atMs: this.#now() },
      helloTimer: undefined,
      helloWait: undefined,
      moveSeq: 0,
      sentMove: undefined,
      queue: Promise.resolve(),
      chatHistoryHeard: false,
      heardAtMs: this.#now(),
      sentAtMs: this.#now(),
    };
    this.#conns.add(conn);
    // Our hello goes first: what the peer sends is handled after it (the link's queue), so nothing we answer,
    // and nothing we send once its hello is verified, can overtake it (the peer would refuse it as HELLO_FIRST).
    const helloSent = (async () => link.send(encodeMessage(await makeHello(this.identity, link.binding)), true))();
    conn.queue = helloSent.catch(() => this.#drop(conn, "no hello made"));
    link.onMessage = (bytes) => {
      conn.heardAtMs = this.#now();
      conn.queue = conn.queue
        .then(async () => {
          const started = this.#now();
          await this.#receive(conn, bytes);
          const ms = this.#now() - started;
          if (ms > SLOW_MESSAGE_MS)
            debug(
              "%s: a message (%d) from %s took %d ms",
              this.identity.name,
              bytes[0],
              (conn.peer?.id ?? "?").slice(0, 10),
              ms,
            );
        })
        .catch(() => this.#drop(conn, "internal error"));
    };
    link.onClose = () => this.#drop(conn, "closed");
    conn.helloTimer = setTimeout(() => {
      if (!conn.peer) this.#drop(conn, conn.helloWait ?? "no hello in time");
    }, this.limits.helloTimeoutMs);
    await helloSent;
  }

  /**
   * Moves our avatar. Peers extrapolate from the last position and velocity we sent them (dead
   * reckoning), so a peer gets a delta only when its guess would be off by more than
   * MOVE_ERROR_BLOCKS, or after MOVE_HEARTBEAT_MS, and only as often as its distance allows.
   */
  move(position: Position): void {
    const now = this.#now();
    const previous = this.#position;
    const dt = (now - this.#movedAtMs) / 1000;
    const velocity: Position =
      previous && dt > 0 && dt < 1
        ? ([0, 1, 2].map((i) => ((position[i] as number) - (previous[i] as number)) / dt) as unknown as Position)
        : [0, 0, 0];
    this.#position = position;
    this.#movedAtMs = now;
    for (const conn of this.#conns) {
      const peer = conn.peer;
      if (!peer) continue;
      const sent = conn.sentMove;
      if (sent) {
        const age = (now - sent.atMs) / 1000;
        const error = Math.hypot(
          ...[0, 1, 2].map(
            (i) => (sent.position[i] as number) + (sent.velocity[i] as number) * age - (position[i] as number),
          ),
        );
        if (error <= MOVE_ERROR_BLOCKS && now - sent.atMs < MOVE_HEARTBEAT_MS) continue;
      }
      const away = peer.position ? distance(peer.position, position) : 0;
      if (!this.#gate.admit(peer.id, "movement", away, now)) continue;
      conn.moveSeq = (conn.moveSeq + 1) >>> 0;
      const message: MoveMessage = {
        type: "move",
        seq: conn.moveSeq,
        position: [...position],
      };
      // Velocity goes every time: movement is lossy, and a receiver extrapolates from the last one.
      const roundedVelocity = velocity.map((v) => Math.round(v * 100) / 100) as unknown as Position;
      message.velocity = [...roundedVelocity];
      conn.sentMove = { position, velocity: roundedVelocity, atMs: now };
      this.#send(conn, encodeMessage(message), false);
    }
  }

  /** Our own edit: applied at once, then sent to the peers whose area of interest holds the chunk. */
  async edit(chunk: bigint, index: number, block: number): Promise<{ op: SignedOp; verdict: OpVerdict }> {
    const result = await this.replica.edit(this.identity.wallet, this.identity.sessionKey, chunk, index, block);
    this.#emit("op", result.verdict, undefined);
    if (result.verdict.status === "applied" || result.verdict.status === "bounced") {
      this.#seen.set(opId(result.op, [result.op]), this.#now());
      this.#forward({ type: "op", op: result.op, ttl: DEFAULT_OP_TTL }, chunk, undefined);
    }
    return result;
  }

  /**
   * Says a chat line to every linked peer, signed so that they can replay it to newcomers. Throws WireError
   * (and sends nothing) when the text is too long; resolves once it is sent.
   */
  chat(text: string): Promise<void> {
    encodeMessage({ type: "chat", seq: 0, text });
    return this.#sayChat(text);
  }

  async #sayChat(text: string): Promise<void> {
    this.#chatSeq = (this.#chatSeq + 1) >>> 0;
    const line = await signChatLine(
      {
        wallet: this.identity.wallet.toLowerCase() as Address,
        name: this.identity.name,
        seq: this.#chatSeq,
        atMs: this.#now(),
        text,
      },
      this.identity.sessionKey,
    );
    this.#firstSight(line);
    this.#keepChat(line);
    const bytes = encodeMessage({ type: "chat", seq: line.seq, text, atMs: line.atMs, signature: line.signature });
    for (const conn of this.#conns) if (conn.peer) this.#send(conn, bytes, true);
  }

  /** The chat lines a newcomer would be sent now, oldest first. */
  get chatHistory(): readonly ChatLine[] {
    return this.#chatLines;
  }

  /** Sends a WebRTC signal to `to` through `via` (a common neighbour). */
  relaySignal(via: Hex, to: Hex, payload: Uint8Array): boolean {
    const conn = this.#connOf(via);
    if (!conn) return false;
    this.#send(conn, encodeMessage({ type: "signal", from: this.id, to: to.toLowerCase() as Hex, payload }), true);
    return true;
  }

  /**
   * Sends a media connection's signal to a linked peer (one hop: media goes only between linked peers).
   * False when the peer is not linked; throws WireError when the signal breaks the wire's limits.
   */
  sendMedia(to: Hex, signal: Omit<MediaMessage, "type">): boolean {
    const conn = this.#connOf(to);
    if (!conn?.peer) return false;
    this.#send(conn, encodeMessage({ type: "media", ...signal }), true);
    return true;
  }

  /** Closes the link with a peer, without banning it (it may dial again). */
  disconnect(id: Hex, why: string): void {
    const conn = this.#connOf(id);
    if (conn) this.#drop(conn, why);
  }

  /** The channel a verified peer's link keeps for torrent wires, if its link has one. */
  torrentChannel(id: Hex): FrameChannel | undefined {
    const conn = this.#connOf(id);
    return conn?.peer ? conn.link.torrentChannel : undefined;
  }

  /** A strike from another plane (the data plane's protocol, a poisoned snapshot). */
  strike(id: Hex, code: string): void {
    const conn = this.#connOf(id);
    if (conn) this.#strike(conn, code);
  }

  /** Tells every verified peer, except `except`, that a chunk version was anchored. */
  announceChunk(message: ChunkMetaMessage, except?: Hex): void {
    const bytes = encodeMessage(message);
    for (const conn of this.#conns) if (conn.peer && conn.peer.id !== except) this.#send(conn, bytes, true);
  }

  /** Drops a peer and bans its key and wallet for `limits.banMs`. */
  ban(id: Hex, why: string): void {
    const conn = this.#connOf(id);
    const until = this.#now() + this.limits.banMs;
    this.#banned.set(id.toLowerCase(), until);
    if (conn?.peer) this.#banned.set(conn.peer.wallet.toLowerCase(), until);
    if (conn) this.#drop(conn, `banned: ${why}`);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#livenessTimer);
    clearTimeout(this.#peersTimer);
    clearTimeout(this.#heldTimer);
    this.#held.length = 0;
    for (const conn of [...this.#conns]) this.#drop(conn, "mesh closed");
  }

  /**
   * Tells every peer whom we are linked with: after a pause when links are added (they come in bursts),
   * at once when one is lost (a forwarder must not count on a link that is gone).
   */
  #peersChanged(immediate = false): void {
    if (this.#closed) return;
    if (immediate) clearTimeout(this.#peersTimer);
    else if (this.#peersTimer !== undefined) return;
    const announce = () => {
      this.#peersTimer = undefined;
      const ids = this.peers.map((peer) => peer.id).slice(0, MAX_PEER_IDS);
      const bytes = encodeMessage({ type: "peers", ids });
      for (const conn of this.#conns) if (conn.peer) this.#send(conn, bytes, true);
    };
    if (immediate) announce();
    else this.#peersTimer = setTimeout(announce, PEERS_DEBOUNCE_MS);
  }

  #send(conn: Conn, bytes: Uint8Array, reliable: boolean): void {
    this.sent++;
    conn.sentAtMs = this.#now();
    conn.link.send(bytes, reliable);
  }

  /** Keeps quiet links saying something, and drops the links that stopped carrying (MeshLimits.silentMs). */
  #checkLiveness(): void {
    const now = this.#now();
    const { silentMs } = this.limits;
    for (const conn of [...this.#conns]) {
      if (!conn.peer) continue;
      if (now - conn.heardAtMs > silentMs) {
        this.#drop(conn, `silent for ${Math.round((now - conn.heardAtMs) / 1000)} s`);
        continue;
      }
      if (now - conn.sentAtMs >= silentMs / 3) this.#sendKeepAlive(conn);
    }
  }

  /** A bare movement message: it changes nothing at the other side, and every build reads it. */
  #sendKeepAlive(conn: Conn): void {
    conn.moveSeq = (conn.moveSeq + 1) >>> 0;
    this.#send(conn, encodeMessage({ type: "move", seq: conn.moveSeq }), true);
  }

  #relay(message: SignalMessage): void {
    const conn = this.#connOf(message.to);
    if (conn) this.#send(conn, encodeMessage(message), true);
  }

  #connOf(id: Hex): Conn | undefined {
    const key = id.toLowerCase();
    for (const conn of this.#conns) if (conn.peer?.id === key) return conn;
    return undefined;
  }

  #drop(conn: Conn, why: string): void {
    if (!this.#conns.delete(conn)) return;
    debug(
      "%s: link with %s dropped: %s",
      this.identity.name,
      (conn.peer?.id ?? conn.expectedId ?? "?").slice(0, 10),
      why,
    );
    clearTimeout(conn.helloTimer);
    conn.link.onClose = () => {};
    conn.link.close();
    if (conn.peer) {
      this.#gate.forget(conn.peer.id);
      this.#emit("left", conn.peer, why);
      this.#peersChanged(true);
    }
  }

  #strike(conn: Conn, code: string): void {
    debug("%s: strike for %s: %s", this.identity.name, (conn.peer?.id ?? conn.expectedId ?? "?").slice(0, 10), code);
    this.#emit("strike", conn.peer, code);
    if (!conn.peer) {
      this.#drop(conn, `bad hello: ${code}`);
      return;
    }
    conn.peer.strikes++;
    if (conn.peer.strikes >= this.limits.maxStrikes) this.ban(conn.peer.id, code);
  }

  /** The inbound token bucket: false when the peer is over its budget. */
  #admit(conn: Conn, size: number): boolean {
    const now = this.#now();
    const { messagesPerSecond, bytesPerSecond } = this.limits;
    const bucket = conn.bucket;
    const elapsed = Math.max(0, now - bucket.atMs) / 1000;
    bucket.messages = Math.min(2 * messagesPerSecond, bucket.messages + elapsed * messagesPerSecond);
    bucket.bytes = Math.min(2 * bytesPerSecond, bucket.bytes + elapsed * bytesPerSecond);
    bucket.atMs = Math.max(now, bucket.atMs);
    if (bucket.messages < 1 || bucket.bytes < size) return false;
    bucket.messages -= 1;
    bucket.bytes -= size;
    return true;
  }

  /** The media-signal token bucket: false when the peer signals faster than any media connection needs. */
  #admitMedia(conn: Conn): boolean {
    const now = this.#now();
    const rate = this.limits.mediaSignalsPerSecond;
    const bucket = conn.mediaBucket;
    bucket.signals = Math.min(MEDIA_BURST * rate, bucket.signals + (Math.max(0, now - bucket.atMs) / 1000) * rate);
    bucket.atMs = Math.max(now, bucket.atMs);
    if (bucket.signals < 1) return false;
    bucket.signals -= 1;
    return true;
  }

  async #receive(conn: Conn, bytes: Uint8Array): Promise<void> {
    if (!this.#conns.has(conn)) return;
    this.received++;
    if (bytes.length > MAX_MESSAGE_BYTES) return this.#strike(conn, "WIRE_TOO_LARGE");
    if (!this.#admit(conn, bytes.length)) return this.#strike(conn, "OVER_BUDGET");
    let message: WireMessage;
    try {
      message = decodeMessage(bytes);
    } catch (error) {
      return this.#strike(conn, (error as SeedcraftError).code ?? "WIRE");
    }
    if (!conn.peer) {
      // Movement goes on the lossy channel, which may overtake the hello on the reliable one: dropped unread.
      if (message.type === "move") return;
      if (message.type !== "hello") return this.#strike(conn, "HELLO_FIRST");
      return await this.#hello(conn, message);
    }
    const peer = conn.peer;
    switch (message.type) {
      case "hello":
        return this.#strike(conn, "HELLO_TWICE");
      case "move":
        if (message.velocity) peer.velocity = message.velocity;
        if (message.position) {
          // Where a newcomer stands tells us what history it needs.
          if (peer.position === undefined) this.#sendHistory(conn, message.position);
          peer.position = message.position;
          peer.movedAtMs = this.#now();
          this.replica.setAvatar(peer.wallet, message.position, peer.velocity, peer.movedAtMs);
        }
        // A bare one is the other side's keep-alive: answered when we have been quiet, so a peer whose timers
        // the browser slows (a hidden tab) still hears from us, and still counts as heard.
        if (
          !message.position &&
          !message.velocity &&
          !message.look &&
          this.#now() - conn.sentAtMs >= KEEPALIVE_ANSWER_MS
        )
          this.#sendKeepAlive(conn);
        this.#emit("move", peer, message);
        return;
      case "op":
        await this.#ops(conn, message, [message.op], (held) =>
          this.replica
            .receiveOp(message.op, peer.wallet, { historical: held || message.ttl === 0 })
            .then((verdict) => [verdict]),
        );
        return;
      case "opBatch":
        await this.#ops(conn, message, message.batch.ops, (held) =>
          this.replica.receiveBatch(message.batch, peer.wallet, { historical: held }),
        );
        return;
      case "chat":
        return this.#liveChat(conn, message);
      case "chatHistory":
        // Dropped unread: a replay costs us far more than it costs the sender.
        if (conn.chatHistoryHeard) return this.#strike(conn, "CHAT_HISTORY_TWICE");
        conn.chatHistoryHeard = true;
        {
          // One replay judged whole at a time: a newcomer's neighbours replay the same lines, and two replays
          // judged at once interleave (each line goes to whichever saw it first), so lines showed out of order.
          const turn = this.#chatHistoryTurn.then(() => this.#chatHistoryIn(conn, message));
          this.#chatHistoryTurn = turn.catch(() => undefined);
          return await turn;
        }
      case "peers":
        peer.neighbours = new Set(message.ids.map((id) => id.toLowerCase()));
        return;
      case "signal":
        if (message.from.toLowerCase() === peer.id) {
          // For us, or for a neighbour of ours: relay it one hop, no further.
          if (message.to.toLowerCase() === this.id) this.#emit("signal", message, peer);
          else this.#relay(message);
        } else if (message.to.toLowerCase() === this.id) this.#emit("signal", message, peer);
        else this.#strike(conn, "SIGNAL_RELAY");
        return;
      case "chunkMeta":
        this.#emit("chunkMeta", message, peer);
        return;
      case "media":
        if (!this.#admitMedia(conn)) return this.#strike(conn, "MEDIA_OVER_BUDGET");
        this.#emit("media", peer, message);
        return;
      default:
        // interact and bounce are for the game; the mesh only carries them.
        if (messageClass(message) === "control") this.#strike(conn, "UNEXPECTED");
        return;
    }
  }

  async #hello(conn: Conn, hello: HelloMessage): Promise<void> {
    try {
      verifyHello(hello, conn.link.binding, conn.expectedId);
      if (conn.expectedSessionKey && hello.sessionKey.toLowerCase() !== conn.expectedSessionKey)
        throw new Error("the hello's session key is not the one the dialled key's card binds");
    } catch {
      return this.#strike(conn, "BAD_HELLO");
    }
    const id = hello.peerId.toLowerCase() as Hex;
    if (id === this.id || this.isBanned(id) || this.isBanned(hello.wallet)) return this.#drop(conn, "refused");
    if (this.#connOf(id)) return this.#drop(conn, "already linked");
    const facts = await this.#helloFacts(conn, hello.wallet);
    if (!facts || !this.#conns.has(conn)) return;
    const now = this.#now();
    const live = facts.sessions.some(
      (s) => s.sessionKey.toLowerCase() === hello.sessionKey.toLowerCase() && s.expiresAtMs > now,
    );
    if (!live) return this.#strike(conn, "NO_SESSION");
    if (this.#connOf(id)) return this.#drop(conn, "already linked");
    clearTimeout(conn.helloTimer);
    conn.peer = {
      id,
      wallet: hello.wallet,
      sessionKey: hello.sessionKey,
      name: hello.name,
      capabilities: hello.capabilities,
      position: undefined,
      strikes: 0,
      invalidOps: 0,
      neighbours: new Set(),
      velocity: [0, 0, 0],
      movedAtMs: 0,
    };
    // A newcomer hears the conversation it walked into, once, before anything else (a peer that links
    // twice hears it twice: it skips what it has checked).
    if (this.#chatLines.length > 0)
      this.#send(conn, encodeMessage({ type: "chatHistory", lines: this.#chatLines }), true);
    this.#emit("peer", conn.peer);
    this.#peersChanged();
    // A newcomer learns where we are at once.
    if (this.#position) {
      conn.sentMove = { position: this.#position, velocity: [0, 0, 0], atMs: this.#now() };
      this.#send(conn, encodeMessage({ type: "move", seq: ++conn.moveSeq, position: [...this.#position] }), true);
    }
  }

  /**
   * The ledger's facts on a hello's wallet. While the ledger cannot say (the indexer away, or its index
   * behind the chain for a moment, as it is on a busy machine or while a stalled subscription recovers),
   * it is asked again until the hello's time runs out (the hello timer then drops the link): dropped at
   * once, the link was dialled again every discovery round and dropped again, and a newcomer, which
   * knows no wallet yet, linked with nobody until the index caught up. Undefined once the link is gone.
   */
  async #helloFacts(conn: Conn, wallet: Address): Promise<PlayerFacts | undefined> {
    while (this.#conns.has(conn)) {
      try {
        return await this.#ledger.player(wallet);
      } catch (error) {
        conn.helloWait = `ledger unavailable: ${(error as Error).message}`;
        await new Promise((resolve) => setTimeout(resolve, HELLO_LEDGER_RETRY_MS));
      }
    }
    return undefined;
  }

  async #ops(
    conn: Conn,
    message: OpMessage | OpBatchMessage,
    ops: readonly BlockOp[],
    judge: (held: boolean) => Promise<OpVerdict[]>,
    held?: HeldOps,
  ): Promise<"held" | undefined> {
    const peer = conn.peer as MeshPeer;
    const now = this.#now();
    // The id covers the ops and the signature (not the hop count, which nobody signs): a copy with
    // other content under a borrowed signature is another message, and cannot shadow the real one.
    const id = opId(message.type === "op" ? message.op : message.batch, ops);
    if (!held && this.#seen.has(id)) return undefined;
    this.#seen.set(id, now);
    if (this.#seen.size > MAX_SEEN) this.#pruneSeen(now);
    // Held ops are judged as history: neither the author's live edit budget (they come all at once) nor
    // where it stands now says anything about an edit made while the ledger was away.
    const verdicts = await judge(held !== undefined);
    const refused = verdicts.filter((v) => v.status === "rejected");
    // Held only when the ledger decided nothing at all (a batch partly applied goes on as it is: holding it
    // would hide the applied ops from the listeners and from our neighbours).
    if (
      refused.length === verdicts.length &&
      refused.every((v) => v.status === "rejected" && LEDGER_UNKNOWN.has(v.code))
    ) {
      // Nobody's fault, and not final: judged again when the ledger answers (the id stays seen meanwhile,
      // so the copies other links bring are not held twice).
      this.#hold(held ?? { conn, message, ops, judge, since: now });
      return "held";
    }
    for (const verdict of verdicts) this.#emit("op", verdict, peer);
    if (refused.length > 0) {
      this.#seen.delete(id);
      peer.invalidOps += refused.length;
      // A strike for what is wrong anywhere (forged, malformed, impossible), or for what the sender
      // authored itself. A rejection that depends on what we know (the ledger not answering, a budget,
      // a position) does not make the peer that forwarded it hostile, nor does history we refuse for its
      // age (see blameless).
      // A held op is history by now: refused for its age after the ledger's absence, it is nobody's fault.
      const historical = held !== undefined || (message.type === "op" && message.ttl === 0);
      const definite = refused.find((v) => v.status === "rejected" && ALWAYS_WRONG.has(v.code));
      const authored = refused.find(
        (v) =>
          v.status === "rejected" &&
          v.op.author.toLowerCase() === peer.wallet.toLowerCase() &&
          !blameless(v.code, v.op, historical, now),
      );
      const blamed = (definite ?? authored) as (OpVerdict & { code: string }) | undefined;
      if (blamed) this.#strike(conn, blamed.code);
      return undefined;
    }
    // Bounced ops travel on too: every replica must see both sides of a tie to bounce them alike.
    const ttl = Math.min(message.ttl, DEFAULT_OP_TTL);
    if (ttl <= 1 || !verdicts.some((v) => v.status === "applied" || v.status === "bounced")) return undefined;
    this.#forward({ ...message, ttl: ttl - 1 }, (ops[0] as BlockOp).chunk, conn);
    return undefined;
  }

  /** Marks a line checked; false when it was already (whether it passed then or not). */
  #firstSight(line: ChatLine): boolean {
    const id = chatLineId(line);
    if (this.#chatSeen.has(id)) return false;
    this.#chatSeen.add(id);
    if (this.#chatSeen.size > CHAT_SEEN_MAX) this.#chatSeen.delete(this.#chatSeen.values().next().value as string);
    return true;
  }

  /** Remembers a checked line for newcomers. */
  #keepChat(line: ChatLine): void {
    this.#chatLines = [...this.#chatLines, line].sort(compareChatLines).slice(-CHAT_HISTORY_LINES);
  }

  /**
   * A linked peer's own line: signed by its session key (or unsigned, shown but not replayed). A line
   * stamped out of bounds is neither kept nor shown (kept, 20 lines from the far future would push every
   * real line out of the history for good); far in the future is the sender's own clock lying: a strike.
   */
  #liveChat(conn: Conn, message: ChatMessage): void {
    const peer = conn.peer as MeshPeer;
    if (message.atMs !== undefined) {
      const age = chatLineAge(message.atMs, this.#now());
      if (age === "ahead") this.#strike(conn, "CHAT_FROM_FUTURE");
      if (age !== "fresh") return;
    }
    if (message.signature !== undefined && message.atMs !== undefined) {
      const line: ChatLine = {
        wallet: peer.wallet.toLowerCase() as Address,
        sessionKey: peer.sessionKey.toLowerCase() as Address,
        name: peer.name,
        seq: message.seq,
        atMs: message.atMs,
        text: message.text,
        signature: message.signature,
      };
      if (!this.#firstSight(line)) return;
      if (!chatSignedBySessionKey(line)) {
        this.#strike(conn, "CHAT_BAD_SIGNATURE");
        return;
      }
      this.#keepChat(line);
    }
    this.#emit("chat", peer, message.text, { atMs: message.atMs ?? this.#now(), history: false });
  }

  /**
   * Lines a neighbour replays as we link: each must be signed by a session key the ledger says serves
   * its wallet. A forged line is the sender's fault (a strike); a session the ledger does not know now
   * (expired, or the indexer behind) only drops that line. Every line checked is marked seen, passed or
   * not, so no neighbour makes us check it again.
   */
  /** The chat replay being judged (replays are judged one after another). */
  #chatHistoryTurn: Promise<void> = Promise.resolve();

  async #chatHistoryIn(conn: Conn, message: ChatHistoryMessage): Promise<void> {
    const now = this.#now();
    const fresh: ChatLine[] = [];
    for (const line of message.lines) {
      // The replayer's clock may differ from ours: a line out of our bounds is skipped, not its fault.
      if (chatLineAge(line.atMs, now) !== "fresh") continue;
      if (line.sessionKey.toLowerCase() === this.identity.sessionKey.address.toLowerCase()) continue;
      if (!this.#firstSight(line)) continue;
      if (!chatSignedBySessionKey(line)) return this.#strike(conn, "CHAT_BAD_SIGNATURE");
      try {
        const facts = await this.#ledger.player(line.wallet);
        if (!facts.sessions.some((s) => s.sessionKey.toLowerCase() === line.sessionKey.toLowerCase())) continue;
      } catch {
        continue;
      }
      fresh.push(line);
    }
    if (!this.#conns.has(conn)) return;
    for (const line of fresh.sort(compareChatLines)) {
      this.#keepChat(line);
      this.#emit("chat", line, line.text, { atMs: line.atMs, history: true });
    }
  }

  /**
   * Replays the ops we hold around `position` to a peer that just arrived, oldest first, in slices. An op
   * stamped further back than the clock's skew bound is left out: every replica refuses it (HLC_SKEW).
   */
  #sendHistory(conn: Conn, position: Position): void {
    const ops = this.replica.history((chunk) => inAreaOfInterest(position, chunkCoordsOf(chunk)), HISTORY_MAX_OPS);
    const slice = (from: number) => {
      if (!this.#conns.has(conn)) return;
      const oldestMs = this.#now() - this.replica.clock.maxSkewMs + HISTORY_AGE_MARGIN_MS;
      for (const op of ops.slice(from, from + HISTORY_SLICE))
        if (op.hlc.wallMs >= oldestMs) this.#send(conn, encodeMessage({ type: "op", op, ttl: 0 }), true);
      if (from + HISTORY_SLICE < ops.length) setTimeout(() => slice(from + HISTORY_SLICE), HISTORY_SLICE_MS);
    };
    if (ops.length > 0) slice(0);
  }

  /** Sends an op message to the linked peers whose area of interest holds `chunk`, nearest first. */
  #forward(message: WireMessage, chunk: bigint, except: Conn | undefined): void {
    const coords = chunkCoordsOf(chunk);
    // The sender sent it to its own neighbours already: skip the ones we share with it, but only
    // when both ends say so (a peer cannot make us skip others by claiming links it does not have).
    const sender = except?.peer;
    const targets: (MeshPeer & { conn: Conn; position: Position })[] = [];
    for (const conn of this.#conns) {
      if (conn === except || !conn.peer) continue;
      if (sender?.neighbours.has(conn.peer.id) && conn.peer.neighbours.has(sender.id)) continue;
      // A peer that has not said where it is yet gets every op (it may be right there).
      const position = conn.peer.position;
      if (position && !inAreaOfInterest(position, coords)) continue;
      targets.push({ ...conn.peer, conn, position: position ?? [0, 0, 0] });
    }
    const bytes = encodeMessage(message);
    for (const target of priorityOrder(targets, coords)) this.#send(target.conn, bytes, true);
  }

  /** Keeps op messages the ledger could not judge, bounded (see HELD_MAX), and schedules their retry. */
  #hold(held: HeldOps): void {
    if (this.#closed) return;
    if (!this.#held.includes(held)) {
      const fromLink = this.#held.filter((h) => h.conn === held.conn);
      if (fromLink.length >= HELD_PER_LINK) this.#dropHeld(fromLink[0] as HeldOps);
      if (this.#held.length >= HELD_MAX) this.#dropHeld(this.#held[0] as HeldOps);
      this.#held.push(held);
      debug("%s: holding %d op message(s) until the ledger answers", this.identity.name, this.#held.length);
    }
    // One round at a time: a round in progress schedules the next itself.
    if (this.#heldTimer === undefined && !this.#retrying) {
      this.#heldTimer = setTimeout(() => void this.#retryHeld(), HELD_RETRY_MS);
      this.#heldTimer.unref?.();
    }
  }

  #dropHeld(held: HeldOps): void {
    this.#held.splice(this.#held.indexOf(held), 1);
    this.#seen.delete(opId(held.message.type === "op" ? held.message.op : held.message.batch, held.ops));
  }

  /**
   * Judges the oldest held message again; if the ledger answered for it, the rest follow in order. Still
   * unanswered, everything waits for the next round (one signature check every HELD_RETRY_MS while down).
   */
  async #retryHeld(): Promise<void> {
    this.#heldTimer = undefined;
    this.#retrying = true;
    try {
      const now = this.#now();
      // Past the clock's skew bound, an op would be refused for its age anyway (HLC_SKEW): let it go.
      const oldest = now - this.replica.clock.maxSkewMs;
      for (const expired of this.#held.filter(
        (h) => now - h.since > HELD_MS || h.ops.some((op) => op.hlc.wallMs < oldest),
      ))
        this.#dropHeld(expired);
      while (!this.#closed && this.#held.length > 0) {
        const next = this.#held.shift() as HeldOps;
        if ((await this.#ops(next.conn, next.message, next.ops, next.judge, next)) === "held") {
          // Held again: the ledger still cannot say. Its place is the front (the oldest first next time).
          this.#held.splice(this.#held.indexOf(next), 1);
          this.#held.unshift(next);
          break;
        }
      }
    } catch (error) {
      debug("%s: judging held ops: %s", this.identity.name, (error as Error).message);
    } finally {
      this.#retrying = false;
      if (this.#held.length > 0 && !this.#closed && this.#heldTimer === undefined) {
        this.#heldTimer = setTimeout(() => void this.#retryHeld(), HELD_RETRY_MS);
        this.#heldTimer.unref?.();
        debug("%s: %d op message(s) still held", this.identity.name, this.#held.length);
      }
    }
  }

  #pruneSeen(now: number): void {
    for (const [id, at] of this.#seen) if (now - at > SEEN_MS) this.#seen.delete(id);
    // Still full (a flood within the window): forget the oldest half. Insertion order is age order.
    if (this.#seen.size > MAX_SEEN / 2)
      for (const id of [...this.#seen.keys()].slice(0, this.#seen.size - MAX_SEEN / 2)) this.#seen.delete(id);
  }
}
