/**
 * Torrent wires over a link. BitTorrent runs one wire per torrent and peer, and a world has a torrent per
 * chunk version, so a link carries many wires at once: each is a stream inside one pre-negotiated data
 * channel of the link's WebRTC connection, which WebTorrent takes as a peer (`torrent.addPeer(stream)`).
 * The same channel carries small control messages (receipts and their acknowledgements). Isomorphic.
 *
 * Frame: kind (u8) · whose stream (u8: 0 = the sender opened it, 1 = the receiver did) · stream id (u32 LE) ·
 * payload. OPEN carries the 20-byte infoHash; a peer that does not serve it answers END at once.
 */
import createDebug from "debug";
import { Duplex } from "streamx";
import { bytesToHex, type Hex, hexToBytes } from "viem";

const debug = createDebug("seedcraft:mux");

const OPEN = 1;
const DATA = 2;
const END = 3;
const CONTROL = 4;

const HEADER_BYTES = 6;
/** Payload bytes per frame: well under the 256 KiB every WebRTC stack takes. */
export const MAX_FRAME_PAYLOAD = 32 * 1024;
/** Streams one link may hold open at once, each way. */
export const MAX_STREAMS = 512;
/** A control message (receipts, an acknowledgement) fits one frame. */
export const MAX_CONTROL_BYTES = 64 * 1024;
const HIGH_WATER = 1024 * 1024;
/**
 * Bytes one stream may bring in: a chunk's wire carries its metadata and 64 KiB of pieces, so 1 MiB is
 * far above any honest wire, and a peer cannot make us buffer without bound (messages are not paused).
 */
export const MAX_STREAM_BYTES_IN = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/** What the mux needs of an RTCDataChannel (native in browsers, node-datachannel's in Node). */
export type FrameChannel = {
  readonly readyState: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  binaryType: string;
  onmessage: ((event: MessageEvent) => void) | null;
  onbufferedamountlow: ((event: Event) => void) | null;
  onclose: ((event: Event) => void) | null;
  onopen: ((event: Event) => void) | null;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(): void;
};

/** Messages a link's torrent channel holds before its mux takes it: at most this many bytes. */
export const MAX_HELD_BYTES = 256 * 1024;

/**
 * A link's torrent channel from the moment the link opens: binary messages, and those that arrive before a
 * handler is set wait (up to MAX_HELD_BYTES; beyond, they are dropped), then go to the first `onmessage` set.
 *
 * Each side gives its channel to a TorrentMux once it has verified the other side's hello, and the other
 * side may verify ours first and open a wire at once: its OPEN frame then came to a channel with no handler
 * and was lost, and the fetch waited on a wire that never answered (bench:networks: asset packs fetched
 * through the trackers after 10 s).
 */
export function holdFrames(channel: FrameChannel): FrameChannel {
  channel.binaryType = "arraybuffer";
  let held: MessageEvent[] | undefined = [];
  let heldBytes = 0;
  let handler: ((event: MessageEvent) => void) | null = null;
  channel.onmessage = (event: MessageEvent) => {
    if (handler) return handler(event);
    // Whatever it is (the mux strikes what is not a frame), it counts against the bound.
    const data = event.data as { byteLength?: number; length?: number } | undefined;
    const size = data?.byteLength ?? data?.length ?? MAX_HELD_BYTES;
    if (!held || heldBytes + size > MAX_HELD_BYTES) return;
    held.push(event);
    heldBytes += size;
  };
  return {
    get readyState() {
      return channel.readyState;
    },
    get bufferedAmount() {
      return channel.bufferedAmount;
    },
    get bufferedAmountLowThreshold() {
      return channel.bufferedAmountLowThreshold;
    },
    set bufferedAmountLowThreshold(value: number) {
      channel.bufferedAmountLowThreshold = value;
    },
    get binaryType() {
      return channel.binaryType;
    },
    set binaryType(value: string) {
      channel.binaryType = value;
    },
    get onmessage() {
      return handler;
    },
    set onmessage(value: ((event: MessageEvent) => void) | null) {
      handler = value;
      const waiting = held ?? [];
      held = value ? undefined : held;
      if (value) for (const event of waiting) value(event);
    },
    get onbufferedamountlow() {
      return channel.onbufferedamountlow;
    },
    set onbufferedamountlow(value: ((event: Event) => void) | null) {
      channel.onbufferedamountlow = value;
    },
    get onclose() {
      return channel.onclose;
    },
    set onclose(value: ((event: Event) => void) | null) {
      channel.onclose = value;
    },
    get onopen() {
      return channel.onopen;
    },
    set onopen(value: ((event: Event) => void) | null) {
      channel.onopen = value;
    },
    send: (data: Uint8Array<ArrayBuffer>) => channel.send(data),
    close: () => channel.close(),
  };
}

export type MuxViolation =
  | "MUX_BAD_FRAME"
  | "MUX_UNKNOWN_STREAM"
  | "MUX_TOO_MANY_STREAMS"
  | "MUX_CONTROL_TOO_LARGE"
  | "MUX_STREAM_TOO_LARGE";

export type TorrentMuxEvents = {
  /** The other side opened a wire for `infoHash`: serve it (`torrent.addPeer(stream)`) or `stream.refuse()`. */
  onStream: (stream: WireStream, infoHash: Hex) => void;
  /** A control message arrived. */
  onControl: (bytes: Uint8Array) => void;
  /** The other side broke the protocol (the caller counts strikes). */
  onViolation: (code: MuxViolation, details: string) => void;
  onClose: () => void;
};

/** One wire: a duplex byte stream that WebTorrent treats as a connected WebRTC peer. */
export class WireStream extends Duplex {
  /** WebTorrent keys peers by `id`: one wire per torrent and link. */
  readonly id: string;
  readonly connected = true;
  readonly infoHash: Hex;
  readonly #mux: TorrentMux;
  readonly #key: number;
  readonly #mine: boolean;
  #endSent = false;
  /** Bytes received on this stream so far. */
  bytesIn = 0;
  /** Bytes this stream may bring in before it is cut (a file torrent's wire asks for more than a chunk's). */
  maxBytesIn = MAX_STREAM_BYTES_IN;

  constructor(mux: TorrentMux, id: string, infoHash: Hex, key: number, mine: boolean) {
    super();
    this.#mux = mux;
    this.id = id;
    this.infoHash = infoHash;
    this.#key = key;
    this.#mine = mine;
  }

  /** Says "not served here" (or "done") to the other side and closes the stream. */
  refuse(): void {
    this.destroy();
  }

  override _write(data: Uint8Array, callback: (error: Error | null) => void): void {
    this.#mux.sendData(this.#key, this.#mine, data).then(
      () => callback(null),
      (error: Error) => callback(error),
    );
  }

  override _final(callback: (error: Error | null) => void): void {
    this.#sendEnd();
    callback(null);
  }

  override _destroy(callback: (error: Error | null) => void): void {
    this.#sendEnd();
    this.#mux.forget(this.#key, this.#mine);
    callback(null);
  }

  /** The other side ended the stream. */
  remoteEnded(): void {
    this.#endSent = true; // it has stopped reading: nothing more to tell it
    this.push(null); // WebTorrent drops the wire on "end"
  }

  #sendEnd(): void {
    if (this.#endSent) return;
    this.#endSent = true;
    this.#mux.sendFrame(END, this.#key, this.#mine, undefined);
  }
}

/** The streams and control messages of one link's torrent channel. */
export class TorrentMux {
  /** The link's peer id (the mesh id): names every stream of this link. */
  readonly peerId: string;
  readonly #channel: FrameChannel;
  readonly #events: TorrentMuxEvents;
  /** Streams this side opened, and streams the other side opened, by their opener's id. */
  readonly #mine = new Map<number, WireStream>();
  readonly #theirs = new Map<number, WireStream>();
  #nextId = 1;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  #opened: Promise<void>;
  #settleOpened: () => void = () => {};

  constructor(peerId: string, channel: FrameChannel, events: TorrentMuxEvents) {
    this.peerId = peerId;
    this.#channel = channel;
    this.#events = events;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onbufferedamountlow = () => this.#drained();
    channel.onmessage = (event) => this.#receive(event.data);
    channel.onclose = () => this.close();
    // Settled when the channel opens, or closes first (nothing waits on it forever).
    debug("%s: torrent channel %s", peerId.slice(0, 10), channel.readyState);
    this.#opened =
      channel.readyState === "open"
        ? Promise.resolve()
        : new Promise((resolve) => {
            this.#settleOpened = resolve;
            channel.onopen = () => {
              debug("%s: torrent channel open", peerId.slice(0, 10));
              resolve();
            };
          });
  }

  get streams(): number {
    return this.#mine.size + this.#theirs.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Opens a wire for `infoHash` to the other side; `maxBytesIn` raises what it may bring in (a file's wire). */
  open(infoHash: Hex, options: { maxBytesIn?: number } = {}): WireStream {
    if (this.#closed) throw new Error("the link's torrent channel is closed");
    const key = this.#nextId++;
    const stream = new WireStream(this, this.peerId, infoHash, key, true);
    if (options.maxBytesIn !== undefined) stream.maxBytesIn = options.maxBytesIn;
    this.#mine.set(key, stream);
    debug(
      "%s: opening stream %d for %s (channel %s)",
      this.peerId.slice(0, 10),
      key,
      infoHash.slice(0, 10),
      this.#channel.readyState,
    );
    this.sendFrame(OPEN, key, true, hexToBytes(infoHash));
    return stream;
  }

  /** Sends one control message (at most MAX_CONTROL_BYTES, cut into frames). */
  async control(bytes: Uint8Array): Promise<void> {
    if (bytes.length > MAX_CONTROL_BYTES) throw new Error(`a control message is at most ${MAX_CONTROL_BYTES} bytes`);
    await this.#opened;
    if (this.#closed) throw new Error("the link's torrent channel closed");
    this.sendFrame(CONTROL, 0, true, bytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#mine.values(), ...this.#theirs.values()]) stream.destroy();
    this.#mine.clear();
    this.#theirs.clear();
    this.#drained();
    this.#settleOpened();
    try {
      this.#channel.close();
    } catch {
      // already closed
    }
    this.#events.onClose();
  }

  /** @internal Sends a stream's bytes, waiting while the channel's buffer is full. */
  async sendData(key: number, mine: boolean, data: Uint8Array): Promise<void> {
    await this.#opened;
    for (let offset = 0; offset < data.length; offset += MAX_FRAME_PAYLOAD) {
      if (this.#closed) throw new Error("the link's torrent channel closed");
      while (this.#channel.bufferedAmount > HIGH_WATER && !this.#closed)
        await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
      this.sendFrame(DATA, key, mine, data.subarray(offset, offset + MAX_FRAME_PAYLOAD));
    }
  }

  /** @internal */
  sendFrame(kind: number, key: number, mine: boolean, payload: Uint8Array | undefined): void {
    if (this.#closed) return;
    const frame = new Uint8Array(HEADER_BYTES + (payload?.length ?? 0));
    frame[0] = kind;
    frame[1] = mine ? 0 : 1;
    new DataView(frame.buffer).setUint32(2, key, true);
    if (payload) frame.set(payload, HEADER_BYTES);
    const send = () => {
      try {
        this.#channel.send(frame);
      } catch {
        this.close();
      }
    };
    if (this.#channel.readyState === "open") send();
    else {
      debug(
        "%s: frame %d of stream %d waits for the channel (%s)",
        this.peerId.slice(0, 10),
        kind,
        key,
        this.#channel.readyState,
      );
      void this.#opened.then(send);
    }
  }

  /** @internal A stream is gone: forget its id. */
  forget(key: number, mine: boolean): void {
    (mine ? this.#mine : this.#theirs).delete(key);
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #receive(data: unknown): void {
    if (this.#closed) return;
    const frame = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
    if (!frame || frame.length < HEADER_BYTES) {
      this.#events.onViolation("MUX_BAD_FRAME", "a frame shorter than its header");
      return;
    }
    const kind = frame[0];
    const theirs = frame[1] === 0; // the sender opened it: it is one of theirs
    if (frame[1] !== 0 && frame[1] !== 1) {
      this.#events.onViolation("MUX_BAD_FRAME", `stream owner byte ${frame[1]}`);
      return;
    }
    const key = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(2, true);
    const payload = frame.subarray(HEADER_BYTES);
    switch (kind) {
      case OPEN: {
        if (!theirs || payload.length !== 20) {
          this.#events.onViolation("MUX_BAD_FRAME", "an OPEN frame carries one 20-byte infoHash");
          return;
        }
        if (this.#theirs.has(key)) {
          this.#events.onViolation("MUX_BAD_FRAME", `stream ${key} opened twice`);
          return;
        }
        const infoHash = bytesToHex(payload);
        debug("%s: stream %d opened for %s", this.peerId.slice(0, 10), key, infoHash.slice(0, 10));
        const stream = new WireStream(this, this.peerId, infoHash, key, false);
        if (this.#theirs.size >= MAX_STREAMS) {
          this.#events.onViolation("MUX_TOO_MANY_STREAMS", `more than ${MAX_STREAMS} streams open`);
          stream.refuse();
          return;
        }
        this.#theirs.set(key, stream);
        this.#events.onStream(stream, infoHash);
        return;
      }
      case DATA: {
        const stream = (theirs ? this.#theirs : this.#mine).get(key);
        // Data may still be in flight for a stream this side just closed: not a violation.
        if (stream) {
          stream.bytesIn += payload.length;
          if (stream.bytesIn > stream.maxBytesIn) {
            this.#events.onViolation("MUX_STREAM_TOO_LARGE", `stream ${key} brought over ${stream.maxBytesIn} bytes`);
            stream.destroy();
            return;
          }
          stream.push(payload.slice());
        } else if (!theirs && key >= this.#nextId)
          this.#events.onViolation("MUX_UNKNOWN_STREAM", `data for stream ${key}, never opened`);
        return;
      }
      case END: {
        const stream = (theirs ? this.#theirs : this.#mine).get(key);
        stream?.remoteEnded();
        return;
      }
      case CONTROL: {
        if (payload.length > MAX_CONTROL_BYTES) {
          this.#events.onViolation("MUX_CONTROL_TOO_LARGE", `${payload.length} bytes`);
          return;
        }
        this.#events.onControl(payload.slice());
        return;
      }
      default:
        this.#events.onViolation("MUX_BAD_FRAME", `unknown frame kind ${kind}`);
    }
  }
}
