/**
 * A link is one WebRTC connection to one peer, as the mesh sees it: a reliable ordered channel (hello,
 * block ops, chat, interactions, signals) and a lossy unordered one (movement). `SimplePeerLink` makes
 * one from a connected simple-peer (node-datachannel in Node, native WebRTC in browsers): simple-peer's
 * own channel is the reliable one; the lossy one is a pre-negotiated channel both sides open with the
 * same id, so it needs no new offer. A third pre-negotiated channel carries torrent wires.
 */
import type Peer from "simple-peer";
import type { Hex } from "viem";
import { channelBinding } from "./hello.ts";
import { type FrameChannel, holdFrames } from "./torrent-mux.ts";

export interface Link {
  /** Both sides' DTLS fingerprints hashed (the hello signs it). */
  readonly binding: Hex;
  /** Bytes waiting to go out on the reliable channel. */
  readonly buffered: number;
  /** The channel torrent wires share (p2p/torrent-mux.ts), when the link has one. */
  readonly torrentChannel?: FrameChannel;
  send(bytes: Uint8Array, reliable: boolean): void;
  /** The connection's current round trip (ICE's own measure), when the WebRTC stack reports one. */
  roundTripMs?(): Promise<number | undefined>;
  /** Set by the mesh: called for every message received. */
  onMessage: (bytes: Uint8Array) => void;
  /** Set by the mesh: called once when the link closes, from either side. */
  onClose: () => void;
  close(): void;
}

/** The SCTP stream id of the movement channel (simple-peer's own channel takes 0 or 1). */
const LOSSY_CHANNEL_ID = 1000;
/** The SCTP stream id of the torrent channel: reliable and ordered, apart from the real-time traffic. */
const TORRENT_CHANNEL_ID = 1001;

type PeerInternals = {
  _pc: RTCPeerConnection;
  _channel?: RTCDataChannel;
};

export class SimplePeerLink implements Link {
  readonly binding: Hex;
  onMessage: (bytes: Uint8Array) => void = () => {};
  onClose: () => void = () => {};
  readonly #peer: Peer;
  readonly #lossy: RTCDataChannel;
  readonly torrentChannel: FrameChannel;
  #closed = false;

  async roundTripMs(): Promise<number | undefined> {
    const pc = (this.#peer as unknown as PeerInternals)._pc;
    if (typeof pc?.getStats !== "function") return undefined;
    try {
      for (const report of (await pc.getStats()).values() as Iterable<Record<string, unknown>>)
        if (report.type === "candidate-pair" && report.nominated && typeof report.currentRoundTripTime === "number")
          return report.currentRoundTripTime * 1000;
    } catch {
      // A stack without stats (or a closed connection) has no figure to give.
    }
    return undefined;
  }

  /** `peer` must be connected (its "connect" event fired). */
  constructor(peer: Peer) {
    this.#peer = peer;
    const pc = (peer as unknown as PeerInternals)._pc;
    const local = pc.localDescription?.sdp;
    const remote = pc.remoteDescription?.sdp;
    if (!local || !remote) throw new Error("SimplePeerLink needs a connected peer");
    this.binding = channelBinding(local, remote);
    this.#lossy = pc.createDataChannel("move", {
      negotiated: true,
      id: LOSSY_CHANNEL_ID,
      ordered: false,
      maxRetransmits: 0,
    });
    this.#lossy.binaryType = "arraybuffer";
    // Held until the mux takes it: the other side may open a wire before we have verified its hello.
    this.torrentChannel = holdFrames(
      pc.createDataChannel("torrent", { negotiated: true, id: TORRENT_CHANNEL_ID }) as unknown as FrameChannel,
    );
    this.#lossy.onmessage = (event: MessageEvent) => this.#deliver(event.data);
    peer.on("data", (data: Uint8Array) => this.#deliver(data));
    peer.on("close", () => this.#end());
    peer.on("error", () => this.#end());
  }

  get buffered(): number {
    return (this.#peer as unknown as PeerInternals)._channel?.bufferedAmount ?? 0;
  }

  send(bytes: Uint8Array, reliable: boolean): void {
    if (this.#closed) return;
    try {
      if (!reliable && this.#lossy.readyState === "open") this.#lossy.send(bytes as Uint8Array<ArrayBuffer>);
      else this.#peer.send(bytes);
    } catch {
      this.#end();
    }
  }

  close(): void {
    this.#end();
  }

  #deliver(data: unknown): void {
    if (this.#closed) return;
    if (data instanceof Uint8Array) this.onMessage(data);
    else if (data instanceof ArrayBuffer) this.onMessage(new Uint8Array(data));
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#lossy.close();
      this.torrentChannel.close();
    } catch {
      // already closed
    }
    this.#peer.destroy();
    this.onClose();
  }
}
