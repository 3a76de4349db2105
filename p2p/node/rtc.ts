/**
 * Node-only: WebRTC for simple-peer in Node, from node-datachannel's polyfill (libdatachannel).
 * simple-peer rewrites the SDP of the description createOffer/createAnswer return, which the polyfill
 * makes read-only: the subclass hands it plain `{type, sdp}` objects instead.
 */

import { initLogger, type LogLevel } from "node-datachannel";
import {
  RTCPeerConnection as PolyfillPeerConnection,
  RTCIceCandidate,
  RTCSessionDescription,
} from "node-datachannel/polyfill";
import { SeedcraftError } from "../../core/errors.ts";
import type { IceServer } from "../../core/ice-servers.ts";

const RTC_LOG_LEVELS: readonly LogLevel[] = ["Verbose", "Debug", "Info", "Warning", "Error", "Fatal"];

/**
 * SEEDCRAFT_RTC_LOG=Warning (or Info, Debug…): libdatachannel's own log, on stderr, for what the JS side
 * cannot see (why ICE, DTLS or SCTP gave a connection up, and when).
 */
const rtcLog = process.env.SEEDCRAFT_RTC_LOG;
if (rtcLog) {
  const level = RTC_LOG_LEVELS.find((name) => name.toLowerCase() === rtcLog.toLowerCase());
  if (!level)
    throw new SeedcraftError(
      "BAD_RTC_LOG",
      `SEEDCRAFT_RTC_LOG must be one of ${RTC_LOG_LEVELS.join(", ")}.`,
      `it is ${JSON.stringify(rtcLog)}`,
    );
  // The binding asks for a callback: each line comes through the JS thread, so a late line says it was busy.
  initLogger(level, (lineLevel, message) =>
    process.stderr.write(`${new Date().toISOString()} libdatachannel ${lineLevel}: ${message}\n`),
  );
}

class RTCPeerConnection extends PolyfillPeerConnection {
  override async createOffer(...args: Parameters<PolyfillPeerConnection["createOffer"]>) {
    const offer = await super.createOffer(...args);
    return { type: offer.type, sdp: offer.sdp } as RTCSessionDescriptionInit as Awaited<
      ReturnType<PolyfillPeerConnection["createOffer"]>
    >;
  }

  override async createAnswer(...args: Parameters<PolyfillPeerConnection["createAnswer"]>) {
    const answer = await super.createAnswer(...args);
    return { type: answer.type, sdp: answer.sdp } as RTCSessionDescriptionInit as Awaited<
      ReturnType<PolyfillPeerConnection["createAnswer"]>
    >;
  }
}

/** The `wrtc` option simple-peer takes in Node. */
export const nodeWrtc = { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };

/** Loopback-only ICE: no STUN or TURN servers, host candidates on 127.0.0.1. */
export const LOOPBACK_RTC_CONFIG = { iceServers: [], bindAddress: "127.0.0.1" } as RTCConfiguration;

/**
 * ICE for a Node peer or seeder: host candidates on `host` (the polyfill's `bindAddress`, libdatachannel's own
 * option; 127.0.0.1 by default, 0.0.0.0 for every interface) and, with `iceServers`, server-reflexive and
 * relay candidates from them. With neither, exactly LOOPBACK_RTC_CONFIG.
 */
export function nodeRtcConfig(options: { host?: string; iceServers?: readonly IceServer[] } = {}): RTCConfiguration {
  const host = options.host ?? "127.0.0.1";
  const iceServers = options.iceServers ?? [];
  if (host === "127.0.0.1" && iceServers.length === 0) return LOOPBACK_RTC_CONFIG;
  // Copies: the polyfill rewrites each entry's `urls` into a list in place. It also writes a TURN server as
  // `turn:<username>:<credential>@host`, which libdatachannel splits at the first colon and URL-decodes: a
  // TURN REST username (`<expiry>:<key>`) must go percent-encoded, or no relay is ever allocated.
  const encoded = (value: string | undefined) => (value === undefined ? undefined : encodeURIComponent(value));
  const servers = iceServers.map((server) => ({
    ...server,
    urls: [server.urls].flat(),
    ...(server.username === undefined ? {} : { username: encoded(server.username) }),
    ...(server.credential === undefined ? {} : { credential: encoded(server.credential) }),
  }));
  return { iceServers: servers, bindAddress: host } as RTCConfiguration;
}

/**
 * Ends libdatachannel's threads, which keep a process alive after its last connection closed. Call it
 * once at the end, when no connection is left (tests, `seedcraft peer` on exit).
 */
export { cleanup as releaseWebRtc } from "node-datachannel";
