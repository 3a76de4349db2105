/**
 * How long the DHT keeps what a peer puts there, and how often a peer puts it again. Isomorphic: the
 * figures only; p2p/node/dht.ts sets them on every node, p2p/peer.ts refreshes before they run out.
 *
 * What bittorrent-dht 11.0.12 (client.js) does by itself:
 * - Announces (`announce_peer` records) go into a record-cache (1.2.0) with `maxAge: opts.maxAge || 0`:
 *   0, the default, keeps them until the node stops, or until 10,000 records (`maxPeers`) overflow.
 *   With a maxAge, the cache sweeps every ⅔ maxAge, fresh records turning stale and stale ones going, so
 *   a record is dropped ⅔ to 1⅓ maxAge after its last announce (stale ones are still answered), unless it
 *   is announced again between two sweeps: a re-announce must come every ⅔ maxAge at the latest.
 * - BEP44 items go into an LRU of `maxValues` (1000) items, with no time limit: an item goes only when
 *   1000 newer ones (mailboxes churn through it) push it out, or when its node leaves.
 * - Write tokens come from secrets rotated every 5 minutes (a token holds 5 to 10), and a lookup's nodes
 *   and tokens are kept 5 minutes for the announces and puts that follow it.
 * BEP44 says items "MAY expire in 2 hours" without a re-put, which "SHOULD" come once an hour, and a
 * re-put needs a higher seq (bittorrent-dht refuses an equal one with error 302).
 */
import { SeedcraftError } from "../core/errors.ts";

export class DhtLifetimeError extends SeedcraftError {
  constructor(name: string, value: unknown) {
    super("DHT_LIFETIME", `${name} must be a positive number of milliseconds.`, String(value));
    this.name = "DhtLifetimeError";
  }
}

/** A lifetime or interval option: `fallback` when unset, a DhtLifetimeError unless a positive number of ms. */
export function lifetimeMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new DhtLifetimeError(name, value);
  return value;
}

/** How long a node keeps an announce: 15 minutes, as trackers' announce intervals go (gone 10–20 min after). */
export const ANNOUNCE_MAX_AGE_MS = 15 * 60_000;

/** How long a node keeps a BEP44 item after its last put: BEP44's 2 hours (bittorrent-dht has no limit). */
export const ITEM_MAX_AGE_MS = 2 * 60 * 60_000;

/**
 * A peer re-announces the region it stands in and puts its card again every third of the announce
 * maxAge (5 minutes, jittered ±20 %): well inside the ⅔ maxAge a record survives, and far inside the
 * items' 2 hours, so that a card also reaches the nodes that joined nearest its target since, and
 * comes back to nodes whose LRU pushed it out.
 */
export const REFRESH_EVERY_MS = ANNOUNCE_MAX_AGE_MS / 3;

/** The wait before the next refresh: `everyMs` jittered ±20 %, so peers that started together spread out. */
export function refreshDelayMs(everyMs: number, random: () => number): number {
  return everyMs * (0.8 + 0.4 * random());
}
