/**
 * Node-only: WebRTC for simple-peer in Node, from node-datachannel's polyfill (libdatachannel).
 * simple-peer rewrites the SDP of the description createOffer/createAnswer return, which the polyfill
 * makes read-only: the subclass hands it plain `{type, sdp}` objects instead.
 */
import {
  RTCPeerConnection as PolyfillPeerConnection,
  RTCIceCandidate,
  RTCSessionDescription,
} from "node-datachannel/polyfill";

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
 * Ends libdatachannel's threads, which keep a process alive after its last connection closed. Call it
 * once at the end, when no connection is left (tests, `seedcraft peer` on exit).
 */
export { cleanup as releaseWebRtc } from "node-datachannel";
