/**
 * bench:mesh — greedy meshing of generated terrain chunks (app/src/world/mesher.ts), as the mesher worker runs it:
 * each chunk with its six neighbours. Also times terrain generation, the worker's other job.
 * Usage: node bench/mesh.ts   Last line: one JSON object. Import `benchMeshing` to run it from another bench.
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import { meshBytes, meshChunk, type NeighbourChunks, quadCount } from "../app/src/world/mesher.ts";
import { CHUNK_SIZE } from "../core/chunk.ts";
import { generateChunk } from "../core/terrain.ts";

export type MeshBenchOptions = {
  /** Terrain seeds; each gives its own area. */
  seeds?: number[];
  /** Columns cx, cz in −radius..radius around the origin. */
  radius?: number;
  /** Chunk layers cy, inclusive. */
  yMin?: number;
  yMax?: number;
  /** Timed meshChunk calls (at least one pass over every chunk). */
  calls?: number;
};

export type MeshBenchResult = {
  mesh_chunk_p50_ms: number;
  mesh_chunk_p99_ms: number;
  mesh_chunk_mean_ms: number;
  mesh_chunk_max_ms: number;
  generate_chunk_p50_ms: number;
  chunks: number;
  calls: number;
  quads_per_chunk: number;
  unit_faces_per_chunk: number;
  merge_ratio: number;
  mesh_bytes_per_chunk: number;
  statistic: string;
  measured: string;
  machine: { cores: number; cpu: string; node: string };
};

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

/** Visible unit faces of a chunk, one block at a time: what greedy meshing merges. */
function unitFaces(blocks: Uint16Array, mesh: ReturnType<typeof meshChunk>): number {
  // Counted from the mesh itself: the sum of quad areas (positions are in blocks).
  let faces = 0;
  for (const part of [mesh.opaque, mesh.translucent]) {
    const p = part.positions;
    for (let q = 0; q < quadCount(part); q++) {
      const a = q * 12;
      const dx = Math.abs((p[a + 6] as number) - (p[a] as number));
      const dy = Math.abs((p[a + 7] as number) - (p[a + 1] as number));
      const dz = Math.abs((p[a + 8] as number) - (p[a + 2] as number));
      faces += (dx || 1) * (dy || 1) * (dz || 1);
    }
  }
  void blocks;
  return faces;
}

export async function benchMeshing(options: MeshBenchOptions = {}): Promise<MeshBenchResult> {
  const seeds = options.seeds ?? [1234, 42, 0x5eed];
  const radius = options.radius ?? 2;
  const yMin = options.yMin ?? -1;
  const yMax = options.yMax ?? 1;

  // Every chunk of the area and its ring of neighbours, generated once (and timed: the worker's other job).
  const generateMs: number[] = [];
  const jobs: { blocks: Uint16Array; neighbours: NeighbourChunks }[] = [];
  for (const seed of seeds) {
    const area = new Map<string, Uint16Array>();
    const chunk = (cx: number, cy: number, cz: number) => {
      const key = `${cx},${cy},${cz}`;
      let blocks = area.get(key);
      if (!blocks) {
        const started = performance.now();
        blocks = generateChunk(seed, cx, cy, cz);
        generateMs.push(performance.now() - started);
        area.set(key, blocks);
      }
      return blocks;
    };
    for (let cy = yMin; cy <= yMax; cy++)
      for (let cz = -radius; cz <= radius; cz++)
        for (let cx = -radius; cx <= radius; cx++)
          jobs.push({
            blocks: chunk(cx, cy, cz),
            neighbours: {
              px: chunk(cx + 1, cy, cz),
              nx: chunk(cx - 1, cy, cz),
              py: chunk(cx, cy + 1, cz),
              ny: chunk(cx, cy - 1, cz),
              pz: chunk(cx, cy, cz + 1),
              nz: chunk(cx, cy, cz - 1),
            },
          });
  }
  const calls = Math.max(options.calls ?? 600, jobs.length);

  // Warm-up: every chunk twice, so the JIT has seen every shape of the work.
  let quads = 0;
  let faces = 0;
  let bytes = 0;
  for (let pass = 0; pass < 2; pass++)
    for (const { blocks, neighbours } of jobs) {
      const mesh = meshChunk(blocks, neighbours);
      if (pass === 0) {
        quads += quadCount(mesh.opaque) + quadCount(mesh.translucent);
        faces += unitFaces(blocks, mesh);
        bytes += meshBytes(mesh);
      }
    }

  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const { blocks, neighbours } = jobs[i % jobs.length] as (typeof jobs)[number];
    const started = performance.now();
    meshChunk(blocks, neighbours);
    times.push(performance.now() - started);
    // Let the event loop breathe now and then, as the worker does between slices.
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  times.sort((a, b) => a - b);
  generateMs.sort((a, b) => a - b);
  const round = (value: number, digits = 3) => Number(value.toFixed(digits));
  return {
    mesh_chunk_p50_ms: round(quantile(times, 0.5)),
    mesh_chunk_p99_ms: round(quantile(times, 0.99)),
    mesh_chunk_mean_ms: round(times.reduce((sum, t) => sum + t, 0) / times.length),
    mesh_chunk_max_ms: round(times[times.length - 1] as number),
    generate_chunk_p50_ms: round(quantile(generateMs, 0.5)),
    chunks: jobs.length,
    calls,
    quads_per_chunk: round(quads / jobs.length, 1),
    unit_faces_per_chunk: round(faces / jobs.length, 1),
    merge_ratio: round(faces / Math.max(1, quads), 2),
    mesh_bytes_per_chunk: Math.round(bytes / jobs.length),
    statistic: "quantiles of single meshChunk calls",
    measured: `meshChunk (both passes, buffers copied out) on generated terrain chunks, seeds ${seeds.join("/")}, cx,cz in ±${radius}, cy ${yMin}..${yMax} (${CHUNK_SIZE}³), each with its six generated neighbours; 2 warm-up passes, then ${calls} timed calls round-robin; generate = generateChunk of the area and its neighbours, cold`,
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", node: process.version },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await benchMeshing()));
