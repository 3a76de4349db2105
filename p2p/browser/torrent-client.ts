/**
 * Browser-only: the WebTorrent client of the app's data plane (its prebuilt bundle, aliased in
 * app/vite.config.ts). Peers come from the mesh's links and the trackers; the browser's own WebRTC reaches
 * tracker peers through the world's STUN/TURN servers (seedcraft.json's iceServers and the gateway's TURN
 * credentials; none on a loopback world), read afresh for each tracker peer when given as a function.
 */
import WebTorrent from "webtorrent";
import type { IceServer } from "../../core/ice-servers.ts";
import type { TorrentClient } from "../chunk-torrents.ts";
import { quickTrackerReconnects } from "../tracker-reconnect.ts";

export function createBrowserTorrentClient(
  options: { iceServers?: readonly IceServer[] | (() => readonly IceServer[]); rtcConfig?: RTCConfiguration } = {},
): TorrentClient {
  const { iceServers } = options;
  // bittorrent-tracker hands this same object to each peer it makes (simple-peer copies it then): a getter
  // gives each the servers and credentials current at that moment.
  const rtcConfig: RTCConfiguration = options.rtcConfig ?? {
    get iceServers() {
      return [...((typeof iceServers === "function" ? iceServers() : iceServers) ?? [])];
    },
  };
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    webSeeds: false,
    utPex: false,
    tracker: { rtcConfig },
  });
  // A restarted tracker (seedcraft up restarts one that dies) is reconnected to within seconds, not minutes.
  quickTrackerReconnects(client);
  // A tracker that goes away must not take the page down: fetches fall back to linked peers.
  client.on("error", (error: Error) => console.warn("seedcraft: torrent client:", error.message));
  return client;
}
