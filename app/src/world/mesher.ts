/**
 * Chunk meshing: one quad per block face that borders air or a different see-through block, with
 * vertex colours from the block registry. Pure: the same blocks give the same buffers, in a worker or a test.
 */
import { AIR, BLOCK_IDS, BLOCKS } from "../../../core/blocks.ts";
import { CHUNK_SIZE, CHUNK_VOLUME } from "../../../core/chunk.ts";

export type MeshBuffers = {
  /** xyz per vertex, in blocks, relative to the chunk's corner. */
  positions: Float32Array;
  /** xyz per vertex, each −1, 0 or 1. */
  normals: Int8Array;
  /** Linear RGB per vertex, 0..255 (a normalized attribute). */
  colors: Uint8Array;
  /** Two triangles per face. */
  indices: Uint32Array;
};

/** Translucent blocks (water, glass) are drawn in a second, blended pass. */
export type ChunkMesh = { opaque: MeshBuffers; translucent: MeshBuffers };

export const FACES = ["px", "nx", "py", "ny", "pz", "nz"] as const;
export type FaceName = (typeof FACES)[number];

/**
 * The six chunks that share a face with the one being meshed. A missing one counts as air (the world's loaded
 * edge shows its side walls); "solid" hides the faces towards it (the underside nobody looks at).
 */
export type NeighbourChunks = Partial<Record<FaceName, Uint16Array | "solid">>;

type FaceSpec = { normal: readonly [number, number, number]; corners: readonly (readonly [number, number, number])[] };

// Corners wind counter-clockwise seen from outside, so back faces are culled.
const FACE_SPECS: Record<FaceName, FaceSpec> = {
  px: {
    normal: [1, 0, 0],
    corners: [
      [1, 0, 1],
      [1, 0, 0],
      [1, 1, 0],
      [1, 1, 1],
    ],
  },
  nx: {
    normal: [-1, 0, 0],
    corners: [
      [0, 0, 0],
      [0, 0, 1],
      [0, 1, 1],
      [0, 1, 0],
    ],
  },
  py: {
    normal: [0, 1, 0],
    corners: [
      [0, 1, 1],
      [1, 1, 1],
      [1, 1, 0],
      [0, 1, 0],
    ],
  },
  ny: {
    normal: [0, -1, 0],
    corners: [
      [0, 0, 0],
      [1, 0, 0],
      [1, 0, 1],
      [0, 0, 1],
    ],
  },
  pz: {
    normal: [0, 0, 1],
    corners: [
      [0, 0, 1],
      [1, 0, 1],
      [1, 1, 1],
      [0, 1, 1],
    ],
  },
  nz: {
    normal: [0, 0, -1],
    corners: [
      [1, 0, 0],
      [0, 0, 0],
      [0, 1, 0],
      [1, 1, 0],
    ],
  },
};

const TRANSLUCENT = new Set<number>([BLOCK_IDS.water, BLOCK_IDS.glass]);

function srgbToLinear(channel: number): number {
  const c = channel / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** Linear RGB (0..1) of every block id, for three.js's linear working colour space. */
const LINEAR_COLORS: readonly (readonly [number, number, number])[] = BLOCKS.map((block) => [
  srgbToLinear((block.color >> 16) & 0xff),
  srgbToLinear((block.color >> 8) & 0xff),
  srgbToLinear(block.color & 0xff),
]);

/** Whether the face of `self` towards a neighbouring `other` can be seen. */
export function faceVisible(self: number, other: number): boolean {
  if (self === AIR) return false;
  if (other === AIR) return true;
  return other !== self && (BLOCKS[other]?.transparent ?? true);
}

class MeshBuilder {
  positions = new Float32Array(4096 * 12);
  normals = new Int8Array(4096 * 12);
  colors = new Uint8Array(4096 * 12);
  faces = 0;

  addFace(x: number, y: number, z: number, spec: FaceSpec, r: number, g: number, b: number): void {
    if ((this.faces + 1) * 12 > this.positions.length) this.#grow();
    let o = this.faces * 12;
    for (const [dx, dy, dz] of spec.corners) {
      this.positions[o] = x + dx;
      this.positions[o + 1] = y + dy;
      this.positions[o + 2] = z + dz;
      this.normals[o] = spec.normal[0];
      this.normals[o + 1] = spec.normal[1];
      this.normals[o + 2] = spec.normal[2];
      this.colors[o] = r;
      this.colors[o + 1] = g;
      this.colors[o + 2] = b;
      o += 3;
    }
    this.faces++;
  }

  finish(): MeshBuffers {
    const indices = new Uint32Array(this.faces * 6);
    for (let f = 0; f < this.faces; f++) {
      const v = f * 4;
      const o = f * 6;
      indices[o] = v;
      indices[o + 1] = v + 1;
      indices[o + 2] = v + 2;
      indices[o + 3] = v;
      indices[o + 4] = v + 2;
      indices[o + 5] = v + 3;
    }
    const length = this.faces * 12;
    return {
      positions: this.positions.slice(0, length),
      normals: this.normals.slice(0, length),
      colors: this.colors.slice(0, length),
      indices,
    };
  }

  #grow(): void {
    const grow = <T extends Float32Array | Int8Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(old.length * 2);
      next.set(old);
      return next;
    };
    this.positions = grow(this.positions, (n) => new Float32Array(n));
    this.normals = grow(this.normals, (n) => new Int8Array(n));
    this.colors = grow(this.colors, (n) => new Uint8Array(n));
  }
}

/** A small brightness variation per block (deterministic in world coordinates) so flat ground shows its blocks. */
function shadeOf(wx: number, wy: number, wz: number): number {
  let h = Math.imul(wx, 0x27d4eb2d) ^ Math.imul(wy, 0x165667b1) ^ Math.imul(wz, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return 0.9 + (((h ^ (h >>> 13)) >>> 0) / 0x1_0000_0000) * 0.12;
}

const S = CHUNK_SIZE;
const LAST = CHUNK_SIZE - 1;

/**
 * Meshes chunk (cx, cy, cz). `neighbours` decide the faces on the chunk's border; the chunk's coordinates only
 * seed the per-block shading.
 */
export function meshChunk(
  blocks: Uint16Array,
  neighbours: NeighbourChunks,
  coords: { cx: number; cy: number; cz: number } = { cx: 0, cy: 0, cz: 0 },
): ChunkMesh {
  if (blocks.length !== CHUNK_VOLUME) throw new RangeError(`expected ${CHUNK_VOLUME} blocks, got ${blocks.length}`);
  const opaque = new MeshBuilder();
  const translucent = new MeshBuilder();
  const { px, nx, py, ny, pz, nz } = neighbours;
  const at = (array: Uint16Array | "solid" | undefined, x: number, y: number, z: number): number =>
    array === "solid" ? BLOCK_IDS.stone : array ? (array[x + S * (z + S * y)] as number) : AIR;

  for (let y = 0; y < S; y++) {
    for (let z = 0; z < S; z++) {
      for (let x = 0; x < S; x++) {
        const i = x + S * (z + S * y);
        const self = blocks[i] as number;
        if (self === AIR) continue;
        const color = LINEAR_COLORS[self];
        if (!color) continue;
        const builder = TRANSLUCENT.has(self) ? translucent : opaque;
        const shade = shadeOf(coords.cx * S + x, coords.cy * S + y, coords.cz * S + z) * 255;
        const r = Math.min(255, Math.round(color[0] * shade));
        const g = Math.min(255, Math.round(color[1] * shade));
        const b = Math.min(255, Math.round(color[2] * shade));
        const add = (face: FaceSpec) => builder.addFace(x, y, z, face, r, g, b);
        if (faceVisible(self, x < LAST ? (blocks[i + 1] as number) : at(px, 0, y, z))) add(FACE_SPECS.px);
        if (faceVisible(self, x > 0 ? (blocks[i - 1] as number) : at(nx, LAST, y, z))) add(FACE_SPECS.nx);
        if (faceVisible(self, y < LAST ? (blocks[i + S * S] as number) : at(py, x, 0, z))) add(FACE_SPECS.py);
        if (faceVisible(self, y > 0 ? (blocks[i - S * S] as number) : at(ny, x, LAST, z))) add(FACE_SPECS.ny);
        if (faceVisible(self, z < LAST ? (blocks[i + S] as number) : at(pz, x, y, 0))) add(FACE_SPECS.pz);
        if (faceVisible(self, z > 0 ? (blocks[i - S] as number) : at(nz, x, y, LAST))) add(FACE_SPECS.nz);
      }
    }
  }
  return { opaque: opaque.finish(), translucent: translucent.finish() };
}

/** The buffers of a mesh, for transferring it to another thread. */
export function meshTransferables(mesh: ChunkMesh): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const part of [mesh.opaque, mesh.translucent])
    for (const array of [part.positions, part.normals, part.colors, part.indices])
      buffers.push(array.buffer as ArrayBuffer);
  return buffers;
}
