/**
 * Node-only: the WebTorrent client the data plane runs on. Peers come from the mesh's links and the
 * trackers, so WebTorrent's own discovery (DHT, local service discovery, port mapping, peer exchange) stays
 * off, and its tracker connections use node-datachannel's WebRTC: host candidates on the peer's `--host`
 * (127.0.0.1 by default) and the world's STUN/TURN servers when it has some.
 */
import type { Server } from "node:net";
import createDebug from "debug";
import WebTorrent from "webtorrent";
import type { IceServer } from "../../core/ice-servers.ts";
import type { TorrentClient } from "../chunk-torrents.ts";
import { quickTrackerReconnects } from "../tracker-reconnect.ts";
import { nodeRtcConfig, nodeWrtc } from "./rtc.ts";

const debug = createDebug("seedcraft:torrents");

export function createTorrentClient(
  options: { host?: string; iceServers?: readonly IceServer[]; rtcConfig?: RTCConfiguration } = {},
): TorrentClient {
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    utPex: false,
    tracker: { rtcConfig: options.rtcConfig ?? nodeRtcConfig(options), wrtc: nodeWrtc },
  });
  // A restarted tracker (seedcraft up restarts one that dies) is reconnected to within seconds, not minutes.
  quickTrackerReconnects(client);
  // WebTorrent always opens a BitTorrent-over-TCP port, on every interface (it has no host option). Our
  // peers meet over WebRTC only: move that port to loopback once it is up, whatever --host says.
  client.once("listening", () => {
    const server = (client as unknown as { _connPool?: { tcpServer?: Server } })._connPool?.tcpServer;
    if (!server?.listening) return;
    server.close(() => {
      if (!client.destroyed) server.listen(0, "127.0.0.1");
    });
  });
  // Closing while that move is under way makes WebTorrent report the closed server: not worth a crash.
  client.on("error", (error: Error) => debug("WebTorrent: %s", error.message));
  return client;
}
