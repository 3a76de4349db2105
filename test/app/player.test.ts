import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PerspectiveCamera } from "three";
import {
  type BlockSolidity,
  GRAVITY,
  JUMP_SPEED,
  lookDirection,
  type MoveInput,
  noInput,
  PLAYER_EYE_HEIGHT,
  PlayerBody,
  solidityOf,
  spawnAbove,
  TICK_SECONDS,
  WALK_SPEED,
} from "../../app/src/world/player.ts";
import { inReach, TargetOutline } from "../../app/src/world/targetOutline.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { EYE_HEIGHT } from "../../core/rules.ts";
import { WORLD_MAX_Y } from "../../core/terrain.ts";

/** A loaded world of the given solid blocks plus a floor whose top is y = 0 (blocks at y = −1). */
function world(blocks: [number, number, number][] = [], floor = true): BlockSolidity {
  const solid = new Set(blocks.map((b) => b.join(",")));
  return (x, y, z) => (floor && y === -1) || solid.has(`${x},${y},${z}`);
}

const input = (patch: Partial<MoveInput>): MoveInput => ({ ...noInput(), ...patch });

/** Runs `seconds` of 60 fps frames. */
function run(body: PlayerBody, seconds: number, move: MoveInput, yaw: number, isSolid: BlockSolidity): void {
  for (let t = 0; t < seconds - 1e-9; t += 1 / 60) body.step(1 / 60, move, yaw, isSolid);
}

describe("app: player physics", () => {
  it("falls and lands exactly on the floor's top, on the ground", () => {
    const body = new PlayerBody(0.5, 10, 0.5);
    run(body, 0.2, noInput(), 0, world());
    assert.equal(body.onGround, false);
    assert.ok(body.position[1] < 10 && body.position[1] > 0, `still falling at ${body.position[1]}`);
    run(body, 2, noInput(), 0, world());
    assert.equal(body.onGround, true);
    assert.ok(Math.abs(body.position[1]) < 1e-6, `feet at ${body.position[1]}`);
    assert.equal(body.velocity[1], 0);
  });

  it("stays out of a wall it walks into", () => {
    // Wall at x = 3 (two blocks high, across z −2..2); walking toward +x (yaw −π/2 looks down +x).
    const wall: [number, number, number][] = [];
    for (let z = -2; z <= 2; z++) wall.push([3, 0, z], [3, 1, z]);
    const isSolid = world(wall);
    const body = new PlayerBody(0.5, 0, 0.5);
    run(body, 3, input({ forward: true }), -Math.PI / 2, isSolid);
    assert.ok(Math.abs(body.position[0] - (3 - 0.3)) < 1e-6, `x at ${body.position[0]}`);
    assert.ok(Math.abs(body.position[2] - 0.5) < 1e-6, `z drifted to ${body.position[2]}`);
    assert.equal(body.onGround, true);
  });

  it("jumps onto a one-block step but not over a two-block wall", () => {
    const step: [number, number, number][] = [];
    for (let x = 2; x <= 20; x++) for (let z = -2; z <= 2; z++) step.push([x, 0, z]);
    const body = new PlayerBody(0.5, 0, 0.5);
    run(body, 1, input({ forward: true, jump: true }), -Math.PI / 2, world(step));
    run(body, 1, noInput(), -Math.PI / 2, world(step));
    assert.equal(body.onGround, true);
    assert.ok(Math.abs(body.position[1] - 1) < 1e-6, `feet at ${body.position[1]}`);
    assert.ok(body.position[0] > 2.3, `did not get onto the step: x ${body.position[0]}`);

    const wall: [number, number, number][] = [];
    for (let z = -2; z <= 2; z++) wall.push([2, 0, z], [2, 1, z]);
    const blocked = new PlayerBody(0.5, 0, 0.5);
    let highest = 0;
    for (let t = 0; t < 3; t += 1 / 60) {
      blocked.step(1 / 60, input({ forward: true, jump: true }), -Math.PI / 2, world(wall));
      highest = Math.max(highest, blocked.position[1]);
    }
    assert.ok(blocked.position[0] <= 2 - 0.3 + 1e-6, `went through the wall: x ${blocked.position[0]}`);
    assert.ok(highest > 1 && highest < 2, `jump peak ${highest}`);
    assert.ok(Math.abs(JUMP_SPEED ** 2 / (2 * GRAVITY) - 1.25) < 1e-9);
  });

  it("does not tunnel through a one-block floor on a huge frame", () => {
    const isSolid: BlockSolidity = (_x, y) => y === 0;
    const body = new PlayerBody(0.5, 40, 0.5);
    for (let i = 0; i < 20; i++) body.step(0.5, noInput(), 0, isSolid);
    assert.equal(body.onGround, true);
    assert.ok(Math.abs(body.position[1] - 1) < 1e-6, `feet at ${body.position[1]}`);
  });

  it("walks at the walking speed", () => {
    const body = new PlayerBody(0.5, 0, 0.5);
    run(body, 0.1, noInput(), 0, world());
    run(body, 2, input({ forward: true }), 0, world());
    const distance = -(body.position[2] - 0.5);
    // The grip takes about 1/20 s to reach full speed.
    assert.ok(Math.abs(distance - WALK_SPEED * 2) < 0.3, `walked ${distance} in 2 s`);
    assert.ok(Math.abs(body.position[0] - 0.5) < 1e-9);
    const sprinter = new PlayerBody(0.5, 0, 0.5);
    run(sprinter, 2, input({ forward: true, sprint: true }), 0, world());
    assert.ok(-(sprinter.position[2] - 0.5) > distance + 1, "sprinting is faster");
  });

  it("treats an unloaded block as solid", () => {
    // Nothing loaded below y = 0: the body stands on it rather than falling.
    const isSolid: BlockSolidity = (_x, y) => (y < 0 ? undefined : false);
    const body = new PlayerBody(0.5, 3, 0.5);
    run(body, 2, noInput(), 0, isSolid);
    assert.equal(body.onGround, true);
    assert.ok(Math.abs(body.position[1]) < 1e-6);
    // Walking toward an unloaded column stops at its edge.
    const edge: BlockSolidity = (x, y) => (y < 0 ? true : x >= 4 ? undefined : false);
    const walker = new PlayerBody(0.5, 0, 0.5);
    run(walker, 3, input({ forward: true }), -Math.PI / 2, edge);
    assert.ok(Math.abs(walker.position[0] - 3.7) < 1e-6, `x at ${walker.position[0]}`);
  });

  it("turns movement with the yaw, as a three.js camera turns its view", () => {
    const moved = (yaw: number, move: MoveInput): [number, number] => {
      const body = new PlayerBody(0.5, 0, 0.5);
      run(body, 0.5, move, yaw, world());
      return [body.position[0] - 0.5, body.position[2] - 0.5];
    };
    const near = ([x, z]: [number, number], [ex, ez]: [number, number]) =>
      assert.ok(Math.hypot(x - ex, z - ez) < 1e-9 * 100 + 0.05 * Math.hypot(ex, ez), `moved ${x}, ${z}`);
    const d = moved(0, input({ forward: true }));
    assert.ok(d[1] < -1.5 && Math.abs(d[0]) < 1e-9, "yaw 0 forward is −z");
    near(moved(Math.PI / 2, input({ forward: true })), [d[1], 0]);
    near(moved(0, input({ right: true })), [-d[1], 0]);
    near(moved(Math.PI, input({ back: true })), [0, d[1]]);
    const [lx, , lz] = lookDirection(Math.PI / 2, 0);
    assert.ok(Math.abs(lx + 1) < 1e-12 && Math.abs(lz) < 1e-12, "look direction agrees");
    // Diagonal movement is no faster than straight.
    const diagonal = moved(0, input({ forward: true, right: true }));
    assert.ok(Math.abs(Math.hypot(...diagonal) - Math.abs(d[1])) < 1e-9);
  });

  it("replays the same inputs to the same position, bit for bit", () => {
    const blocks: [number, number, number][] = [
      [2, 0, 0],
      [3, 0, 1],
      [3, 1, 1],
      [-2, 0, -3],
    ];
    const trace = () => {
      const body = new PlayerBody(0.5, 5, 0.5);
      const isSolid = world(blocks);
      let seed = 7;
      for (let i = 0; i < 600; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const move = input({ forward: (seed & 1) === 1, left: (seed & 6) === 2, jump: (seed & 24) === 8 });
        body.step(((seed >>> 8) % 40) / 1000, move, ((seed >>> 16) % 628) / 100, isSolid);
      }
      return [...body.position, ...body.velocity, body.onGround];
    };
    assert.deepEqual(trace(), trace());
  });

  it("carries part-ticks over, so a frame rate does not change the path", () => {
    const a = new PlayerBody(0.5, 0, 0.5);
    const b = new PlayerBody(0.5, 0, 0.5);
    for (let i = 0; i < 120; i++) a.step(1 / 120, input({ forward: true }), 0.3, world());
    for (let i = 0; i < 48; i++) b.step(1 / 48, input({ forward: true }), 0.3, world());
    assert.ok(Math.hypot(a.position[0] - b.position[0], a.position[2] - b.position[2]) < 1e-9);
    assert.ok(b.step(TICK_SECONDS / 3, noInput(), 0, world()) <= 1);
  });

  it("puts the eye at the rules' eye height and finds standing room", () => {
    const body = new PlayerBody(1, 2, 3);
    assert.deepEqual(body.eye(), [1, 2 + EYE_HEIGHT, 3]);
    assert.equal(PLAYER_EYE_HEIGHT, EYE_HEIGHT);
    const isSolid = world([
      [0, 0, 0],
      [0, 1, 0],
      [0, 4, 0],
      [5, 0, 5],
    ]);
    // Blocks at 0, 1 and 4: only one free block above 4 within top 5, so the top of 1 it is.
    assert.deepEqual(spawnAbove(0.2, 0.9, isSolid, 5), [0.5, 2, 0.5]);
    assert.deepEqual(spawnAbove(0.2, 0.9, isSolid, 7), [0.5, 5, 0.5]);
    assert.deepEqual(spawnAbove(9, 9, isSolid, 5), [9.5, 0, 9.5]);
    assert.equal(
      spawnAbove(0, 0, () => undefined),
      undefined,
    );
    assert.ok(body.intersectsBlock(1, 2, 3) && body.intersectsBlock(0, 3, 2));
    assert.ok(!body.intersectsBlock(1, 1, 3) && !body.intersectsBlock(1, 4, 3) && !body.intersectsBlock(2, 2, 3));
  });

  it("reads solidity from block ids: water and air pass, unloaded is unknown", () => {
    const ids = new Map([
      ["0,0,0", BLOCK_IDS.stone],
      ["1,0,0", BLOCK_IDS.water],
      ["2,0,0", BLOCK_IDS.air],
    ]);
    const isSolid = solidityOf((x, y, z) => ids.get(`${x},${y},${z}`));
    assert.equal(isSolid(0, 0, 0), true);
    assert.equal(isSolid(1, 0, 0), false);
    assert.equal(isSolid(2, 0, 0), false);
    assert.equal(isSolid(3, 0, 0), undefined);
    assert.equal(isSolid(3, WORLD_MAX_Y, 0), false);
  });

  it("swims: sinks slowly in water and rises while jump is held", () => {
    const isSolid = world();
    const isWater = (_x: number, y: number) => y >= 0 && y < 6;
    const body = new PlayerBody(0.5, 4, 0.5);
    for (let t = 0; t < 0.5; t += 1 / 60) body.step(1 / 60, noInput(), 0, isSolid, isWater);
    assert.equal(body.inWater, true);
    assert.ok(body.position[1] > 2.5, `sank too fast to ${body.position[1]}`);
    const before = body.position[1];
    for (let t = 0; t < 0.3; t += 1 / 60) body.step(1 / 60, input({ jump: true }), 0, isSolid, isWater);
    assert.ok(body.position[1] > before + 0.5, `swam up to ${body.position[1]}`);
  });
});

describe("app: target outline", () => {
  const camera = (x: number, y: number, z: number, yaw: number, pitch: number) => {
    const c = new PerspectiveCamera();
    c.position.set(x, y, z);
    c.rotation.set(pitch, yaw, 0, "YXZ");
    c.updateMatrixWorld();
    return c;
  };

  it("outlines the block under the crosshair within the rules' reach, measured to its centre", () => {
    const outline = new TargetOutline();
    // Eye at (0.5, 1.5, 0.5) looking down −z at block z = −8: its centre is exactly 8 away, the reach.
    const near = world([[0, 1, -8]]);
    const hit = outline.update(camera(0.5, 1.5, 0.5, 0, 0), near);
    assert.deepEqual(hit?.block, [0, 1, -8]);
    assert.equal(outline.object.visible, true);
    assert.deepEqual(outline.object.position.toArray(), [0.5, 1.5, -7.5]);
    assert.equal(outline.changed, true);
    assert.deepEqual(outline.target("place"), [0, 1, -7]);
    outline.update(camera(0.5, 1.5, 0.5, 0, 0), near);
    assert.equal(outline.changed, false);

    // One block further its face is 8.5 away and its centre 9: out of reach, hidden.
    assert.equal(outline.update(camera(0.5, 1.5, 0.5, 0, 0), world([[0, 1, -9]])), undefined);
    assert.equal(outline.object.visible, false);
    assert.equal(outline.changed, true);
    assert.equal(outline.target("break"), undefined);

    assert.ok(inReach([0.5, 1.5, 0.5], [0, 1, -8]) && !inReach([0.5, 1.5, 0.5], [0, 1, -9]));
    outline.dispose();
    outline.dispose();
  });

  it("passes over unloaded blocks and never targets them", () => {
    const outline = new TargetOutline();
    const isSolid: BlockSolidity = (x, y, z) => (z === -3 ? undefined : (x === 0 && y === 1 && z === -5) || y < 0);
    assert.deepEqual(outline.update(camera(0.5, 1.5, 0.5, 0, 0), isSolid)?.block, [0, 1, -5]);
    // Looking straight down lands on the floor.
    const down = outline.update(camera(0.5, 1.5, 0.5, 0, -Math.PI / 2), isSolid);
    assert.deepEqual(down?.block, [0, -1, 0]);
    assert.deepEqual(down?.normal, [0, 1, 0]);
  });
});
