/**
 * The torrent channel's multiplexer on a real WebRTC link (node-datachannel on loopback): streams both
 * ways, refusal, control messages, and what a misbehaving peer gets for bad frames and floods.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type Peer from "simple-peer";
import { SimplePeerLink } from "../../p2p/link.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import {
  type FrameChannel,
  holdFrames,
  MAX_HELD_BYTES,
  MAX_STREAM_BYTES_IN,
  type MuxViolation,
  TorrentMux,
  type WireStream,
} from "../../p2p/torrent-mux.ts";
import { loopbackPair } from "../helpers/rtc.ts";
import { waitFor } from "../helpers/world.ts";

type Side = {
  mux: TorrentMux;
  streams: { stream: WireStream; infoHash: string }[];
  controls: Uint8Array[];
  violations: MuxViolation[];
};

const INFO_HASH = `0x${"ab".repeat(20)}` as const;

describe("p2p: torrent wires multiplexed on a link", () => {
  const open: Peer[] = [];
  after(() => {
    for (const peer of open) peer.destroy();
    releaseWebRtc();
  });

  const side = (link: SimplePeerLink, id: string): Side => {
    const made: Side = { mux: undefined as unknown as TorrentMux, streams: [], controls: [], violations: [] };
    made.mux = new TorrentMux(id, link.torrentChannel, {
      onStream: (stream, infoHash) => made.streams.push({ stream, infoHash }),
      onControl: (bytes) => made.controls.push(bytes),
      onViolation: (code) => made.violations.push(code),
      onClose: () => {},
    });
    return made;
  };

  async function pair(): Promise<{ a: Side; b: Side; raw: RTCDataChannel }> {
    const { a, b } = await loopbackPair();
    open.push(a, b);
    const linkA = new SimplePeerLink(a);
    const linkB = new SimplePeerLink(b);
    return { a: side(linkA, "b"), b: side(linkB, "a"), raw: linkA.torrentChannel as unknown as RTCDataChannel };
  }

  it("carries streams both ways, ends them, refuses, and passes control messages", async () => {
    const { a, b } = await pair();
    const stream = a.mux.open(INFO_HASH);
    await waitFor("the stream to open at b", () => b.streams.length === 1, 5000);
    assert.equal(b.streams[0]?.infoHash, INFO_HASH);
    const remote = b.streams[0]?.stream as WireStream;
    const got: Uint8Array[] = [];
    remote.on("data", (chunk) => got.push(chunk as Uint8Array));
    stream.write(new Uint8Array(100_000).fill(7));
    await waitFor("100 kB to cross", () => got.reduce((n, c) => n + c.length, 0) === 100_000, 5000);
    const back: Uint8Array[] = [];
    stream.on("data", (chunk) => back.push(chunk as Uint8Array));
    remote.write(new Uint8Array([1, 2, 3]));
    await waitFor("the answer", () => back.length > 0, 5000);

    // A refused stream ends at the opener's side.
    const second = a.mux.open(INFO_HASH);
    let ended = false;
    second.on("end", () => {
      ended = true;
    });
    second.resume();
    await waitFor("the second stream at b", () => b.streams.length === 2, 5000);
    b.streams[1]?.stream.refuse();
    await waitFor("the refusal", () => ended, 5000);

    await a.mux.control(new TextEncoder().encode("receipts"));
    await waitFor("the control message", () => b.controls.length === 1, 5000);
    assert.equal(new TextDecoder().decode(b.controls[0]), "receipts");
    assert.deepEqual([...a.violations, ...b.violations], []);
  });

  it("keeps what comes before this side's mux takes the channel: a wire opened before our hello was verified", async () => {
    const { a, b } = await loopbackPair();
    open.push(a, b);
    const linkA = new SimplePeerLink(a);
    const linkB = new SimplePeerLink(b);
    // A verified B's hello first and opens a wire; B takes its channel only later.
    const early = side(linkA, "b");
    early.mux.open(INFO_HASH);
    await early.mux.control(new TextEncoder().encode("receipts"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const late = side(linkB, "a");
    await waitFor("the early stream at b", () => late.streams.length === 1, 5000);
    assert.equal(late.streams[0]?.infoHash, INFO_HASH);
    await waitFor("the early control message", () => late.controls.length === 1, 5000);
    assert.deepEqual([...early.violations, ...late.violations], []);
  });

  it("holds at most MAX_HELD_BYTES before the mux takes the channel, in order", () => {
    const raw = { onmessage: null, binaryType: "blob" } as unknown as FrameChannel;
    const held = holdFrames(raw);
    assert.equal(raw.binaryType, "arraybuffer");
    const message = (i: number) => new MessageEvent("message", { data: new Uint8Array(1024).fill(i % 256).buffer });
    for (let i = 0; i < MAX_HELD_BYTES / 1024 + 50; i++) raw.onmessage?.(message(i));
    raw.onmessage?.(new MessageEvent("message", { data: "not a frame" }));
    const got: number[] = [];
    held.onmessage = (event) => got.push(new Uint8Array(event.data as ArrayBuffer)[0] as number);
    assert.equal(got.length, MAX_HELD_BYTES / 1024, "the rest was dropped");
    assert.deepEqual(got.slice(0, 3), [0, 1, 2]);
    raw.onmessage?.(message(7));
    assert.equal(got.at(-1), 7, "later ones go straight to the handler");
  });

  it("counts bad frames and floods as violations, and cuts a stream that brings too much", async () => {
    const { a, b, raw } = await pair();
    const frame = (kind: number, owner: number, id: number, payload: Uint8Array = new Uint8Array(0)) => {
      const bytes = new Uint8Array(6 + payload.length);
      bytes[0] = kind;
      bytes[1] = owner;
      new DataView(bytes.buffer).setUint32(2, id, true);
      bytes.set(payload, 6);
      return bytes;
    };
    // Shorter than a header; an unknown kind; an OPEN without a 20-byte infoHash; data for a stream b never opened.
    raw.send(new Uint8Array([1, 0]));
    raw.send(frame(9, 0, 1));
    raw.send(frame(1, 0, 1, new Uint8Array(5)));
    raw.send(frame(2, 1, 4242, new Uint8Array(10)));
    await waitFor("four violations", () => b.violations.length === 4, 5000);
    assert.deepEqual(b.violations, ["MUX_BAD_FRAME", "MUX_BAD_FRAME", "MUX_BAD_FRAME", "MUX_UNKNOWN_STREAM"]);
    assert.equal(b.streams.length, 0, "nothing bad opened a stream");

    // A stream that keeps sending past MAX_STREAM_BYTES_IN is cut, whatever the reader does.
    const flood = a.mux.open(INFO_HASH);
    await waitFor("the flood stream at b", () => b.streams.length === 1, 5000);
    const chunk = new Uint8Array(64 * 1024);
    for (let sent = 0; sent <= MAX_STREAM_BYTES_IN + chunk.length; sent += chunk.length) flood.write(chunk);
    await waitFor("the flood to be cut", () => b.violations.includes("MUX_STREAM_TOO_LARGE"), 10_000);
    assert.ok(b.streams[0]?.stream.destroyed);
  });
});
