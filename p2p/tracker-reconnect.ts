/**
 * Quick reconnects to a WebSocket tracker that went away. bittorrent-tracker's client waits 10 s plus up to
 * 5 minutes at random (doubling up to an hour) before it reconnects, and has no option for it; a tracker that
 * `seedcraft up` restarts is back within a second or two, and until our clients reconnect, nobody finds
 * their torrents through it. Its WebSocket tracker class is not exported by WebTorrent's browser bundle, so
 * the class is reached through the first of its instances a torrent shows, and its reconnect timer replaced
 * there: 0.5 s doubling to 5 s, with a little jitter so a tracker's clients do not all come back at once.
 * Isomorphic (Node and the browser's prebuilt bundle alike).
 */
import createDebug from "debug";
import { Backoff } from "../core/backoff.ts";
import type { TorrentClient } from "./chunk-torrents.ts";

const debug = createDebug("seedcraft:torrents");

export const TRACKER_RECONNECT = { firstMs: 500, maxMs: 5_000 };

/** The parts of bittorrent-tracker's WebSocketTracker (lib/client/websocket-tracker.js, 11.x) used here. */
type WebSocketTracker = {
  /** True from a socket's close or error until the reconnect timer opens a new one, as well as after destroy(). */
  destroyed: boolean;
  reconnecting: boolean;
  /** Reconnect attempts since the last good connection (the library sets it back to 0 on connect). */
  retries: number;
  reconnectTimer: ReturnType<typeof setTimeout> | null;
  _openSocket(): void;
  _startReconnectTimer(): void;
};

type TorrentWithTrackers = { discovery?: { tracker?: { _trackers?: unknown[] } | null } | null };

const PATCHED = Symbol.for("seedcraft.trackerReconnect");
const backoffs = new WeakMap<WebSocketTracker, Backoff>();

function startReconnectTimer(this: WebSocketTracker): void {
  let backoff = backoffs.get(this);
  // retries is 0 only on the first attempt after a good connection: start the waits over.
  if (!backoff || this.retries === 0) {
    backoff = new Backoff(TRACKER_RECONNECT);
    backoffs.set(this, backoff);
  }
  const ms = Math.round(backoff.next() * (1 + Math.random() * 0.2));
  this.reconnecting = true;
  if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
  const timer = setTimeout(() => {
    this.retries++;
    this._openSocket();
  }, ms);
  // As the library does: a reconnect alone must not keep a Node process alive.
  (timer as { unref?: () => void }).unref?.();
  this.reconnectTimer = timer;
  debug("tracker socket closed: reconnecting in %d ms", ms);
}

function isWebSocketTracker(value: unknown): value is WebSocketTracker {
  const tracker = value as Partial<WebSocketTracker> | null;
  return typeof tracker?._startReconnectTimer === "function" && typeof tracker._openSocket === "function";
}

function webSocketTrackers(torrent: TorrentWithTrackers): WebSocketTracker[] {
  return (torrent.discovery?.tracker?._trackers ?? []).filter(isWebSocketTracker);
}

/**
 * Patches the class of the torrent's WebSocket trackers, once; "now" when this call patched it, "before"
 * when it already was, undefined when the torrent has no WebSocket tracker yet to reach it through.
 */
function patchFrom(torrent: TorrentWithTrackers): "now" | "before" | undefined {
  const first = webSocketTrackers(torrent)[0];
  if (!first) return undefined;
  const prototype = Object.getPrototypeOf(first) as WebSocketTracker & { [PATCHED]?: true };
  if (prototype[PATCHED]) return "before";
  prototype._startReconnectTimer = startReconnectTimer;
  prototype[PATCHED] = true;
  debug("tracker reconnects: %d ms doubling to %d ms", TRACKER_RECONNECT.firstMs, TRACKER_RECONNECT.maxMs);
  return "now";
}

/**
 * Trackers of the client's torrents already waiting out the library's long delay wait ours instead. Waiting,
 * a tracker is `destroyed`: its socket's close or error destroys it before starting the timer, and only the
 * timer's _openSocket() undoes that (websocket-tracker.js, _onSocketClose and _openSocket). `reconnecting`
 * and not destroyed is an attempt under way, which a second timer would open twice; and a torrent's
 * tracker client, destroyed, empties its list, so a destroyed tracker found here is a waiting one.
 */
function hurryWaiting(client: TorrentClient): void {
  for (const torrent of client.torrents)
    for (const tracker of webSocketTrackers(torrent as TorrentWithTrackers))
      if (tracker.reconnecting && tracker.destroyed && tracker.reconnectTimer) tracker._startReconnectTimer();
}

/**
 * Makes the client's WebSocket trackers reconnect within seconds (see above), from its first torrent that
 * has started its tracker discovery on: a torrent starts it once its metadata or, leeching, its info hash is
 * known, so each of those moments is a chance.
 */
export function quickTrackerReconnects(client: TorrentClient): void {
  const onAdd = (torrent: TorrentWithTrackers & import("webtorrent").Torrent) => {
    const check = () => {
      const patched = patchFrom(torrent);
      if (patched) client.off("add", onAdd);
      if (patched === "now") hurryWaiting(client);
    };
    torrent.once("infoHash", () => setTimeout(check, 0));
    torrent.once("ready", check);
    torrent.once("trackerAnnounce", check);
  };
  client.on("add", onAdd);
}
