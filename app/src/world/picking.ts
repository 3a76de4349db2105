/** Picking: which block a ray from the camera hits first, and on which face (a voxel walk, Amanatides & Woo). */

export type Vec3 = readonly [number, number, number];

export type VoxelHit = {
  /** World coordinates of the block that was hit. */
  block: Vec3;
  /** Outward normal of the face the ray entered through: where a placed block goes. */
  normal: Vec3;
  distance: number;
};

/**
 * Walks the blocks along the ray from `origin` in `direction` and returns the first one `isSolid` accepts,
 * within `maxDistance` blocks. The block the ray starts in is skipped (it has no entry face).
 */
export function raycastVoxels(
  origin: Vec3,
  direction: Vec3,
  maxDistance: number,
  isSolid: (x: number, y: number, z: number) => boolean,
): VoxelHit | undefined {
  const length = Math.hypot(direction[0], direction[1], direction[2]);
  if (length === 0 || !Number.isFinite(length)) return undefined;
  const d = [direction[0] / length, direction[1] / length, direction[2] / length] as const;
  const cell = [Math.floor(origin[0]), Math.floor(origin[1]), Math.floor(origin[2])];
  const step = [0, 0, 0];
  const tMax = [Infinity, Infinity, Infinity];
  const tDelta = [Infinity, Infinity, Infinity];
  for (let axis = 0; axis < 3; axis++) {
    const dir = d[axis] as number;
    const o = origin[axis] as number;
    const c = cell[axis] as number;
    if (dir > 0) {
      step[axis] = 1;
      tMax[axis] = (c + 1 - o) / dir;
      tDelta[axis] = 1 / dir;
    } else if (dir < 0) {
      step[axis] = -1;
      tMax[axis] = (o - c) / -dir;
      tDelta[axis] = -1 / dir;
    }
  }
  let distance = 0;
  while (true) {
    const tx = tMax[0] as number;
    const ty = tMax[1] as number;
    const tz = tMax[2] as number;
    const axis = tx < ty ? (tx < tz ? 0 : 2) : ty < tz ? 1 : 2;
    distance = tMax[axis] as number;
    if (distance > maxDistance) return undefined;
    cell[axis] = (cell[axis] as number) + (step[axis] as number);
    tMax[axis] = distance + (tDelta[axis] as number);
    const [x, y, z] = cell as [number, number, number];
    if (isSolid(x, y, z)) {
      const normal: [number, number, number] = [0, 0, 0];
      normal[axis] = -(step[axis] as number);
      return { block: [x, y, z], normal, distance };
    }
  }
}

/** The block an edit changes: the hit block when breaking, the cell in front of the hit face when placing. */
export function editTarget(hit: VoxelHit, mode: "break" | "place"): Vec3 {
  if (mode === "break") return hit.block;
  return [hit.block[0] + hit.normal[0], hit.block[1] + hit.normal[1], hit.block[2] + hit.normal[2]];
}
