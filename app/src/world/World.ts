/**
 * The three.js world: chunk meshes from the mesher worker, an orbit camera, outlines on provisional blocks,
 * and clicks turned into edit requests. It renders on demand, so an idle world costs nothing, and never waits
 * for the worker: meshes are swapped in when they arrive.
 */
import {
  AmbientLight,
  BoxGeometry,
  BufferAttribute,
  BufferGeometry,
  Color,
  DirectionalLight,
  EdgesGeometry,
  Fog,
  LineBasicMaterial,
  LineSegments,
  Mesh,
  MeshLambertMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  Vector2,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { AIR, BLOCK_IDS } from "../../../core/blocks.ts";
import { CHUNK_SIZE, locateBlock } from "../../../core/chunk.ts";
import { groundHeight, SEA_LEVEL } from "../../../core/terrain.ts";
import type { MeshBuffers } from "./mesher.ts";
import { editTarget, raycastVoxels, type Vec3, type VoxelHit } from "./picking.ts";
import { type ChunkCoords, chunkKey, type FromMesher, type ToMesher } from "./protocol.ts";

export type WorldOptions = {
  seed: number;
  /** The chunks to load, nearest first. */
  chunks: ChunkCoords[];
};

export type EditRequest = {
  mode: "break" | "place";
  hit: VoxelHit;
  /** The block the edit changes (the hit block, or the cell in front of the hit face). */
  target: Vec3;
  /** performance.now() of the click. */
  clickedAt: number;
};

export type OutlineState = "provisional" | "anchoring" | "failed";

type LoadedChunk = {
  coords: ChunkCoords;
  blocks: Uint16Array;
  opaque?: Mesh;
  translucent?: Mesh;
  meshedSeq: number;
};

type ApplyWaiter = { key: string; seq: number; startedAt: number; resolve: (ms: number) => void };

/** A click is an edit only if the pointer moved less than this (in CSS pixels) between down and up. */
const CLICK_SLOP_PX = 4;
const PICK_DISTANCE = 256;
const SKY = 0x9fd2f5;
const OUTLINE_COLORS: Record<OutlineState, number> = { provisional: 0xffd400, anchoring: 0x38c8ff, failed: 0xff3b3b };

/** Chunks (cx, cz in −radius..radius, cy in yMin..yMax) ordered nearest the origin first. */
export function chunksAround(radius: number, yMin: number, yMax: number): ChunkCoords[] {
  const list: ChunkCoords[] = [];
  for (let cy = yMin; cy <= yMax; cy++)
    for (let cz = -radius; cz <= radius; cz++) for (let cx = -radius; cx <= radius; cx++) list.push({ cx, cy, cz });
  const distance = ({ cx, cy, cz }: ChunkCoords) => (cx + 0.5) ** 2 + (cy + 0.5) ** 2 + (cz + 0.5) ** 2;
  return list.sort((a, b) => distance(a) - distance(b));
}

export class World {
  readonly canvas: HTMLCanvasElement;
  /** Called for every click that did not drag (orbiting never edits). */
  onEditRequest: ((request: EditRequest) => void) | undefined;
  /** Resolves once every initial chunk is meshed and drawn. */
  readonly ready: Promise<void>;
  /** performance.now() when the world became ready. */
  readyAt: number | undefined;

  readonly #renderer: WebGLRenderer;
  readonly #scene = new Scene();
  readonly #camera = new PerspectiveCamera(55, 1, 0.1, 1000);
  readonly #controls: OrbitControls;
  readonly #worker: Worker;
  readonly #chunks = new Map<string, LoadedChunk>();
  readonly #expected: number;
  readonly #opaqueMaterial = new MeshLambertMaterial({ vertexColors: true });
  readonly #translucentMaterial = new MeshLambertMaterial({
    vertexColors: true,
    transparent: true,
    opacity: 0.65,
    depthWrite: false,
  });
  readonly #outlineGeometry = new EdgesGeometry(new BoxGeometry(1.04, 1.04, 1.04));
  readonly #outlineMaterials = new Map<OutlineState, LineBasicMaterial>();
  readonly #outlines = new Map<string, LineSegments>();
  readonly #applyWaiters: ApplyWaiter[] = [];
  #drawnWaiters: ApplyWaiter[] = [];
  #seq = 0;
  #initialMeshes = 0;
  #dirty = true;
  #frame = 0;
  #destroyed = false;
  #resizeObserver: ResizeObserver | undefined;
  #pointerDown: { x: number; y: number; button: number; shift: boolean; moved: boolean } | undefined;
  #markReady: () => void = () => {};
  #readyPending = false;

  constructor(options: WorldOptions) {
    this.canvas = document.createElement("canvas");
    this.canvas.dataset.testid = "world-canvas";
    this.canvas.className = "world-canvas";
    // No MSAA: it doubles the frame cost under software GL (the e2e browser), and blocks read fine without it.
    this.#renderer = new WebGLRenderer({ canvas: this.canvas, antialias: false, powerPreference: "high-performance" });
    this.#renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.#expected = options.chunks.length;
    this.ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });

    this.#scene.background = new Color(SKY);
    this.#scene.fog = new Fog(SKY, 120, 260);
    this.#scene.add(new AmbientLight(0xffffff, 1.1));
    const sun = new DirectionalLight(0xffffff, 2.2);
    sun.position.set(0.45, 1, 0.3);
    this.#scene.add(sun);

    // Look down at the ground by the origin, from the side the loaded chunks extend to, so the canvas centre hits terrain.
    const ground = Math.max(groundHeight(options.seed, 0, 0), SEA_LEVEL);
    this.#controls = new OrbitControls(this.#camera, this.canvas);
    this.#controls.target.set(0.5, ground + 1, 0.5);
    this.#camera.position.set(0.5 - 21, ground + 1 + 25, 0.5 - 21);
    this.#controls.maxPolarAngle = Math.PI * 0.47;
    this.#controls.minDistance = 4;
    this.#controls.maxDistance = 180;
    this.#controls.update();
    this.#controls.addEventListener("change", () => this.invalidate());

    this.canvas.addEventListener("pointerdown", this.#onPointerDown);
    this.canvas.addEventListener("pointermove", this.#onPointerMove);
    this.canvas.addEventListener("pointerup", this.#onPointerUp);
    this.canvas.addEventListener("contextmenu", (event) => event.preventDefault());

    this.#worker = new Worker(new URL("./mesher.worker.ts", import.meta.url), { type: "module", name: "mesher" });
    this.#worker.addEventListener("message", (event: MessageEvent<FromMesher>) => this.#onWorkerMessage(event.data));
    this.#worker.addEventListener("error", (event) => console.error("seedcraft: mesher worker failed", event.message));
    this.#post({ type: "generate", seed: options.seed, chunks: options.chunks });
    this.#frame = requestAnimationFrame(this.#render);
  }

  /** Puts the canvas into `container` and keeps it sized to it. */
  mount(container: HTMLElement): void {
    container.appendChild(this.canvas);
    this.#resizeObserver?.disconnect();
    this.#resizeObserver = new ResizeObserver(() => this.#resize(container));
    this.#resizeObserver.observe(container);
    this.#resize(container);
  }

  invalidate(): void {
    this.#dirty = true;
  }

  /** The block at world coordinates, or undefined where no chunk is loaded. */
  getBlock(wx: number, wy: number, wz: number): number | undefined {
    const { cx, cy, cz, index } = locateBlock(wx, wy, wz);
    return this.#chunks.get(chunkKey(cx, cy, cz))?.blocks[index];
  }

  /** The live blocks of a loaded chunk (the array edits change in place). */
  chunkBlocks(cx: number, cy: number, cz: number): Uint16Array | undefined {
    return this.#chunks.get(chunkKey(cx, cy, cz))?.blocks;
  }

  /**
   * Sets a block at once and has its chunk remeshed. Resolves with the milliseconds from `startedAt` until a
   * frame showing the change was drawn.
   */
  setBlock(wx: number, wy: number, wz: number, block: number, startedAt = performance.now()): Promise<number> {
    const { cx, cy, cz, index } = locateBlock(wx, wy, wz);
    const key = chunkKey(cx, cy, cz);
    const chunk = this.#chunks.get(key);
    if (!chunk) return Promise.reject(new RangeError(`chunk ${key} is not loaded`));
    chunk.blocks[index] = block;
    const seq = ++this.#seq;
    this.#post({ type: "setBlock", cx, cy, cz, index, block, seq });
    return new Promise((resolve) => this.#applyWaiters.push({ key, seq, startedAt, resolve }));
  }

  /** Shows (or, with undefined, removes) the outline box on a block. */
  setOutline(position: Vec3, state: OutlineState | undefined): void {
    const key = position.join(",");
    const existing = this.#outlines.get(key);
    if (!state) {
      if (existing) {
        this.#scene.remove(existing);
        this.#outlines.delete(key);
        this.invalidate();
      }
      return;
    }
    const material = this.#outlineMaterial(state);
    if (existing) existing.material = material;
    else {
      const outline = new LineSegments(this.#outlineGeometry, material);
      outline.position.set(position[0] + 0.5, position[1] + 0.5, position[2] + 0.5);
      outline.renderOrder = 10;
      this.#scene.add(outline);
      this.#outlines.set(key, outline);
    }
    this.invalidate();
  }

  /** Stops rendering and the worker, and frees GPU memory. Safe to call twice. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    cancelAnimationFrame(this.#frame);
    this.#resizeObserver?.disconnect();
    this.#worker.terminate();
    this.#controls.dispose();
    for (const chunk of this.#chunks.values()) {
      chunk.opaque?.geometry.dispose();
      chunk.translucent?.geometry.dispose();
    }
    this.#outlineGeometry.dispose();
    for (const material of this.#outlineMaterials.values()) material.dispose();
    this.#opaqueMaterial.dispose();
    this.#translucentMaterial.dispose();
    this.#renderer.dispose();
    this.canvas.remove();
  }

  #post(message: ToMesher): void {
    this.#worker.postMessage(message);
  }

  #outlineMaterial(state: OutlineState): LineBasicMaterial {
    let material = this.#outlineMaterials.get(state);
    if (!material) {
      material = new LineBasicMaterial({ color: OUTLINE_COLORS[state], depthTest: false, transparent: true });
      this.#outlineMaterials.set(state, material);
    }
    return material;
  }

  #onWorkerMessage(message: FromMesher): void {
    if (this.#destroyed) return;
    switch (message.type) {
      case "blocks": {
        const { cx, cy, cz, blocks } = message;
        this.#chunks.set(chunkKey(cx, cy, cz), { coords: { cx, cy, cz }, blocks, meshedSeq: -1 });
        return;
      }
      case "mesh": {
        const { cx, cy, cz, mesh, seq } = message;
        const key = chunkKey(cx, cy, cz);
        const chunk = this.#chunks.get(key);
        if (!chunk || seq < chunk.meshedSeq) return;
        if (chunk.meshedSeq < 0 && ++this.#initialMeshes === this.#expected) this.#readyPending = true;
        chunk.meshedSeq = seq;
        chunk.opaque = this.#replaceMesh(chunk.opaque, mesh.opaque, this.#opaqueMaterial, chunk.coords);
        chunk.translucent = this.#replaceMesh(
          chunk.translucent,
          mesh.translucent,
          this.#translucentMaterial,
          chunk.coords,
        );
        for (let i = this.#applyWaiters.length - 1; i >= 0; i--) {
          const waiter = this.#applyWaiters[i] as ApplyWaiter;
          if (waiter.key === key && waiter.seq <= seq) {
            this.#applyWaiters.splice(i, 1);
            this.#drawnWaiters.push(waiter);
          }
        }
        this.invalidate();
        return;
      }
      case "error":
        console.error("seedcraft: mesher worker error:", message.message);
        return;
    }
  }

  #replaceMesh(
    old: Mesh | undefined,
    buffers: MeshBuffers,
    material: MeshLambertMaterial,
    coords: ChunkCoords,
  ): Mesh | undefined {
    if (old) {
      this.#scene.remove(old);
      old.geometry.dispose();
    }
    if (buffers.indices.length === 0) return undefined;
    const geometry = new BufferGeometry();
    geometry.setAttribute("position", new BufferAttribute(buffers.positions, 3));
    geometry.setAttribute("normal", new BufferAttribute(buffers.normals, 3));
    geometry.setAttribute("uv", new BufferAttribute(buffers.uvs, 2));
    geometry.setIndex(new BufferAttribute(buffers.indices, 1));
    geometry.computeBoundingSphere();
    const mesh = new Mesh(geometry, material);
    mesh.position.set(coords.cx * CHUNK_SIZE, coords.cy * CHUNK_SIZE, coords.cz * CHUNK_SIZE);
    mesh.matrixAutoUpdate = false;
    mesh.updateMatrix();
    this.#scene.add(mesh);
    return mesh;
  }

  #render = (): void => {
    if (this.#destroyed) return;
    this.#frame = requestAnimationFrame(this.#render);
    if (this.readyAt === undefined && this.#readyPending && !this.#dirty) {
      // The frame with every initial chunk was drawn last time round.
      this.readyAt = performance.now();
      this.canvas.dataset.worldReady = "true";
      this.canvas.dataset.readyMs = String(Math.round(this.readyAt));
      this.#markReady();
    }
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#renderer.render(this.#scene, this.#camera);
    const now = performance.now();
    for (const waiter of this.#drawnWaiters) waiter.resolve(now - waiter.startedAt);
    this.#drawnWaiters = [];
  };

  #resize(container: HTMLElement): void {
    const width = Math.max(1, container.clientWidth);
    const height = Math.max(1, container.clientHeight);
    this.#renderer.setSize(width, height, false);
    this.#camera.aspect = width / height;
    this.#camera.updateProjectionMatrix();
    this.invalidate();
  }

  #onPointerDown = (event: PointerEvent): void => {
    this.#pointerDown = {
      x: event.clientX,
      y: event.clientY,
      button: event.button,
      shift: event.shiftKey,
      moved: false,
    };
  };

  #onPointerMove = (event: PointerEvent): void => {
    const down = this.#pointerDown;
    if (down && Math.hypot(event.clientX - down.x, event.clientY - down.y) > CLICK_SLOP_PX) down.moved = true;
  };

  #onPointerUp = (event: PointerEvent): void => {
    const down = this.#pointerDown;
    this.#pointerDown = undefined;
    if (!down || down.moved || down.button !== event.button) return;
    if (Math.hypot(event.clientX - down.x, event.clientY - down.y) > CLICK_SLOP_PX) return;
    const mode =
      down.button === 2 || (down.button === 0 && down.shift) ? "place" : down.button === 0 ? "break" : undefined;
    if (!mode || !this.onEditRequest) return;
    const hit = this.#pick(event);
    if (hit) this.onEditRequest({ mode, hit, target: editTarget(hit, mode), clickedAt: event.timeStamp });
  };

  #pick(event: PointerEvent): VoxelHit | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new Vector2(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1,
    );
    const raycaster = new Raycaster();
    raycaster.setFromCamera(ndc, this.#camera);
    const { origin, direction } = raycaster.ray;
    return raycastVoxels(
      [origin.x, origin.y, origin.z],
      [direction.x, direction.y, direction.z],
      PICK_DISTANCE,
      (x, y, z) => {
        const block = this.getBlock(x, y, z);
        return block !== undefined && block !== AIR && block !== BLOCK_IDS.water;
      },
    );
  }
}
