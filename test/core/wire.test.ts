import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  CHAT_HISTORY_LINES,
  CHAT_HISTORY_MAX_AGE_MS,
  CHAT_MAX_AHEAD_MS,
  chatLineAge,
  chatLineId,
  chatSignedBySessionKey,
  compareChatLines,
  signChatLine,
} from "../../core/chat.ts";
import { MAX_CHUNK_ID } from "../../core/chunk.ts";
import {
  decodeMessage,
  encodedSize,
  encodeMessage,
  MAX_CHAT_BYTES,
  MAX_MEDIA_SIGNAL_BYTES,
  MAX_NAME_BYTES,
  messageClass,
  WireError,
  type WireMessage,
} from "../../core/wire.ts";

const hex = (bytes: number) =>
  fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .map((b) => `0x${Buffer.from(b).toString("hex")}` as `0x${string}`);
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
const vec3 = fc.tuple(f32, f32, f32);
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const hlc = fc.record({
  wallMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  logical: fc.integer({ min: 0, max: 0xffff }),
});
const opCore = fc.record({
  chunk: fc.bigInt({ min: 0n, max: MAX_CHUNK_ID }),
  index: fc.integer({ min: 0, max: 32767 }),
  block: fc.integer({ min: 0, max: 0xffff }),
  hlc,
  author: hex(20),
});
const shortText = (maxBytes: number) =>
  fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= maxBytes);

const chatLine = fc.record({
  wallet: hex(20),
  sessionKey: hex(20),
  name: shortText(MAX_NAME_BYTES),
  seq: fc.integer({ min: 0, max: 0xffff_ffff }),
  atMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  text: shortText(MAX_CHAT_BYTES),
  signature: hex(64),
});

const messageArb: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.record({
    type: fc.constant("hello" as const),
    wallet: hex(20),
    sessionKey: hex(20),
    peerId: hex(32),
    capabilities: fc.integer({ min: 0, max: 0xffff }),
    name: shortText(32),
    proof: hex(64),
  }),
  fc.record(
    {
      type: fc.constant("move" as const),
      seq: fc.integer({ min: 0, max: 0xffff_ffff }),
      position: vec3,
      look: fc.tuple(f32, f32),
      velocity: vec3,
    },
    { requiredKeys: ["type", "seq"] },
  ),
  fc.record(
    {
      type: fc.constant("interact" as const),
      kind: fc.integer({ min: 0, max: 255 }),
      target: fc.tuple(int32, int32, int32),
      item: fc.integer({ min: 0, max: 0xffff }),
    },
    { requiredKeys: ["type", "kind", "target"] },
  ),
  fc.record({
    type: fc.constant("op" as const),
    op: opCore.chain((op) => hex(64).map((signature) => ({ ...op, signature }))),
    ttl: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    type: fc.constant("opBatch" as const),
    batch: fc.record({ ops: fc.array(opCore, { minLength: 1, maxLength: 20 }), signature: hex(64) }),
    ttl: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    type: fc.constant("peers" as const),
    ids: fc.array(hex(32), { maxLength: 64 }),
  }),
  fc.record({
    type: fc.constant("signal" as const),
    from: hex(32),
    to: hex(32),
    payload: fc.uint8Array({ minLength: 1, maxLength: 2048 }),
  }),
  fc.record({
    type: fc.constant("chunkMeta" as const),
    chunk: fc.bigInt({ min: 0n, max: MAX_CHUNK_ID }),
    version: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    hash: hex(32),
    infoHash: hex(20),
    watermark: hlc,
  }),
  fc.record({
    type: fc.constant("chat" as const),
    seq: fc.integer({ min: 0, max: 0xffff_ffff }),
    text: fc.string({ maxLength: 200 }).filter((s) => Buffer.byteLength(s) <= MAX_CHAT_BYTES),
  }),
  fc.record({
    type: fc.constant("chat" as const),
    seq: fc.integer({ min: 0, max: 0xffff_ffff }),
    text: shortText(MAX_CHAT_BYTES),
    atMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    signature: hex(64),
  }),
  fc.record({
    type: fc.constant("chatHistory" as const),
    lines: fc.array(chatLine, { maxLength: CHAT_HISTORY_LINES }),
  }),
  fc.record({
    type: fc.constant("bounce" as const),
    op: fc.record({
      chunk: fc.bigInt({ min: 0n, max: MAX_CHUNK_ID }),
      index: fc.integer({ min: 0, max: 32767 }),
      hlc,
      author: hex(20),
    }),
    reason: fc.integer({ min: 0, max: 255 }),
    text: shortText(120),
  }),
  fc.oneof(
    fc.record({
      type: fc.constant("media" as const),
      kind: fc.constantFrom("offer" as const, "answer" as const, "candidate" as const),
      session: fc.integer({ min: 0, max: 0xffff_ffff }),
      text: fc.string({ unit: "grapheme", minLength: 1, maxLength: 300 }),
    }),
    fc.record({
      type: fc.constant("media" as const),
      kind: fc.constant("bye" as const),
      session: fc.integer({ min: 0, max: 0xffff_ffff }),
      text: fc.constant(""),
    }),
  ),
);

function isWireError(error: unknown): boolean {
  return error instanceof WireError;
}

/** Decodes or throws WireError; anything else fails the test. A decoded value must re-encode to the same bytes. */
function decodeOrWireError(bytes: Uint8Array): void {
  let message: WireMessage;
  try {
    message = decodeMessage(bytes);
  } catch (error) {
    if (!isWireError(error)) throw error;
    return;
  }
  assert.deepEqual(encodeMessage(message), bytes);
}

describe("wire protocol", () => {
  it("round-trips every message type (property)", () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const bytes = encodeMessage(message);
        assert.equal(bytes.length, encodedSize(message));
        // structuredClone: fast-check builds records without Object.prototype.
        assert.deepEqual(decodeMessage(bytes), structuredClone(message));
      }),
      { numRuns: 2000 },
    );
  });

  it("carries one signed block op in 111 bytes (≤ 128)", () => {
    const bytes = encodeMessage({
      type: "op",
      op: {
        chunk: 5n,
        index: 1,
        block: 2,
        hlc: { wallMs: 1, logical: 0 },
        author: `0x${"11".repeat(20)}`,
        signature: `0x${"22".repeat(64)}`,
      },
      ttl: 4,
    });
    assert.equal(bytes.length, 111);
  });

  it("classes messages by channel", () => {
    assert.equal(messageClass({ type: "move", seq: 1 }), "movement");
    assert.equal(messageClass({ type: "chat", seq: 1, text: "hi" }), "chat");
    assert.equal(messageClass({ type: "chatHistory", lines: [] }), "chat");
  });

  it("refuses every truncation and any trailing byte with a WireError", () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const bytes = encodeMessage(message);
        for (let length = 0; length < bytes.length; length++)
          assert.throws(() => decodeMessage(bytes.subarray(0, length)), isWireError);
        const longer = new Uint8Array(bytes.length + 1);
        longer.set(bytes);
        assert.throws(() => decodeMessage(longer), isWireError);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses bad fields on encode and decode with a WireError", () => {
    assert.throws(() => encodeMessage({ type: "chat", seq: 1, text: "x".repeat(MAX_CHAT_BYTES + 1) }), isWireError);
    assert.throws(() => encodeMessage({ type: "move", seq: 1, position: [Number.NaN, 0, 0] }), isWireError);
    assert.throws(
      () => decodeMessage(Uint8Array.of(2, 7, 0, 0, 0, 0, 0, 0)),
      (e: unknown) => e instanceof WireError && e.code === "WIRE_VERSION",
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(1, 99)),
      (e: unknown) => e instanceof WireError && e.code === "WIRE_TYPE",
    );
    // A batch that claims 256 ops but carries none: refused before anything is allocated for them.
    assert.throws(
      () => decodeMessage(Uint8Array.of(1, 5, 1, 0)),
      (e: unknown) => e instanceof WireError && e.code === "WIRE_TRUNCATED",
    );
    assert.throws(
      () => decodeMessage(new Uint8Array(64 * 1024 + 1)),
      (e: unknown) => e instanceof WireError && e.code === "WIRE_TOO_LARGE",
    );
  });

  it("carries signed chat lines and a bounded chat history, and refuses what breaks their limits", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const wallet = `0x${"ab".repeat(20)}` as const;
    const line = await signChatLine({ wallet, name: "ana", seq: 3, atMs: 1_760_000_000_000, text: "héllo 🌱" }, key);
    assert.ok(chatSignedBySessionKey(line));
    // The signature covers the name, the text and the time: changing any one breaks it.
    assert.ok(!chatSignedBySessionKey({ ...line, name: "bob" }));
    assert.ok(!chatSignedBySessionKey({ ...line, text: "hello" }));
    assert.ok(!chatSignedBySessionKey({ ...line, atMs: line.atMs + 1 }));
    assert.ok(!chatSignedBySessionKey({ ...line, signature: `0x${"00".repeat(64)}` }));
    const live = { type: "chat", seq: 3, text: line.text, atMs: line.atMs, signature: line.signature } as const;
    assert.deepEqual(decodeMessage(encodeMessage(live)), live);
    const full = { type: "chatHistory", lines: Array.from({ length: CHAT_HISTORY_LINES }, () => line) } as const;
    const decoded = decodeMessage(encodeMessage(full));
    assert.deepEqual(decoded, full);
    assert.ok(decoded.type === "chatHistory" && chatSignedBySessionKey(decoded.lines[0] as typeof line));
    const code = (e: unknown, expected: string) => e instanceof WireError && e.code === expected;
    assert.throws(
      () => encodeMessage({ type: "chatHistory", lines: [...full.lines, line] }),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => encodeMessage({ type: "chatHistory", lines: [{ ...line, text: "x".repeat(MAX_CHAT_BYTES + 1) }] }),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
    assert.throws(
      () => encodeMessage({ type: "chatHistory", lines: [{ ...line, name: "n".repeat(MAX_NAME_BYTES + 1) }] }),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
    assert.throws(
      () => encodeMessage({ type: "chat", seq: 1, text: "half signed", atMs: 5 }),
      (e) => code(e, "WIRE_FIELD"),
    );
    // A count over the limit is refused before any line is read; so is a signed flag that is neither 0 nor 1.
    assert.throws(
      () => decodeMessage(Uint8Array.of(1, 12, CHAT_HISTORY_LINES + 1)),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(1, 7, 0, 0, 0, 1, 0, 1, 104, 2)),
      (e) => code(e, "WIRE_FIELD"),
    );
    // A line's text length over the limit is refused before its bytes are looked for.
    const history = encodeMessage({ type: "chatHistory", lines: [line] });
    const textLengthAt = 3 + 20 + 20 + 1 + 3 + 4 + 6;
    history[textLengthAt] = 0xff;
    assert.throws(
      () => decodeMessage(history),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
  });

  it("orders chat lines of the same millisecond alike everywhere, bounds their stamps, and tells a forged copy from the real line", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const atMs = 1_760_000_000_000;
    const [low, high] = [`0x${"11".repeat(20)}`, `0x${"EE".repeat(20)}`] as const;
    const say = (wallet: `0x${string}`, seq: number, at = atMs) =>
      signChatLine({ wallet, name: "n", seq, atMs: at, text: `${wallet.slice(2, 4)}-${seq}` }, key);
    const lines = [await say(high, 1), await say(low, 2), await say(low, 1), await say(high, 0, atMs - 1)];
    // Whatever order they arrive in, one order comes out: time, then wallet, then the author's seq.
    const expected = ["EE-0", "11-1", "11-2", "EE-1"];
    for (const order of [lines, [...lines].reverse(), [lines[2], lines[0], lines[3], lines[1]]])
      assert.deepEqual(
        [...(order as typeof lines)].sort(compareChatLines).map((line) => line.text),
        expected,
      );
    assert.equal(chatLineAge(atMs + CHAT_MAX_AHEAD_MS, atMs), "fresh");
    assert.equal(chatLineAge(atMs + CHAT_MAX_AHEAD_MS + 1, atMs), "ahead");
    assert.equal(chatLineAge(2 ** 48 - 1, atMs), "ahead");
    assert.equal(chatLineAge(atMs - CHAT_HISTORY_MAX_AGE_MS, atMs), "fresh");
    assert.equal(chatLineAge(atMs - CHAT_HISTORY_MAX_AGE_MS - 1, atMs), "stale");
    // A real signature over other words, or under another key, is another line: marking it seen cannot hide the real one.
    const real = lines[0] as (typeof lines)[number];
    assert.equal(chatLineId(real), chatLineId({ ...real }));
    assert.notEqual(chatLineId({ ...real, text: "forged" }), chatLineId(real));
    assert.notEqual(chatLineId({ ...real, sessionKey: low }), chatLineId(real));
  });

  it("carries a media signal up to its limit and refuses what breaks its rules", () => {
    const sdp = "v=0\r\n".padEnd(MAX_MEDIA_SIGNAL_BYTES, "a");
    const full = { type: "media", kind: "offer", session: 7, text: sdp } as const;
    assert.deepEqual(decodeMessage(encodeMessage(full)), full);
    const code = (e: unknown, expected: string) => e instanceof WireError && e.code === expected;
    assert.throws(
      () => encodeMessage({ ...full, text: `${sdp}a` }),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
    assert.throws(
      () => encodeMessage({ ...full, kind: "bye" }),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => encodeMessage({ ...full, text: "" }),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => encodeMessage({ ...full, session: -1 }),
      (e) => code(e, "WIRE_FIELD"),
    );
    // version, type, kind, session, length, text
    const header = (kind: number, length: number) => [1, 11, kind, 0, 0, 0, 7, length >> 8, length & 0xff];
    assert.deepEqual(decodeMessage(Uint8Array.of(...header(4, 0))), {
      type: "media",
      kind: "bye",
      session: 7,
      text: "",
    });
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(0, 1), 97)),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(5, 1), 97)),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(4, 1), 97)),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(1, 0))),
      (e) => code(e, "WIRE_FIELD"),
    );
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(1, 1), 0xff)),
      (e) => code(e, "WIRE_FIELD"),
    );
    // A length over the limit is refused before the bytes are looked for.
    assert.throws(
      () => decodeMessage(Uint8Array.of(...header(1, 0xffff))),
      (e) => code(e, "WIRE_TOO_LARGE"),
    );
  });

  it("survives 100,000 random and mutated messages: a value or a WireError, nothing else", () => {
    const started = performance.now();
    const seeds = fc.sample(messageArb, { numRuns: 500, seed: 20261124 });
    const valid = seeds.map((message) => encodeMessage(message));
    let state = 0x9e3779b9;
    const random = () => {
      state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return state / 2 ** 32;
    };
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    for (let i = 0; i < 100_000; i++) {
      let bytes: Uint8Array;
      const mode = i % 5;
      if (mode === 0) {
        bytes = new Uint8Array(Math.floor(random() * 300));
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
        if (bytes.length > 1 && random() < 0.7) bytes[0] = 1; // mostly the right version, to reach the bodies
      } else {
        bytes = pick(valid).slice();
        if (mode === 1 && bytes.length > 0) {
          const at = Math.floor(random() * bytes.length);
          bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(random() * 8));
        } else if (mode === 2 && bytes.length > 0) {
          bytes[Math.floor(random() * bytes.length)] = pick([0, 0xff, 0x7f, 0x80]);
        } else if (mode === 3) {
          bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
        } else {
          const other = pick(valid);
          const cut = Math.floor(random() * bytes.length);
          const spliced = new Uint8Array(cut + other.length - Math.min(cut, other.length));
          spliced.set(bytes.subarray(0, cut));
          spliced.set(other.subarray(Math.min(cut, other.length)), cut);
          bytes = spliced;
        }
      }
      decodeOrWireError(bytes);
    }
    assert.ok(performance.now() - started < 20_000, "the fuzz finishes well within 20 s");
  });
});
