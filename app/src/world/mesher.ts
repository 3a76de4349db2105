/**
 * Chunk meshing: greedy. Each slice of the chunk, for each face direction, gets a 32×32 mask of the block ids whose
 * face there can be seen; runs of the same id are merged into maximal rectangles, one quad each. Quads carry
 * texture coordinates in blocks (so a merged quad repeats its tile) and a tile from the atlas. Pure: the same blocks
 * give the same buffers, in a worker or a test.
 */
import { AIR, BLOCK_IDS, BLOCKS } from "../../../core/blocks.ts";
import { CHUNK_SIZE, CHUNK_VOLUME } from "../../../core/chunk.ts";
import { FACES, type FaceName, TILE_OF } from "./atlas.ts";

export { FACES, type FaceName };

export type MeshBuffers = {
  /** xyz per vertex, in blocks (0..32), relative to the chunk's corner. */
  positions: Uint8Array;
  /** xyz per vertex, each −1, 0 or 1. */
  normals: Int8Array;
  /** Texture coordinates per vertex, in blocks: a quad w blocks wide spans w tiles. */
  uvs: Uint8Array;
  /** Atlas tile (layer) per vertex, the same for the four corners of a quad. */
  tiles: Uint8Array;
  /** Two triangles per quad; 16-bit while the vertices fit. */
  indices: Uint16Array | Uint32Array;
};

/** Translucent blocks (water, glass) are drawn in a second, blended pass. */
export type ChunkMesh = { opaque: MeshBuffers; translucent: MeshBuffers };

/**
 * The six chunks that share a face with the one being meshed. A missing one counts as air (the world's loaded
 * edge shows its side walls); "solid" hides the faces towards it (the underside nobody looks at).
 */
export type NeighbourChunks = Partial<Record<FaceName, Uint16Array | "solid">>;

const TRANSLUCENT_BLOCKS: readonly number[] = [BLOCK_IDS.water, BLOCK_IDS.glass];

// Per-id lookup tables over the whole Uint16 range, so an unknown id needs no bounds check.
/** 1 for ids that are drawn (known and not air). */
const DRAWN = new Uint8Array(0x10000);
/** 1 for ids that hide the faces of their neighbours. */
const OPAQUE = new Uint8Array(0x10000);
/** 1 for ids drawn in the translucent pass. */
const TRANSLUCENT = new Uint8Array(0x10000);
for (const block of BLOCKS) {
  if (block.id === AIR) continue;
  DRAWN[block.id] = 1;
  OPAQUE[block.id] = block.transparent ? 0 : 1;
}
for (const id of TRANSLUCENT_BLOCKS) TRANSLUCENT[id] = 1;

/** Whether a block hides the faces of its neighbours (any two such blocks look the same to a neighbour). */
export function hidesNeighbours(id: number): boolean {
  return OPAQUE[id] === 1;
}

/** Whether the face of `self` towards a neighbouring `other` can be seen. */
export function faceVisible(self: number, other: number): boolean {
  return DRAWN[self] === 1 && other !== self && OPAQUE[other] !== 1;
}

const S = CHUNK_SIZE;
const LAST = S - 1;
/** The chunk with a one-block border from its neighbours: every face test reads one array, no branches. */
const P = S + 2;
const P2 = P * P;
const padded = new Uint16Array(P * P2);
const paddedIndex = (x: number, y: number, z: number) => x + 1 + P * (z + 1) + P2 * (y + 1);

/** Grows as needed and is reused across calls; `finish` copies out exactly what one mesh used. */
class QuadBuffer {
  positions = new Uint8Array(4096 * 12);
  normals = new Int8Array(4096 * 12);
  uvs = new Uint8Array(4096 * 8);
  tiles = new Uint8Array(4096 * 4);
  quads = 0;

  reset(): void {
    this.quads = 0;
  }

  /**
   * Adds the quad of face direction `face` (index in FACES) lying in plane `plane` of its axis, covering
   * [u0, u0+w) × [v0, v0+h) of the other two axes (u = axis+1, v = axis+2, cyclically).
   */
  add(face: number, plane: number, u0: number, v0: number, w: number, h: number, tile: number): void {
    if (this.quads * 4 >= this.tiles.length) this.#grow();
    const axis = face >> 1;
    const positive = (face & 1) === 0;
    const sign = positive ? 1 : -1;
    let o3 = this.quads * 12;
    let o2 = this.quads * 8;
    let o1 = this.quads * 4;
    for (let k = 0; k < 4; k++) {
      // Counter-clockwise seen from outside: (0,0) (w,0) (w,h) (0,h) when u × v is the normal, reversed otherwise.
      const a = u0 + ((positive ? k === 1 || k === 2 : k >= 2) ? w : 0);
      const b = v0 + ((positive ? k >= 2 : k === 1 || k === 2) ? h : 0);
      let x: number;
      let y: number;
      let z: number;
      if (axis === 0) {
        x = plane;
        y = a;
        z = b;
      } else if (axis === 1) {
        y = plane;
        z = a;
        x = b;
      } else {
        z = plane;
        x = a;
        y = b;
      }
      this.positions[o3] = x;
      this.positions[o3 + 1] = y;
      this.positions[o3 + 2] = z;
      this.normals[o3] = axis === 0 ? sign : 0;
      this.normals[o3 + 1] = axis === 1 ? sign : 0;
      this.normals[o3 + 2] = axis === 2 ? sign : 0;
      // Sides keep v along +y (tiles stand upright) and u to the viewer's right; tops and bottoms use x, z.
      this.uvs[o2] = axis === 0 ? (positive ? S - z : z) : axis === 2 ? (positive ? x : S - x) : x;
      this.uvs[o2 + 1] = axis === 1 ? z : y;
      this.tiles[o1] = tile;
      o3 += 3;
      o2 += 2;
      o1 += 1;
    }
    this.quads++;
  }

  finish(): MeshBuffers {
    const vertices = this.quads * 4;
    const indices = vertices <= 0x10000 ? new Uint16Array(this.quads * 6) : new Uint32Array(this.quads * 6);
    for (let q = 0, v = 0, o = 0; q < this.quads; q++, v += 4, o += 6) {
      indices[o] = v;
      indices[o + 1] = v + 1;
      indices[o + 2] = v + 2;
      indices[o + 3] = v;
      indices[o + 4] = v + 2;
      indices[o + 5] = v + 3;
    }
    return {
      positions: this.positions.slice(0, vertices * 3),
      normals: this.normals.slice(0, vertices * 3),
      uvs: this.uvs.slice(0, vertices * 2),
      tiles: this.tiles.slice(0, vertices),
      indices,
    };
  }

  #grow(): void {
    const grow = <T extends Uint8Array | Int8Array>(old: T, make: (n: number) => T): T => {
      const next = make(old.length * 2);
      next.set(old);
      return next;
    };
    this.positions = grow(this.positions, (n) => new Uint8Array(n));
    this.normals = grow(this.normals, (n) => new Int8Array(n));
    this.uvs = grow(this.uvs, (n) => new Uint8Array(n));
    this.tiles = grow(this.tiles, (n) => new Uint8Array(n));
  }
}

const opaqueQuads = new QuadBuffer();
const translucentQuads = new QuadBuffer();

function checkLength(name: string, blocks: Uint16Array): void {
  if (blocks.length !== CHUNK_VOLUME)
    throw new RangeError(`${name}: expected ${CHUNK_VOLUME} blocks, got ${blocks.length}`);
}

/** Copies the chunk and the facing layers of its neighbours into `padded`. */
function fillPadded(blocks: Uint16Array, neighbours: NeighbourChunks): void {
  padded.fill(AIR);
  for (let y = 0, i = 0; y < S; y++)
    for (let z = 0; z < S; z++)
      for (let x = 0, pi = paddedIndex(0, y, z); x < S; x++) padded[pi++] = blocks[i++] as number;
  const stone = BLOCK_IDS.stone;
  const { px, nx, py, ny, pz, nz } = neighbours;
  // ±x: one block per (y, z).
  for (let y = 0; y < S; y++)
    for (let z = 0; z < S; z++) {
      if (px) padded[paddedIndex(S, y, z)] = px === "solid" ? stone : (px[S * (z + S * y)] as number);
      if (nx) padded[paddedIndex(-1, y, z)] = nx === "solid" ? stone : (nx[LAST + S * (z + S * y)] as number);
    }
  // ±y and ±z: rows of x are contiguous in both arrays.
  for (let a = 0; a < S; a++) {
    if (py) {
      const to = paddedIndex(0, S, a);
      if (py === "solid") padded.fill(stone, to, to + S);
      else padded.set(py.subarray(S * a, S * a + S), to);
    }
    if (ny) {
      const to = paddedIndex(0, -1, a);
      if (ny === "solid") padded.fill(stone, to, to + S);
      else padded.set(ny.subarray(S * (a + S * LAST), S * (a + S * LAST) + S), to);
    }
    if (pz) {
      const to = paddedIndex(0, a, S);
      if (pz === "solid") padded.fill(stone, to, to + S);
      else padded.set(pz.subarray(S * S * a, S * S * a + S), to);
    }
    if (nz) {
      const to = paddedIndex(0, a, -1);
      if (nz === "solid") padded.fill(stone, to, to + S);
      else padded.set(nz.subarray(S * (LAST + S * a), S * (LAST + S * a) + S), to);
    }
  }
}

/**
 * Per face direction, the ids of the blocks whose face can be seen, slice after slice, 32×32 cells each
 * (cell = slice·1024 + v·32 + u). All zero between calls: the sweep clears every cell it merges.
 */
const faceIds = new Uint16Array(6 * CHUNK_VOLUME);
/** One bit per cell of `faceIds` that holds a face, a 32-bit row per (direction, slice, v); also zero between calls. */
const faceRows = new Uint32Array(6 * S * S);
/** Visible faces per (direction, slice): slices without any are never swept. */
const sliceFaces = new Int32Array(6 * S);
/** Set while the scratch arrays may hold a half-finished mesh (a call that threw). */
let scratchDirty = false;

/** Marks the face of block `self` in direction `face` at (slice, u, v) as visible. */
function markFace(face: number, slice: number, u: number, v: number, self: number): void {
  faceIds[face * CHUNK_VOLUME + slice * S * S + v * S + u] = self;
  faceRows[(face * S + slice) * S + v] = ((faceRows[(face * S + slice) * S + v] as number) | (1 << u)) >>> 0;
  (sliceFaces[face * S + slice] as number)++;
}

/**
 * One pass over the chunk in memory order: which faces of each block can be seen. Returns the count of drawn
 * blocks (0: nothing to mesh).
 */
function findFaces(): number {
  sliceFaces.fill(0);
  let drawn = 0;
  for (let y = 0; y < S; y++)
    for (let z = 0; z < S; z++) {
      let pi = paddedIndex(0, y, z);
      for (let x = 0; x < S; x++, pi++) {
        const self = padded[pi] as number;
        if (DRAWN[self] !== 1) continue;
        drawn++;
        let other = padded[pi + 1] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(0, x, y, z, self);
        other = padded[pi - 1] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(1, x, y, z, self);
        other = padded[pi + P2] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(2, y, z, x, self);
        other = padded[pi - P2] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(3, y, z, x, self);
        other = padded[pi + P] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(4, z, x, y, self);
        other = padded[pi - P] as number;
        if (other !== self && OPAQUE[other] !== 1) markFace(5, z, x, y, self);
      }
    }
  return drawn;
}

/**
 * Merges the faces of one slice into maximal rectangles of one id (first along u, then as many rows of v as
 * match), emits a quad for each, and clears what it merged.
 */
function sweepSlice(face: number, slice: number): void {
  const plane = (face & 1) === 0 ? slice + 1 : slice;
  const rows = (face * S + slice) * S;
  const cells = face * CHUNK_VOLUME + slice * S * S;
  for (let v = 0; v < S; v++) {
    let bits = faceRows[rows + v] as number;
    while (bits !== 0) {
      const u = 31 - Math.clz32(bits & -bits);
      const start = cells + v * S + u;
      const id = faceIds[start] as number;
      let w = 1;
      while (u + w < S && faceIds[start + w] === id) w++;
      const span = w === S ? -1 : (((1 << w) - 1) << u) | 0;
      let h = 1;
      grow: for (; v + h < S; h++) {
        if ((((faceRows[rows + v + h] as number) & span) | 0) !== span) break;
        const row = start + h * S;
        for (let k = 0; k < w; k++) if (faceIds[row + k] !== id) break grow;
      }
      for (let r = 0; r < h; r++) {
        faceRows[rows + v + r] = ((faceRows[rows + v + r] as number) & ~span) >>> 0;
        faceIds.fill(0, start + r * S, start + r * S + w);
      }
      const quads = TRANSLUCENT[id] === 1 ? translucentQuads : opaqueQuads;
      quads.add(face, plane, u, v, w, h, TILE_OF[id * 6 + face] ?? 0);
      bits = faceRows[rows + v] as number;
    }
  }
}

/** Whether any block of the chunk is drawn (most chunks above the ground are all air). */
function hasDrawnBlock(blocks: Uint16Array): boolean {
  for (let i = 0; i < CHUNK_VOLUME; i++) if (DRAWN[blocks[i] as number] === 1) return true;
  return false;
}

/** Meshes one chunk. `neighbours` decide the faces on the chunk's border. */
export function meshChunk(blocks: Uint16Array, neighbours: NeighbourChunks = {}): ChunkMesh {
  checkLength("chunk", blocks);
  for (const [name, n] of Object.entries(neighbours)) if (n && n !== "solid") checkLength(name, n);
  if (scratchDirty) {
    faceIds.fill(0);
    faceRows.fill(0);
  }
  opaqueQuads.reset();
  translucentQuads.reset();
  if (!hasDrawnBlock(blocks)) return { opaque: opaqueQuads.finish(), translucent: translucentQuads.finish() };
  scratchDirty = true;
  fillPadded(blocks, neighbours);
  if (findFaces() > 0)
    for (let face = 0; face < 6; face++)
      for (let slice = 0; slice < S; slice++) if ((sliceFaces[face * S + slice] as number) > 0) sweepSlice(face, slice);
  scratchDirty = false;
  return { opaque: opaqueQuads.finish(), translucent: translucentQuads.finish() };
}

/** Quads in a mesh part. */
export function quadCount(buffers: MeshBuffers): number {
  return buffers.indices.length / 6;
}

/** The buffers of a mesh, for transferring it to another thread (each array owns its whole buffer). */
export function meshTransferables(mesh: ChunkMesh): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const part of [mesh.opaque, mesh.translucent])
    for (const array of [part.positions, part.normals, part.uvs, part.tiles, part.indices])
      buffers.push(array.buffer as ArrayBuffer);
  return buffers;
}

/** Bytes of a mesh's buffers. */
export function meshBytes(mesh: ChunkMesh): number {
  let bytes = 0;
  for (const part of [mesh.opaque, mesh.translucent])
    for (const array of [part.positions, part.normals, part.uvs, part.tiles, part.indices]) bytes += array.byteLength;
  return bytes;
}
