/**
 * First-person controls: pointer lock and mouse look, WASD or arrows to walk, Space to jump, Shift to sprint,
 * left click to break, right click to place, 1–9 or the wheel to pick a hotbar slot. The body is the pure
 * `PlayerBody`; `update` steps it and puts the camera at its eye.
 *
 * Where pointer lock is refused (headless browsers, sandboxed frames), dragging with a button held turns the
 * view instead, and a click that did not drag edits. A click that took the lock never edits.
 */
import type { PerspectiveCamera } from "three";
import {
  type BlockLiquidity,
  type BlockSolidity,
  type MoveInput,
  noInput,
  PLAYER_EYE_HEIGHT,
  PlayerBody,
  type Position,
} from "./player.ts";

export type FirstPersonControlsOptions = {
  camera: PerspectiveCamera;
  /** The canvas: clicks on it take the lock and edit, the wheel over it changes slot. */
  element: HTMLElement;
  /** Where keys are heard; the window by default. */
  keyTarget?: Window | HTMLElement;
  /** Radians the view turns per pixel of mouse movement. */
  sensitivity?: number;
  /** Ask for pointer lock on click (default true); false keeps drag-to-look. */
  pointerLock?: boolean;
  slotCount?: number;
  /** Whether a slot may be picked (a locked premium block may not); every slot by default. */
  isSlotSelectable?: (slot: number) => boolean;
};

/** A press that moved less than this (CSS pixels) is a click, not a drag. */
const CLICK_SLOP_PX = 4;
/** How long a click waits to learn whether it took the lock before it counts as an edit. */
const LOCK_VERDICT_MS = 500;
/** After this many refusals in a row pointer lock is not asked for again (the browser will not grant it). */
const LOCK_REFUSALS_TO_GIVE_UP = 2;
/** Wheel movement (in pixels) that moves the selection by one slot; a mouse wheel's notch is about 100. */
const WHEEL_STEP = 50;
const PITCH_LIMIT = Math.PI / 2 - 0.01;

const MOVE_KEYS: Record<string, keyof MoveInput> = {
  KeyW: "forward",
  ArrowUp: "forward",
  KeyS: "back",
  ArrowDown: "back",
  KeyA: "left",
  ArrowLeft: "left",
  KeyD: "right",
  ArrowRight: "right",
  Space: "jump",
  ShiftLeft: "sprint",
  ShiftRight: "sprint",
};

type Press = {
  button: number;
  x: number;
  y: number;
  moved: boolean;
  /** This press asked for the lock: it edits only if the lock is refused. */
  askedLock: boolean;
};

/** True when typing goes to a text field (the chat box), so game keys must not fire. */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "radio", "range", "submit", "reset", "color", "file"].includes(target.type);
}

export class FirstPersonControls {
  readonly body: PlayerBody;
  /** What the player is asking for: keys set it, and tests or benches may set it directly. */
  readonly input: MoveInput = noInput();
  /** Radians: turning left is positive (the camera's rotation about y). */
  yaw = 0;
  /** Radians: looking up is positive, within ±(π/2 − 0.01). */
  pitch = 0;
  /** The hotbar slot in use (0-based); the wheel moves it, keys 1–9 set it. */
  selectedSlot = 0;
  onBreak: (() => void) | undefined;
  onPlace: (() => void) | undefined;
  onSelectSlot: ((slot: number) => void) | undefined;

  readonly #camera: PerspectiveCamera;
  readonly #element: HTMLElement;
  readonly #keyTarget: Window | HTMLElement;
  readonly #sensitivity: number;
  readonly #slotCount: number;
  readonly #isSlotSelectable: (slot: number) => boolean;
  #useLock: boolean;
  #lockRefusals = 0;
  /** A lock request of ours awaits its answer (Chromium both rejects the promise and fires the event). */
  #lockAsked = false;
  #press: Press | undefined;
  /** A click that asked for the lock and awaits the verdict: it edits if the lock is refused. */
  #pendingClick: { button: number; timer: ReturnType<typeof setTimeout> } | undefined;
  #wheel = 0;
  #disposed = false;
  readonly #eye: Position = [0, 0, 0];
  readonly #lastView = [Number.NaN, 0, 0, 0, 0];

  constructor(options: FirstPersonControlsOptions) {
    this.#camera = options.camera;
    this.#element = options.element;
    this.#keyTarget = options.keyTarget ?? window;
    this.#sensitivity = options.sensitivity ?? 0.0025;
    this.#useLock = options.pointerLock ?? true;
    this.#slotCount = options.slotCount ?? 9;
    this.#isSlotSelectable = options.isSlotSelectable ?? (() => true);
    const { x, y, z } = this.#camera.position;
    this.body = new PlayerBody(x, y - PLAYER_EYE_HEIGHT, z);

    this.#element.addEventListener("pointerdown", this.#onPointerDown);
    this.#element.addEventListener("contextmenu", this.#onContextMenu);
    this.#element.addEventListener("wheel", this.#onWheel, { passive: false });
    window.addEventListener("pointermove", this.#onPointerMove);
    window.addEventListener("pointerup", this.#onPointerUp);
    window.addEventListener("blur", this.#onBlur);
    this.#keyTarget.addEventListener("keydown", this.#onKeyDown as EventListener);
    this.#keyTarget.addEventListener("keyup", this.#onKeyUp as EventListener);
    this.#keyTarget.addEventListener("focusin", this.#onFocusIn);
    document.addEventListener("pointerlockchange", this.#onLockChange);
    document.addEventListener("pointerlockerror", this.#onLockError);
  }

  /** Whether the pointer is locked to the element (mouse movement turns the view without a button held). */
  get locked(): boolean {
    return document.pointerLockElement === this.#element;
  }

  /** Feet position (the avatar position the movement channel sends and the rules check reach from). */
  get position(): readonly [number, number, number] {
    return this.body.position;
  }

  /** Puts the body's feet at (x, y, z) at rest. */
  teleport(x: number, y: number, z: number): void {
    this.body.teleport(x, y, z);
  }

  /** Sets the view direction; pitch is clamped. */
  setLook(yaw: number, pitch: number): void {
    this.yaw = yaw;
    this.pitch = Math.min(PITCH_LIMIT, Math.max(-PITCH_LIMIT, pitch));
  }

  /** Turns the view toward world point (x, y, z) from the eye. */
  lookAt(x: number, y: number, z: number): void {
    const [ex, ey, ez] = this.body.eye(1, this.#eye);
    const dx = x - ex;
    const dz = z - ez;
    this.setLook(Math.atan2(-dx, -dz), Math.atan2(y - ey, Math.hypot(dx, dz)));
  }

  /**
   * Steps the body by `dt` seconds against the world and puts the camera at its eye, looking along yaw and pitch.
   * Returns whether the camera moved or turned (an on-demand renderer draws only then).
   */
  update(dt: number, isSolid: BlockSolidity, isWater?: BlockLiquidity): boolean {
    this.body.step(dt, this.input, this.yaw, isSolid, isWater);
    const [x, y, z] = this.body.eye(this.body.alpha, this.#eye);
    this.#camera.position.set(x, y, z);
    this.#camera.rotation.set(this.pitch, this.yaw, 0, "YXZ");
    const last = this.#lastView;
    const changed = last[0] !== x || last[1] !== y || last[2] !== z || last[3] !== this.yaw || last[4] !== this.pitch;
    last[0] = x;
    last[1] = y;
    last[2] = z;
    last[3] = this.yaw;
    last[4] = this.pitch;
    return changed;
  }

  /** Picks a hotbar slot, if it may be picked, and reports it. */
  selectSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slotCount || !this.#isSlotSelectable(slot)) return;
    this.selectedSlot = slot;
    this.onSelectSlot?.(slot);
  }

  /** Removes every listener and releases the pointer. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#element.removeEventListener("pointerdown", this.#onPointerDown);
    this.#element.removeEventListener("contextmenu", this.#onContextMenu);
    this.#element.removeEventListener("wheel", this.#onWheel);
    window.removeEventListener("pointermove", this.#onPointerMove);
    window.removeEventListener("pointerup", this.#onPointerUp);
    window.removeEventListener("blur", this.#onBlur);
    this.#keyTarget.removeEventListener("keydown", this.#onKeyDown as EventListener);
    this.#keyTarget.removeEventListener("keyup", this.#onKeyUp as EventListener);
    this.#keyTarget.removeEventListener("focusin", this.#onFocusIn);
    document.removeEventListener("pointerlockchange", this.#onLockChange);
    document.removeEventListener("pointerlockerror", this.#onLockError);
    if (this.#pendingClick) clearTimeout(this.#pendingClick.timer);
    this.#pendingClick = undefined;
    if (this.locked) document.exitPointerLock();
    this.#releaseAll();
  }

  #turn(dx: number, dy: number): void {
    this.setLook(this.yaw - dx * this.#sensitivity, this.pitch - dy * this.#sensitivity);
  }

  #edit(button: number): void {
    if (button === 0) this.onBreak?.();
    else if (button === 2) this.onPlace?.();
  }

  #requestLock(): void {
    this.#lockAsked = true;
    try {
      // Chromium returns a promise that rejects on refusal; other browsers fire pointerlockerror.
      const result = this.#element.requestPointerLock() as unknown as Promise<void> | undefined;
      result?.catch?.(() => this.#onLockError());
    } catch {
      this.#onLockError();
    }
  }

  #onPointerDown = (event: PointerEvent): void => {
    if (event.button !== 0 && event.button !== 2) return;
    if (this.locked) {
      // Locked: the crosshair aims, so the press edits at once.
      event.preventDefault();
      this.#edit(event.button);
      return;
    }
    const askedLock = this.#useLock && typeof this.#element.requestPointerLock === "function";
    this.#press = { button: event.button, x: event.clientX, y: event.clientY, moved: false, askedLock };
    if (askedLock) this.#requestLock();
  };

  #onPointerMove = (event: PointerEvent): void => {
    if (this.locked) {
      this.#turn(event.movementX, event.movementY);
      return;
    }
    const press = this.#press;
    if (!press) return;
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (!press.moved && Math.hypot(dx, dy) <= CLICK_SLOP_PX) return;
    press.moved = true;
    press.x = event.clientX;
    press.y = event.clientY;
    this.#turn(dx, dy);
  };

  #onPointerUp = (event: PointerEvent): void => {
    const press = this.#press;
    if (!press || press.button !== event.button) return;
    this.#press = undefined;
    if (press.moved || this.locked) return;
    if (!press.askedLock) {
      this.#edit(press.button);
      return;
    }
    // The lock may still be on its way: edit only once it is known to be refused.
    if (this.#pendingClick) clearTimeout(this.#pendingClick.timer);
    const timer = setTimeout(() => this.#settlePendingClick(!this.locked), LOCK_VERDICT_MS);
    this.#pendingClick = { button: press.button, timer };
  };

  #settlePendingClick(edit: boolean): void {
    const pending = this.#pendingClick;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pendingClick = undefined;
    if (edit && !this.#disposed) this.#edit(pending.button);
  }

  #onLockChange = (): void => {
    this.#lockAsked = false;
    if (this.locked) {
      this.#lockRefusals = 0;
      this.#press = undefined;
      this.#settlePendingClick(false);
    } else this.#releaseAll();
  };

  #onLockError = (): void => {
    if (!this.#lockAsked) return;
    this.#lockAsked = false;
    if (++this.#lockRefusals >= LOCK_REFUSALS_TO_GIVE_UP) this.#useLock = false;
    // A press still held goes on as a drag or a click; a click already released edits now.
    if (this.#press) this.#press.askedLock = false;
    this.#settlePendingClick(true);
  };

  #onContextMenu = (event: Event): void => {
    event.preventDefault();
  };

  #onWheel = (event: WheelEvent): void => {
    event.preventDefault();
    const scale = event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? 100 : 1;
    this.#wheel += event.deltaY * scale;
    // One slot an event at most: a notch is one slot whatever its size, a trackpad's flow adds up slowly.
    if (Math.abs(this.#wheel) < WHEEL_STEP) return;
    const direction = Math.sign(this.#wheel);
    this.#wheel = 0;
    this.#stepSlot(direction);
  };

  /** Moves the selection by ±1, skipping slots that may not be picked and wrapping round. */
  #stepSlot(direction: number): void {
    const n = this.#slotCount;
    for (let i = 1; i <= n; i++) {
      const slot = (((this.selectedSlot + direction * i) % n) + n) % n;
      if (this.#isSlotSelectable(slot)) {
        if (slot !== this.selectedSlot) this.selectSlot(slot);
        return;
      }
    }
  }

  #onKeyDown = (event: KeyboardEvent): void => {
    if (isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const move = MOVE_KEYS[event.code];
    if (move) {
      this.input[move] = true;
      // Space and the arrows would scroll the page.
      if (move !== "sprint") event.preventDefault();
      return;
    }
    const digit = /^Digit([1-9])$/.exec(event.code)?.[1];
    if (digit && !event.repeat) this.selectSlot(Number(digit) - 1);
  };

  #onKeyUp = (event: KeyboardEvent): void => {
    // Releasing is always heard, even in a text field, so no key stays held.
    const move = MOVE_KEYS[event.code];
    if (move === "sprint") this.input.sprint = event.shiftKey;
    else if (move) this.input[move] = false;
  };

  #onFocusIn = (event: Event): void => {
    if (isTyping(event.target)) this.#releaseAll();
  };

  #onBlur = (): void => {
    this.#releaseAll();
  };

  #releaseAll(): void {
    const input = this.input;
    input.forward = input.back = input.left = input.right = input.jump = input.sprint = false;
    this.#press = undefined;
  }
}
