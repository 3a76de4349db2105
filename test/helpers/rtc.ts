/** Node-only test and benchmark tooling for WebRTC. */
import Peer from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "../../p2p/node/rtc.ts";

/** Two simple-peer peers on real WebRTC (libdatachannel) over loopback; the test relays their signals. */
export function loopbackPair(): Promise<{ a: Peer; b: Peer }> {
  const options = { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, trickle: true };
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
