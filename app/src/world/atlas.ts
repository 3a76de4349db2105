/**
 * The block texture atlas: one 16×16 px tile per block face kind, painted at start-up by deterministic code from
 * each block's colour in the registry. Pure pixels (RGBA, sRGB) and a face → tile table, so Node can test it;
 * World wraps the pixels in a three.js texture.
 */
import { ASSET_TILES } from "../../../core/assets.ts";
import { AIR, BLOCKS } from "../../../core/blocks.ts";

export const TILE_SIZE = 16;

/** The face order meshes and the tile table use: +x, −x, +y, −y, +z, −z. */
export const FACES = ["px", "nx", "py", "ny", "pz", "nz"] as const;
export type FaceName = (typeof FACES)[number];

/** The atlas layers, in order: the same list asset packs paint (core/assets.ts), so a pack's tiles fit the meshes. */
export const TILES = ASSET_TILES;
export type TileName = (typeof TILES)[number];

type FaceTiles = { top: TileName; side: TileName; bottom: TileName };
const same = (tile: TileName): FaceTiles => ({ top: tile, side: tile, bottom: tile });

/** Which tile each block shows on its top, sides and bottom, by block name. */
const BLOCK_TILES: Record<string, FaceTiles> = {
  stone: same("stone"),
  dirt: same("dirt"),
  grass: { top: "grass_top", side: "grass_side", bottom: "dirt" },
  sand: same("sand"),
  water: same("water"),
  wood: { top: "wood_top", side: "wood_side", bottom: "wood_top" },
  leaves: same("leaves"),
  glass: same("glass"),
  brick: same("brick"),
  gold: same("gold"),
};

const tileNumber = (name: TileName): number => TILES.indexOf(name);

/** Tile of (block id, face index in FACES) at `block * 6 + face`; unknown blocks show stone. */
export const TILE_OF: Uint8Array = (() => {
  const table = new Uint8Array(BLOCKS.length * FACES.length);
  for (const block of BLOCKS) {
    if (block.id === AIR) continue;
    const tiles = BLOCK_TILES[block.name] ?? same("stone");
    FACES.forEach((face, f) => {
      const tile = face === "py" ? tiles.top : face === "ny" ? tiles.bottom : tiles.side;
      table[block.id * FACES.length + f] = tileNumber(tile);
    });
  }
  return table;
})();

export function tileOf(block: number, face: number): number {
  return TILE_OF[block * FACES.length + face] ?? 0;
}

export type Atlas = {
  tileSize: number;
  /** Tile names in layer order (layer i is TILES[i]). */
  tiles: readonly TileName[];
  /** RGBA, sRGB, layer after layer; each layer's row 0 is the tile's bottom (v = 0), so side tiles stand upright. */
  pixels: Uint8Array;
};

/** A 32-bit hash of a tile and pixel, so every run paints the same pixels. */
function hash(tile: number, x: number, y: number, salt = 0): number {
  let h = Math.imul(tile + 1, 0x9e3779b1) ^ Math.imul(x + 1, 0x27d4eb2d) ^ Math.imul(y + 1, 0x165667b1) ^ salt;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
}

/** Smooth noise on a lattice of `cells` per tile side, wrapped so the tile repeats without a seam. */
function tileNoise(tile: number, x: number, y: number, cells: number, salt: number): number {
  const step = TILE_SIZE / cells;
  const gx = x / step;
  const gy = y / step;
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  const tx = gx - x0;
  const ty = gy - y0;
  const at = (i: number, j: number) => hash(tile, i % cells, j % cells, salt);
  const smooth = (t: number) => t * t * (3 - 2 * t);
  const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * smooth(tx);
  const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * smooth(tx);
  return top + (bottom - top) * smooth(ty);
}

type Rgba = [number, number, number, number];

const rgbOf = (name: string): [number, number, number] => {
  const color = BLOCKS.find((block) => block.name === name)?.color ?? 0xff00ff;
  return [(color >> 16) & 0xff, (color >> 8) & 0xff, color & 0xff];
};

const shade = ([r, g, b]: readonly number[], k: number, alpha = 255): Rgba => [
  (r as number) * k,
  (g as number) * k,
  (b as number) * k,
  alpha,
];

const mix = (a: readonly number[], b: readonly number[], t: number): [number, number, number] => [
  (a[0] as number) + ((b[0] as number) - (a[0] as number)) * t,
  (a[1] as number) + ((b[1] as number) - (a[1] as number)) * t,
  (a[2] as number) + ((b[2] as number) - (a[2] as number)) * t,
];

/** The colour of pixel (x, y) of a tile; y grows upwards. */
function paint(name: TileName, t: number, x: number, y: number): Rgba {
  const grain = hash(t, x, y);
  switch (name) {
    case "stone": {
      const k = 0.8 + 0.22 * tileNoise(t, x, y, 4, 1) + 0.1 * (grain - 0.5);
      return shade(rgbOf("stone"), grain < 0.05 ? k * 0.78 : k);
    }
    case "dirt": {
      if (grain > 0.94) return shade(mix(rgbOf("dirt"), rgbOf("stone"), 0.6), 1);
      return shade(rgbOf("dirt"), 0.82 + 0.26 * hash(t, x, y, 7) + 0.08 * tileNoise(t, x, y, 4, 2));
    }
    case "grass_top":
      return shade(rgbOf("grass"), 0.8 + 0.2 * grain + 0.14 * tileNoise(t, x, y, 4, 3));
    case "grass_side": {
      // A green fringe along the top edge with a ragged lower border, dirt below.
      const fringe = TILE_SIZE - 3 - Math.floor(hash(t, x, 0, 11) * 3);
      if (y >= fringe) return shade(rgbOf("grass"), 0.8 + 0.2 * grain);
      return paint("dirt", tileNumber("dirt"), x, y);
    }
    case "sand":
      return shade(rgbOf("sand"), 0.9 + 0.12 * grain + 0.05 * tileNoise(t, x, y, 4, 4));
    case "water": {
      const wave = Math.sin(((x + 3 * Math.floor(y / 4)) / TILE_SIZE) * Math.PI * 4) * 0.5 + 0.5;
      return shade(rgbOf("water"), 0.86 + 0.12 * wave + 0.04 * grain, 175);
    }
    case "wood_side": {
      const streak = hash(t, x, 0, 5);
      return shade(rgbOf("wood"), 0.72 + 0.22 * streak + 0.08 * grain);
    }
    case "wood_top": {
      const ring = Math.floor(Math.hypot(x - 7.5, y - 7.5) + 0.4 * tileNoise(t, x, y, 4, 6));
      const edge = x === 0 || y === 0 || x === TILE_SIZE - 1 || y === TILE_SIZE - 1;
      return shade(rgbOf("wood"), edge ? 0.7 : ring % 2 === 0 ? 1.08 : 0.9);
    }
    case "leaves":
      return shade(rgbOf("leaves"), grain < 0.14 ? 0.5 : 0.78 + 0.3 * hash(t, x, y, 9));
    case "glass": {
      const frame = x === 0 || y === 0 || x === TILE_SIZE - 1 || y === TILE_SIZE - 1;
      const glint = (x - y === 5 || x - y === 6) && x > 7;
      return shade(rgbOf("glass"), frame ? 0.85 : 1, frame ? 230 : glint ? 140 : 45);
    }
    case "brick": {
      // Bricks of 8×4 px, every other course offset by half a brick.
      const course = Math.floor(y / 4);
      const mortar = y % 4 === 3 || (x + (course % 2) * 4) % 8 === 7;
      if (mortar) return shade([196, 188, 172], 0.9 + 0.1 * grain);
      return shade(
        rgbOf("brick"),
        0.85 + 0.15 * hash(t, Math.floor((x + (course % 2) * 4) / 8), course) + 0.06 * grain,
      );
    }
    case "gold": {
      const sheen = (x + y) % 7 === 0 ? 1.18 : 1;
      return shade(rgbOf("gold"), (0.88 + 0.12 * tileNoise(t, x, y, 2, 8)) * sheen);
    }
  }
}

/** Paints every tile. Deterministic: the same bytes on every call and every machine. */
export function generateAtlas(): Atlas {
  const layer = TILE_SIZE * TILE_SIZE * 4;
  const pixels = new Uint8Array(TILES.length * layer);
  TILES.forEach((name, t) => {
    for (let y = 0; y < TILE_SIZE; y++)
      for (let x = 0; x < TILE_SIZE; x++) {
        const o = t * layer + (y * TILE_SIZE + x) * 4;
        const rgba = paint(name, t, x, y);
        for (let c = 0; c < 4; c++) pixels[o + c] = Math.max(0, Math.min(255, Math.round(rgba[c] as number)));
      }
  });
  return { tileSize: TILE_SIZE, tiles: TILES, pixels };
}
