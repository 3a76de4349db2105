/**
 * Other players' avatars: small voxel characters (head, body, two arms, two legs) coloured from their wallet,
 * whose limbs swing as they walk, with their name above as a DOM label (drawn by the browser at the screen's
 * own resolution, so it is sharp at any distance). Movement comes as sparse deltas (the mesh sends one when a
 * peer's guess would be off by a quarter block), so each avatar is extrapolated from its last position and
 * velocity, and eased towards that guess so corrections never jump.
 */
import { BoxGeometry, Group, Mesh, MeshLambertMaterial } from "three";
import { CSS2DObject } from "three/examples/jsm/renderers/CSS2DRenderer.js";
import { displayName } from "../hud/format.ts";

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
/** Walk cycle: radians of stride per block walked (about 1.6 strides a second at walking speed). */
const STRIDE_PER_BLOCK = 2.4;
/** Limbs swing this far (radians) at full walking speed and above… */
const MAX_SWING = 0.75;
/** …which is this fast (blocks a second); slower steps swing less. */
const FULL_SWING_SPEED = 4;
/** How fast the shown speed follows the real one (per second): a stop settles the limbs in a fraction of a second. */
const SPEED_EASE_PER_S = 10;

/** The parts a character is made of, by the names its meshes carry (tests and the bench look them up). */
export const AVATAR_PARTS = ["head", "body", "arm-left", "arm-right", "leg-left", "leg-right"] as const;

type Limbs = { armLeft: Group; armRight: Group; legLeft: Group; legRight: Group };
type Avatar = {
  group: Group;
  limbs: Limbs;
  materials: MeshLambertMaterial[];
  label: CSS2DObject;
  name: string;
  shown: boolean;
  /** Horizontal speed as drawn (blocks a second, eased) and the walk cycle's phase. */
  speed: number;
  phase: number;
};

export class Avatars {
  readonly object = new Group();
  readonly #avatars = new Map<string, Avatar>();
  readonly #head = new BoxGeometry(0.46, 0.46, 0.46);
  readonly #body = new BoxGeometry(0.5, 0.68, 0.28);
  readonly #limb = new BoxGeometry(0.2, 0.68, 0.22);
  readonly #leg = new BoxGeometry(0.23, 0.76, 0.25);
  readonly #eye = new BoxGeometry(0.08, 0.08, 0.02);
  readonly #eyeMaterial = new MeshLambertMaterial({ color: 0x1b2430 });

  constructor() {
    this.object.name = "avatars";
  }

  /** Moves every avatar to where its peer should be at `nowMs` and steps its walk; returns whether anything moved. */
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
      const [fromX, fromZ] = [p.x, p.z];
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
      // The walk follows what is drawn (a snap is not a step).
      const stepped = gap > SNAP_BLOCKS || dt <= 0 ? 0 : Math.hypot(p.x - fromX, p.z - fromZ) / dt;
      if (this.#walk(avatar, stepped, dt)) moved = true;
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

  /** What the avatar of `id` is drawn as: its parts, its name label, and how far its legs swing now (radians). */
  look(id: string): { parts: string[]; label: string; swing: number; speed: number } | undefined {
    const avatar = this.#avatars.get(id);
    if (!avatar) return undefined;
    const parts: string[] = [];
    avatar.group.traverse((child) => {
      if (child instanceof Mesh && (AVATAR_PARTS as readonly string[]).includes(child.name)) parts.push(child.name);
    });
    return {
      parts,
      label: avatar.label.element.textContent ?? "",
      swing: Math.abs(avatar.limbs.legLeft.rotation.x),
      speed: avatar.speed,
    };
  }

  get count(): number {
    return this.#avatars.size;
  }

  dispose(): void {
    for (const avatar of this.#avatars.values()) this.#drop(avatar);
    this.#avatars.clear();
    for (const geometry of [this.#head, this.#body, this.#limb, this.#leg, this.#eye]) geometry.dispose();
    this.#eyeMaterial.dispose();
  }

  /** Eases the drawn speed towards `speed` and swings the limbs by it; true while anything still moves. */
  #walk(avatar: Avatar, speed: number, dt: number): boolean {
    const before = avatar.speed;
    avatar.speed += (speed - avatar.speed) * (1 - Math.exp(-SPEED_EASE_PER_S * dt));
    if (avatar.speed < 0.05 && speed === 0) avatar.speed = 0;
    avatar.phase = (avatar.phase + avatar.speed * STRIDE_PER_BLOCK * dt) % (Math.PI * 2);
    const swing = Math.sin(avatar.phase) * MAX_SWING * Math.min(avatar.speed / FULL_SWING_SPEED, 1);
    const { armLeft, armRight, legLeft, legRight } = avatar.limbs;
    legLeft.rotation.x = swing;
    legRight.rotation.x = -swing;
    armLeft.rotation.x = -swing * 0.8;
    armRight.rotation.x = swing * 0.8;
    return avatar.speed !== 0 || before !== 0;
  }

  #avatar(peer: AvatarState): Avatar {
    let avatar = this.#avatars.get(peer.id);
    if (avatar && avatar.name !== peer.name) {
      this.#drop(avatar);
      avatar = undefined;
    }
    if (avatar) return avatar;
    const colours = coloursOf(peer.wallet);
    const [shirt, sleeves, trousers, skin] = [colours.shirt, colours.sleeves, colours.trousers, colours.skin].map(
      (color) => new MeshLambertMaterial({ color }),
    ) as [MeshLambertMaterial, MeshLambertMaterial, MeshLambertMaterial, MeshLambertMaterial];
    const group = new Group();
    group.name = `avatar:${peer.name}`;
    const part = (name: string, geometry: BoxGeometry, material: MeshLambertMaterial, y: number) => {
      const mesh = new Mesh(geometry, material);
      mesh.name = name;
      mesh.position.y = y;
      return mesh;
    };
    // Limbs hang from pivots at the shoulders and hips, so a rotation swings them from there.
    const pivot = (x: number, y: number, mesh: Mesh) => {
      const joint = new Group();
      joint.position.set(x, y, 0);
      joint.add(mesh);
      return joint;
    };
    const legLeft = pivot(-0.125, 0.76, part("leg-left", this.#leg, trousers, -0.38));
    const legRight = pivot(0.125, 0.76, part("leg-right", this.#leg, trousers, -0.38));
    // Sleeves a shade darker than the shirt, so the arms read apart from the body.
    const armLeft = pivot(-0.37, 1.42, part("arm-left", this.#limb, sleeves, -0.3));
    const armRight = pivot(0.37, 1.42, part("arm-right", this.#limb, sleeves, -0.3));
    const body = part("body", this.#body, shirt, 0.76 + 0.34);
    const head = part("head", this.#head, skin, 1.44 + 0.23);
    // Eyes on the face: it looks the way it walks (−z before the group turns).
    for (const x of [-0.1, 0.1]) {
      const eye = new Mesh(this.#eye, this.#eyeMaterial);
      eye.position.set(x, 0.03, -0.235);
      head.add(eye);
    }
    const element = document.createElement("div");
    element.className = "avatar-name";
    element.textContent = displayName(peer.name, peer.wallet);
    element.style.borderColor = `#${colours.shirt.toString(16).padStart(6, "0")}`;
    const label = new CSS2DObject(element);
    label.position.y = 2.1;
    label.center.set(0.5, 1);
    group.add(legLeft, legRight, armLeft, armRight, body, head, label);
    this.object.add(group);
    avatar = {
      group,
      limbs: { armLeft, armRight, legLeft, legRight },
      materials: [shirt, sleeves, trousers, skin],
      label,
      name: peer.name,
      shown: false,
      speed: 0,
      phase: 0,
    };
    this.#avatars.set(peer.id, avatar);
    return avatar;
  }

  #drop(avatar: Avatar): void {
    this.object.remove(avatar.group);
    for (const material of avatar.materials) material.dispose();
    // Removing the group does not take its label's element off the page: that is ours to do.
    avatar.label.element.remove();
  }
}

/** A colour from a hue (0..1), a saturation and a lightness. */
function hsl(hue: number, saturation: number, lightness: number): number {
  const [r, g, b] = [0, 8, 4].map((n) => {
    const k = (n + hue * 12) % 12;
    const a = saturation * Math.min(lightness, 1 - lightness);
    return lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  }) as [number, number, number];
  return (Math.round(r * 255) << 16) | (Math.round(g * 255) << 8) | Math.round(b * 255);
}

const SKIN_TONES = [0xf1c7a5, 0xe0a981, 0xc68a5e, 0x8d5a3b, 0x5c3a24];

/** A stable look per wallet: the shirt's hue from its first bytes, the trousers' from the next, a skin tone. */
export function coloursOf(wallet: string): { shirt: number; sleeves: number; trousers: number; skin: number } {
  const byte = (at: number) => Number.parseInt(wallet.slice(2 + at * 2, 4 + at * 2) || "0", 16) || 0;
  const shirtHue = ((byte(0) << 8) | byte(1)) / 0x10000;
  const trousersHue = (shirtHue + 0.35 + (byte(2) / 255) * 0.3) % 1;
  return {
    shirt: hsl(shirtHue, 0.65, 0.5),
    sleeves: hsl(shirtHue, 0.6, 0.38),
    trousers: hsl(trousersHue, 0.35, 0.28),
    skin: SKIN_TONES[byte(3) % SKIN_TONES.length] as number,
  };
}
