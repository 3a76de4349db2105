/**
 * Node-only: DHT signaling (p2p/signal.ts) over node-datachannel's WebRTC, loopback ICE by default. Off
 * loopback, or with ICE servers, a description waits for gathering: its server-reflexive and relay
 * candidates are what a peer behind a NAT is reached by.
 */
import { type ConnectOptions, connectThroughDht as connect, DEFAULT_GATHER_MS, type Mailboxes } from "../signal.ts";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "./rtc.ts";

export {
  decodeSignal,
  encodeSignal,
  isOfferer,
  type MailSignal,
  parseSignal,
  SignalingError,
} from "../signal.ts";

export function connectThroughDht(
  mailboxes: Mailboxes | readonly Mailboxes[],
  remoteKey: Uint8Array,
  options: ConnectOptions = {},
) {
  const config = options.config ?? LOOPBACK_RTC_CONFIG;
  // Bound to loopback without ICE servers, the one host candidate comes at once: 20 ms is enough.
  // Anywhere else libdatachannel gathers for as long as its servers take, and never tells simple-peer
  // it is done: wait for it here (p2p/signal.ts's gatherMs, 2 s at most by default).
  const timing = isLoopbackOnly(config) ? { iceCompleteMs: 20 } : { gatherMs: options.gatherMs ?? DEFAULT_GATHER_MS };
  return connect(mailboxes, remoteKey, { wrtc: nodeWrtc, ...timing, ...options, config });
}

/** No ICE servers, and bound to a loopback address. */
function isLoopbackOnly(config: RTCConfiguration): boolean {
  const bindAddress = (config as { bindAddress?: string }).bindAddress;
  const servers = config.iceServers ?? [];
  return servers.length === 0 && bindAddress !== undefined && /^(127\.\d+\.\d+\.\d+|::1)$/.test(bindAddress);
}
