import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256 } from "viem";
import { TILES } from "../../app/src/world/atlas.ts";
import {
  ASSET_TILES,
  type AssetPack,
  AssetPackError,
  type AssetPackErrorCode,
  assetManifestHash,
  assetPackHash,
  assetPackPin,
  assetPackTorrent,
  DEFAULT_PACK_NAME,
  decodeAssetPack,
  encodeAssetPack,
  generateAssetPack,
  MAX_ASSET_PACK_BYTES,
  PACK_TILE_SIZE,
} from "../../core/assets.ts";
import { chunkIdOf, encodeChunk } from "../../core/chunk.ts";
import { generateChunk } from "../../core/terrain.ts";
import { chunkTorrent, fileTorrent } from "../../core/torrent.ts";

const small: AssetPack = {
  name: "tiny",
  textures: [{ name: "stone", width: 2, height: 1, pixels: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }],
  models: [{ block: "stone", shape: "cube", top: "stone", side: "stone", bottom: "stone" }],
  sounds: [{ name: "step", sampleRate: 22_050, samples: new Int16Array([0, -32_768, 32_767, 5]) }],
};

/** A pack with its header rewritten by `edit` (payloads kept), for corruptions the encoder would never write. */
function withHeader(
  bytes: Uint8Array,
  edit: (header: { name: unknown; entries: Record<string, unknown>[] }) => unknown,
): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const length = view.getUint32(8);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
  const text = new TextEncoder().encode(JSON.stringify(edit(header) ?? header));
  const out = new Uint8Array(12 + text.length + bytes.length - 12 - length);
  out.set(bytes.subarray(0, 12));
  new DataView(out.buffer).setUint32(8, text.length);
  out.set(text, 12);
  out.set(bytes.subarray(12 + length), 12 + text.length);
  return out;
}

function refused(bytes: Uint8Array, code: AssetPackErrorCode): void {
  const copy = bytes.slice();
  assert.throws(
    () => decodeAssetPack(bytes),
    (error: unknown) => error instanceof AssetPackError && error.code === code,
    code,
  );
  assert.deepEqual(bytes, copy, "decoding changes nothing");
}

describe("core/assets: asset packs", () => {
  it("round-trips a pack, sharing no memory with the bytes", () => {
    const bytes = encodeAssetPack(small);
    const pack = decodeAssetPack(bytes);
    assert.deepEqual(pack, small);
    bytes.fill(0, 12);
    assert.equal(pack.textures[0]?.pixels[0], 1);
    assert.deepEqual(encodeAssetPack(pack), encodeAssetPack(small));
  });

  it("generates the project's pack byte-for-byte alike: a 32 px tile per atlas tile, a model per block, three sounds", () => {
    const a = generateAssetPack();
    const b = generateAssetPack();
    assert.deepEqual(a, b);
    assert.equal(assetPackHash(a), assetPackHash(b));
    a[0] = 0; // callers get their own copy
    assert.deepEqual(generateAssetPack(), b);
    const pack = decodeAssetPack(b);
    assert.equal(pack.name, DEFAULT_PACK_NAME);
    assert.deepEqual(ASSET_TILES, TILES, "the pack paints the app's atlas tiles, in its order");
    assert.deepEqual(
      pack.textures.map((t) => [t.name, t.width, t.height]),
      ASSET_TILES.map((name) => [name, PACK_TILE_SIZE, PACK_TILE_SIZE]),
    );
    for (const t of pack.textures) {
      const colours = new Set<number>();
      for (let i = 0; i < t.pixels.length; i += 4) colours.add(new DataView(t.pixels.buffer).getUint32(i));
      assert.ok(colours.size > 24, `${t.name} is textured, not flat (${colours.size} colours)`);
    }
    assert.deepEqual(
      pack.models.find((m) => m.block === "grass"),
      { block: "grass", shape: "cube", top: "grass_top", side: "grass_side", bottom: "dirt" },
    );
    assert.equal(pack.models.length, 10);
    assert.deepEqual(
      pack.sounds.map((s) => s.name),
      ["place", "break", "step"],
    );
    for (const s of pack.sounds) {
      const peak = s.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(peak > 4_000, `${s.name} is audible (peak ${peak})`);
      assert.ok(
        Math.abs(s.samples[0] as number) < 200 && Math.abs(s.samples.at(-1) as number) < 200,
        `${s.name} fades`,
      );
    }
    assert.ok(b.length > 40_000 && b.length < 1_000_000, `${b.length} bytes`);
  });

  it("refuses every kind of corruption with its code", () => {
    const good = encodeAssetPack(small);
    refused(new Uint8Array(MAX_ASSET_PACK_BYTES + 1), "ASSET_PACK_TOO_LARGE");
    refused(good.subarray(0, 8), "ASSET_PACK_TRUNCATED");
    refused(good.subarray(0, 20), "ASSET_PACK_TRUNCATED");
    const magic = good.slice();
    magic[0] = 0x58;
    refused(magic, "ASSET_PACK_BAD_MAGIC");
    const version = good.slice();
    version[7] = 2;
    refused(version, "ASSET_PACK_BAD_VERSION");
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(8, 1 << 20);
    refused(huge, "ASSET_PACK_TOO_LARGE");
    const notUtf8 = good.slice();
    notUtf8[13] = 0xff;
    refused(notUtf8, "ASSET_PACK_BAD_HEADER");
    const notJson = good.slice();
    notJson[12] = 0x5b; // "[" where "{" was
    refused(notJson, "ASSET_PACK_BAD_HEADER");
    refused(
      withHeader(good, () => ({ name: "tiny" })),
      "ASSET_PACK_BAD_HEADER",
    );
    refused(
      withHeader(good, (h) => ({ ...h, name: "Not A Name!" })),
      "ASSET_PACK_BAD_ENTRY",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[0] as Record<string, unknown>).offset = -1;
      }),
      "ASSET_PACK_BAD_HEADER",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[2] as Record<string, unknown>).length = 1000;
      }),
      "ASSET_PACK_OUT_OF_RANGE",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[1] as Record<string, unknown>).offset = 4;
      }),
      "ASSET_PACK_OVERLAP",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[2] as Record<string, unknown>).length = 4;
      }),
      "ASSET_PACK_GAP",
    );
    const twoSounds = encodeAssetPack({
      ...small,
      sounds: [...small.sounds, { ...small.sounds[0], name: "place" } as never],
    });
    refused(
      withHeader(twoSounds, (h) => {
        (h.entries[3] as Record<string, unknown>).name = "step";
      }),
      "ASSET_PACK_DUPLICATE_ENTRY",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[0] as Record<string, unknown>).kind = "shader";
      }),
      "ASSET_PACK_BAD_ENTRY",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[0] as Record<string, unknown>).width = 3;
      }),
      "ASSET_PACK_BAD_ENTRY",
    );
    refused(
      withHeader(good, (h) => {
        (h.entries[2] as Record<string, unknown>).sampleRate = 100;
      }),
      "ASSET_PACK_BAD_ENTRY",
    );
    const badModel = good.slice();
    const modelAt = badModel.length - 8 - 1; // the model's closing brace, just before the 8 bytes of samples
    assert.equal(badModel[modelAt], 0x7d);
    badModel[modelAt] = 0x20;
    refused(badModel, "ASSET_PACK_BAD_ENTRY");
    assert.throws(
      () => encodeAssetPack({ ...small, models: [{ ...small.models[0], shape: "sphere" } as never] }),
      AssetPackError,
      "the encoder writes only what the decoder takes",
    );
  });

  it("hashes the bytes with keccak256: one flipped byte changes the hash, the torrent and the manifest", () => {
    const bytes = generateAssetPack();
    assert.equal(assetPackHash(bytes), keccak256(bytes));
    const flipped = bytes.slice();
    flipped[flipped.length - 100] = (flipped[flipped.length - 100] as number) ^ 1;
    assert.notEqual(assetPackHash(flipped), assetPackHash(bytes));
    assert.notEqual(fileTorrent(assetPackTorrent(bytes).name, flipped).infoHash, assetPackTorrent(bytes).infoHash);
    const pin = assetPackPin(bytes);
    assert.deepEqual(pin, {
      name: DEFAULT_PACK_NAME,
      infoHash: assetPackTorrent(bytes).infoHash,
      hash: keccak256(bytes),
      bytes: bytes.length,
    });
    assert.equal(assetManifestHash([pin]), assetManifestHash([{ ...pin }]));
    assert.notEqual(assetManifestHash([pin]), assetManifestHash([{ ...pin, bytes: pin.bytes + 1 }]));
    assert.notEqual(assetManifestHash([pin]), assetManifestHash([]));
  });

  it("builds a chunk's torrent as the file torrent of its snapshot (chunk infoHashes on chain stay the same)", () => {
    const snapshot = encodeChunk(generateChunk(7, 1, 0, -2)).slice();
    const chunk = chunkTorrent(chunkIdOf(1, 0, -2), 3, snapshot);
    // Computed by chunkTorrent before the file torrent existed.
    assert.equal(chunk.infoHash, "0x614bbb9003d0b99e0a1c8f7018ece2609b4574ab");
    assert.deepEqual(fileTorrent(chunk.name, snapshot), chunk);
    const odd = fileTorrent("odd.bin", new Uint8Array(40_000).fill(7));
    assert.equal(odd.infoHash, fileTorrent("odd.bin", new Uint8Array(40_000).fill(7)).infoHash);
  });
});
