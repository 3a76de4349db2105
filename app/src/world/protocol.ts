/** Messages between the world (main thread) and the mesher worker. Buffers are transferred, never copied. */
import type { ChunkMesh } from "./mesher.ts";

export type ChunkCoords = { cx: number; cy: number; cz: number };

export type ToMesher =
  /** Generate these chunks from the terrain seed, send their blocks back, then mesh them in the given order. */
  | { type: "generate"; seed: number; chunks: ChunkCoords[] }
  /** One block changed: remesh its chunk, and the neighbour it borders if it sits on the chunk's edge. */
  | ({ type: "setBlock"; index: number; block: number; seq: number } & ChunkCoords);

export type FromMesher =
  | ({ type: "blocks"; blocks: Uint16Array } & ChunkCoords)
  /** `seq` is the last setBlock the mesh includes (0 for the initial mesh). */
  | ({ type: "mesh"; mesh: ChunkMesh; seq: number } & ChunkCoords)
  | { type: "error"; message: string };

export function chunkKey(cx: number, cy: number, cz: number): string {
  return `${cx},${cy},${cz}`;
}
