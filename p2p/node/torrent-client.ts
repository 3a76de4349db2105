/**
 * Node-only: the WebTorrent client the data plane runs on. Peers come from the mesh's links and the
 * trackers, so WebTorrent's own discovery (DHT, local service discovery, port mapping) stays off, and its
 * tracker connections use node-datachannel on loopback-capable settings.
 */
import WebTorrent from "webtorrent";
import type { TorrentClient } from "../chunk-torrents.ts";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "./rtc.ts";

export function createTorrentClient(options: { rtcConfig?: RTCConfiguration } = {}): TorrentClient {
  return new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    utPex: false,
    tracker: { rtcConfig: options.rtcConfig ?? LOOPBACK_RTC_CONFIG, wrtc: nodeWrtc },
  });
}
