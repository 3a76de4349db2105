/**
 * The mesher worker: generates terrain chunks, keeps a mirror of their blocks, and meshes them, so the render
 * loop never waits for either. The main thread owns the authoritative copy and sends every change here.
 */
import { CHUNK_SIZE, localOf } from "../../../core/chunk.ts";
import { generateChunk } from "../../../core/terrain.ts";
import { meshChunk, meshTransferables, type NeighbourChunks } from "./mesher.ts";
import { type ChunkCoords, chunkKey, type FromMesher, type ToMesher } from "./protocol.ts";

const chunks = new Map<string, Uint16Array>();

function post(message: FromMesher, transfer: Transferable[] = []): void {
  self.postMessage(message, { transfer });
}

function neighboursOf({ cx, cy, cz }: ChunkCoords): NeighbourChunks {
  const get = (x: number, y: number, z: number) => chunks.get(chunkKey(x, y, z));
  return {
    px: get(cx + 1, cy, cz),
    nx: get(cx - 1, cy, cz),
    py: get(cx, cy + 1, cz),
    // Nobody looks at the loaded world from below: its underside needs no faces.
    ny: get(cx, cy - 1, cz) ?? "solid",
    pz: get(cx, cy, cz + 1),
    nz: get(cx, cy, cz - 1),
  };
}

function remesh(coords: ChunkCoords, seq: number): void {
  const blocks = chunks.get(chunkKey(coords.cx, coords.cy, coords.cz));
  if (!blocks) return;
  const mesh = meshChunk(blocks, neighboursOf(coords));
  post({ type: "mesh", ...coords, mesh, seq }, meshTransferables(mesh));
}

function handle(message: ToMesher): void {
  switch (message.type) {
    case "generate": {
      for (const { cx, cy, cz } of message.chunks) {
        const blocks = generateChunk(message.seed, cx, cy, cz);
        chunks.set(chunkKey(cx, cy, cz), blocks);
        const copy = blocks.slice();
        post({ type: "blocks", cx, cy, cz, blocks: copy }, [copy.buffer]);
      }
      // Meshing needs the neighbours, so it starts once every chunk exists.
      for (const coords of message.chunks) remesh(coords, 0);
      return;
    }
    case "setBlock": {
      const { cx, cy, cz, index, block, seq } = message;
      const blocks = chunks.get(chunkKey(cx, cy, cz));
      if (!blocks) return;
      blocks[index] = block;
      remesh({ cx, cy, cz }, seq);
      const { x, y, z } = localOf(index);
      const last = CHUNK_SIZE - 1;
      if (x === 0) remesh({ cx: cx - 1, cy, cz }, seq);
      if (x === last) remesh({ cx: cx + 1, cy, cz }, seq);
      if (y === 0) remesh({ cx, cy: cy - 1, cz }, seq);
      if (y === last) remesh({ cx, cy: cy + 1, cz }, seq);
      if (z === 0) remesh({ cx, cy, cz: cz - 1 }, seq);
      if (z === last) remesh({ cx, cy, cz: cz + 1 }, seq);
      return;
    }
  }
}

self.addEventListener("message", (event: MessageEvent<ToMesher>) => {
  try {
    handle(event.data);
  } catch (error) {
    post({ type: "error", message: error instanceof Error ? error.message : String(error) });
  }
});
