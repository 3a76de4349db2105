import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateAtlas, TILE_SIZE, TILES, tileOf } from "../../app/src/world/atlas.ts";
import {
  type ChunkMesh,
  FACES,
  faceVisible,
  type MeshBuffers,
  meshChunk,
  meshTransferables,
  type NeighbourChunks,
  quadCount,
} from "../../app/src/world/mesher.ts";
import { MeshScheduler } from "../../app/src/world/meshScheduler.ts";
import { editTarget, raycastVoxels } from "../../app/src/world/picking.ts";
import type { ChunkCoords, FromMesher } from "../../app/src/world/protocol.ts";
import { BLOCK_IDS, BLOCKS } from "../../core/blocks.ts";
import { blockIndex, CHUNK_SIZE, CHUNK_VOLUME } from "../../core/chunk.ts";
import { generateChunk } from "../../core/terrain.ts";
import { prng } from "../helpers/prng.ts";

const S = CHUNK_SIZE;
const quads = (mesh: ChunkMesh) => quadCount(mesh.opaque) + quadCount(mesh.translucent);

/** Unit faces a mesh part covers, keyed "face:x,y,z" (the block the face belongs to), with the tile drawn there. */
function coveredFaces(part: MeshBuffers): Map<string, { count: number; tile: number }> {
  const covered = new Map<string, { count: number; tile: number }>();
  const { positions: p, normals: n, tiles } = part;
  for (let q = 0; q < quadCount(part); q++) {
    const a = q * 12;
    const normal = [n[a] as number, n[a + 1] as number, n[a + 2] as number];
    const face = FACES.findIndex((_, f) => normal[f >> 1] === (f & 1 ? -1 : 1));
    const axis = face >> 1;
    const lo = [0, 1, 2].map((c) => Math.min(p[a + c] as number, p[a + 6 + c] as number));
    const hi = [0, 1, 2].map((c) => Math.max(p[a + c] as number, p[a + 6 + c] as number));
    // The face's plane is the block's far side for +directions and its near side for −directions.
    if ((face & 1) === 0) lo[axis] = (lo[axis] as number) - 1;
    hi[axis] = (lo[axis] as number) + 1;
    for (let x = lo[0] as number; x < (hi[0] as number); x++)
      for (let y = lo[1] as number; y < (hi[1] as number); y++)
        for (let z = lo[2] as number; z < (hi[2] as number); z++) {
          const key = `${face}:${x},${y},${z}`;
          const entry = covered.get(key) ?? { count: 0, tile: tiles[q * 4] as number };
          entry.count++;
          covered.set(key, entry);
        }
  }
  return covered;
}

/** The naive reference: every visible unit face, one block at a time, with the same neighbour rules. */
function naiveFaces(blocks: Uint16Array, neighbours: NeighbourChunks, translucent: boolean): Map<string, number> {
  const faces = new Map<string, number>();
  const at = (x: number, y: number, z: number): number => {
    const inside = [x, y, z].every((c) => c >= 0 && c < S);
    if (inside) return blocks[blockIndex(x, y, z)] as number;
    const name = x >= S ? "px" : x < 0 ? "nx" : y >= S ? "py" : y < 0 ? "ny" : z >= S ? "pz" : "nz";
    const n = neighbours[name];
    if (n === "solid") return BLOCK_IDS.stone;
    return n ? (n[blockIndex((x + S) % S, (y + S) % S, (z + S) % S)] as number) : BLOCK_IDS.air;
  };
  const isTranslucent = (id: number) => id === BLOCK_IDS.water || id === BLOCK_IDS.glass;
  for (let y = 0; y < S; y++)
    for (let z = 0; z < S; z++)
      for (let x = 0; x < S; x++) {
        const self = at(x, y, z);
        if (isTranslucent(self) !== translucent) continue;
        FACES.forEach((_, f) => {
          const d = [0, 0, 0];
          d[f >> 1] = f & 1 ? -1 : 1;
          if (faceVisible(self, at(x + (d[0] as number), y + (d[1] as number), z + (d[2] as number))))
            faces.set(`${f}:${x},${y},${z}`, tileOf(self, f));
        });
      }
  return faces;
}

/** Asserts the mesh covers exactly the visible unit faces, each once, with the right tile. */
function assertCoversExactly(blocks: Uint16Array, neighbours: NeighbourChunks, label: string): ChunkMesh {
  const mesh = meshChunk(blocks, neighbours);
  for (const translucent of [false, true]) {
    const part = translucent ? mesh.translucent : mesh.opaque;
    const covered = coveredFaces(part);
    const expected = naiveFaces(blocks, neighbours, translucent);
    for (const [key, { count, tile }] of covered) {
      assert.equal(count, 1, `${label}: face ${key} drawn ${count} times`);
      assert.equal(tile, expected.get(key), `${label}: face ${key} has tile ${tile}, not ${expected.get(key)}`);
    }
    assert.equal(covered.size, expected.size, `${label}: ${covered.size} faces drawn, ${expected.size} visible`);
    // Per direction: the quads' areas add up to the visible faces.
    for (let f = 0; f < 6; f++) {
      const drawn = [...covered.keys()].filter((key) => key.startsWith(`${f}:`)).length;
      const visible = [...expected.keys()].filter((key) => key.startsWith(`${f}:`)).length;
      assert.equal(drawn, visible, `${label}: direction ${FACES[f]}`);
    }
  }
  return mesh;
}

function randomChunk(seed: number, airShare: number): Uint16Array {
  const random = prng(seed);
  const blocks = new Uint16Array(CHUNK_VOLUME);
  for (let i = 0; i < CHUNK_VOLUME; i++)
    blocks[i] = random() < airShare ? BLOCK_IDS.air : 1 + Math.floor(random() * (BLOCKS.length - 1));
  return blocks;
}

describe("app: greedy meshing", () => {
  it("draws the six faces of a lone block and merges two neighbours into six quads", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    blocks[blockIndex(5, 5, 5)] = BLOCK_IDS.stone;
    assert.equal(quads(meshChunk(blocks, {})), 6);
    blocks[blockIndex(6, 5, 5)] = BLOCK_IDS.stone;
    const mesh = assertCoversExactly(blocks, {}, "two blocks");
    assert.equal(quads(mesh), 6);
  });

  it("meshes a flat 32×32 slab of one block as one top quad and one bottom quad", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    for (let z = 0; z < S; z++) for (let x = 0; x < S; x++) blocks[blockIndex(x, 4, z)] = BLOCK_IDS.stone;
    const solid = "solid" as const;
    const mesh = meshChunk(blocks, { px: solid, nx: solid, pz: solid, nz: solid });
    assert.equal(quadCount(mesh.opaque), 2);
    const normalsY = [mesh.opaque.normals[1], mesh.opaque.normals[13]].sort();
    assert.deepEqual(normalsY, [-1, 1]);
    // Without neighbours the four side walls show too, one quad each.
    assert.equal(quads(meshChunk(blocks, {})), 6);
  });

  it("does not merge a checkerboard, nor two different blocks", () => {
    const checker = new Uint16Array(CHUNK_VOLUME);
    for (let z = 0; z < S; z++) for (let x = 0; x < S; x++) if ((x + z) % 2 === 0) checker[blockIndex(x, 0, z)] = 1;
    const mesh = assertCoversExactly(checker, { ny: "solid" }, "checkerboard");
    assert.equal(quads(mesh), 512 * 5);

    const pair = new Uint16Array(CHUNK_VOLUME);
    pair[blockIndex(3, 3, 3)] = BLOCK_IDS.stone;
    pair[blockIndex(4, 3, 3)] = BLOCK_IDS.brick;
    assert.equal(quads(assertCoversExactly(pair, {}, "stone and brick")), 10);
  });

  it("culls border faces against the neighbours: air shows them, blocks and 'solid' hide them", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    for (let y = 0; y < S; y++) for (let z = 0; z < S; z++) blocks[blockIndex(S - 1, y, z)] = BLOCK_IDS.dirt;
    const faceOf = (mesh: ChunkMesh, face: number) =>
      [...coveredFaces(mesh.opaque).keys()].filter((key) => key.startsWith(`${face}:`)).length;
    assert.equal(faceOf(meshChunk(blocks, {}), 0), 1024);
    const wall = new Uint16Array(CHUNK_VOLUME).fill(BLOCK_IDS.stone);
    assert.equal(faceOf(meshChunk(blocks, { px: wall }), 0), 0);
    assert.equal(faceOf(meshChunk(blocks, { px: "solid" }), 0), 0);
    // A neighbour with a hole at (0, 7, 9) shows exactly that face.
    wall[blockIndex(0, 7, 9)] = BLOCK_IDS.air;
    assert.equal(faceOf(meshChunk(blocks, { px: wall }), 0), 1);
    // Water next door is see-through: the dirt's faces behind it are drawn.
    assert.equal(faceOf(meshChunk(blocks, { px: new Uint16Array(CHUNK_VOLUME).fill(BLOCK_IDS.water) }), 0), 1024);
    assertCoversExactly(blocks, { px: wall, py: "solid" }, "border");
  });

  it("puts water and glass in the translucent pass and hides water between water", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    blocks[blockIndex(0, 0, 0)] = BLOCK_IDS.water;
    const mesh = meshChunk(blocks, { nx: "solid", ny: "solid", nz: "solid" });
    assert.equal(quadCount(mesh.opaque), 0);
    assert.equal(quadCount(mesh.translucent), 3);

    const pool = new Uint16Array(CHUNK_VOLUME);
    for (let z = 0; z < 4; z++) for (let x = 0; x < 4; x++) pool[blockIndex(x + 8, 8, z + 8)] = BLOCK_IDS.water;
    pool[blockIndex(7, 8, 8)] = BLOCK_IDS.glass;
    pool[blockIndex(12, 8, 8)] = BLOCK_IDS.stone;
    const both = assertCoversExactly(pool, {}, "pool");
    // Water: 1 top, 1 bottom, 4 sides split by nothing = 6; glass: 6 (its face to the water shows); stone: 6.
    assert.equal(quadCount(both.translucent), 12);
    assert.equal(quadCount(both.opaque), 6);
  });

  it("covers exactly the visible faces of random and generated chunks (property check)", () => {
    for (const seed of [1, 2, 3]) {
      const blocks = randomChunk(seed, [0.3, 0.6, 0.9][seed - 1] as number);
      const neighbours: NeighbourChunks = {
        px: randomChunk(seed + 10, 0.5),
        ny: "solid",
        pz: randomChunk(seed + 20, 0.8),
      };
      assertCoversExactly(blocks, neighbours, `random chunk ${seed}`);
    }
    for (const [seed, cy] of [
      [7, 0],
      [99, -1],
    ] as const) {
      const g = (cx: number, y: number, cz: number) => generateChunk(seed, cx, y, cz);
      const mesh = assertCoversExactly(
        g(0, cy, 0),
        { px: g(1, cy, 0), nx: g(-1, cy, 0), py: g(0, cy + 1, 0), ny: g(0, cy - 1, 0), pz: g(0, cy, 1) },
        `terrain ${seed}/${cy}`,
      );
      assert.ok(quads(mesh) > 0);
    }
  });

  it("winds every quad counter-clockwise seen from outside (its normal)", () => {
    const blocks = randomChunk(5, 0.7);
    const { positions: p, normals: n, indices } = meshChunk(blocks, {}).opaque;
    for (let t = 0; t < indices.length; t += 3) {
      const [a, b, c] = [indices[t], indices[t + 1], indices[t + 2]].map((i) => (i as number) * 3) as [
        number,
        number,
        number,
      ];
      const e1 = [0, 1, 2].map((k) => (p[b + k] as number) - (p[a + k] as number));
      const e2 = [0, 1, 2].map((k) => (p[c + k] as number) - (p[a + k] as number));
      const cross = [
        (e1[1] as number) * (e2[2] as number) - (e1[2] as number) * (e2[1] as number),
        (e1[2] as number) * (e2[0] as number) - (e1[0] as number) * (e2[2] as number),
        (e1[0] as number) * (e2[1] as number) - (e1[1] as number) * (e2[0] as number),
      ];
      const dot = cross.reduce((sum, value, k) => sum + value * (n[a + k] as number), 0);
      assert.ok(dot > 0, `triangle ${t / 3} faces away from its normal`);
    }
  });

  it("gives a merged quad uvs in blocks (its tile repeats) and sizes buffers exactly, so each is transferred whole", () => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    for (let z = 0; z < 5; z++) for (let x = 0; x < 3; x++) blocks[blockIndex(x, 0, z)] = BLOCK_IDS.grass;
    const mesh = meshChunk(blocks, { ny: "solid" });
    const top = [...Array(quadCount(mesh.opaque)).keys()].find((q) => mesh.opaque.normals[q * 12 + 1] === 1);
    assert.ok(top !== undefined);
    const us = [0, 1, 2, 3].map((k) => mesh.opaque.uvs[(top * 4 + k) * 2] as number);
    const vs = [0, 1, 2, 3].map((k) => mesh.opaque.uvs[(top * 4 + k) * 2 + 1] as number);
    assert.equal(Math.max(...us) - Math.min(...us), 3);
    assert.equal(Math.max(...vs) - Math.min(...vs), 5);
    assert.equal(mesh.opaque.tiles[top * 4], TILES.indexOf("grass_top"));
    assert.ok(mesh.opaque.indices instanceof Uint16Array);

    const transferables = meshTransferables(mesh);
    assert.equal(new Set(transferables).size, 10);
    for (const part of [mesh.opaque, mesh.translucent])
      for (const array of [part.positions, part.normals, part.uvs, part.tiles, part.indices])
        assert.equal(array.byteLength, array.buffer.byteLength);
    // A second mesh does not alias the first (the scratch buffers are copied out).
    const before = mesh.opaque.positions.slice();
    meshChunk(randomChunk(9, 0.5), {});
    assert.deepEqual(mesh.opaque.positions, before);
  });

  it("switches to 32-bit indices when the vertices outgrow 16 bits, and rejects a chunk of the wrong size", () => {
    const checker = new Uint16Array(CHUNK_VOLUME);
    for (let y = 0; y < S; y++)
      for (let z = 0; z < S; z++)
        for (let x = 0; x < S; x++) if ((x + y + z) % 2 === 0) checker[blockIndex(x, y, z)] = BLOCK_IDS.stone;
    const mesh = meshChunk(checker, {});
    assert.equal(quadCount(mesh.opaque), 16384 * 6);
    assert.ok(mesh.opaque.indices instanceof Uint32Array);
    assert.throws(() => meshChunk(new Uint16Array(10), {}), RangeError);
    assert.throws(() => meshChunk(checker, { px: new Uint16Array(10) }), RangeError);
  });
});

describe("app: block atlas", () => {
  it("paints the same pixels every time, one opaque 16×16 tile per layer", () => {
    const a = generateAtlas();
    const b = generateAtlas();
    assert.deepEqual(a.pixels, b.pixels);
    assert.equal(a.tileSize, TILE_SIZE);
    assert.equal(a.pixels.length, TILES.length * TILE_SIZE * TILE_SIZE * 4);
    const layer = TILE_SIZE * TILE_SIZE * 4;
    for (const name of ["stone", "dirt", "grass_top", "grass_side", "brick"] as const) {
      const t = TILES.indexOf(name);
      for (let i = 3; i < layer; i += 4) assert.equal(a.pixels[t * layer + i], 255, `${name} is opaque`);
    }
    const glass = TILES.indexOf("glass");
    assert.ok((a.pixels[glass * layer + (8 * TILE_SIZE + 8) * 4 + 3] as number) < 128, "glass is see-through");
  });

  it("gives grass a top, a side and a dirt bottom, and tiles differ from each other", () => {
    const grass = BLOCK_IDS.grass;
    const [px, , py, ny] = [0, 1, 2, 3].map((f) => tileOf(grass, f));
    assert.equal(py, TILES.indexOf("grass_top"));
    assert.equal(px, TILES.indexOf("grass_side"));
    assert.equal(ny, TILES.indexOf("dirt"));
    const { pixels } = generateAtlas();
    const layer = TILE_SIZE * TILE_SIZE * 4;
    const tile = (t: number) => pixels.subarray(t * layer, (t + 1) * layer);
    assert.notDeepEqual(tile(py as number), tile(px as number));
    for (let t = 1; t < TILES.length; t++) assert.notDeepEqual(tile(t), tile(t - 1), `${TILES[t]} ≠ ${TILES[t - 1]}`);
    // The side's top row is grass green, its bottom row dirt brown.
    const side = tile(px as number);
    const topRow = (TILE_SIZE - 1) * TILE_SIZE * 4;
    assert.ok((side[topRow + 1] as number) > (side[topRow] as number), "top row is green");
    assert.ok((side[0] as number) > (side[2] as number), "bottom row is brown");
  });
});

describe("app: mesher worker's queue", () => {
  /** Chunks with a stone floor four blocks deep, except column cx = −1 and layer cy = 1, which are all air. */
  const floor = (_seed: number, cx: number, cy: number) => {
    const blocks = new Uint16Array(CHUNK_VOLUME);
    if (cx !== -1 && cy !== 1) blocks.fill(BLOCK_IDS.stone, 0, 4 * S * S);
    return blocks;
  };
  const setup = () => {
    const posted: FromMesher[] = [];
    const scheduler = new MeshScheduler({ post: (message) => posted.push(message), generate: floor });
    scheduler.handle({ type: "init", seed: 1 });
    const drain = () => {
      while (scheduler.step());
      return posted.splice(0);
    };
    return { scheduler, posted, drain };
  };
  const area = (radius: number): ChunkCoords[] => {
    const list: ChunkCoords[] = [];
    for (let cz = -radius; cz <= radius; cz++) for (let cx = -radius; cx <= radius; cx++) list.push({ cx, cy: 0, cz });
    return list;
  };
  const meshes = (messages: FromMesher[]) =>
    messages.flatMap((m) => (m.type === "mesh" ? [`${m.cx},${m.cy},${m.cz}`] : []));

  it("generates and meshes nearest first, each chunk once, after its neighbours exist", () => {
    const { scheduler, drain } = setup();
    // Listed far first: the order must come from the distance, not the list.
    scheduler.handle({ type: "load", chunks: area(2).reverse(), center: [0.5, 0.5, 0.5], seq: 1 });
    const messages = drain();
    const generated = messages.flatMap((m) => (m.type === "blocks" ? [Math.hypot(m.cx, m.cz)] : []));
    assert.equal(generated.length, 25);
    assert.deepEqual(
      generated,
      [...generated].sort((a, b) => a - b),
    );
    const meshed = meshes(messages);
    assert.equal(meshed.length, 25);
    assert.equal(new Set(meshed).size, 25);
    assert.equal(meshed[0], "0,0,0");
  });

  it("lets an edit jump the queue and carries its seq", () => {
    const { scheduler, posted, drain } = setup();
    scheduler.handle({ type: "load", chunks: area(3), center: [0.5, 0.5, 0.5], seq: 1 });
    while (meshes(posted).length === 0) scheduler.step();
    posted.splice(0);
    assert.ok(scheduler.generateQueue > 0, "a backlog is left");
    scheduler.handle({ type: "setBlock", cx: 0, cy: 0, cz: 0, index: blockIndex(5, 3, 5), block: 0, seq: 2 });
    scheduler.step();
    const [first] = posted;
    assert.equal(first?.type, "mesh");
    assert.ok(first?.type === "mesh" && first.cx === 0 && first.cz === 0 && first.seq === 2);
    drain();
  });

  it("remeshes a meshed neighbour when a chunk arrives or leaves, only if the shared border changed", () => {
    const { scheduler, drain } = setup();
    const center = [0.5, 0.5, 0.5] as const;
    scheduler.handle({ type: "load", chunks: [{ cx: 0, cy: 0, cz: 0 }], center, seq: 1 });
    assert.deepEqual(meshes(drain()), ["0,0,0"]);
    // Stone beside it hides its +x wall: remeshed.
    scheduler.handle({ type: "load", chunks: [{ cx: 1, cy: 0, cz: 0 }], center, seq: 2 });
    assert.deepEqual(meshes(drain()).sort(), ["0,0,0", "1,0,0"]);
    // Air beside it changes nothing it drew: not remeshed.
    scheduler.handle({ type: "load", chunks: [{ cx: -1, cy: 0, cz: 0 }], center, seq: 3 });
    assert.deepEqual(meshes(drain()), ["-1,0,0"]);
    // An all-air chunk above: the floor's top faces were air-facing already.
    scheduler.handle({ type: "load", chunks: [{ cx: 0, cy: 1, cz: 0 }], center, seq: 4 });
    assert.deepEqual(meshes(drain()), ["0,1,0"]);
    // Unloading the stone neighbour brings the wall back.
    scheduler.handle({ type: "unload", chunks: [{ cx: 1, cy: 0, cz: 0 }] });
    assert.deepEqual(meshes(drain()), ["0,0,0"]);
    // A snapshot replacing a chunk is meshed at once, with its changed neighbours.
    const snapshot = new Uint16Array(CHUNK_VOLUME).fill(BLOCK_IDS.brick);
    scheduler.handle({ type: "setChunk", cx: -1, cy: 0, cz: 0, blocks: snapshot, seq: 5 });
    const after = drain();
    assert.deepEqual(meshes(after), ["-1,0,0", "0,0,0"]);
    assert.ok(after.every((m) => m.type !== "mesh" || m.seq === 5));
  });
});

describe("app: picking", () => {
  const ground = (_x: number, y: number, _z: number) => y <= 0;

  it("finds the first solid block along a ray and the face it entered", () => {
    const hit = raycastVoxels([0.5, 10.5, 0.5], [0, -1, 0], 64, ground);
    assert.deepEqual(hit?.block, [0, 0, 0]);
    assert.deepEqual(hit?.normal, [0, 1, 0]);
    assert.ok(hit);
    assert.deepEqual(editTarget(hit, "place"), [0, 1, 0]);
    assert.deepEqual(editTarget(hit, "break"), [0, 0, 0]);
  });

  it("gives up beyond the reach and on a degenerate direction", () => {
    assert.equal(raycastVoxels([0.5, 100.5, 0.5], [0, -1, 0], 10, ground), undefined);
    assert.equal(raycastVoxels([0.5, 10.5, 0.5], [0, 0, 0], 64, ground), undefined);
  });
});
