/**
 * Compact signals between Chromium and node-datachannel: a Chromium description goes compact and is
 * rebuilt into one libdatachannel takes, and the other way round, and a data channel opens both ways
 * (Chromium offering, then answering). Chromium also takes a rebuilt description carrying what a player
 * behind a NAT sends: server-reflexive and relay candidates, IPv6, a hidden (mDNS) host. The test carries
 * the items between the page and Node, in the order connectThroughDht does (an answerer applies the
 * offer's candidates once its answer is out).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import Peer from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc, releaseWebRtc } from "../../p2p/node/rtc.ts";
import { compactSdp, rebuildSdp } from "../../p2p/sdp.ts";
import { decodeSignal, encodeSignal, holdCandidates, type MailSignal } from "../../p2p/signal.ts";
import { MAX_SIGNAL_ITEM_BYTES } from "../../p2p/signal-item.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";

type Description = { type: "offer" | "answer"; sdp: string };
type PageWindow = { pc: RTCPeerConnection; channel?: RTCDataChannel; got: string[] };

/** Through the mailbox item and back, as a peer sends and the other reads: the size checked on the way. */
function carry(description: Description, sizes: number[]): Description {
  const signal: MailSignal = { ...description, n: "00112233445566ff", t: Date.now() };
  const payload = encodeSignal(signal);
  assert.ok(payload.length <= MAX_SIGNAL_ITEM_BYTES, `${payload.length} bytes`);
  sizes.push(payload.length);
  const read = decodeSignal(payload);
  return { type: read.type, sdp: read.sdp };
}

/** In the page: a connection (and, offering, its data channel); its description once gathering is complete. */
async function pageDescribe(page: Page, remote?: Description): Promise<Description> {
  return await page.evaluate(async (offer) => {
    const w = window as unknown as PageWindow;
    w.got = [];
    w.pc = new RTCPeerConnection({ iceServers: [] });
    const listen = (channel: RTCDataChannel) => {
      w.channel = channel;
      channel.onmessage = (event) => {
        w.got.push(String(event.data));
        channel.send(`echo ${event.data}`);
      };
    };
    if (offer) {
      w.pc.ondatachannel = (event) => listen(event.channel);
      await w.pc.setRemoteDescription(offer);
      await w.pc.setLocalDescription(await w.pc.createAnswer());
    } else {
      listen(w.pc.createDataChannel("seedcraft"));
      await w.pc.setLocalDescription(await w.pc.createOffer());
    }
    if (w.pc.iceGatheringState !== "complete")
      await new Promise<void>((resolve) => {
        w.pc.onicegatheringstatechange = () => w.pc.iceGatheringState === "complete" && resolve();
      });
    const local = w.pc.localDescription as RTCSessionDescription;
    return { type: local.type as "offer" | "answer", sdp: local.sdp };
  }, remote);
}

function nodePeer(initiator: boolean): Peer {
  return new Peer({
    initiator,
    trickle: false,
    wrtc: nodeWrtc,
    config: LOOPBACK_RTC_CONFIG,
    ...({ iceCompleteTimeout: 20 } as object),
  });
}

const nextSignal = (peer: Peer) =>
  new Promise<Description>((resolve, reject) => {
    peer.once("signal", resolve);
    peer.once("error", reject);
  });

/** Node sends on the link and hears Chromium's echo. */
async function echo(peer: Peer, text: string): Promise<string> {
  const got = new Promise<string>((resolve) =>
    peer.once("data", (data: Uint8Array) => resolve(Buffer.from(data).toString())),
  );
  peer.send(text);
  return await got;
}

describe("p2p: compact signals between Chromium and node-datachannel", { timeout: 90_000 }, () => {
  let browser: Browser;
  let page: Page;
  const peers: Peer[] = [];

  before(async () => {
    const executablePath = chromiumPath();
    if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
    // Plain host addresses: libdatachannel cannot resolve a browser's mDNS names.
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"],
    });
    const context = await browser.newContext();
    await context.grantPermissions(["microphone", "camera"]);
    page = await context.newPage();
  });

  after(async () => {
    for (const peer of peers) peer.destroy();
    await browser?.close();
    releaseWebRtc();
  });

  it("open a data channel with Chromium offering and node-datachannel answering", async (t) => {
    const sizes: number[] = [];
    const offer = carry(await pageDescribe(page), sizes);
    const node = nodePeer(false);
    peers.push(node);
    const connected = new Promise<void>((resolve, reject) => {
      node.once("connect", resolve);
      node.once("error", reject);
    });
    const held = holdCandidates(offer.sdp);
    const answering = nextSignal(node);
    node.signal({ type: "offer", sdp: held.sdp });
    const answer = carry(await answering, sizes);
    await page.evaluate(
      (description) => (window as unknown as PageWindow).pc.setRemoteDescription(description),
      answer,
    );
    for (const candidate of held.candidates)
      node.signal({ candidate: { candidate, sdpMid: held.mid, sdpMLineIndex: 0 } });
    await connected;
    assert.equal(await echo(node, "hello Chromium"), "echo hello Chromium");
    t.diagnostic(`Chromium's offer ${sizes[0]} B, libdatachannel's answer ${sizes[1]} B`);
  });

  it("open a data channel with node-datachannel offering and Chromium answering", async (t) => {
    const sizes: number[] = [];
    const node = nodePeer(true);
    peers.push(node);
    const connected = new Promise<void>((resolve, reject) => {
      node.once("connect", resolve);
      node.once("error", reject);
    });
    const offer = carry(await nextSignal(node), sizes);
    const held = holdCandidates(offer.sdp);
    const answer = carry(await pageDescribe(page, { type: "offer", sdp: held.sdp }), sizes);
    node.signal(answer);
    await page.evaluate(
      async ({ candidates, mid }) => {
        const { pc } = window as unknown as PageWindow;
        for (const candidate of candidates) await pc.addIceCandidate({ candidate, sdpMid: mid, sdpMLineIndex: 0 });
      },
      { candidates: held.candidates, mid: held.mid },
    );
    await connected;
    assert.equal(await echo(node, "hello Node"), "echo hello Node");
    t.diagnostic(`libdatachannel's offer ${sizes[0]} B, Chromium's answer ${sizes[1]} B`);
  });

  it("let Chromium take a rebuilt offer with srflx, relay, IPv6 and mDNS candidates, and answer it", async () => {
    const fingerprint = Array.from({ length: 32 }, (_, i) =>
      ((i * 11) & 0xff).toString(16).padStart(2, "0").toUpperCase(),
    );
    const sdp = [
      "v=0",
      "o=- 1 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      "a=group:BUNDLE 0",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "c=IN IP4 0.0.0.0",
      "a=ice-ufrag:yN0H",
      "a=ice-pwd:adK6dQh5HQ6v92yYGcFaqc+b",
      `a=fingerprint:sha-256 ${fingerprint.join(":")}`,
      "a=setup:actpass",
      "a=mid:0",
      "a=sctp-port:5000",
      "a=max-message-size:262144",
      "a=candidate:1 1 udp 2113937151 3f6e2f6b-1c3d-4d2e-9b1a-0a1b2c3d4e5f.local 54400 typ host",
      "a=candidate:2 1 udp 2122134271 2001:db8:1:0:5054:ff:fe12:3456 48476 typ host",
      "a=candidate:3 1 udp 1685855999 198.18.0.11 53954 typ srflx raddr 198.19.1.2 rport 53954",
      "a=candidate:4 1 udp 41885439 198.18.0.1 49163 typ relay raddr 198.18.0.11 rport 53954",
      "a=candidate:5 1 udp 41886207 2001:db8:ffff::1 49170 typ relay",
      "",
    ].join("\r\n");
    const rebuilt = decodeSignal(encodeSignal({ type: "offer", sdp, n: "0123456789abcdef", t: 1 })).sdp;
    const taken = await page.evaluate(async (offer) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      try {
        await pc.setRemoteDescription({ type: "offer", sdp: offer });
        await pc.setLocalDescription(await pc.createAnswer());
        return { remote: pc.remoteDescription?.sdp ?? "", local: pc.localDescription?.sdp ?? "" };
      } finally {
        pc.close();
      }
    }, rebuilt);
    // Chromium writes back what it parsed: every candidate, of every kind, is there.
    const types = taken.remote
      .split("\r\n")
      .filter((line) => line.startsWith("a=candidate:"))
      .map((line) => line.split(" ").slice(4, 8).join(" "));
    assert.deepEqual(types, [
      "3f6e2f6b-1c3d-4d2e-9b1a-0a1b2c3d4e5f.local 54400 typ host",
      "2001:db8:1:0:5054:ff:fe12:3456 48476 typ host",
      "198.18.0.11 53954 typ srflx",
      "198.18.0.1 49163 typ relay",
      "2001:db8:ffff::1 49170 typ relay",
    ]);
    // And its answer goes compact in turn.
    const answer = compactSdp("answer", taken.local);
    assert.equal(answer.setup, "active");
    assert.ok(rebuildSdp(answer).startsWith("v=0\r\n"));
  });
});
