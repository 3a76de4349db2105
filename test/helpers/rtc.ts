/** Node-only test and benchmark tooling for WebRTC. */
import Peer, { type SignalData } from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "../../p2p/node/rtc.ts";
import { holdCandidates } from "../../p2p/signal.ts";

/**
 * Two simple-peer peers on real WebRTC (libdatachannel) over loopback; the test relays their signals as the
 * peers' own signaling does (p2p/signal.ts): each description whole (no trickling; loopback candidates are in
 * within the 200 ms it waits for them, the polyfill never saying gathering is complete), and the offer's
 * candidates held back until the answer is out (`holdCandidates`). Given them with the offer, the answerer's
 * checks could connect before the answer reached the offerer, which then refused it ("Got a remote candidate
 * without ICE transport"), now and then under CI's load.
 */
export function loopbackPair(): Promise<{ a: Peer; b: Peer }> {
  const options = { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, trickle: false, iceCompleteTimeout: 200 };
  const a = new Peer({ ...options, initiator: true });
  const b = new Peer(options);
  let held: { mid: string; candidates: string[] } | undefined;
  a.on("signal", (data: SignalData) => {
    if (data.type !== "offer" || !data.sdp) return b.signal(data);
    const { sdp, mid, candidates } = holdCandidates(data.sdp);
    held = { mid, candidates };
    b.signal({ type: "offer", sdp });
  });
  b.on("signal", (data: SignalData) => {
    a.signal(data);
    if (data.type !== "answer" || !held) return;
    for (const candidate of held.candidates)
      b.signal({ type: "candidate", candidate: { candidate, sdpMid: held.mid } });
    held = undefined;
  });
  return new Promise((resolve, reject) => {
    let open = 0;
    for (const peer of [a, b]) {
      peer.once("error", reject);
      peer.once("connect", () => {
        if (++open === 2) resolve({ a, b });
      });
    }
  });
}
