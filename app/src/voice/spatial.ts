/** How a voice sounds from where its speaker stands: loudness by distance and left–right by our yaw. Pure. */
import type { Position } from "../../../core/proximity.ts";

/** Within this many blocks a voice is at full volume. */
export const FULL_VOLUME_BLOCKS = 4;
/** From this many blocks on a voice is silent. */
export const SILENT_BLOCKS = 32;
/** A voice at our side still reaches the far ear a little (full panning sounds like headphones gone wrong). */
const MAX_PAN = 0.8;

/**
 * The gain of a voice `distance` blocks away: 1 within 4 blocks, then ((32 − d) / 28)², 0 from 32 on.
 * The square falls fast at first and eases out, roughly as loudness is heard.
 */
export function distanceGain(distance: number): number {
  if (!Number.isFinite(distance) || distance >= SILENT_BLOCKS) return 0;
  if (distance <= FULL_VOLUME_BLOCKS) return 1;
  const t = (SILENT_BLOCKS - distance) / (SILENT_BLOCKS - FULL_VOLUME_BLOCKS);
  return t * t;
}

/**
 * The stereo pan (−1 left … 1 right) of a voice at `source` for a listener at `listener` looking along `yaw`
 * (app/src/world/controls.ts: yaw 0 looks towards −z, so +x is on the right).
 */
export function panOf(listener: Position, yaw: number, source: Position): number {
  const dx = source[0] - listener[0];
  const dz = source[2] - listener[2];
  const length = Math.hypot(dx, dz);
  // Right above or below us: both ears alike.
  if (length < 0.01) return 0;
  const right = (dx * Math.cos(yaw) - dz * Math.sin(yaw)) / length;
  return Math.max(-1, Math.min(1, right)) * MAX_PAN;
}
