/**
 * Other players' avatars: a body and a head coloured by their wallet, with their name above. Movement comes
 * as sparse deltas (the mesh sends one when a peer's guess would be off by a quarter block), so each avatar is
 * extrapolated from its last position and velocity, and eased towards that guess so corrections never jump.
 */
import {
  BoxGeometry,
  CanvasTexture,
  Group,
  LinearFilter,
  Mesh,
  MeshLambertMaterial,
  Sprite,
  SpriteMaterial,
} from "three";

export type AvatarState = {
  id: string;
  name: string;
  wallet: string;
  /** Feet position, velocity (blocks a second) and when that position was current (ms, same clock as `now`). */
  position: readonly [number, number, number] | undefined;
  velocity: readonly [number, number, number];
  movedAtMs: number;
};

/** Extrapolate at most this far: a peer that stopped sending has stopped, or left. */
const MAX_EXTRAPOLATE_MS = 1000;
/** How fast the shown position closes on the guess (per second). */
const EASE_PER_S = 14;
/** A guess farther than this is a teleport: jump there. */
const SNAP_BLOCKS = 8;

type Avatar = { group: Group; material: MeshLambertMaterial; label: Sprite; name: string; shown: boolean };

export class Avatars {
  readonly object = new Group();
  readonly #avatars = new Map<string, Avatar>();
  readonly #body = new BoxGeometry(0.6, 1.2, 0.35);
  readonly #head = new BoxGeometry(0.45, 0.45, 0.45);

  constructor() {
    this.object.name = "avatars";
  }

  /** Moves every avatar to where its peer should be at `nowMs`; returns whether anything moved. */
  update(peers: readonly AvatarState[], nowMs: number, dt: number): boolean {
    let moved = false;
    const present = new Set<string>();
    for (const peer of peers) {
      if (!peer.position) continue;
      present.add(peer.id);
      const avatar = this.#avatar(peer);
      const ahead = Math.min(Math.max(nowMs - peer.movedAtMs, 0), MAX_EXTRAPOLATE_MS) / 1000;
      const tx = peer.position[0] + peer.velocity[0] * ahead;
      const ty = peer.position[1] + peer.velocity[1] * ahead;
      const tz = peer.position[2] + peer.velocity[2] * ahead;
      const p = avatar.group.position;
      const gap = Math.hypot(tx - p.x, ty - p.y, tz - p.z);
      if (!avatar.shown || gap > SNAP_BLOCKS) {
        p.set(tx, ty, tz);
        avatar.shown = true;
        moved = true;
      } else if (gap > 1e-3) {
        const k = 1 - Math.exp(-EASE_PER_S * dt);
        p.set(p.x + (tx - p.x) * k, p.y + (ty - p.y) * k, p.z + (tz - p.z) * k);
        moved = true;
      }
      const speed = Math.hypot(peer.velocity[0], peer.velocity[2]);
      if (speed > 0.1) avatar.group.rotation.y = Math.atan2(-peer.velocity[0], -peer.velocity[2]);
    }
    for (const [id, avatar] of this.#avatars)
      if (!present.has(id)) {
        this.#drop(avatar);
        this.#avatars.delete(id);
        moved = true;
      }
    return moved;
  }

  /** Where the avatar of `id` is drawn now (for tests and the bench). */
  shownAt(id: string): [number, number, number] | undefined {
    const avatar = this.#avatars.get(id);
    if (!avatar?.shown) return undefined;
    const { x, y, z } = avatar.group.position;
    return [x, y, z];
  }

  get count(): number {
    return this.#avatars.size;
  }

  dispose(): void {
    for (const avatar of this.#avatars.values()) this.#drop(avatar);
    this.#avatars.clear();
    this.#body.dispose();
    this.#head.dispose();
  }

  #avatar(peer: AvatarState): Avatar {
    let avatar = this.#avatars.get(peer.id);
    if (avatar && avatar.name !== peer.name) {
      this.#drop(avatar);
      avatar = undefined;
    }
    if (avatar) return avatar;
    const material = new MeshLambertMaterial({ color: colourOf(peer.wallet) });
    const group = new Group();
    group.name = `avatar:${peer.name}`;
    const body = new Mesh(this.#body, material);
    body.position.y = 0.6 + 0.15;
    const head = new Mesh(this.#head, material);
    head.position.y = 1.2 + 0.15 + 0.25;
    const label = nameLabel(peer.name);
    label.position.y = 2.25;
    group.add(body, head, label);
    this.object.add(group);
    avatar = { group, material, label, name: peer.name, shown: false };
    this.#avatars.set(peer.id, avatar);
    return avatar;
  }

  #drop(avatar: Avatar): void {
    this.object.remove(avatar.group);
    avatar.material.dispose();
    avatar.label.material.map?.dispose();
    avatar.label.material.dispose();
  }
}

/** A stable colour per wallet: its first bytes as a hue. */
function colourOf(wallet: string): number {
  const hue = Number.parseInt(wallet.slice(2, 6) || "0", 16) / 0x10000;
  const [r, g, b] = [0, 8, 4].map((n) => {
    const k = (n + hue * 12) % 12;
    return 0.55 - 0.35 * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  }) as [number, number, number];
  return (Math.round(r * 255) << 16) | (Math.round(g * 255) << 8) | Math.round(b * 255);
}

function nameLabel(name: string): Sprite {
  const canvas = document.createElement("canvas");
  canvas.width = 256;
  canvas.height = 64;
  const context = canvas.getContext("2d");
  if (context) {
    context.fillStyle = "rgba(10, 14, 20, 0.6)";
    context.fillRect(0, 8, 256, 48);
    context.font = "bold 30px system-ui, sans-serif";
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillStyle = "#ffffff";
    context.fillText(name.slice(0, 16), 128, 33);
  }
  const texture = new CanvasTexture(canvas);
  texture.minFilter = LinearFilter;
  const sprite = new Sprite(new SpriteMaterial({ map: texture, depthTest: true, transparent: true }));
  sprite.scale.set(1.6, 0.4, 1);
  sprite.name = "name";
  return sprite;
}
