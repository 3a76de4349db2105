/** The HUD's spellings (sizes, names) and the spawn's view: pure parts of the app. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytes, displayName } from "../../app/src/hud/format.ts";
import { openYaw } from "../../app/src/world/player.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { locateBlock } from "../../core/chunk.ts";
import { EYE_HEIGHT } from "../../core/rules.ts";
import { generateChunk, groundHeight, SEA_LEVEL } from "../../core/terrain.ts";

describe("app: HUD spellings and the spawn's view", () => {
  it("writes sizes in B, KB and MB", () => {
    assert.equal(bytes(0), "0 B");
    assert.equal(bytes(1023), "1023 B");
    assert.equal(bytes(12 * 1024), "12 KB");
    assert.equal(bytes(3n * 1024n * 1024n), "3.0 MB");
  });

  it("tells two peers with the same name apart by their wallets, and leaves a name that holds its wallet alone", () => {
    const one = displayName("seeder", "0x12ab000000000000000000000000000000000001");
    const two = displayName("seeder", "0x34cd000000000000000000000000000000000002");
    assert.equal(one, "seeder 0x12ab…");
    assert.notEqual(one, two);
    assert.equal(displayName("player-12ab", "0x12AB000000000000000000000000000000000001"), "player-12ab");
    assert.equal(displayName("", "0x12ab000000000000000000000000000000000001"), "0x12ab…");
  });

  it("faces a spawn towards a clear line at eye height, the same way every time", () => {
    const seed = 1234;
    for (const [x, z] of [
      [0, 0],
      [5, -3],
      [-40, 17],
    ] as const) {
      const y = Math.max(groundHeight(seed, x, z), SEA_LEVEL) + 1;
      const yaw = openYaw(seed, x + 0.5, y, z + 0.5);
      assert.equal(openYaw(seed, x + 0.5, y, z + 0.5), yaw);
      // Nothing stands at eye height in the first blocks ahead.
      for (let d = 1; d <= 4; d++) {
        const [bx, by, bz] = [
          Math.floor(x + 0.5 - Math.sin(yaw) * d),
          Math.floor(y + EYE_HEIGHT),
          Math.floor(z + 0.5 - Math.cos(yaw) * d),
        ];
        const { cx, cy, cz, index } = locateBlock(bx, by, bz);
        assert.equal(generateChunk(seed, cx, cy, cz)[index], BLOCK_IDS.air, `clear ${d} ahead of ${x},${z}`);
      }
    }
  });
});
