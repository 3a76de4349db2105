/**
 * The player's body: an axis-aligned box that walks, jumps, falls and collides with blocks, stepped at a fixed
 * tick so that a frame rate never changes where it ends up. Pure (no DOM, no three.js), so Node tests run it.
 *
 * Solidity comes from a callback that answers `true`, `false`, or `undefined` for a block that is not loaded:
 * the body treats an unloaded block as solid (a player never falls through a chunk that has not arrived; it
 * stands still until it does). Water is not solid: the body passes through it, slowed, sinking slowly, and
 * swims up while jump is held (only when an `isWater` callback is given; without it water is just air).
 */
import { BLOCK_IDS, BLOCKS } from "../../../core/blocks.ts";
import { chunkIdOf, locateBlock } from "../../../core/chunk.ts";
import { EYE_HEIGHT } from "../../../core/rules.ts";
import { generateChunk, groundHeight, SEA_LEVEL, WORLD_MAX_Y, WORLD_MIN_Y } from "../../../core/terrain.ts";

/** Whether block (x, y, z) collides: undefined means not loaded (the body treats it as solid, picking as absent). */
export type BlockSolidity = (x: number, y: number, z: number) => boolean | undefined;
/** Whether block (x, y, z) is water (slows the body and lets it swim). */
export type BlockLiquidity = (x: number, y: number, z: number) => boolean;

export type MoveInput = {
  forward: boolean;
  back: boolean;
  left: boolean;
  right: boolean;
  jump: boolean;
  sprint: boolean;
};

export type Position = [number, number, number];

/** The body's box: 0.6 blocks wide and deep, 1.8 tall; its position is the centre of its feet. */
export const PLAYER_WIDTH = 0.6;
export const PLAYER_HEIGHT = 1.8;
/** The rules' eye height, so the reach the UI offers is the reach peers check. */
export const PLAYER_EYE_HEIGHT = EYE_HEIGHT;
/** One simulation tick, in seconds. */
export const TICK_SECONDS = 1 / 120;
/** The most time one `step` call simulates; a longer frame slows the world rather than piling up ticks. */
export const MAX_STEP_SECONDS = 0.25;
export const GRAVITY = 30;
export const TERMINAL_SPEED = 50;
/** Rises 1.25 blocks: clears a one-block step, not a two-block wall. */
export const JUMP_SPEED = Math.sqrt(2 * GRAVITY * 1.25);
export const WALK_SPEED = 4.3;
export const SPRINT_SPEED = 5.6;
/** How fast horizontal velocity approaches the wanted one (per second): grip on the ground, little in the air. */
export const GROUND_GRIP = 20;
export const AIR_GRIP = 4;
export const WATER_SPEED_FACTOR = 0.5;
export const WATER_GRAVITY = 8;
export const WATER_SINK_SPEED = 3;
export const SWIM_SPEED = 3;

const HALF_WIDTH = PLAYER_WIDTH / 2;
/** Slack for float error at block faces: a box touching a face does not overlap the block behind it. */
const EPSILON = 1e-7;

export function noInput(): MoveInput {
  return { forward: false, back: false, left: false, right: false, jump: false, sprint: false };
}

/** The unit vector a camera with this yaw and pitch looks along (three.js: yaw 0 looks down −z, order YXZ). */
export function lookDirection(yaw: number, pitch: number): Position {
  const c = Math.cos(pitch);
  return [-Math.sin(yaw) * c, Math.sin(pitch), -Math.cos(yaw) * c];
}

/**
 * Solidity from a block getter (such as `World.getBlock`), by the registry's `solid` flag: water and air are
 * not solid, an unknown id is. Above the world's height limit there is never a block, below it always one.
 */
export function solidityOf(getBlock: (x: number, y: number, z: number) => number | undefined): BlockSolidity {
  return (x, y, z) => {
    if (y >= WORLD_MAX_Y) return false;
    if (y < WORLD_MIN_Y) return true;
    const id = getBlock(x, y, z);
    if (id === undefined) return undefined;
    return BLOCKS[id]?.solid ?? true;
  };
}

/** Liquidity from a block getter: true for the given water block id. */
export function liquidityOf(
  getBlock: (x: number, y: number, z: number) => number | undefined,
  waterId: number,
): BlockLiquidity {
  return (x, y, z) => getBlock(x, y, z) === waterId;
}

/**
 * Where a body can stand in column (x, z): the centre of the column, on the highest loaded solid block with two
 * free blocks above it, scanning down from `top`. Undefined if the column has none (or is not loaded).
 */
export function spawnAbove(
  x: number,
  z: number,
  isSolid: BlockSolidity,
  top: number = WORLD_MAX_Y,
): Position | undefined {
  const bx = Math.floor(x);
  const bz = Math.floor(z);
  let freeAbove = 0;
  for (let y = Math.floor(top); y >= WORLD_MIN_Y; y--) {
    const solid = isSolid(bx, y, bz);
    if (solid === true && freeAbove >= 2) return [bx + 0.5, y + 1, bz + 0.5];
    freeAbove = solid === false ? freeAbove + 1 : 0;
  }
  return undefined;
}

/** A new player looks this far below the horizon: the far hills fill the view, the ground ahead shows at its foot. */
export const SPAWN_PITCH = -0.12;

/** How far ahead a spawn's view is checked for a tree or a hill at eye height (blocks). */
const VIEW_CLEAR_BLOCKS = 24;

/**
 * The yaw that faces the most open view from (x, y, z) (feet), of 16 directions: the one with the longest
 * clear line at eye height (no trunk or leaves in the face), then the one whose terrain out to 48 blocks rises
 * least above the eye. The terrain is generated here (pure, from the seed), so it needs no loaded chunk.
 * Ties go to the first direction, so a spot always gets the same view.
 */
export function openYaw(seed: number, x: number, y: number, z: number): number {
  const eye = y + EYE_HEIGHT;
  const chunks = new Map<bigint, Uint16Array>();
  const blockAt = (bx: number, by: number, bz: number) => {
    const { cx, cy, cz, index } = locateBlock(bx, by, bz);
    const id = chunkIdOf(cx, cy, cz);
    let blocks = chunks.get(id);
    if (!blocks) {
      blocks = generateChunk(seed, cx, cy, cz);
      chunks.set(id, blocks);
    }
    return blocks[index] as number;
  };
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < 16; i++) {
    const yaw = (i / 16) * Math.PI * 2;
    const [dx, dz] = [-Math.sin(yaw), -Math.cos(yaw)];
    let clear = VIEW_CLEAR_BLOCKS;
    for (let d = 1; d <= VIEW_CLEAR_BLOCKS; d++)
      if (blockAt(Math.floor(x + dx * d), Math.floor(eye), Math.floor(z + dz * d)) !== BLOCK_IDS.air) {
        clear = d;
        break;
      }
    let rise = Number.NEGATIVE_INFINITY;
    for (let d = 3; d <= 48; d += 3) {
      const ground = Math.max(groundHeight(seed, Math.floor(x + dx * d), Math.floor(z + dz * d)), SEA_LEVEL) + 1;
      rise = Math.max(rise, (ground - eye) / d);
    }
    // A clear line counts first (a block each), the rise breaks ties between lines equally clear.
    const score = clear - Math.max(-1, Math.min(rise, 1));
    if (score > bestScore + 1e-9) {
      bestScore = score;
      best = yaw;
    }
  }
  return best;
}

export class PlayerBody {
  /** Feet centre after the last tick. */
  readonly position: Position;
  /** Feet centre before the last tick (for drawing between ticks). */
  readonly previous: Position;
  readonly velocity: Position = [0, 0, 0];
  /** Standing on something (the last tick's fall was stopped by a block). */
  onGround = false;
  /** Some of the box is in water. */
  inWater = false;
  /** Simulated time not yet a whole tick, in seconds. */
  #pending = 0;
  /** The last tick was stopped by a wall (swimming against a bank climbs out). */
  #blockedSideways = false;
  /** Scratch block coordinates for collision checks (no allocation per tick). */
  readonly #cell: Position = [0, 0, 0];

  constructor(x = 0, y = 0, z = 0) {
    this.position = [x, y, z];
    this.previous = [x, y, z];
  }

  /** Moves the body to feet position (x, y, z) at rest. */
  teleport(x: number, y: number, z: number): void {
    this.position[0] = this.previous[0] = x;
    this.position[1] = this.previous[1] = y;
    this.position[2] = this.previous[2] = z;
    this.velocity[0] = this.velocity[1] = this.velocity[2] = 0;
    this.onGround = false;
    this.inWater = false;
    this.#pending = 0;
    this.#blockedSideways = false;
  }

  /** How far (0..1) the time simulated so far reaches past the last whole tick, for `eye(alpha)`. */
  get alpha(): number {
    return this.#pending / TICK_SECONDS;
  }

  /** The eye position, between the last two ticks by `alpha` (1 = the latest tick); writes into `out` if given. */
  eye(alpha = 1, out: Position = [0, 0, 0]): Position {
    const a = Math.min(1, Math.max(0, alpha));
    out[0] = this.previous[0] + (this.position[0] - this.previous[0]) * a;
    out[1] = this.previous[1] + (this.position[1] - this.previous[1]) * a + PLAYER_EYE_HEIGHT;
    out[2] = this.previous[2] + (this.position[2] - this.previous[2]) * a;
    return out;
  }

  /** Whether the box overlaps block (x, y, z): a block placed there would trap the player. */
  intersectsBlock(x: number, y: number, z: number): boolean {
    const [px, py, pz] = this.position;
    return (
      x + 1 > px - HALF_WIDTH + EPSILON &&
      x < px + HALF_WIDTH - EPSILON &&
      y + 1 > py + EPSILON &&
      y < py + PLAYER_HEIGHT - EPSILON &&
      z + 1 > pz - HALF_WIDTH + EPSILON &&
      z < pz + HALF_WIDTH - EPSILON
    );
  }

  /**
   * Advances the body by `dt` seconds (at most MAX_STEP_SECONDS) in whole ticks, carrying the remainder to the
   * next call. `yaw` turns the input the way a three.js camera's yaw turns its view. Returns the ticks run.
   */
  step(dt: number, input: MoveInput, yaw: number, isSolid: BlockSolidity, isWater?: BlockLiquidity): number {
    if (!(dt > 0)) return 0;
    this.#pending += Math.min(dt, MAX_STEP_SECONDS);
    let ticks = 0;
    // The small slack keeps 1/120 s frames from losing a tick to float rounding.
    while (this.#pending >= TICK_SECONDS - 1e-9) {
      this.#pending = Math.max(0, this.#pending - TICK_SECONDS);
      this.previous[0] = this.position[0];
      this.previous[1] = this.position[1];
      this.previous[2] = this.position[2];
      this.#tick(input, yaw, isSolid, isWater);
      ticks++;
    }
    return ticks;
  }

  #tick(input: MoveInput, yaw: number, isSolid: BlockSolidity, isWater: BlockLiquidity | undefined): void {
    const dt = TICK_SECONDS;
    const velocity = this.velocity;
    this.inWater = isWater !== undefined && this.#touches(isWater);

    let moveX = 0;
    let moveZ = 0;
    const ahead = (input.forward ? 1 : 0) - (input.back ? 1 : 0);
    const aside = (input.right ? 1 : 0) - (input.left ? 1 : 0);
    if (ahead !== 0 || aside !== 0) {
      const sin = Math.sin(yaw);
      const cos = Math.cos(yaw);
      // Forward is (−sin, −cos), right is (cos, −sin) in x, z.
      moveX = -sin * ahead + cos * aside;
      moveZ = -cos * ahead - sin * aside;
      const length = Math.hypot(moveX, moveZ);
      let speed = input.sprint && ahead > 0 ? SPRINT_SPEED : WALK_SPEED;
      if (this.inWater) speed *= WATER_SPEED_FACTOR;
      moveX = (moveX / length) * speed;
      moveZ = (moveZ / length) * speed;
    }
    const grip = 1 - Math.exp(-(this.onGround || this.inWater ? GROUND_GRIP : AIR_GRIP) * dt);
    velocity[0] += (moveX - velocity[0]) * grip;
    velocity[2] += (moveZ - velocity[2]) * grip;

    if (this.inWater) {
      if (input.jump) velocity[1] = this.#blockedSideways ? JUMP_SPEED : Math.max(velocity[1], SWIM_SPEED);
      else velocity[1] = Math.max(velocity[1] - WATER_GRAVITY * dt, -WATER_SINK_SPEED);
    } else {
      if (input.jump && this.onGround) velocity[1] = JUMP_SPEED;
      velocity[1] = Math.max(velocity[1] - GRAVITY * dt, -TERMINAL_SPEED);
    }

    // Vertical first, so that landing is settled before sliding along the floor.
    const fell = velocity[1] < 0;
    const stoppedY = this.#move(1, velocity[1] * dt, isSolid);
    if (stoppedY) velocity[1] = 0;
    this.onGround = stoppedY && fell;
    const stoppedX = this.#move(0, velocity[0] * dt, isSolid);
    if (stoppedX) velocity[0] = 0;
    const stoppedZ = this.#move(2, velocity[2] * dt, isSolid);
    if (stoppedZ) velocity[2] = 0;
    this.#blockedSideways = stoppedX || stoppedZ;
  }

  /** The box's extent on `axis`: [min, max]. */
  #min(axis: number): number {
    return (this.position[axis] as number) - (axis === 1 ? 0 : HALF_WIDTH);
  }

  #max(axis: number): number {
    return (this.position[axis] as number) + (axis === 1 ? PLAYER_HEIGHT : HALF_WIDTH);
  }

  /**
   * Moves the box `delta` along `axis`, stopping flush against the first layer of blocks it would enter that
   * holds a solid (or unloaded) block. Blocks it already overlaps are ignored, so a body inside a block can
   * walk out. Returns whether it was stopped.
   */
  #move(axis: number, delta: number, isSolid: BlockSolidity): boolean {
    if (delta === 0) return false;
    const a1 = axis === 0 ? 1 : 0;
    const a2 = axis === 2 ? 1 : 2;
    const from1 = Math.floor(this.#min(a1) + EPSILON);
    const to1 = Math.ceil(this.#max(a1) - EPSILON) - 1;
    const from2 = Math.floor(this.#min(a2) + EPSILON);
    const to2 = Math.ceil(this.#max(a2) - EPSILON) - 1;
    const offset = axis === 1 ? 0 : HALF_WIDTH;
    if (delta > 0) {
      const max = this.#max(axis);
      const last = Math.ceil(max + delta - EPSILON) - 1;
      for (let layer = Math.ceil(max - EPSILON); layer <= last; layer++) {
        if (this.#layerBlocked(axis, layer, a1, from1, to1, a2, from2, to2, isSolid)) {
          this.position[axis] = layer - (axis === 1 ? PLAYER_HEIGHT : offset);
          return true;
        }
      }
    } else {
      const min = this.#min(axis);
      const last = Math.floor(min + delta + EPSILON);
      for (let layer = Math.floor(min + EPSILON) - 1; layer >= last; layer--) {
        if (this.#layerBlocked(axis, layer, a1, from1, to1, a2, from2, to2, isSolid)) {
          this.position[axis] = layer + 1 + offset;
          return true;
        }
      }
    }
    this.position[axis] = (this.position[axis] as number) + delta;
    return false;
  }

  /** Whether layer `layer` of `axis`, across the box's cross-section, holds a solid or unloaded block. */
  #layerBlocked(
    axis: number,
    layer: number,
    a1: number,
    from1: number,
    to1: number,
    a2: number,
    from2: number,
    to2: number,
    isSolid: BlockSolidity,
  ): boolean {
    const cell = this.#cell;
    cell[axis] = layer;
    for (let c1 = from1; c1 <= to1; c1++) {
      cell[a1] = c1;
      for (let c2 = from2; c2 <= to2; c2++) {
        cell[a2] = c2;
        if (isSolid(cell[0], cell[1], cell[2]) !== false) return true;
      }
    }
    return false;
  }

  /** Whether any block the box overlaps passes `test`. */
  #touches(test: BlockLiquidity): boolean {
    const x0 = Math.floor(this.#min(0) + EPSILON);
    const x1 = Math.ceil(this.#max(0) - EPSILON) - 1;
    const y0 = Math.floor(this.#min(1) + EPSILON);
    const y1 = Math.ceil(this.#max(1) - EPSILON) - 1;
    const z0 = Math.floor(this.#min(2) + EPSILON);
    const z1 = Math.ceil(this.#max(2) - EPSILON) - 1;
    for (let y = y0; y <= y1; y++)
      for (let z = z0; z <= z1; z++) for (let x = x0; x <= x1; x++) if (test(x, y, z)) return true;
    return false;
  }
}
