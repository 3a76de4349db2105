/**
 * The outline on the block under the crosshair: the block a ray from the camera along its view hits first,
 * within the rules' reach (eye to block centre, as `checkReach` measures), so the UI offers no edit peers refuse.
 */
import { BoxGeometry, type Camera, EdgesGeometry, LineBasicMaterial, LineSegments, Vector3 } from "three";
import { REACH_BLOCKS } from "../../../core/rules.ts";
import { editTarget, raycastVoxels, type Vec3, type VoxelHit } from "./picking.ts";
import type { BlockSolidity } from "./player.ts";

export type TargetOutlineOptions = {
  color?: number;
  /** Blocks from the eye to a block's centre; the rules' reach by default. */
  reach?: number;
};

/** A hair larger than a block, so the lines are not lost in the block's faces. */
const OUTLINE_SIZE = 1.004;

/** Whether block (x, y, z) is within `reach` of `eye`, measured to its centre as the rules do. */
export function inReach(eye: Vec3, block: Vec3, reach: number = REACH_BLOCKS): boolean {
  return Math.hypot(block[0] + 0.5 - eye[0], block[1] + 0.5 - eye[1], block[2] + 0.5 - eye[2]) <= reach;
}

export class TargetOutline {
  /** Add this to the scene once; it is hidden while nothing is targeted. */
  readonly object: LineSegments;
  /** The block under the crosshair after the last `update`, if any. */
  hit: VoxelHit | undefined;
  /** The last `update` moved, showed or hid the outline (an on-demand renderer should draw). */
  changed = false;

  readonly #reach: number;
  readonly #geometry = new EdgesGeometry(new BoxGeometry(OUTLINE_SIZE, OUTLINE_SIZE, OUTLINE_SIZE));
  readonly #material: LineBasicMaterial;
  readonly #origin = new Vector3();
  readonly #direction = new Vector3();
  readonly #eye: [number, number, number] = [0, 0, 0];
  readonly #look: [number, number, number] = [0, 0, 0];
  #isSolid: BlockSolidity = () => false;
  #disposed = false;

  constructor(options: TargetOutlineOptions = {}) {
    this.#reach = options.reach ?? REACH_BLOCKS;
    this.#material = new LineBasicMaterial({ color: options.color ?? 0x101010, transparent: true, opacity: 0.75 });
    this.object = new LineSegments(this.#geometry, this.#material);
    this.object.visible = false;
    this.object.name = "target-outline";
  }

  /** Aims from `camera` through the screen centre, moves or hides the outline, and returns what it hits. */
  update(camera: Camera, isSolid: BlockSolidity): VoxelHit | undefined {
    camera.getWorldPosition(this.#origin);
    camera.getWorldDirection(this.#direction);
    this.#eye[0] = this.#origin.x;
    this.#eye[1] = this.#origin.y;
    this.#eye[2] = this.#origin.z;
    this.#look[0] = this.#direction.x;
    this.#look[1] = this.#direction.y;
    this.#look[2] = this.#direction.z;
    this.#isSolid = isSolid;
    // The ray enters a block up to √3/2 before its centre, so it looks that much further and then checks the centre.
    let hit = raycastVoxels(this.#eye, this.#look, this.#reach + 1, this.#pickable);
    if (hit && !inReach(this.#eye, hit.block, this.#reach)) hit = undefined;
    const before = this.hit;
    this.changed =
      before?.block[0] !== hit?.block[0] ||
      before?.block[1] !== hit?.block[1] ||
      before?.block[2] !== hit?.block[2] ||
      (before === undefined) !== (hit === undefined);
    this.hit = hit;
    if (hit) this.object.position.set(hit.block[0] + 0.5, hit.block[1] + 0.5, hit.block[2] + 0.5);
    this.object.visible = hit !== undefined;
    return hit;
  }

  /**
   * The block an edit would change (the targeted block, or the cell in front of its face), if the rules' reach
   * allows it from the eye of the last `update`.
   */
  target(mode: "break" | "place"): Vec3 | undefined {
    if (!this.hit) return undefined;
    const block = editTarget(this.hit, mode);
    return inReach(this.#eye, block, this.#reach) ? block : undefined;
  }

  /** Frees the outline's GPU buffers (remove `object` from the scene too). Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.object.removeFromParent();
    this.#geometry.dispose();
    this.#material.dispose();
  }

  /** Unloaded blocks cannot be edited, so the ray passes them by. */
  readonly #pickable = (x: number, y: number, z: number): boolean => this.#isSolid(x, y, z) === true;
}
