/** Messages between the world (main thread) and the mesher worker. Buffers are transferred, never copied. */
import type { ChunkMesh } from "./mesher.ts";

export type ChunkCoords = { cx: number; cy: number; cz: number };

/** A position in chunk units (block coordinates / 32): what "nearest" is measured from. */
export type ChunkPoint = readonly [number, number, number];

/**
 * `seq` orders changes: the main thread numbers every load, setBlock and setChunk, and each mesh or blocks message
 * carries the highest number the worker had seen when it made it.
 */
export type ToMesher =
  /** The terrain seed for every chunk generated from now on. */
  | { type: "init"; seed: number }
  /** Generate these chunks (unless present) and mesh them, nearest `center` first. */
  | { type: "load"; chunks: ChunkCoords[]; center: ChunkPoint; seq: number }
  /** Re-order the queues around a new centre. */
  | { type: "center"; center: ChunkPoint }
  /** Forget these chunks; neighbours whose border they hid are remeshed. */
  | { type: "unload"; chunks: ChunkCoords[] }
  /** One block changed: remesh its chunk (and the neighbour it borders) before anything else. */
  | ({ type: "setBlock"; index: number; block: number; seq: number } & ChunkCoords)
  /** A chunk's blocks replaced wholesale (a downloaded snapshot): remesh it, and the neighbours it borders, first. */
  | ({ type: "setChunk"; blocks: Uint16Array; seq: number } & ChunkCoords);

export type FromMesher =
  /** A chunk the worker generated (a copy: each side keeps its own). */
  | ({ type: "blocks"; blocks: Uint16Array; seq: number } & ChunkCoords)
  | ({
      type: "mesh";
      mesh: ChunkMesh;
      seq: number;
      /** meshChunk's time for this mesh. */
      meshMs: number;
      /** Chunks still waiting in the worker: to generate, and to mesh. */
      generateQueue: number;
      meshQueue: number;
    } & ChunkCoords)
  | { type: "error"; message: string };

export function chunkKey(cx: number, cy: number, cz: number): string {
  return `${cx},${cy},${cz}`;
}
