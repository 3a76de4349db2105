/**
 * Node-only: the world's WebSocket tracker (bittorrent-tracker's server, WebSocket only, on 127.0.0.1 or the
 * host it is given). It is
 * the data plane's fallback for finding peers: browsers, and peers with no link to a seeder, find the
 * seeders of a torrent through it and connect to them over WebRTC (signaled through the tracker).
 */
import { Server } from "bittorrent-tracker";
import createDebug from "debug";

const debug = createDebug("seedcraft:tracker");

export type RunningTracker = {
  url: string;
  port: number;
  /** Peers that announced having all of the torrent `infoHash` (hex, with or without 0x). */
  seeders(infoHash: string): number;
  close(): Promise<void>;
};

export function startTracker(options: { port?: number; host?: string } = {}): Promise<RunningTracker> {
  const host = options.host ?? "127.0.0.1";
  const server = new Server({ http: false, udp: false, ws: true, stats: false, trustProxy: false });
  server.on("warning", (error: Error) => debug("warning: %s", error.message));
  server.on("start", (addr: string) => debug("start from %s", addr));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.removeListener("error", reject);
      server.on("error", (error: Error) => debug("error: %s", error.message));
      const port = (server.ws.address() as { port: number }).port;
      resolve({
        url: `ws://${host}:${port}`,
        port,
        seeders: (infoHash) => server.torrents[infoHash.replace(/^0x/, "").toLowerCase()]?.complete ?? 0,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
