/** Node-only test and benchmark tooling for WebRTC. */
import Peer, { type SignalData } from "simple-peer";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "../../p2p/node/rtc.ts";

/**
 * Two simple-peer peers on real WebRTC (libdatachannel) over loopback; the test relays their signals. A's
 * candidates wait until b has answered: handed to b before its offer is in, libdatachannel refuses them ("Got
 * a remote candidate without ICE transport"), which a loaded machine makes happen.
 */
export function loopbackPair(): Promise<{ a: Peer; b: Peer }> {
  const options = { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, trickle: true };
  const a = new Peer({ ...options, initiator: true });
  const b = new Peer(options);
  let held: SignalData[] | undefined = [];
  a.on("signal", (data) => {
    if (held && data.type !== "offer") held.push(data);
    else b.signal(data);
  });
  b.on("signal", (data) => {
    a.signal(data);
    if (!held) return;
    const waiting = held;
    held = undefined;
    for (const signal of waiting) b.signal(signal);
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
