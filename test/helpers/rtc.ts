/** Node-only test and benchmark tooling for WebRTC. */
import Peer from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "../../p2p/node/rtc.ts";

/**
 * Two simple-peer peers on real WebRTC (libdatachannel) over loopback; the test relays their signals. Each
 * description goes whole, with its candidates in it (no trickling), as the peers' own signaling sends them
 * (p2p/signal.ts): a trickled candidate that reached the answerer around its answer was at times refused
 * under load ("Got a remote candidate without ICE transport"). Loopback candidates are in within the
 * 200 ms the description waits for them (the polyfill never says gathering is complete).
 */
export function loopbackPair(): Promise<{ a: Peer; b: Peer }> {
  const options = { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, trickle: false, iceCompleteTimeout: 200 };
  const a = new Peer({ ...options, initiator: true });
  const b = new Peer(options);
  a.on("signal", (data) => b.signal(data));
  b.on("signal", (data) => a.signal(data));
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
