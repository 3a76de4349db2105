/**
 * Asset packs: the textures, block models and sounds the app draws and plays, as one binary file that
 * travels as a torrent and is pinned by its keccak256 hash. The layout is
 *
 *   "SCAP" | version (u32 BE) | header length (u32 BE) | header (UTF-8 JSON) | payloads
 *
 * The header names the pack and lists its entries (kind, name, offset and length into the payloads,
 * and what the kind needs: a texture's size, a sound's sample rate). Payloads follow one another in
 * entry order with no gaps, so one pack has one encoding. `generateAssetPack()` paints and synthesizes
 * the project's own pack from code: the same bytes on every run.
 */
import { bytesToHex, encodeAbiParameters, type Hex, keccak256 } from "viem";
import { BLOCKS } from "./blocks.ts";
import { SeedcraftError } from "./errors.ts";
import { type FileTorrent, fileTorrent } from "./torrent.ts";

export const ASSET_PACK_MAGIC = "SCAP";
export const ASSET_PACK_VERSION = 1;
/** The most bytes a pack may have: a download the app waits for before it switches over. */
export const MAX_ASSET_PACK_BYTES = 8 * 1024 * 1024;
export const MAX_ASSET_HEADER_BYTES = 64 * 1024;
export const MAX_ASSET_ENTRIES = 256;
export const MAX_TEXTURE_SIDE = 256;
const PREAMBLE_BYTES = 12;

/** The tiles a pack paints, which are the app's atlas layers in order (app/src/world/atlas.ts uses this list). */
export const ASSET_TILES = [
  "stone",
  "dirt",
  "grass_top",
  "grass_side",
  "sand",
  "water",
  "wood_side",
  "wood_top",
  "leaves",
  "glass",
  "brick",
  "gold",
] as const;
export type AssetTileName = (typeof ASSET_TILES)[number];

export const BLOCK_SHAPES = ["cube"] as const;
export type BlockShape = (typeof BLOCK_SHAPES)[number];

/** An RGBA (sRGB) tile; row 0 is the tile's bottom, as the app's atlas lays layers out. */
export type TextureAsset = { name: string; width: number; height: number; pixels: Uint8Array };
/** How a block is drawn: its shape and the tile on its top, sides and bottom. */
export type BlockModel = { block: string; shape: BlockShape; top: string; side: string; bottom: string };
/** 16-bit signed PCM, mono. */
export type SoundAsset = { name: string; sampleRate: number; samples: Int16Array };

export type AssetPack = {
  name: string;
  textures: TextureAsset[];
  models: BlockModel[];
  sounds: SoundAsset[];
};

export type AssetPackErrorCode =
  | "ASSET_PACK_TOO_LARGE"
  | "ASSET_PACK_TRUNCATED"
  | "ASSET_PACK_BAD_MAGIC"
  | "ASSET_PACK_BAD_VERSION"
  | "ASSET_PACK_BAD_HEADER"
  | "ASSET_PACK_BAD_ENTRY"
  | "ASSET_PACK_DUPLICATE_ENTRY"
  | "ASSET_PACK_OUT_OF_RANGE"
  | "ASSET_PACK_OVERLAP"
  | "ASSET_PACK_GAP"
  | "ASSET_PACK_HASH_MISMATCH"
  | "ASSET_MANIFEST_NOT_PINNED";

export class AssetPackError extends SeedcraftError {
  declare readonly code: AssetPackErrorCode;

  constructor(code: AssetPackErrorCode, details: string) {
    super(code, "The asset pack is not valid.", details);
    this.name = "AssetPackError";
  }
}

type Entry =
  | { kind: "texture"; name: string; offset: number; length: number; width: number; height: number }
  | { kind: "model"; name: string; offset: number; length: number }
  | { kind: "sound"; name: string; offset: number; length: number; sampleRate: number };

type EntryMeta<E> = E extends unknown ? Omit<E, "offset" | "length"> : never;

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

function checkName(what: string, name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name))
    throw new AssetPackError(
      "ASSET_PACK_BAD_ENTRY",
      `${what} must be a short lowercase name, got ${JSON.stringify(name)}`,
    );
  return name;
}

const modelJson = (model: BlockModel): string =>
  JSON.stringify({ shape: model.shape, top: model.top, side: model.side, bottom: model.bottom });

/** The pack as bytes. Throws AssetPackError for what `decodeAssetPack` would refuse. */
export function encodeAssetPack(pack: AssetPack): Uint8Array {
  const text = new TextEncoder();
  const payloads: Uint8Array[] = [];
  const entries: Entry[] = [];
  let offset = 0;
  const add = (entry: EntryMeta<Entry>, payload: Uint8Array) => {
    entries.push({ ...entry, offset, length: payload.length } as Entry);
    payloads.push(payload);
    offset += payload.length;
  };
  for (const t of pack.textures) add({ kind: "texture", name: t.name, width: t.width, height: t.height }, t.pixels);
  for (const m of pack.models) add({ kind: "model", name: m.block }, text.encode(modelJson(m)));
  for (const s of pack.sounds)
    add(
      { kind: "sound", name: s.name, sampleRate: s.sampleRate },
      new Uint8Array(s.samples.buffer, s.samples.byteOffset, s.samples.byteLength).slice(),
    );
  // Samples are little-endian on the wire; every platform we run on is too, but say so in code.
  for (const [i, entry] of entries.entries()) if (entry.kind === "sound") toLittleEndian16(payloads[i] as Uint8Array);
  const header = text.encode(JSON.stringify({ name: pack.name, entries }));
  const bytes = new Uint8Array(PREAMBLE_BYTES + header.length + offset);
  bytes.set(text.encode(ASSET_PACK_MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, ASSET_PACK_VERSION);
  view.setUint32(8, header.length);
  bytes.set(header, PREAMBLE_BYTES);
  let at = PREAMBLE_BYTES + header.length;
  for (const payload of payloads) {
    bytes.set(payload, at);
    at += payload.length;
  }
  decodeAssetPack(bytes); // one rule for what a pack may be: never write one we would refuse
  return bytes;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toLittleEndian16(bytes: Uint8Array): void {
  if (LITTLE_ENDIAN) return;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const b = bytes[i] as number;
    bytes[i] = bytes[i + 1] as number;
    bytes[i + 1] = b;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown, max: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;

/** Reads a pack; throws AssetPackError (with a code) for anything malformed. The result shares no memory with `bytes`. */
export function decodeAssetPack(bytes: Uint8Array): AssetPack {
  if (bytes.length > MAX_ASSET_PACK_BYTES)
    throw new AssetPackError("ASSET_PACK_TOO_LARGE", `${bytes.length} bytes, at most ${MAX_ASSET_PACK_BYTES}`);
  if (bytes.length < PREAMBLE_BYTES)
    throw new AssetPackError("ASSET_PACK_TRUNCATED", `${bytes.length} bytes, shorter than the preamble`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== ASSET_PACK_MAGIC)
    throw new AssetPackError("ASSET_PACK_BAD_MAGIC", `starts with ${bytesToHex(bytes.subarray(0, 4))}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4);
  if (version !== ASSET_PACK_VERSION)
    throw new AssetPackError("ASSET_PACK_BAD_VERSION", `version ${version}, this build reads ${ASSET_PACK_VERSION}`);
  const headerLength = view.getUint32(8);
  if (headerLength > MAX_ASSET_HEADER_BYTES)
    throw new AssetPackError(
      "ASSET_PACK_TOO_LARGE",
      `a header of ${headerLength} bytes, at most ${MAX_ASSET_HEADER_BYTES}`,
    );
  if (PREAMBLE_BYTES + headerLength > bytes.length)
    throw new AssetPackError(
      "ASSET_PACK_TRUNCATED",
      `the header needs ${headerLength} bytes, ${bytes.length - PREAMBLE_BYTES} follow`,
    );
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength),
    );
    header = JSON.parse(text);
  } catch (error) {
    throw new AssetPackError("ASSET_PACK_BAD_HEADER", `the header is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (!isRecord(header) || !Array.isArray(header.entries))
    throw new AssetPackError("ASSET_PACK_BAD_HEADER", "the header must be an object with an `entries` array");
  if (header.entries.length > MAX_ASSET_ENTRIES)
    throw new AssetPackError("ASSET_PACK_TOO_LARGE", `${header.entries.length} entries, at most ${MAX_ASSET_ENTRIES}`);
  const name = checkName("the pack's name", header.name);
  const payloadStart = PREAMBLE_BYTES + headerLength;
  const payloadBytes = bytes.length - payloadStart;

  const pack: AssetPack = { name, textures: [], models: [], sounds: [] };
  const seen = new Set<string>();
  let end = 0;
  header.entries.forEach((raw: unknown, i: number) => {
    if (!isRecord(raw)) throw new AssetPackError("ASSET_PACK_BAD_HEADER", `entry ${i} is not an object`);
    const { kind, offset, length } = raw;
    const entryName = checkName(`entry ${i}'s name`, raw.name);
    if (!isCount(offset, MAX_ASSET_PACK_BYTES) || !isCount(length, MAX_ASSET_PACK_BYTES))
      throw new AssetPackError("ASSET_PACK_BAD_HEADER", `entry ${entryName}: offset and length must be byte counts`);
    if (offset + length > payloadBytes)
      throw new AssetPackError(
        "ASSET_PACK_OUT_OF_RANGE",
        `entry ${entryName} ends at ${offset + length}, the payloads are ${payloadBytes} bytes`,
      );
    if (offset < end)
      throw new AssetPackError(
        "ASSET_PACK_OVERLAP",
        `entry ${entryName} starts at ${offset}, inside the one before (ends at ${end})`,
      );
    if (offset > end)
      throw new AssetPackError("ASSET_PACK_GAP", `entry ${entryName} starts at ${offset}, after a gap from ${end}`);
    end = offset + length;
    const key = `${String(kind)}:${entryName}`;
    if (seen.has(key)) throw new AssetPackError("ASSET_PACK_DUPLICATE_ENTRY", `two entries are ${key}`);
    seen.add(key);
    const payload = bytes.slice(payloadStart + offset, payloadStart + offset + length);
    switch (kind) {
      case "texture":
        pack.textures.push(decodeTexture(entryName, raw, payload));
        return;
      case "model":
        pack.models.push(decodeModel(entryName, payload));
        return;
      case "sound":
        pack.sounds.push(decodeSound(entryName, raw, payload));
        return;
      default:
        throw new AssetPackError("ASSET_PACK_BAD_ENTRY", `entry ${entryName} has unknown kind ${JSON.stringify(kind)}`);
    }
  });
  if (end !== payloadBytes)
    throw new AssetPackError("ASSET_PACK_GAP", `${payloadBytes - end} bytes after the last entry belong to none`);
  return pack;
}

function decodeTexture(name: string, raw: Record<string, unknown>, payload: Uint8Array): TextureAsset {
  const { width, height } = raw;
  if (!isCount(width, MAX_TEXTURE_SIDE) || !isCount(height, MAX_TEXTURE_SIDE) || width === 0 || height === 0)
    throw new AssetPackError(
      "ASSET_PACK_BAD_ENTRY",
      `texture ${name}: sides of 1–${MAX_TEXTURE_SIDE} px, got ${width}×${height}`,
    );
  if (payload.length !== width * height * 4)
    throw new AssetPackError(
      "ASSET_PACK_BAD_ENTRY",
      `texture ${name}: ${width}×${height} RGBA is ${width * height * 4} bytes, not ${payload.length}`,
    );
  return { name, width, height, pixels: payload };
}

function decodeModel(name: string, payload: Uint8Array): BlockModel {
  let model: unknown;
  try {
    model = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (error) {
    throw new AssetPackError("ASSET_PACK_BAD_ENTRY", `model ${name} is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (!isRecord(model) || !(BLOCK_SHAPES as readonly unknown[]).includes(model.shape))
    throw new AssetPackError("ASSET_PACK_BAD_ENTRY", `model ${name}: shape must be one of ${BLOCK_SHAPES.join(", ")}`);
  const tile = (face: string) => checkName(`model ${name}'s ${face} tile`, model[face]);
  return {
    block: name,
    shape: model.shape as BlockShape,
    top: tile("top"),
    side: tile("side"),
    bottom: tile("bottom"),
  };
}

function decodeSound(name: string, raw: Record<string, unknown>, payload: Uint8Array): SoundAsset {
  const { sampleRate } = raw;
  if (!isCount(sampleRate, 96_000) || sampleRate < 8_000)
    throw new AssetPackError("ASSET_PACK_BAD_ENTRY", `sound ${name}: a sample rate of 8–96 kHz, got ${sampleRate}`);
  if (payload.length % 2 !== 0)
    throw new AssetPackError("ASSET_PACK_BAD_ENTRY", `sound ${name}: 16-bit samples, but ${payload.length} bytes`);
  toLittleEndian16(payload);
  return { name, sampleRate, samples: new Int16Array(payload.buffer, payload.byteOffset, payload.length / 2) };
}

/** The pin of a pack: keccak256 of its bytes. */
export function assetPackHash(bytes: Uint8Array): Hex {
  return keccak256(bytes);
}

/** The torrent a pack travels as: one file named by the pack's hash, so every seeder builds the same infoHash. */
export function assetPackTorrent(bytes: Uint8Array): FileTorrent {
  return fileTorrent(`seedcraft-assets-${assetPackHash(bytes).slice(2, 18)}.pack`, bytes);
}

/** What a deployment lists of each pack. */
export type AssetPackPin = { name: string; infoHash: Hex; hash: Hex; bytes: number };

export function assetPackPin(bytes: Uint8Array): AssetPackPin {
  const { name } = decodeAssetPack(bytes);
  return { name, infoHash: assetPackTorrent(bytes).infoHash, hash: assetPackHash(bytes), bytes: bytes.length };
}

/**
 * The hash the chain pins for a list of packs: keccak256 of their ABI encoding
 * (`(string name, bytes20 infoHash, bytes32 hash, uint64 bytes)[]`), so a contract could compute it too.
 */
export function assetManifestHash(packs: readonly AssetPackPin[]): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        {
          type: "tuple[]",
          components: [
            { name: "name", type: "string" },
            { name: "infoHash", type: "bytes20" },
            { name: "hash", type: "bytes32" },
            { name: "bytes", type: "uint64" },
          ],
        },
      ],
      [packs.map((p) => ({ name: p.name, infoHash: p.infoHash, hash: p.hash, bytes: BigInt(p.bytes) }))],
    ),
  );
}

// ——— The project's own pack, painted and synthesized by code ———

export const DEFAULT_PACK_NAME = "seedcraft-default";
export const PACK_TILE_SIZE = 32;
export const PACK_SAMPLE_RATE = 22_050;

/** A 32-bit hash of a few integers, as a number in [0, 1): the only randomness the pack has. */
function hash01(a: number, b: number, c: number, salt: number): number {
  let h = Math.imul(a + 0x51, 0x9e3779b1) ^ Math.imul(b + 0x3b, 0x85ebca77) ^ Math.imul(c + 0x17, 0xc2b2ae3d) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
}

/** Value noise with `cells` lattice cells per side, wrapped so a tile repeats without a seam. */
function noise(x: number, y: number, cells: number, salt: number): number {
  const step = PACK_TILE_SIZE / cells;
  const gx = x / step;
  const gy = y / step;
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  const s = (t: number) => t * t * (3 - 2 * t);
  const at = (i: number, j: number) => hash01(i % cells, j % cells, cells, salt);
  const tx = s(gx - x0);
  const ty = s(gy - y0);
  const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx;
  const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx;
  return top + (bottom - top) * ty;
}

/** Distance to the nearest and second-nearest of `cells`² jittered points, wrapped (cobbles, cells, pebbles). */
function cellular(x: number, y: number, cells: number, salt: number): [number, number] {
  const step = PACK_TILE_SIZE / cells;
  const cx = Math.floor(x / step);
  const cy = Math.floor(y / step);
  let first = Infinity;
  let second = Infinity;
  for (let j = -1; j <= 1; j++)
    for (let i = -1; i <= 1; i++) {
      const ci = cx + i;
      const cj = cy + j;
      const wi = ((ci % cells) + cells) % cells;
      const wj = ((cj % cells) + cells) % cells;
      const px = (ci + 0.15 + 0.7 * hash01(wi, wj, 1, salt)) * step;
      const py = (cj + 0.15 + 0.7 * hash01(wi, wj, 2, salt)) * step;
      const d = Math.hypot(px - x, py - y) / step;
      if (d < first) {
        second = first;
        first = d;
      } else if (d < second) second = d;
    }
  return [first, second];
}

type Rgb = readonly [number, number, number];
type Rgba = [number, number, number, number];

const lerp = (a: Rgb, b: Rgb, t: number): Rgb => [
  a[0] + (b[0] - a[0]) * t,
  a[1] + (b[1] - a[1]) * t,
  a[2] + (b[2] - a[2]) * t,
];
const lit = (c: Rgb, k: number, alpha = 255): Rgba => [c[0] * k, c[1] * k, c[2] * k, alpha];

/** A bevel: lighter towards the top-left edge, darker towards the bottom-right (row 0 is the bottom). */
function bevel(x: number, y: number, width = 2): number {
  const last = PACK_TILE_SIZE - 1;
  if (x < width || y > last - width) return 1.18;
  if (x > last - width || y < width) return 0.74;
  return 1;
}

/** Pixel (x, y) of a tile, y growing upwards: a richer, bevelled look than the app's built-in 16 px tiles. */
function paintTile(name: AssetTileName, x: number, y: number): Rgba {
  const grain = hash01(x, y, ASSET_TILES.indexOf(name), 0x5eed);
  switch (name) {
    case "stone": {
      // Cobbles: cells with dark mortar between them and a soft highlight on each stone.
      const [d1, d2] = cellular(x, y, 4, 11);
      const edge = d2 - d1;
      if (edge < 0.09) return lit([62, 64, 70], 0.9 + 0.2 * grain);
      const tone = 0.82 + 0.3 * noise(x, y, 8, 12) + 0.18 * (0.5 - d1);
      return lit(lerp([118, 122, 132], [160, 158, 150], hash01(Math.round(d1 * 7), 0, 3, 13)), tone);
    }
    case "dirt": {
      const [d1] = cellular(x, y, 8, 21);
      if (d1 < 0.18) return lit([150, 128, 104], 0.9 + 0.2 * grain); // pebbles
      return lit(lerp([94, 60, 34], [128, 86, 50], noise(x, y, 8, 22)), 0.85 + 0.25 * grain);
    }
    case "grass_top": {
      const blade = hash01(x, Math.floor(y / 3), 3, 31);
      const base = lerp([58, 128, 40], [112, 176, 62], noise(x, y, 4, 32));
      return lit(base, (blade > 0.8 ? 1.25 : 0.9) + 0.15 * grain);
    }
    case "grass_side": {
      // Grass hangs over the top edge in drips of different lengths.
      const drip = 5 + Math.floor(hash01(Math.floor(x / 2), 0, 4, 41) * 8);
      if (y >= PACK_TILE_SIZE - drip) return lit(lerp([58, 128, 40], [100, 168, 56], grain), 0.95 * bevel(x, y, 1));
      const [r, g, b] = paintTile("dirt", x, y);
      return lit([r, g, b], bevel(x, y, 1));
    }
    case "sand": {
      const ripple = Math.sin((y + 3 * noise(x, y, 4, 51)) * ((Math.PI * 2) / 8)) * 0.5 + 0.5;
      return lit([226, 206, 146], 0.86 + 0.1 * ripple + 0.1 * grain);
    }
    case "water": {
      // Caustics: bright where two cells meet.
      const [d1, d2] = cellular(x, y, 4, 61);
      const caustic = Math.max(0, 1 - (d2 - d1) * 8);
      return lit(
        lerp([30, 80, 170], [120, 190, 240], caustic * 0.8),
        0.9 + 0.1 * grain,
        170 + Math.round(50 * caustic),
      );
    }
    case "wood_side": {
      // Bark: vertical furrows that wander.
      const furrow = Math.sin((x + 2.5 * noise(x, y, 4, 71)) * ((Math.PI * 2) / 6)) * 0.5 + 0.5;
      return lit(lerp([70, 46, 26], [138, 96, 58], furrow), 0.85 + 0.2 * grain);
    }
    case "wood_top": {
      const r = Math.hypot(x - 15.5, y - 15.5) + 1.5 * noise(x, y, 4, 81);
      if (r > 14.5) return lit([84, 56, 32], 0.9 + 0.15 * grain); // bark ring
      return lit(lerp([168, 124, 78], [204, 160, 104], Math.floor(r / 2.5) % 2), 0.92 + 0.1 * grain);
    }
    case "leaves": {
      const [d1] = cellular(x, y, 6, 91);
      if (grain < 0.1) return [20, 48, 18, 0]; // gaps the sky shows through
      return lit(lerp([30, 92, 30], [90, 160, 60], 1 - Math.min(1, d1 * 1.4)), 0.85 + 0.2 * grain);
    }
    case "glass": {
      const last = PACK_TILE_SIZE - 1;
      const frame = x < 2 || y < 2 || x > last - 2 || y > last - 2;
      const cross = x === 15 || x === 16 || y === 15 || y === 16;
      if (frame) return lit([200, 214, 222], bevel(x, y, 1), 240);
      if (cross) return lit([176, 196, 206], 0.95 + 0.1 * grain, 210);
      const glint = x - y > 4 && x - y < 8;
      return lit([210, 236, 248], 0.92 + 0.1 * grain, glint ? 150 : 40);
    }
    case "brick": {
      // Bricks of 16×8 px with a bevel each, every other course offset by half a brick.
      const course = Math.floor(y / 8);
      const bx = (x + (course % 2) * 8) % 16;
      const by = y % 8;
      if (by === 7 || bx === 15) return lit([190, 180, 162], 0.85 + 0.15 * grain);
      const k = bx === 0 || by === 6 ? 1.15 : bx === 14 || by === 0 ? 0.78 : 1;
      const brick = hash01(Math.floor((x + (course % 2) * 8) / 16), course, 10, 101);
      return lit(lerp([150, 52, 36], [186, 82, 54], brick), k * (0.9 + 0.15 * grain));
    }
    case "gold": {
      const sheen = Math.max(0, 1 - Math.abs(x + y - 34) / 6);
      return lit(lerp([212, 160, 30], [255, 236, 140], sheen), bevel(x, y, 3) * (0.92 + 0.1 * noise(x, y, 4, 111)));
    }
  }
}

function generateTextures(): TextureAsset[] {
  const side = PACK_TILE_SIZE;
  return ASSET_TILES.map((name) => {
    const pixels = new Uint8Array(side * side * 4);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const rgba = paintTile(name, x, y);
        for (let c = 0; c < 4; c++)
          pixels[(y * side + x) * 4 + c] = Math.max(0, Math.min(255, Math.round(rgba[c] as number)));
      }
    return { name, width: side, height: side, pixels };
  });
}

/** Block models: every block but air is a cube, with the tiles the app's atlas shows on it. */
function generateModels(): BlockModel[] {
  const faces: Record<string, [AssetTileName, AssetTileName, AssetTileName]> = {
    grass: ["grass_top", "grass_side", "dirt"],
    wood: ["wood_top", "wood_side", "wood_top"],
  };
  return BLOCKS.filter((b) => b.id !== 0).map((b) => {
    const same = (ASSET_TILES as readonly string[]).includes(b.name) ? (b.name as AssetTileName) : "stone";
    const [top, side, bottom] = faces[b.name] ?? [same, same, same];
    return { block: b.name, shape: "cube", top, side, bottom };
  });
}

/** A sound `seconds` long from a function of (time, sample index, a noise sample in [−1, 1]), faded in and out. */
function synthesize(name: string, seconds: number, voice: (t: number, i: number, noise: number) => number): SoundAsset {
  const count = Math.round(seconds * PACK_SAMPLE_RATE);
  const samples = new Int16Array(count);
  const fade = Math.round(0.003 * PACK_SAMPLE_RATE); // 3 ms ramps: no click at either end
  for (let i = 0; i < count; i++) {
    const white = hash01(i, name.length, 7, 0xa0d10) * 2 - 1;
    const ramp = Math.min(1, i / fade, (count - 1 - i) / fade);
    const v = Math.max(-1, Math.min(1, voice(i / PACK_SAMPLE_RATE, i, white))) * ramp;
    samples[i] = Math.round(v * 32_000);
  }
  return { name, sampleRate: PACK_SAMPLE_RATE, samples };
}

function generateSounds(): SoundAsset[] {
  // Place: a short wooden knock, a pitch falling from 220 to 110 Hz under a click of noise.
  const place = synthesize("place", 0.18, (t, _i, n) => {
    const phase = 2 * Math.PI * (110 * t + (110 / 30) * (1 - Math.exp(-30 * t)));
    return 0.8 * Math.sin(phase) * Math.exp(-22 * t) + 0.3 * n * Math.exp(-120 * t);
  });
  // Break: a crumbling burst, noise gated in grains so it rattles as it fades.
  let low = 0;
  const crumble = synthesize("break", 0.32, (t, i, n) => {
    low += 0.35 * (n - low); // a one-pole low-pass: rubble, not hiss
    const grain = hash01(Math.floor(i / 441), 3, 9, 0xb4) > 0.35 ? 1 : 0.25;
    return 1.6 * low * grain * Math.exp(-9 * t);
  });
  // Step: a soft thud, low noise with a 70 Hz body.
  let soft = 0;
  const step = synthesize("step", 0.12, (t, _i, n) => {
    soft += 0.12 * (n - soft);
    return (2.2 * soft + 0.5 * Math.sin(2 * Math.PI * 70 * t)) * Math.exp(-35 * t);
  });
  return [place, crumble, step];
}

let generated: Uint8Array | undefined;

/** The project's own pack: 32 px tiles, cube models and three sounds, byte-for-byte the same on every call. */
export function generateAssetPack(): Uint8Array {
  generated ??= encodeAssetPack({
    name: DEFAULT_PACK_NAME,
    textures: generateTextures(),
    models: generateModels(),
    sounds: generateSounds(),
  });
  return generated.slice();
}
