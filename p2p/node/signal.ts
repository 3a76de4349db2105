/** Node-only: DHT signaling (p2p/signal.ts) over node-datachannel's WebRTC, loopback ICE by default. */
import { type ConnectOptions, connectThroughDht as connect, type Mailboxes } from "../signal.ts";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "./rtc.ts";

export { isOfferer, type MailSignal, parseSignal, SignalingError } from "../signal.ts";

export function connectThroughDht(
  mailboxes: Mailboxes | readonly Mailboxes[],
  remoteKey: Uint8Array,
  options: ConnectOptions = {},
) {
  // Bound to 127.0.0.1, the one host candidate comes at once: no need to wait 200 ms for others.
  return connect(mailboxes, remoteKey, { wrtc: nodeWrtc, config: LOOPBACK_RTC_CONFIG, iceCompleteMs: 20, ...options });
}
