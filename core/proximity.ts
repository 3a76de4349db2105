/**
 * Proximity: which chunks and DHT regions a player sees, which peers it keeps links to, and how often
 * each kind of message goes to a peer at a given distance. Pure; time and randomness are passed in.
 */
import { CHUNK_SIZE } from "./chunk.ts";

export type Position = readonly [x: number, y: number, z: number];
export type ChunkXYZ = { cx: number; cy: number; cz: number };
export type Region = { rx: number; rz: number };

/** A DHT region is a square of REGION_CHUNKS × REGION_CHUNKS chunk columns (256 × 256 blocks). */
export const REGION_CHUNKS = 8;
/** Default view radius, in chunks. */
export const VIEW_RADIUS_CHUNKS = 4;

export function chunkOfPosition([x, y, z]: Position): ChunkXYZ {
  return { cx: Math.floor(x / CHUNK_SIZE), cy: Math.floor(y / CHUNK_SIZE), cz: Math.floor(z / CHUNK_SIZE) };
}

export function regionOf({ cx, cz }: Pick<ChunkXYZ, "cx" | "cz">, regionChunks = REGION_CHUNKS): Region {
  return { rx: Math.floor(cx / regionChunks), rz: Math.floor(cz / regionChunks) };
}

/** Distance in blocks from a position to the nearest point of a chunk (0 inside it). */
export function distanceToChunk([x, y, z]: Position, { cx, cy, cz }: ChunkXYZ): number {
  const axis = (p: number, c: number) => Math.max(c * CHUNK_SIZE - p, 0, p - (c + 1) * CHUNK_SIZE);
  return Math.hypot(axis(x, cx), axis(y, cy), axis(z, cz));
}

/** Whether `chunk` lies within `radiusChunks` chunks of the position (its area of interest). */
export function inAreaOfInterest(position: Position, chunk: ChunkXYZ, radiusChunks = VIEW_RADIUS_CHUNKS): boolean {
  return distanceToChunk(position, chunk) <= radiusChunks * CHUNK_SIZE;
}

/** The chunks in view, nearest first (ties in a fixed order). */
export function chunksInView(position: Position, radiusChunks = VIEW_RADIUS_CHUNKS): ChunkXYZ[] {
  const centre = chunkOfPosition(position);
  const chunks: { chunk: ChunkXYZ; distance: number; offset: number }[] = [];
  for (let dy = -radiusChunks; dy <= radiusChunks; dy++)
    for (let dz = -radiusChunks; dz <= radiusChunks; dz++)
      for (let dx = -radiusChunks; dx <= radiusChunks; dx++) {
        const chunk = { cx: centre.cx + dx, cy: centre.cy + dy, cz: centre.cz + dz };
        const distance = distanceToChunk(position, chunk);
        if (distance <= radiusChunks * CHUNK_SIZE)
          chunks.push({ chunk, distance, offset: dx * dx + dy * dy + dz * dz });
      }
  // On a chunk border several chunks are at distance 0: the player's own chunk still comes first.
  chunks.sort(
    (a, b) =>
      a.distance - b.distance ||
      a.offset - b.offset ||
      a.chunk.cy - b.chunk.cy ||
      a.chunk.cz - b.chunk.cz ||
      a.chunk.cx - b.chunk.cx,
  );
  return chunks.map((entry) => entry.chunk);
}

/** The regions the view touches, the player's own first: announce on the first, look up all of them. */
export function regionsInView(
  position: Position,
  radiusChunks = VIEW_RADIUS_CHUNKS,
  regionChunks = REGION_CHUNKS,
): Region[] {
  const own = regionOf(chunkOfPosition(position), regionChunks);
  const seen = new Map<string, Region>([[`${own.rx},${own.rz}`, own]]);
  for (const chunk of chunksInView(position, radiusChunks)) {
    const region = regionOf(chunk, regionChunks);
    seen.set(`${region.rx},${region.rz}`, region);
  }
  return [...seen.values()];
}

export type PeerPlace = { id: string; position: Position };

export type NeighbourOptions = {
  /** How many nearest peers to keep. */
  k: number;
  /** How many random long links to add among the others. */
  randomLinks: number;
  /** Uniform in [0, 1): injected so tests can seed it. */
  random: () => number;
};

/** Distance in blocks between two positions. */
export function distance(a: Position, b: Position): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** The K nearest peers plus a few random long links (never self, never twice). */
export function selectNeighbours(
  self: PeerPlace,
  candidates: readonly PeerPlace[],
  options: NeighbourOptions,
): PeerPlace[] {
  const unique = new Map<string, PeerPlace>();
  for (const peer of candidates) if (peer.id !== self.id && !unique.has(peer.id)) unique.set(peer.id, peer);
  const sorted = [...unique.values()].sort(
    (a, b) =>
      distance(self.position, a.position) - distance(self.position, b.position) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const nearest = sorted.slice(0, Math.max(0, options.k));
  const rest = sorted.slice(nearest.length);
  const links: PeerPlace[] = [];
  for (let i = 0; i < options.randomLinks && rest.length > 0; i++) {
    const pick = Math.min(rest.length - 1, Math.floor(options.random() * rest.length));
    links.push(...rest.splice(pick, 1));
  }
  return [...nearest, ...links];
}

/** Orders broadcast recipients nearest to the chunk first. */
export function priorityOrder<T extends PeerPlace>(peers: readonly T[], chunk: ChunkXYZ): T[] {
  return [...peers].sort(
    (a, b) =>
      distanceToChunk(a.position, chunk) - distanceToChunk(b.position, chunk) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

export type RateClass = "movement" | "interaction" | "edit" | "chat" | "voice";

/** Beyond this (blocks), a peer gets no live movement, interactions or voice: it is out of view. */
export const LIVE_RANGE_BLOCKS = VIEW_RADIUS_CHUNKS * CHUNK_SIZE;
export const CHAT_RANGE_BLOCKS = 2 * LIVE_RANGE_BLOCKS;

/** Messages per second to a peer `distanceBlocks` away; Infinity means unthrottled. */
export function sendRateHz(messageClass: RateClass, distanceBlocks: number): number {
  const d = Math.max(0, distanceBlocks);
  switch (messageClass) {
    // 20 Hz within 16 blocks, then falling as 1/distance down to 1 Hz at the edge of view, 0 beyond.
    case "movement":
      return d > LIVE_RANGE_BLOCKS ? 0 : Math.max(1, Math.min(20, 320 / Math.max(d, 1)));
    // 10 Hz within 32 blocks, 2 Hz to the edge of view, 0 beyond.
    case "interaction":
      return d > LIVE_RANGE_BLOCKS ? 0 : d <= 32 ? 10 : 2;
    // Edits to peers whose area of interest holds the chunk are never throttled by distance (order is by priorityOrder).
    case "edit":
      return Number.POSITIVE_INFINITY;
    // Chat reaches twice the view distance, unthrottled inside it.
    case "chat":
      return d > CHAT_RANGE_BLOCKS ? 0 : Number.POSITIVE_INFINITY;
    // Voice frames at 50 Hz within half the view, 0 beyond the view (volume falls with distance elsewhere).
    case "voice":
      return d > LIVE_RANGE_BLOCKS ? 0 : 50;
  }
}

/**
 * A token bucket per (peer, class), state only (no timers): `admit` says whether a message may go now.
 * Capacity is one second's worth (at least 1), so bursts stay short.
 */
export class RateGate {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  admit(peer: string, messageClass: RateClass, distanceBlocks: number, nowMs: number): boolean {
    const rate = sendRateHz(messageClass, distanceBlocks);
    if (rate === Number.POSITIVE_INFINITY) return true;
    if (rate <= 0) return false;
    const key = `${peer}\u0000${messageClass}`;
    const capacity = Math.max(1, rate);
    const bucket = this.#buckets.get(key) ?? { tokens: capacity, atMs: nowMs };
    const tokens = Math.min(capacity, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * rate) / 1000);
    const admitted = tokens >= 1;
    this.#buckets.set(key, { tokens: admitted ? tokens - 1 : tokens, atMs: Math.max(nowMs, bucket.atMs) });
    return admitted;
  }

  /** Forgets a peer (it disconnected). */
  forget(peer: string): void {
    for (const key of this.#buckets.keys()) if (key.startsWith(`${peer}\u0000`)) this.#buckets.delete(key);
  }
}
