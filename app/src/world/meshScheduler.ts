/**
 * What the mesher worker does, and in which order, without the worker: the chunks it holds, the chunks it still
 * has to generate and to mesh, and one unit of work at a time. Edits come first; then the nearest chunk, meshed
 * once its neighbours exist so that it is meshed once, not once per neighbour. Pure apart from `post`, so Node
 * can test the order.
 */
import { CHUNK_SIZE, CHUNK_VOLUME, localOf } from "../../../core/chunk.ts";
import { generateChunk } from "../../../core/terrain.ts";
import { FACES, hidesNeighbours, meshChunk, meshTransferables, type NeighbourChunks } from "./mesher.ts";
import { type ChunkCoords, type ChunkPoint, chunkKey, type FromMesher, type ToMesher } from "./protocol.ts";

export type MeshSchedulerOptions = {
  post: (message: FromMesher, transfer: Transferable[]) => void;
  /** Terrain for a chunk nobody sent (version 0). */
  generate?: (seed: number, cx: number, cy: number, cz: number) => Uint16Array;
  now?: () => number;
};

type Job = { coords: ChunkCoords; key: string; distance: number; neighbourKeys: string[] };

/** Offsets of the six neighbours, in FACES order. */
const OFFSETS: readonly (readonly [number, number, number])[] = [
  [1, 0, 0],
  [-1, 0, 0],
  [0, 1, 0],
  [0, -1, 0],
  [0, 0, 1],
  [0, 0, -1],
];
/** The face index pointing back: px ↔ nx, py ↔ ny, pz ↔ nz. */
const opposite = (face: number) => face ^ 1;

const S = CHUNK_SIZE;
const LAST = S - 1;

/** What a neighbour that is not loaded looks like: air, except below, where it is solid (nobody looks up at it). */
type Side = Uint16Array | "air" | "solid";
const missingSide = (face: number): Side => (FACES[face] === "ny" ? "solid" : "air");

/** Whether the layer of `face` differs between two versions of a chunk, as far as the neighbour's mesh can tell. */
function borderChanged(face: number, before: Side, after: Side): boolean {
  if (before === after) return false;
  const axis = face >> 1;
  const at = (side: Side, i: number): number => {
    const id = side === "air" ? 0 : side === "solid" ? 1 : (side[i] as number);
    // Every opaque block hides a neighbour's face the same way.
    return hidesNeighbours(id) ? -1 : id;
  };
  const fixed = (face & 1) === 0 ? LAST : 0;
  for (let a = 0; a < S; a++)
    for (let b = 0; b < S; b++) {
      const x = axis === 0 ? fixed : a;
      const y = axis === 1 ? fixed : axis === 0 ? a : b;
      const z = axis === 2 ? fixed : b;
      const i = x + S * (z + S * y);
      if (at(before, i) !== at(after, i)) return true;
    }
  return false;
}

export class MeshScheduler {
  /** meshChunk's time for the last mesh. */
  lastMeshMs = 0;

  readonly #post: MeshSchedulerOptions["post"];
  readonly #generate: NonNullable<MeshSchedulerOptions["generate"]>;
  readonly #now: () => number;
  #seed = 0;
  #seq = 0;
  #center: ChunkPoint = [0, 0, 0];
  readonly #chunks = new Map<string, Uint16Array>();
  /** Chunks meshed since they were loaded: a change beside them means a remesh. */
  readonly #meshed = new Set<string>();
  readonly #toGenerate = new Map<string, Job>();
  readonly #toMesh = new Map<string, Job>();
  /** Remeshes for edits, first in first out, ahead of everything else. */
  readonly #urgent = new Map<string, ChunkCoords>();

  constructor(options: MeshSchedulerOptions) {
    this.#post = options.post;
    this.#generate = options.generate ?? generateChunk;
    this.#now = options.now ?? (() => performance.now());
  }

  get generateQueue(): number {
    return this.#toGenerate.size;
  }

  get meshQueue(): number {
    return this.#toMesh.size + this.#urgent.size;
  }

  handle(message: ToMesher): void {
    switch (message.type) {
      case "init":
        this.#seed = message.seed;
        return;
      case "load":
        this.#seq = Math.max(this.#seq, message.seq);
        this.#setCenter(message.center);
        for (const coords of message.chunks) {
          const key = chunkKey(coords.cx, coords.cy, coords.cz);
          if (!this.#chunks.has(key) && !this.#toGenerate.has(key)) this.#toGenerate.set(key, this.#job(coords, key));
        }
        return;
      case "center":
        this.#setCenter(message.center);
        return;
      case "unload":
        for (const coords of message.chunks) this.#unload(coords);
        return;
      case "setBlock": {
        const { cx, cy, cz, index, block } = message;
        this.#seq = Math.max(this.#seq, message.seq);
        const blocks = this.#chunks.get(chunkKey(cx, cy, cz));
        if (!blocks) return;
        blocks[index] = block;
        this.#urgent.set(chunkKey(cx, cy, cz), { cx, cy, cz });
        const { x, y, z } = localOf(index);
        const onBorder = [x === LAST, x === 0, y === LAST, y === 0, z === LAST, z === 0];
        OFFSETS.forEach(([dx, dy, dz], face) => {
          const key = chunkKey(cx + dx, cy + dy, cz + dz);
          if (onBorder[face] && this.#chunks.has(key)) this.#urgent.set(key, { cx: cx + dx, cy: cy + dy, cz: cz + dz });
        });
        return;
      }
      case "setChunk": {
        const { cx, cy, cz, blocks } = message;
        if (blocks.length !== CHUNK_VOLUME) throw new RangeError(`setChunk: expected ${CHUNK_VOLUME} blocks`);
        this.#seq = Math.max(this.#seq, message.seq);
        const key = chunkKey(cx, cy, cz);
        this.#toGenerate.delete(key);
        this.#arrive({ cx, cy, cz }, key, blocks, true);
        return;
      }
    }
  }

  /** Does one unit of work (one mesh or one generated chunk); false when there is nothing left to do. */
  step(): boolean {
    const urgent = this.#urgent.keys().next();
    if (!urgent.done) {
      this.#mesh(urgent.value);
      return true;
    }
    let nearestMesh: Job | undefined;
    for (const job of this.#toMesh.values())
      if ((!nearestMesh || job.distance < nearestMesh.distance) && this.#neighboursReady(job)) nearestMesh = job;
    let nearestGenerate: Job | undefined;
    for (const job of this.#toGenerate.values())
      if (!nearestGenerate || job.distance < nearestGenerate.distance) nearestGenerate = job;
    if (nearestMesh && (!nearestGenerate || nearestMesh.distance <= nearestGenerate.distance)) {
      this.#mesh(nearestMesh.key);
      return true;
    }
    if (nearestGenerate) {
      const { coords, key } = nearestGenerate;
      this.#toGenerate.delete(key);
      const blocks = this.#generate(this.#seed, coords.cx, coords.cy, coords.cz);
      const copy = blocks.slice();
      this.#post({ type: "blocks", ...coords, blocks: copy, seq: this.#seq }, [copy.buffer]);
      this.#arrive(coords, key, blocks, false);
      return true;
    }
    return false;
  }

  /** Steps until `budgetMs` has passed or nothing is left; returns whether work remains. */
  run(budgetMs: number): boolean {
    const started = this.#now();
    while (this.#now() - started < budgetMs) if (!this.step()) return false;
    return this.#urgent.size + this.#toMesh.size + this.#toGenerate.size > 0;
  }

  #job(coords: ChunkCoords, key: string): Job {
    const neighbourKeys = OFFSETS.map(([dx, dy, dz]) => chunkKey(coords.cx + dx, coords.cy + dy, coords.cz + dz));
    return { coords, key, distance: this.#distance(coords), neighbourKeys };
  }

  #distance({ cx, cy, cz }: ChunkCoords): number {
    const [x, y, z] = this.#center;
    return (cx + 0.5 - x) ** 2 + (cy + 0.5 - y) ** 2 + (cz + 0.5 - z) ** 2;
  }

  #setCenter(center: ChunkPoint): void {
    this.#center = center;
    for (const job of this.#toGenerate.values()) job.distance = this.#distance(job.coords);
    for (const job of this.#toMesh.values()) job.distance = this.#distance(job.coords);
  }

  #neighboursReady(job: Job): boolean {
    for (const key of job.neighbourKeys) if (this.#toGenerate.has(key)) return false;
    return true;
  }

  /** A chunk's blocks arrived (generated or sent): mesh it, and remesh the meshed neighbours whose border changed. */
  #arrive(coords: ChunkCoords, key: string, blocks: Uint16Array, urgent: boolean): void {
    const before = this.#chunks.get(key);
    this.#chunks.set(key, blocks);
    if (urgent) this.#urgent.set(key, coords);
    else this.#toMesh.set(key, this.#job(coords, key));
    OFFSETS.forEach(([dx, dy, dz], face) => {
      const neighbour = { cx: coords.cx + dx, cy: coords.cy + dy, cz: coords.cz + dz };
      const neighbourKey = chunkKey(neighbour.cx, neighbour.cy, neighbour.cz);
      // A neighbour not meshed yet will see these blocks when its turn comes.
      if (!this.#meshed.has(neighbourKey) || this.#toMesh.has(neighbourKey) || this.#urgent.has(neighbourKey)) return;
      // The neighbour saw this chunk's side towards it (it looks from the opposite face).
      if (!borderChanged(face, before ?? missingSide(opposite(face)), blocks)) return;
      if (urgent) this.#urgent.set(neighbourKey, neighbour);
      else this.#toMesh.set(neighbourKey, this.#job(neighbour, neighbourKey));
    });
  }

  #unload(coords: ChunkCoords): void {
    const key = chunkKey(coords.cx, coords.cy, coords.cz);
    this.#toGenerate.delete(key);
    this.#toMesh.delete(key);
    this.#urgent.delete(key);
    this.#meshed.delete(key);
    const blocks = this.#chunks.get(key);
    if (!blocks) return;
    this.#chunks.delete(key);
    OFFSETS.forEach(([dx, dy, dz], face) => {
      const neighbour = { cx: coords.cx + dx, cy: coords.cy + dy, cz: coords.cz + dz };
      const neighbourKey = chunkKey(neighbour.cx, neighbour.cy, neighbour.cz);
      if (!this.#meshed.has(neighbourKey) || this.#toMesh.has(neighbourKey)) return;
      if (borderChanged(face, blocks, missingSide(opposite(face))))
        this.#toMesh.set(neighbourKey, this.#job(neighbour, neighbourKey));
    });
  }

  #neighboursOf({ cx, cy, cz }: ChunkCoords): NeighbourChunks {
    const neighbours: NeighbourChunks = {};
    OFFSETS.forEach(([dx, dy, dz], face) => {
      const name = FACES[face] as (typeof FACES)[number];
      const blocks = this.#chunks.get(chunkKey(cx + dx, cy + dy, cz + dz));
      if (blocks) neighbours[name] = blocks;
      else if (missingSide(face) === "solid") neighbours[name] = "solid";
    });
    return neighbours;
  }

  #mesh(key: string): void {
    const coords = this.#urgent.get(key) ?? this.#toMesh.get(key)?.coords;
    this.#urgent.delete(key);
    this.#toMesh.delete(key);
    const blocks = this.#chunks.get(key);
    if (!coords || !blocks) return;
    const started = this.#now();
    const mesh = meshChunk(blocks, this.#neighboursOf(coords));
    this.lastMeshMs = this.#now() - started;
    this.#meshed.add(key);
    this.#post(
      {
        type: "mesh",
        ...coords,
        mesh,
        seq: this.#seq,
        meshMs: this.lastMeshMs,
        generateQueue: this.#toGenerate.size,
        meshQueue: this.meshQueue,
      },
      meshTransferables(mesh),
    );
  }
}
