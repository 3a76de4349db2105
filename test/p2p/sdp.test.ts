/**
 * Signals that fit: the compact description (p2p/sdp.ts) and the versioned mailbox item
 * (p2p/signal-item.ts). Byte sizes are measured on real items, as a real DHT node stores them, with the
 * candidates a player behind a NAT has (host, server-reflexive and relay, IPv4 and IPv6).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, describe, it } from "node:test";
import bencode from "bencode";
import { bytesToIp, ipToBytes } from "../../p2p/ip-address.ts";
import { WorldDht } from "../../p2p/node/dht.ts";
import {
  type CompactCandidate,
  type CompactDescription,
  compactSdp,
  descriptionProblem,
  rebuildSdp,
  SdpError,
} from "../../p2p/sdp.ts";
import { decodeSignal, encodeSignal, type MailSignal, parseSignal } from "../../p2p/signal.ts";
import {
  decodeSignalItem,
  encodeSignalItem,
  MAX_CANDIDATES,
  MAX_SIGNAL_ITEM_BYTES,
  SIGNAL_VERSION,
  type SignalItem,
  SignalItemError,
  SignalVersionError,
} from "../../p2p/signal-item.ts";

/** Ports of this file's DHT nodes (the port base of the signals work, 8000). */
const DHT_PORTS = [8001, 8002];

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
const FINGERPRINT_TEXT = FINGERPRINT.map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
const ATTEMPT = "0123456789abcdef";
const SENT_AT = 1_796_000_000_000;

/** A Chromium answer behind a NAT, with what it gathers with STUN and TURN set: 2 host, 1 srflx, 2 relay. */
const NAT_CANDIDATES = [
  "a=candidate:2619925137 1 udp 2122063615 198.19.1.2 53954 typ host generation 0 network-id 1",
  "a=candidate:1464738673 1 udp 2122134271 2001:db8:1:0:5054:ff:fe12:3456 48476 typ host generation 0 network-id 2",
  "a=candidate:4240166305 1 tcp 1518083839 198.19.1.2 9 typ host tcptype active generation 0 network-id 1",
  "a=candidate:3351112034 1 udp 1685855999 198.18.0.11 53954 typ srflx raddr 198.19.1.2 rport 53954 generation 0 network-id 1",
  "a=candidate:1893732310 1 udp 41885439 198.18.0.1 49163 typ relay raddr 198.18.0.11 rport 53954 generation 0 network-id 1",
  "a=candidate:735117451 1 udp 41886207 2001:db8:ffff::1 49170 typ relay raddr 2001:db8:1::9 rport 48476 generation 0 network-id 2",
];

function chromiumSdp(candidates: readonly string[], setup = "active"): string {
  return [
    "v=0",
    "o=- 1827871385261695983 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS",
    "m=application 53954 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 198.18.0.11",
    ...candidates,
    "a=ice-ufrag:yN0H",
    "a=ice-pwd:adK6dQh5HQ6v92yYGcFaqc+b",
    "a=ice-options:trickle",
    `a=fingerprint:sha-256 ${FINGERPRINT_TEXT}`,
    `a=setup:${setup}`,
    "a=mid:0",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
    "",
  ].join("\r\n");
}

/** libdatachannel's offer, as node-datachannel 0.33 writes it (fingerprint at session level). */
const LIBDATACHANNEL_OFFER = [
  "v=0",
  "o=rtc 1395931457 0 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0",
  "a=msid-semantic:WMS *",
  "a=ice-options:ice2,trickle",
  `a=fingerprint:sha-256 ${FINGERPRINT_TEXT}`,
  "m=application 36065 UDP/DTLS/SCTP webrtc-datachannel",
  "c=IN IP4 127.0.0.1",
  "a=mid:0",
  "a=sendrecv",
  "a=sctp-port:5000",
  "a=max-message-size:262144",
  "a=setup:actpass",
  "a=ice-ufrag:Hi9i",
  "a=ice-pwd:rLMSH5tp1QaJ8B8yfwL197",
  "a=candidate:1 1 UDP 2114977791 127.0.0.1 36065 typ host",
  "a=candidate:2 1 UDP 1677722111 198.18.0.11 36065 typ srflx raddr 0.0.0.0 rport 0",
  "a=end-of-candidates",
  "",
].join("\r\n");

const bytes = (text: string) => new TextEncoder().encode(text);
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
const sha1 = (data: Uint8Array) => new Uint8Array(createHash("sha1").update(data).digest());

describe("p2p: IP addresses as candidates carry them", () => {
  it("reads IPv4 and IPv6 to raw bytes and writes them back canonically, and refuses anything else", () => {
    const cases: [string, string][] = [
      ["198.18.0.1", "198.18.0.1"],
      ["::1", "::1"],
      ["::", "::"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["fe80::1:2", "fe80::1:2"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["::ffff:192.0.2.1", "::ffff:c000:201"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"],
    ];
    for (const [text, canonical] of cases) {
      const raw = ipToBytes(text);
      assert.ok(raw, text);
      assert.equal(bytesToIp(raw), canonical);
      assert.deepEqual(ipToBytes(canonical), raw);
    }
    for (const junk of [
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "1:2:3:4:5:6:7::8",
      "fe80::1%eth0",
      "12345::",
      "1.2.3.4::",
      "x.local",
      "",
    ])
      assert.equal(ipToBytes(junk), undefined, junk);
  });
});

describe("p2p: compact descriptions", () => {
  it("keep what a data channel needs of Chromium's SDP: UDP candidates without extensions, the fingerprint as bytes", () => {
    const description = compactSdp("answer", chromiumSdp(NAT_CANDIDATES));
    assert.equal(description.ufrag, "yN0H");
    assert.equal(description.pwd, "adK6dQh5HQ6v92yYGcFaqc+b");
    assert.deepEqual([...description.fingerprint], FINGERPRINT);
    assert.equal(description.setup, "active");
    assert.equal(description.mid, "0");
    assert.equal(description.sctpPort, 5000);
    assert.equal(description.maxMessageSize, 262144);
    assert.deepEqual(
      description.candidates.map((c) => `${c.type} ${c.address} ${c.port} ${c.priority} ${c.foundation}`),
      [
        "host 198.19.1.2 53954 2122063615 2619925137",
        "host 2001:db8:1:0:5054:ff:fe12:3456 48476 2122134271 1464738673",
        "srflx 198.18.0.11 53954 1685855999 3351112034",
        "relay 198.18.0.1 49163 41885439 1893732310",
        "relay 2001:db8:ffff::1 49170 41886207 735117451",
      ],
    );
    const sdp = rebuildSdp(description, "42");
    assert.ok(sdp.endsWith("a=end-of-candidates\r\n"));
    assert.ok(!/[^\r]\n/.test(sdp), "every line ends in CRLF");
    assert.doesNotMatch(sdp, / tcp |generation|network-id|raddr|extmap-allow-mixed/);
    assert.match(sdp, new RegExp(`^a=fingerprint:sha-256 ${FINGERPRINT_TEXT}\r$`, "m"));
    assert.match(sdp, /^a=candidate:735117451 1 udp 41886207 2001:db8:ffff::1 49170 typ relay\r$/m);
    assert.match(sdp, /^o=- 42 2 IN IP4 127.0.0.1\r$/m);
    // Read back, the rebuilt SDP gives the same description: nothing is lost on the way.
    assert.deepEqual(compactSdp("answer", sdp), description);
  });

  it("read libdatachannel's SDP too (fingerprint at session level, UDP in capitals, end-of-candidates)", () => {
    const description = compactSdp("offer", LIBDATACHANNEL_OFFER);
    assert.equal(description.setup, "actpass");
    assert.deepEqual(
      description.candidates.map((c) => `${c.type} ${c.address}:${c.port}`),
      ["host 127.0.0.1:36065", "srflx 198.18.0.11:36065"],
    );
    assert.deepEqual(compactSdp("offer", rebuildSdp(description)), description);
  });

  it("keep a browser's hidden host (mDNS) and drop what a data channel cannot use", () => {
    const description = compactSdp(
      "offer",
      chromiumSdp(
        [
          "a=candidate:1 1 udp 2113937151 3f6e2f6b-1c3d-4d2e-9b1a-0a1b2c3d4e5f.local 54400 typ host generation 0",
          "a=candidate:2 2 udp 2113937150 198.19.1.2 54401 typ host",
          "a=candidate:3 1 udp 2113937151 some.host.example 54400 typ host",
          "a=candidate:4 1 udp 2113937151 198.19.1.2 0 typ host",
          "a=candidate:5 1 udp 2113937151 198.19.1.2 54402 typ host",
          "a=candidate:6 1 udp 2113937151 198.19.1.2 54402 typ host",
        ],
        "actpass",
      ),
    );
    assert.deepEqual(
      description.candidates.map((c) => c.address),
      ["3f6e2f6b-1c3d-4d2e-9b1a-0a1b2c3d4e5f.local", "198.19.1.2"],
    );
  });

  it("refuse, typed, a description that is not one data channel's or lacks what the other side needs", () => {
    const good = chromiumSdp(NAT_CANDIDATES);
    const broken = [
      good.replace("a=fingerprint:sha-256", "a=fingerprint:sha-1"),
      good.replace(/a=ice-ufrag:.*\r\n/, ""),
      good.replace("a=ice-ufrag:yN0H", "a=ice-ufrag:y"),
      good.replace("a=ice-pwd:adK6dQh5HQ6v92yYGcFaqc+b", "a=ice-pwd:short"),
      good.replace("a=setup:active", "a=setup:holdconn"),
      good.replace("a=sctp-port:5000", "a=sctp-port:70000"),
      good.replace("a=mid:0", "a=mid:0\r\na=mid:1"),
      `${good}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`,
      good.replace("v=0", "v=1"),
      "garbage",
    ];
    for (const sdp of broken) assert.throws(() => compactSdp("answer", sdp), SdpError, sdp.slice(0, 80));
    const description = compactSdp("answer", good);
    assert.throws(() => rebuildSdp({ ...description, fingerprint: new Uint8Array(20) }), SdpError);
    assert.throws(() => rebuildSdp(description, "12a"), SdpError);
  });
});

describe("p2p: signaling items", { timeout: 60_000 }, () => {
  const nodes: WorldDht[] = [];
  after(async () => {
    await Promise.all(nodes.map((node) => node.destroy()));
  });

  it("carry an answer with 2 host, 1 srflx and 2 relay candidates in one BEP44 value, measured as a DHT node stores it", async (t) => {
    const sdp = chromiumSdp(NAT_CANDIDATES);
    const signal: MailSignal = { type: "answer", sdp, n: ATTEMPT, t: SENT_AT };
    const payload = encodeSignal(signal);
    // The whole SDP, as signals went before (JSON with a CRLF SDP), would not have fitted.
    const whole = bytes(JSON.stringify(signal)).length;
    assert.ok(whole >= 1000, `the whole SDP in JSON is ${whole} bytes`);

    // Through a real DHT: what a node stores is the BEP44 item {k, salt, seq, sig, v}, bencoded.
    const bootstrap = await WorldDht.start({ bootstrap: false, port: DHT_PORTS[0] });
    nodes.push(bootstrap);
    const sender = await WorldDht.start({ bootstrap: [`127.0.0.1:${DHT_PORTS[0]}`], port: DHT_PORTS[1] });
    nodes.push(sender);
    await sender.sendMail(bootstrap.publicKey, payload, bootstrap.address);
    const mail = await bootstrap.readMail(sender.publicKey);
    assert.deepEqual(mail?.payload, payload);
    const salt = sha1(bootstrap.publicKey);
    const item = await bootstrap.getItem(sha1(new Uint8Array([...sender.publicKey, ...salt])));
    assert.ok(item, "the node stores the item");
    const value = bencode.encode(item.v).length;
    const stored = bencode.encode(item).length;
    t.diagnostic(
      `answer with 2 host + 1 srflx + 2 relay (IPv4 and IPv6): payload ${payload.length} B, bencoded v ${value} B, ` +
        `stored BEP44 item ${stored} B; the whole SDP in JSON was ${whole} B`,
    );
    assert.ok(value < 1000, `the bencoded value is ${value} bytes`);
    assert.ok(payload.length <= MAX_SIGNAL_ITEM_BYTES);
    // Far under: a browser's hidden hosts and a second relay still fit with room to spare.
    assert.ok(payload.length < 400, `${payload.length} bytes`);

    // Read back on arrival: an SDP with every usable candidate, as the sender gathered them.
    const read = decodeSignal(payload);
    assert.equal(read.type, "answer");
    assert.equal(read.n, ATTEMPT);
    assert.equal(read.t, SENT_AT);
    assert.deepEqual(compactSdp("answer", read.sdp), compactSdp("answer", sdp));
  });

  it("fit a browser on many interfaces by leaving out its least useful hosts, never its relay or srflx", (t) => {
    const hosts = Array.from(
      { length: 30 },
      (_, i) =>
        `a=candidate:${3_000_000_000 + i} 1 udp ${2122063615 - i} 2001:db8:${i.toString(16)}:0:5054:ff:fe12:3456 ${40000 + i} typ host`,
    );
    const description = compactSdp("offer", chromiumSdp([...hosts, ...NAT_CANDIDATES.slice(3)], "actpass"));
    const payload = encodeSignalItem({ type: "offer", n: ATTEMPT, t: SENT_AT, description });
    t.diagnostic(`33 candidates gathered, ${MAX_CANDIDATES} sent: ${payload.length} B`);
    assert.ok(payload.length <= MAX_SIGNAL_ITEM_BYTES);
    const item = decodeSignalItem(payload);
    assert.ok(item.type === "offer");
    const sent = item.description.candidates;
    assert.equal(sent.length, MAX_CANDIDATES);
    assert.deepEqual(
      sent.filter((c) => c.type !== "host").map((c) => c.type),
      ["srflx", "relay", "relay"],
    );
    // The hosts kept are the highest-priority ones.
    const keptHosts = sent.filter((c) => c.type === "host").map((c) => c.priority);
    assert.deepEqual(
      keptHosts,
      Array.from({ length: MAX_CANDIDATES - 3 }, (_, i) => 2122063615 - i),
    );
  });

  it("round-trip every field, and a knock, exactly", () => {
    const description: CompactDescription = {
      type: "offer",
      ufrag: "a".repeat(256),
      pwd: "B+/".repeat(85).slice(0, 256),
      fingerprint: new Uint8Array(FINGERPRINT),
      setup: "passive",
      mid: "data",
      sctpPort: 5001,
      candidates: [
        { foundation: "x", priority: 1, address: "0.0.0.1", port: 1, type: "prflx" },
        { foundation: "f".repeat(32), priority: 0xffffffff, address: "ffff::", port: 65535, type: "relay" },
        {
          foundation: "9",
          priority: 2113937151,
          address: "3f6e2f6b-1c3d-4d2e-9b1a-0a1b2c3d4e5f.local",
          port: 54400,
          type: "host",
        },
      ],
    };
    const item: SignalItem = { type: "offer", n: "ffffffffffffffff", t: Number.MAX_SAFE_INTEGER, description };
    const payload = encodeSignalItem(item);
    assert.deepEqual(decodeSignalItem(payload), item);
    assert.deepEqual(decodeSignalItem(encodeSignalItem({ type: "knock" })), { type: "knock" });
    // A knock is not a signal to connect with.
    assert.equal(parseSignal(encodeSignalItem({ type: "knock" })), undefined);
  });

  it("refuse bad items with a typed error: another version's, malformed or not canonical", () => {
    const description = compactSdp("answer", chromiumSdp(NAT_CANDIDATES));
    const good = encodeSignalItem({ type: "answer", n: ATTEMPT, t: SENT_AT, description });
    const fields = bencode.decode(good) as Record<string, unknown>;
    const with_ = (changes: Record<string, unknown>) => bencode.encode({ ...fields, ...changes });
    const without = (key: string) =>
      bencode.encode(Object.fromEntries(Object.entries(fields).filter(([k]) => k !== key)));
    const candidate = (fields.c as Uint8Array[])[0] as Uint8Array;
    const retyped = candidate.slice();
    retyped[0] = (7 << 4) | ((retyped[0] as number) & 0x0f);
    const rekinded = candidate.slice();
    rekinded[0] = ((rekinded[0] as number) & 0xf0) | 5;
    const zeroPort = candidate.slice();
    zeroPort[5] = 0;
    zeroPort[6] = 0;
    const badFoundation = new Uint8Array([...candidate.subarray(0, 11), 0x20]);

    // Builds before version 1 sent JSON; a newer build sends another version: both are told apart.
    const old = bytes(JSON.stringify({ type: "offer", sdp: "v=0\n", n: ATTEMPT, t: SENT_AT }));
    for (const [payload, version] of [
      [old, "json"],
      [with_({ v: 2 }), 2],
      [with_({ v: 0 }), 0],
    ] as const) {
      const error = thrown(() => decodeSignalItem(payload));
      assert.ok(error instanceof SignalVersionError, String(error));
      assert.equal(error.code, "SIGNAL_VERSION");
      assert.equal(error.version, version);
    }
    const malformed: [string, Uint8Array][] = [
      ["garbage", bytes("garbage")],
      ["empty", new Uint8Array()],
      ["a list", bencode.encode([1, 2])],
      ["a string", bencode.encode("v")],
      ["no version", without("v")],
      ["a text version", with_({ v: bytes("1") })],
      ["trailing bytes", new Uint8Array([...good, 0x65])],
      ["unsorted keys", bytes(`d1:yi1e1:vi${SIGNAL_VERSION}ee`)],
      ["too large", new Uint8Array(MAX_SIGNAL_ITEM_BYTES + 1)],
      ["an unknown kind", with_({ y: bytes("q") })],
      ["an unknown field", with_({ q: 1 })],
      ["a knock with fields", bencode.encode({ v: SIGNAL_VERSION, y: bytes("k"), n: fields.n })],
      ["no attempt", without("n")],
      ["a short attempt", with_({ n: new Uint8Array(7) })],
      ["a negative time", with_({ t: -1 })],
      ["no fingerprint", without("f")],
      ["a short fingerprint", with_({ f: new Uint8Array(31) })],
      ["a bad setup", with_({ s: 3 })],
      ["a bad ufrag", with_({ u: bytes("a b c d") })],
      ["a short password", with_({ p: bytes("x".repeat(21)) })],
      ["a non-UTF-8 mid", with_({ m: new Uint8Array([0xff]) })],
      ["an SCTP port of 0", with_({ x: 0 })],
      ["a text SCTP port", with_({ x: bytes("5000") })],
      ["a negative max-message-size", with_({ z: -1 })],
      ["candidates not a list", with_({ c: candidate })],
      ["too many candidates", with_({ c: new Array(MAX_CANDIDATES + 1).fill(candidate) })],
      ["a short candidate", with_({ c: [candidate.subarray(0, 9)] })],
      ["a candidate of type 7", with_({ c: [retyped] })],
      ["a candidate of address kind 5", with_({ c: [rekinded] })],
      ["a candidate on port 0", with_({ c: [zeroPort] })],
      ["a candidate without a foundation", with_({ c: [candidate.subarray(0, 11)] })],
      ["a foundation with a space", with_({ c: [badFoundation] })],
      ["a candidate as a number", with_({ c: [1] })],
    ];
    for (const [what, payload] of malformed) {
      const error = thrown(() => decodeSignalItem(payload));
      assert.ok(error instanceof SignalItemError, `${what}: ${String(error)}`);
      assert.equal(error.code, "SIGNAL_MALFORMED", what);
      // The connection code ignores it: nothing is applied.
      assert.equal(parseSignal(payload), undefined, what);
    }
    // The good item, for contrast, reads.
    assert.equal(decodeSignalItem(good).type, "answer");
  });

  it("read any corruption of a good item as a typed error or a sound description, never anything else", () => {
    const description = compactSdp("answer", chromiumSdp(NAT_CANDIDATES));
    const good = encodeSignalItem({ type: "answer", n: ATTEMPT, t: SENT_AT, description });
    // A seeded generator (xorshift): the same corruptions every run.
    let state = 0x9e3779b9;
    const random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    let refused = 0;
    for (let round = 0; round < 3000; round++) {
      const payload = good.slice();
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--)
        payload[Math.floor(random() * payload.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? payload.subarray(0, Math.floor(random() * payload.length)) : payload;
      try {
        const item = decodeSignalItem(cut);
        if (item.type !== "knock") assert.equal(descriptionProblem(item.description), undefined);
      } catch (error) {
        assert.ok(error instanceof SignalItemError || error instanceof SignalVersionError, String(error));
        refused++;
      }
    }
    assert.ok(refused > 1000, `${refused} of 3000 refused`);
  });

  it("refuse to encode an unsound description or signal", () => {
    const description = compactSdp("answer", chromiumSdp(NAT_CANDIDATES));
    const bad: [string, SignalItem][] = [
      ["a bad attempt", { type: "answer", n: "xyz", t: SENT_AT, description }],
      ["a fractional time", { type: "answer", n: ATTEMPT, t: 1.5, description }],
      ["a mismatched type", { type: "offer", n: ATTEMPT, t: SENT_AT, description }],
      [
        "a bad candidate",
        {
          type: "answer",
          n: ATTEMPT,
          t: SENT_AT,
          description: {
            ...description,
            candidates: [{ ...(description.candidates[0] as CompactCandidate), address: "example.org" }],
          },
        },
      ],
    ];
    for (const [what, item] of bad) assert.throws(() => encodeSignalItem(item), SignalItemError, what);
    assert.throws(() => encodeSignal({ type: "offer", sdp: "v=0\r\n", n: ATTEMPT, t: SENT_AT }), SdpError);
  });
});
