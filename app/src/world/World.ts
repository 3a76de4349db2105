/**
 * The three.js world: chunk meshes from the mesher worker, streamed around the player, first-person controls
 * with physics, the block under the crosshair, outlines on edited blocks, and other players' avatars. It draws
 * on demand (a frame only when something changed), and never waits for the worker: meshes that arrive are
 * queued and put in the scene within a per-frame budget, so a burst of them never stalls a frame.
 */
import {
  AmbientLight,
  BoxGeometry,
  BufferAttribute,
  BufferGeometry,
  Color,
  DataArrayTexture,
  DirectionalLight,
  EdgesGeometry,
  Fog,
  LineBasicMaterial,
  LineSegments,
  Mesh,
  MeshLambertMaterial,
  NearestFilter,
  NearestMipmapLinearFilter,
  PerspectiveCamera,
  RepeatWrapping,
  RGBAFormat,
  Scene,
  Sphere,
  SRGBColorSpace,
  UnsignedByteType,
  Vector3,
  WebGLRenderer,
} from "three";
import { CSS2DRenderer } from "three/examples/jsm/renderers/CSS2DRenderer.js";
import { BLOCK_IDS } from "../../../core/blocks.ts";
import { CHUNK_SIZE, CHUNK_VOLUME, locateBlock } from "../../../core/chunk.ts";
import { groundHeight, SEA_LEVEL, WORLD_MAX_Y, WORLD_MIN_Y } from "../../../core/terrain.ts";
import { type Atlas, generateAtlas, TILES } from "./atlas.ts";
import { Avatars } from "./avatars.ts";
import { FirstPersonControls } from "./controls.ts";
import { type MeshBuffers, meshBytes } from "./mesher.ts";
import type { Vec3, VoxelHit } from "./picking.ts";
import { type BlockLiquidity, type BlockSolidity, liquidityOf, openYaw, SPAWN_PITCH, solidityOf } from "./player.ts";
import { type ChunkCoords, type ChunkPoint, chunkKey, type FromMesher, type ToMesher } from "./protocol.ts";
import { TargetOutline } from "./targetOutline.ts";

export type WorldOptions = {
  seed: number;
  /** Where the view is centred, in blocks (the player's position); by default above the ground at the origin. */
  center?: Vec3;
  /** Chunk columns loaded around the centre: those within this many chunks (default 1, i.e. 3×3). */
  viewDistance?: number;
  /** Chunk layers loaded above and below the centre's chunk (default 1: three layers). */
  verticalDistance?: number;
  /**
   * The drawing buffer's resolution relative to the canvas (0.25..1), or "auto" (the default): it starts at 1
   * (0.5 where WebGL runs in software, SwiftShader or llvmpipe, where filling pixels is most of a frame's
   * cost) and follows what frames cost, down while they take over 28 ms to reach the screen, up below 18 ms.
   */
  renderScale?: number | "auto";
  /** Whether hotbar slot `i` may be picked (keys 1–9, the wheel): a locked premium block may not. */
  isSlotSelectable?: (slot: number) => boolean;
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

export type WorldStats = {
  /** Chunks in view (loaded or on their way). */
  chunksWanted: number;
  /** Chunks whose blocks are here (generated or set). */
  chunksLoaded: number;
  /** Chunks meshed and in the scene (an all-air chunk counts once meshed: it has nothing to draw). */
  chunksVisible: number;
  /** three.js meshes in the scene (opaque and translucent parts). */
  meshesInScene: number;
  /** Meshes received and waiting for their turn to go into the scene. */
  uploadQueue: number;
  /** Chunks waiting in the worker to be meshed, and to be generated (as of its last mesh). */
  meshQueue: number;
  generateQueue: number;
  /** The worker's meshChunk time for the last mesh received. */
  lastMeshMs: number;
  /** Main-thread time spent putting meshes into the scene in the last frame that did. */
  lastUploadMs: number;
  viewDistance: number;
  /** The drawing buffer's resolution relative to the canvas, and whether WebGL runs in software. */
  renderScale: number;
  softwareGl: boolean;
  /** Frames drawn since the world started (frames are drawn only when something changed). */
  framesDrawn: number;
  frameCostMs: number;
  /** The centre's chunk. */
  centerChunk: ChunkCoords;
  drawCalls: number;
  triangles: number;
};

type LoadedChunk = {
  coords: ChunkCoords;
  /** Undefined until the worker generated them or setChunk set them. */
  blocks: Uint16Array | undefined;
  /** The seq of the load that asked for this chunk: anything older belongs to an earlier visit. */
  loadSeq: number;
  opaque?: Mesh;
  translucent?: Mesh;
  /** seq of the mesh in the scene, −1 before the first. */
  meshedSeq: number;
};

type MeshMessage = Extract<FromMesher, { type: "mesh" }>;

type ApplyWaiter = {
  key: string;
  seq: number;
  startedAt: number;
  /** performance.now() when the change went to the worker, its mesh came back, and went into the scene. */
  postedAt: number;
  meshedAt?: number;
  uploadedAt?: number;
  drawnAt?: number;
  resolve: (ms: number) => void;
  reject: (error: Error) => void;
};

const SKY = 0x9fd2f5;
const SOFTWARE_RENDER_SCALE = 0.5;
const MIN_RENDER_SCALE = 0.25;
/**
 * Dynamic resolution: frames slower than this (draw call to screen) lower the scale, quicker ones raise it.
 * Software compositing puts a floor of about 16 ms under every frame, whatever its size: the band sits above it.
 */
const SLOW_FRAME_MS = 28;
const QUICK_FRAME_MS = 18;
const RESCALE_EVERY_MS = 500;
/**
 * Under software GL, a frame whose only changes are ambient (peers' avatars walking, an edit's outline changing
 * colour) waits until this long after the last one (about 30 a second), and longer while frames are slow: at
 * least AMBIENT_FRAME_SHARE frame costs apart, so that ambient frames keep at most half of the main thread.
 * Drawing them at 60 took a whole core in bench:soak, which the game's own network, the indexer and the other
 * programs on a GPU-less machine then lacked; and each software frame holds the main thread (the browser reads
 * it back), so a peer's op arriving meanwhile waits for it (bench:networks). Our own moves, edits and chunks,
 * and peers' edits, are drawn at the next frame as before.
 */
const AMBIENT_FRAME_MS = 1000 / 30 - 4;
const AMBIENT_FRAME_SHARE = 2;
const OUTLINE_COLORS: Record<OutlineState, number> = { provisional: 0xffd400, anchoring: 0x38c8ff, failed: 0xff3b3b };
/** Main-thread time per frame for putting received meshes into the scene. */
const UPLOAD_BUDGET_MS = 4;
/** Mesh bytes per frame: three.js sends them to the GPU during the render, outside the budget's clock. */
const UPLOAD_BYTES_PER_FRAME = 2 * 1024 * 1024;
const MAX_VIEW_DISTANCE = 32;
const MIN_CY = Math.floor(WORLD_MIN_Y / CHUNK_SIZE);
const MAX_CY = Math.floor((WORLD_MAX_Y - 1) / CHUNK_SIZE);
/** Every chunk mesh lies in its 32³ box: a fixed bounding sphere saves three.js a pass over the positions. */
const CHUNK_SPHERE = new Sphere(
  new Vector3(CHUNK_SIZE / 2, CHUNK_SIZE / 2, CHUNK_SIZE / 2),
  (CHUNK_SIZE / 2) * Math.sqrt(3),
);

/** Chunks (cx, cz in −radius..radius, cy in yMin..yMax) ordered nearest the origin first. */
export function chunksAround(radius: number, yMin: number, yMax: number): ChunkCoords[] {
  const list: ChunkCoords[] = [];
  for (let cy = yMin; cy <= yMax; cy++)
    for (let cz = -radius; cz <= radius; cz++) for (let cx = -radius; cx <= radius; cx++) list.push({ cx, cy, cz });
  const distance = ({ cx, cy, cz }: ChunkCoords) => (cx + 0.5) ** 2 + (cy + 0.5) ** 2 + (cz + 0.5) ** 2;
  return list.sort((a, b) => distance(a) - distance(b));
}

/**
 * The block atlas as a texture array, one 16×16 layer per tile. Chosen over a 2D atlas with fract() in the shader:
 * each layer wraps on its own (RepeatWrapping), so a merged quad repeats its tile and mipmaps work without
 * bleeding from the next tile.
 */
function atlasTexture(atlas: Atlas = generateAtlas()): DataArrayTexture {
  const texture = new DataArrayTexture(atlas.pixels, atlas.tileSize, atlas.tileSize, atlas.tiles.length);
  texture.format = RGBAFormat;
  texture.type = UnsignedByteType;
  texture.colorSpace = SRGBColorSpace;
  texture.wrapS = RepeatWrapping;
  texture.wrapT = RepeatWrapping;
  texture.magFilter = NearestFilter;
  // Nearest within a level keeps the pixel look up close; blending levels stops far ground from shimmering.
  texture.minFilter = NearestMipmapLinearFilter;
  texture.generateMipmaps = true;
  texture.needsUpdate = true;
  return texture;
}

/** Lambert lighting (sun and ambient) with the diffuse colour read from the atlas layer of each quad. */
function blockMaterial(atlas: { value: DataArrayTexture }, translucent: boolean): MeshLambertMaterial {
  const material = new MeshLambertMaterial(translucent ? { transparent: true, depthWrite: false } : {});
  material.onBeforeCompile = (shader) => {
    // The uniform object is shared, so a new atlas (an asset pack) reaches both materials at once.
    shader.uniforms.blockAtlas = atlas;
    shader.vertexShader = shader.vertexShader
      .replace(
        "#include <common>",
        "#include <common>\nattribute vec2 atlasUv;\nattribute float atlasTile;\nvarying vec2 vAtlasUv;\nflat varying float vAtlasTile;",
      )
      .replace("#include <uv_vertex>", "#include <uv_vertex>\nvAtlasUv = atlasUv;\nvAtlasTile = atlasTile;");
    shader.fragmentShader = shader.fragmentShader
      .replace(
        "#include <common>",
        "#include <common>\nuniform sampler2DArray blockAtlas;\nvarying vec2 vAtlasUv;\nflat varying float vAtlasTile;",
      )
      .replace("#include <map_fragment>", "diffuseColor *= texture(blockAtlas, vec3(vAtlasUv, vAtlasTile));");
  };
  return material;
}

export class World {
  readonly canvas: HTMLCanvasElement;
  /** The scene and camera: other parts (controls, avatars) add to them. */
  readonly scene = new Scene();
  readonly camera = new PerspectiveCamera(55, 1, 0.1, 1000);
  /** Called for a break (left click) or place (right click) on the block under the crosshair, within reach. */
  onEditRequest: ((request: EditRequest) => void) | undefined;
  /** Called once a chunk's blocks are loaded (generated terrain): the game puts its own state of it in. */
  onChunkLoaded: ((cx: number, cy: number, cz: number) => void) | undefined;
  /** Called every animation frame before drawing (seconds since the last one); returns whether to draw. */
  onFrame: ((dt: number, now: number) => boolean) | undefined;
  /** The player: physics body, mouse look, keys; and the block it aims at. */
  readonly controls: FirstPersonControls;
  readonly target = new TargetOutline();
  readonly avatars = new Avatars();
  /** Resolves once every chunk of the initial view is meshed and drawn. */
  readonly ready: Promise<void>;
  /** performance.now() when the world became ready. */
  readyAt: number | undefined;
  /**
   * Where the time of the latest block changes went (ms): to the worker and its mesh back, waiting for a frame
   * to take the mesh, to the frame drawn, to the frame presented.
   */
  readonly changeTimings: { meshMs: number; uploadMs: number; drawMs: number; presentMs: number }[] = [];
  /** performance.now() of the first frame drawn with at least one chunk mesh. */
  firstFrameAt: number | undefined;

  readonly #renderer: WebGLRenderer;
  /** WebGL runs on the CPU here (no GPU): frames cost tens of ms, so the world draws at a lower resolution. */
  readonly softwareGl: boolean;
  #renderScale: number;
  #autoScale: boolean;
  /** What frames cost from drawing to the screen (ms, a moving average), and when the scale last moved. */
  #frameCostMs = 0;
  #frameStartedAt = 0;
  #scaledAt = 0;
  /** Frames drawn whose waiters are told once the browser has presented them (a task after the frame). */
  readonly #presented = new MessageChannel();
  #presenting: ApplyWaiter[] = [];
  #presentPosted = false;
  #firstFrameDrawn = false;
  #readyDrawn = false;
  readonly #solid: BlockSolidity;
  readonly #water: BlockLiquidity;
  #lastFrameAt = performance.now();
  readonly #worker: Worker;
  readonly #chunks = new Map<string, LoadedChunk>();
  /** Received meshes by chunk, oldest first; a newer mesh of the same chunk takes the older one's place. */
  readonly #uploads = new Map<string, MeshMessage>();
  /** Chunks of the initial view not drawn yet. */
  readonly #initialPending = new Set<string>();
  readonly #atlas = { value: atlasTexture() };
  readonly #opaqueMaterial = blockMaterial(this.#atlas, false);
  readonly #translucentMaterial = blockMaterial(this.#atlas, true);
  readonly #outlineGeometry = new EdgesGeometry(new BoxGeometry(1.04, 1.04, 1.04));
  readonly #outlineMaterials = new Map<OutlineState, LineBasicMaterial>();
  readonly #outlines = new Map<string, LineSegments>();
  #applyWaiters: ApplyWaiter[] = [];
  #drawnWaiters: ApplyWaiter[] = [];
  #seq = 0;
  #center: Vec3;
  #centerChunk: ChunkCoords = { cx: Number.NaN, cy: Number.NaN, cz: Number.NaN };
  #viewDistance: number;
  readonly #verticalDistance: number;
  #chunksLoaded = 0;
  #chunksVisible = 0;
  #meshesInScene = 0;
  #workerQueues = { meshQueue: 0, generateQueue: 0, lastMeshMs: 0 };
  #lastUploadMs = 0;
  #dirty = true;
  /** Only ambient changes (peers' avatars, outline colours) since the last frame drawn (see AMBIENT_FRAME_MS). */
  #ambient = false;
  #drawnAtMs = 0;
  #framesDrawn = 0;
  #frame = 0;
  #destroyed = false;
  #resizeObserver: ResizeObserver | undefined;
  /** Players' name labels: DOM elements the browser draws sharp at any distance, laid over the canvas. */
  #labels: CSS2DRenderer | undefined;
  #labelsShown = false;
  #markReady: () => void = () => {};

  constructor(options: WorldOptions) {
    this.canvas = document.createElement("canvas");
    this.canvas.dataset.testid = "world-canvas";
    this.canvas.className = "world-canvas";
    // No MSAA: it doubles the frame cost under software GL (the e2e browser), and blocks read fine without it.
    this.#renderer = new WebGLRenderer({ canvas: this.canvas, antialias: false, powerPreference: "high-performance" });
    this.softwareGl = isSoftwareGl(this.#renderer);
    this.#autoScale = (options.renderScale ?? "auto") === "auto";
    this.#renderScale = this.#autoScale ? this.#startScale() : (options.renderScale as number);
    this.#renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2) * this.#renderScale);
    this.#presented.port1.onmessage = () => this.#onPresented();
    this.ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
    this.#viewDistance = checkDistance("viewDistance", options.viewDistance ?? 1);
    this.#verticalDistance = checkDistance("verticalDistance", options.verticalDistance ?? 1);
    this.#center = options.center ?? [0.5, Math.max(groundHeight(options.seed, 0, 0), SEA_LEVEL) + 1, 0.5];

    this.scene.background = new Color(SKY);
    this.scene.fog = new Fog(SKY, 120, 260);
    this.#fitFog();
    this.scene.add(new AmbientLight(0xffffff, 1.1));
    const sun = new DirectionalLight(0xffffff, 2.2);
    sun.position.set(0.45, 1, 0.3);
    this.scene.add(sun);

    // The player stands at the centre, facing the most open view, eyes near the horizon (not at the ground).
    const [x, y, z] = this.#center;
    const getBlock = (bx: number, by: number, bz: number) => this.getBlock(bx, by, bz);
    this.#solid = solidityOf(getBlock);
    this.#water = liquidityOf(getBlock, BLOCK_IDS.water);
    this.controls = new FirstPersonControls({
      camera: this.camera,
      element: this.canvas,
      isSlotSelectable: options.isSlotSelectable,
    });
    this.controls.teleport(x, y, z);
    this.controls.setLook(openYaw(options.seed, x, y, z), SPAWN_PITCH);
    this.controls.onBreak = () => this.#requestEdit("break");
    this.controls.onPlace = () => this.#requestEdit("place");
    this.scene.add(this.target.object, this.avatars.object);
    this.canvas.addEventListener("contextmenu", (event) => event.preventDefault());
    this.canvas.dataset.chunksVisible = "0";

    this.#worker = new Worker(new URL("./mesher.worker.ts", import.meta.url), { type: "module", name: "mesher" });
    this.#worker.addEventListener("message", (event: MessageEvent<FromMesher>) => this.#onWorkerMessage(event.data));
    this.#worker.addEventListener("error", (event) => console.error("seedcraft: mesher worker failed", event.message));
    this.#post({ type: "init", seed: options.seed });
    this.#updateView();
    for (const key of this.#chunks.keys()) this.#initialPending.add(key);
    this.#frame = requestAnimationFrame(this.#render);
  }

  /** Puts the canvas into `container` and keeps it sized to it. */
  mount(container: HTMLElement): void {
    container.appendChild(this.canvas);
    if (!this.#labels) {
      this.#labels = new CSS2DRenderer();
      this.#labels.domElement.className = "world-labels";
    }
    container.appendChild(this.#labels.domElement);
    this.#resizeObserver?.disconnect();
    this.#resizeObserver = new ResizeObserver(() => this.#resize(container));
    this.#resizeObserver.observe(container);
    this.#resize(container);
  }

  invalidate(): void {
    this.#dirty = true;
  }

  /**
   * Moves the centre of the view (in blocks). Crossing into another chunk loads what came into view, nearest
   * first, and unloads what is now beyond the view distance + 1 (the margin keeps a player pacing on a chunk
   * border from reloading the same chunks).
   */
  setCenter(position: Vec3): void {
    this.#center = [position[0], position[1], position[2]];
    this.#updateView();
  }

  /** Chunks loaded around the centre, 0..32. */
  setViewDistance(chunks: number): void {
    this.#viewDistance = checkDistance("viewDistance", chunks);
    this.#fitFog();
    this.#updateView(true);
  }

  /** The block at world coordinates, or undefined where no chunk is loaded. */
  getBlock(wx: number, wy: number, wz: number): number | undefined {
    const { cx, cy, cz, index } = locateBlock(wx, wy, wz);
    return this.#chunks.get(chunkKey(cx, cy, cz))?.blocks?.[index];
  }

  /** The live blocks of a loaded chunk (the array edits change in place). */
  chunkBlocks(cx: number, cy: number, cz: number): Uint16Array | undefined {
    return this.#chunks.get(chunkKey(cx, cy, cz))?.blocks;
  }

  /**
   * Sets a block at once and has its chunk remeshed. Resolves with the milliseconds from `startedAt` until a
   * frame showing the change was drawn; rejects if the chunk is not loaded, or leaves the view before that.
   */
  setBlock(wx: number, wy: number, wz: number, block: number, startedAt = performance.now()): Promise<number> {
    const { cx, cy, cz, index } = locateBlock(wx, wy, wz);
    const key = chunkKey(cx, cy, cz);
    const blocks = this.#chunks.get(key)?.blocks;
    if (!blocks) return Promise.reject(new RangeError(`chunk ${key} is not loaded`));
    blocks[index] = block;
    const seq = ++this.#seq;
    this.#post({ type: "setBlock", cx, cy, cz, index, block, seq });
    return this.#waitDrawn(key, seq, startedAt);
  }

  /**
   * Replaces a chunk's blocks (a downloaded snapshot) and has it remeshed ahead of the queue. The world keeps
   * `blocks` as the chunk's live copy. Resolves like setBlock; rejects if the chunk is not in view. Blocks that
   * are already shown (an anchor confirming what the edits drew: the common case, for every anchor in view)
   * resolve at once with 0, with nothing meshed or drawn.
   */
  setChunk(cx: number, cy: number, cz: number, blocks: Uint16Array, startedAt = performance.now()): Promise<number> {
    const key = chunkKey(cx, cy, cz);
    const chunk = this.#chunks.get(key);
    if (blocks.length !== CHUNK_VOLUME)
      return Promise.reject(new RangeError(`chunk ${key}: expected ${CHUNK_VOLUME} blocks, got ${blocks.length}`));
    if (!chunk) return Promise.reject(new RangeError(`chunk ${key} is not in view`));
    if (chunk.blocks && sameBlocks(chunk.blocks, blocks)) return Promise.resolve(0);
    if (!chunk.blocks) this.#chunksLoaded++;
    chunk.blocks = blocks;
    const seq = ++this.#seq;
    const copy = blocks.slice();
    this.#worker.postMessage({ type: "setChunk", cx, cy, cz, blocks: copy, seq } satisfies ToMesher, [copy.buffer]);
    return this.#waitDrawn(key, seq, startedAt);
  }

  stats(): WorldStats {
    const info = this.#renderer.info.render;
    return {
      chunksWanted: this.#chunks.size,
      chunksLoaded: this.#chunksLoaded,
      chunksVisible: this.#chunksVisible,
      meshesInScene: this.#meshesInScene,
      uploadQueue: this.#uploads.size,
      meshQueue: this.#workerQueues.meshQueue,
      generateQueue: this.#workerQueues.generateQueue,
      lastMeshMs: this.#workerQueues.lastMeshMs,
      lastUploadMs: this.#lastUploadMs,
      viewDistance: this.#viewDistance,
      renderScale: this.#renderScale,
      frameCostMs: Math.round(this.#frameCostMs * 10) / 10,
      framesDrawn: this.#framesDrawn,
      softwareGl: this.softwareGl,
      centerChunk: { ...this.#centerChunk },
      drawCalls: info.calls,
      triangles: info.triangles,
    };
  }

  /** Shows (or, with undefined, removes) the outline box on a block. */
  setOutline(position: Vec3, state: OutlineState | undefined): void {
    const key = position.join(",");
    const existing = this.#outlines.get(key);
    if (!state) {
      if (existing) {
        this.scene.remove(existing);
        this.#outlines.delete(key);
        this.#ambient = true;
      }
      return;
    }
    const material = this.#outlineMaterial(state);
    if (existing) {
      // Only its colour changes: it can wait for the next ambient frame.
      if (existing.material !== material) this.#ambient = true;
      existing.material = material;
      return;
    }
    const outline = new LineSegments(this.#outlineGeometry, material);
    outline.position.set(position[0] + 0.5, position[1] + 0.5, position[2] + 0.5);
    outline.renderOrder = 10;
    this.scene.add(outline);
    this.#outlines.set(key, outline);
    this.invalidate();
  }

  /** Stops rendering and the worker, and frees GPU memory. Safe to call twice. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    cancelAnimationFrame(this.#frame);
    this.#resizeObserver?.disconnect();
    this.#worker.terminate();
    this.controls.dispose();
    this.target.dispose();
    this.avatars.dispose();
    this.#labels?.domElement.remove();
    for (const chunk of this.#chunks.values()) this.#removeMeshes(chunk);
    this.#uploads.clear();
    this.#outlineGeometry.dispose();
    for (const material of this.#outlineMaterials.values()) material.dispose();
    this.#opaqueMaterial.dispose();
    this.#translucentMaterial.dispose();
    this.#atlas.value.dispose();
    this.#renderer.dispose();
    this.canvas.remove();
  }

  #post(message: ToMesher): void {
    this.#worker.postMessage(message);
  }

  #waitDrawn(key: string, seq: number, startedAt: number): Promise<number> {
    const postedAt = performance.now();
    return new Promise((resolve, reject) =>
      this.#applyWaiters.push({ key, seq, startedAt, postedAt, resolve, reject }),
    );
  }

  #fitFog(): void {
    // Fade out before the loaded edge; never closer than the orbit camera's usual view needs.
    const far = Math.max(260, (this.#viewDistance + 1) * CHUNK_SIZE * 1.5);
    this.scene.fog = new Fog(SKY, far * 0.45, far);
    this.camera.far = Math.max(1000, far * 1.5);
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  /** Loads the chunks that came into view (nearest first) and unloads those beyond the margin. */
  #updateView(force = false): void {
    const [x, y, z] = this.#center;
    const centerChunk = {
      cx: Math.floor(x / CHUNK_SIZE),
      cy: Math.floor(y / CHUNK_SIZE),
      cz: Math.floor(z / CHUNK_SIZE),
    };
    const point: ChunkPoint = [x / CHUNK_SIZE, y / CHUNK_SIZE, z / CHUNK_SIZE];
    const moved =
      centerChunk.cx !== this.#centerChunk.cx ||
      centerChunk.cy !== this.#centerChunk.cy ||
      centerChunk.cz !== this.#centerChunk.cz;
    if (!moved && !force) return;
    this.#centerChunk = centerChunk;
    const r = this.#viewDistance;
    const v = this.#verticalDistance;

    const unload: ChunkCoords[] = [];
    for (const [key, chunk] of this.#chunks) {
      const { cx, cy, cz } = chunk.coords;
      const column = (cx - centerChunk.cx) ** 2 + (cz - centerChunk.cz) ** 2;
      if (column <= (r + 1.5) ** 2 && Math.abs(cy - centerChunk.cy) <= v + 1) continue;
      unload.push(chunk.coords);
      this.#unloadChunk(key, chunk);
    }
    if (unload.length > 0) this.#post({ type: "unload", chunks: unload });

    const load: ChunkCoords[] = [];
    const yMin = Math.max(MIN_CY, centerChunk.cy - v);
    const yMax = Math.min(MAX_CY, centerChunk.cy + v);
    for (let dz = -r; dz <= r; dz++)
      for (let dx = -r; dx <= r; dx++) {
        // Round columns: (r + 0.5)² keeps the corners at r = 1 (3×3) and trims them further out.
        if (dx * dx + dz * dz > (r + 0.5) ** 2) continue;
        for (let cy = yMin; cy <= yMax; cy++) {
          const coords = { cx: centerChunk.cx + dx, cy, cz: centerChunk.cz + dz };
          if (!this.#chunks.has(chunkKey(coords.cx, coords.cy, coords.cz))) load.push(coords);
        }
      }
    const distance = ({ cx, cy, cz }: ChunkCoords) =>
      (cx + 0.5 - point[0]) ** 2 + (cy + 0.5 - point[1]) ** 2 + (cz + 0.5 - point[2]) ** 2;
    load.sort((a, b) => distance(a) - distance(b));
    if (load.length === 0) {
      this.#post({ type: "center", center: point });
      return;
    }
    const seq = ++this.#seq;
    for (const coords of load)
      this.#chunks.set(chunkKey(coords.cx, coords.cy, coords.cz), {
        coords,
        blocks: undefined,
        loadSeq: seq,
        meshedSeq: -1,
      });
    this.#post({ type: "load", chunks: load, center: point, seq });
  }

  #unloadChunk(key: string, chunk: LoadedChunk): void {
    this.#removeMeshes(chunk);
    if (chunk.blocks) this.#chunksLoaded--;
    if (chunk.meshedSeq >= 0) this.#setChunksVisible(this.#chunksVisible - 1);
    this.#chunks.delete(key);
    this.#uploads.delete(key);
    this.#initialPending.delete(key);
    const left = new Error(`chunk ${key} left the view before the change was drawn`);
    this.#applyWaiters = this.#applyWaiters.filter((waiter) => {
      if (waiter.key !== key) return true;
      waiter.reject(left);
      return false;
    });
    this.invalidate();
  }

  #removeMeshes(chunk: LoadedChunk): void {
    for (const mesh of [chunk.opaque, chunk.translucent]) {
      if (!mesh) continue;
      this.scene.remove(mesh);
      mesh.geometry.dispose();
      this.#meshesInScene--;
    }
    chunk.opaque = undefined;
    chunk.translucent = undefined;
  }

  #setChunksVisible(count: number): void {
    this.#chunksVisible = count;
    this.canvas.dataset.chunksVisible = String(count);
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
        const { cx, cy, cz, blocks, seq } = message;
        const chunk = this.#chunks.get(chunkKey(cx, cy, cz));
        // A snapshot set meanwhile wins over generated terrain; an old visit's blocks are stale.
        if (!chunk || chunk.blocks || seq < chunk.loadSeq) return;
        chunk.blocks = blocks;
        this.#chunksLoaded++;
        this.onChunkLoaded?.(cx, cy, cz);
        return;
      }
      case "mesh": {
        const { cx, cy, cz, seq } = message;
        const key = chunkKey(cx, cy, cz);
        const chunk = this.#chunks.get(key);
        this.#workerQueues = {
          meshQueue: message.meshQueue,
          generateQueue: message.generateQueue,
          lastMeshMs: message.meshMs,
        };
        if (!chunk || seq < chunk.loadSeq) return;
        this.#uploads.set(key, message);
        const arrived = performance.now();
        for (const waiter of this.#applyWaiters)
          if (waiter.key === key && waiter.seq <= seq && waiter.meshedAt === undefined) waiter.meshedAt = arrived;
        this.invalidate();
        return;
      }
      case "error":
        console.error("seedcraft: mesher worker error:", message.message);
        return;
    }
  }

  /** Puts received meshes into the scene, oldest first, until the frame's budget is spent (always at least one). */
  #uploadMeshes(): void {
    if (this.#uploads.size === 0) return;
    const started = performance.now();
    let bytes = 0;
    for (const [key, message] of this.#uploads) {
      if (bytes > 0 && (bytes >= UPLOAD_BYTES_PER_FRAME || performance.now() - started >= UPLOAD_BUDGET_MS)) break;
      this.#uploads.delete(key);
      bytes += this.#applyMesh(key, message);
    }
    this.#lastUploadMs = performance.now() - started;
    this.invalidate();
  }

  /** Swaps a chunk's meshes for the received ones; returns their bytes. */
  #applyMesh(key: string, message: MeshMessage): number {
    const chunk = this.#chunks.get(key);
    if (!chunk?.blocks || message.seq < chunk.meshedSeq) return 0;
    this.#removeMeshes(chunk);
    chunk.opaque = this.#addMesh(message.mesh.opaque, this.#opaqueMaterial, chunk.coords);
    chunk.translucent = this.#addMesh(message.mesh.translucent, this.#translucentMaterial, chunk.coords);
    if (chunk.meshedSeq < 0) this.#setChunksVisible(this.#chunksVisible + 1);
    chunk.meshedSeq = message.seq;
    this.#initialPending.delete(key);
    this.#applyWaiters = this.#applyWaiters.filter((waiter) => {
      if (waiter.key !== key || waiter.seq > message.seq) return true;
      waiter.uploadedAt = performance.now();
      this.#drawnWaiters.push(waiter);
      return false;
    });
    return meshBytes(message.mesh);
  }

  #addMesh(buffers: MeshBuffers, material: MeshLambertMaterial, coords: ChunkCoords): Mesh | undefined {
    if (buffers.indices.length === 0) return undefined;
    const geometry = new BufferGeometry();
    geometry.setAttribute("position", new BufferAttribute(buffers.positions, 3));
    geometry.setAttribute("normal", new BufferAttribute(buffers.normals, 3));
    geometry.setAttribute("atlasUv", new BufferAttribute(buffers.uvs, 2));
    geometry.setAttribute("atlasTile", new BufferAttribute(buffers.tiles, 1));
    geometry.setIndex(new BufferAttribute(buffers.indices, 1));
    geometry.boundingSphere = CHUNK_SPHERE.clone();
    const mesh = new Mesh(geometry, material);
    mesh.position.set(coords.cx * CHUNK_SIZE, coords.cy * CHUNK_SIZE, coords.cz * CHUNK_SIZE);
    mesh.matrixAutoUpdate = false;
    mesh.updateMatrix();
    this.scene.add(mesh);
    this.#meshesInScene++;
    return mesh;
  }

  #render = (): void => {
    if (this.#destroyed) return;
    this.#frame = requestAnimationFrame(this.#render);
    this.#uploadMeshes();
    const now0 = performance.now();
    const dt = Math.min((now0 - this.#lastFrameAt) / 1000, 0.25);
    this.#lastFrameAt = now0;
    if (this.controls.update(dt, this.#solid, this.#water)) {
      this.invalidate();
      this.setCenter(this.controls.position);
    }
    this.target.update(this.camera, this.#solid);
    if (this.target.changed) this.invalidate();
    if (this.onFrame?.(dt, now0)) this.#ambient = true;
    const ambientDue =
      this.#ambient &&
      (!this.softwareGl ||
        now0 - this.#drawnAtMs >= Math.max(AMBIENT_FRAME_MS, AMBIENT_FRAME_SHARE * this.#frameCostMs));
    if (!this.#dirty && !ambientDue) return;
    this.#dirty = false;
    this.#ambient = false;
    this.#drawnAtMs = now0;
    this.#framesDrawn++;
    this.#frameStartedAt = performance.now();
    this.#renderer.render(this.scene, this.camera);
    if (this.avatars.count > 0 || this.#labelsShown) this.#labels?.render(this.scene, this.camera);
    this.#labelsShown = this.avatars.count > 0;
    // Drawn means on screen: the browser composites (and, in software, reads the frame back) after this
    // callback, so the times are taken in a task posted now, which runs once that is done.
    const drawnAt = performance.now();
    for (const waiter of this.#drawnWaiters) waiter.drawnAt = drawnAt;
    this.#presenting.push(...this.#drawnWaiters);
    this.#drawnWaiters = [];
    if (this.firstFrameAt === undefined && this.#meshesInScene > 0) this.#firstFrameDrawn = true;
    if (this.readyAt === undefined && this.#initialPending.size === 0) this.#readyDrawn = true;
    if (!this.#presentPosted) {
      this.#presentPosted = true;
      this.#presented.port2.postMessage(null);
    }
  };

  #onPresented(): void {
    this.#presentPosted = false;
    const now = performance.now();
    this.#frameCostMs =
      this.#frameCostMs === 0
        ? now - this.#frameStartedAt
        : this.#frameCostMs * 0.8 + (now - this.#frameStartedAt) * 0.2;
    if (this.#autoScale) this.#fitScale(now);
    for (const waiter of this.#presenting) {
      waiter.resolve(now - waiter.startedAt);
      this.changeTimings.push({
        meshMs: (waiter.meshedAt ?? now) - waiter.postedAt,
        uploadMs: (waiter.uploadedAt ?? now) - (waiter.meshedAt ?? waiter.postedAt),
        drawMs: (waiter.drawnAt ?? now) - (waiter.uploadedAt ?? waiter.postedAt),
        presentMs: now - (waiter.drawnAt ?? now),
      });
    }
    if (this.changeTimings.length > 200) this.changeTimings.splice(0, this.changeTimings.length - 200);
    this.#presenting = [];
    if (this.#firstFrameDrawn && this.firstFrameAt === undefined) {
      this.firstFrameAt = now;
      this.canvas.dataset.firstFrameMs = String(Math.round(now));
    }
    if (this.#readyDrawn && this.readyAt === undefined) {
      // The frame that drew the last chunk of the initial view is on screen.
      this.readyAt = now;
      this.canvas.dataset.worldReady = "true";
      this.canvas.dataset.readyMs = String(Math.round(now));
      this.#markReady();
    }
  }

  /**
   * Draws blocks with other textures from now on (an asset pack): one RGBA layer per tile of `atlas.tiles`,
   * which must be the built-in atlas's tiles in its order (the meshes name tiles by layer). No reload.
   */
  setTextures(atlas: Atlas): void {
    if (atlas.tiles.length !== TILES.length || atlas.tiles.some((tile, i) => tile !== TILES[i]))
      throw new RangeError(`an atlas needs the tiles ${TILES.join(", ")}, in that order`);
    const size = atlas.tileSize;
    if (!Number.isInteger(size) || size < 1 || size > 256 || atlas.pixels.length !== size * size * 4 * TILES.length)
      throw new RangeError(
        `an atlas of ${TILES.length} tiles of ${size}×${size} RGBA needs ${size * size * 4 * TILES.length} bytes`,
      );
    const old = this.#atlas.value;
    this.#atlas.value = atlasTexture(atlas);
    old.dispose();
    this.invalidate();
  }

  /** The side of the block textures in use, in pixels (16 built in; an asset pack's may differ). */
  get textureSize(): number {
    return (this.#atlas.value.image as { width: number }).width;
  }

  /** The drawing buffer's resolution relative to the canvas now (see WorldOptions.renderScale). */
  get renderScale(): number {
    return this.#renderScale;
  }

  /** What frames cost from the draw call to the screen, in ms (a moving average). */
  get frameCostMs(): number {
    return this.#frameCostMs;
  }

  setRenderScale(scale: number | "auto"): void {
    if (scale !== "auto" && !(scale >= MIN_RENDER_SCALE && scale <= 1))
      throw new RangeError(`render scale must be ${MIN_RENDER_SCALE}..1 or "auto", got ${scale}`);
    this.#autoScale = scale === "auto";
    this.#applyScale(scale === "auto" ? this.#startScale() : scale);
  }

  #startScale(): number {
    return this.softwareGl ? SOFTWARE_RENDER_SCALE : 1;
  }

  /** Dynamic resolution: fewer pixels while frames are slow to reach the screen, more when they are quick. */
  #fitScale(now: number): void {
    if (now - this.#scaledAt < RESCALE_EVERY_MS) return;
    let scale = this.#renderScale;
    if (this.#frameCostMs > SLOW_FRAME_MS) scale = Math.max(MIN_RENDER_SCALE, scale * 0.8);
    else if (this.#frameCostMs < QUICK_FRAME_MS) scale = Math.min(1, scale * 1.15);
    if (Math.abs(scale - this.#renderScale) < 0.01) return;
    this.#scaledAt = now;
    this.#applyScale(scale);
  }

  #applyScale(scale: number): void {
    this.#renderScale = scale;
    this.#renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2) * scale);
    const container = this.canvas.parentElement;
    if (container) this.#resize(container);
  }

  #resize(container: HTMLElement): void {
    const width = Math.max(1, container.clientWidth);
    const height = Math.max(1, container.clientHeight);
    this.#renderer.setSize(width, height, false);
    this.#labels?.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  /** A click on the block under the crosshair: break it, or place against the face it shows. */
  #requestEdit(mode: "break" | "place"): void {
    const hit: VoxelHit | undefined = this.target.hit;
    const target = this.target.target(mode);
    if (!hit || !target || !this.onEditRequest) return;
    // Never place a block where the player stands.
    if (mode === "place" && this.controls.body.intersectsBlock(target[0], target[1], target[2])) return;
    this.onEditRequest({ mode, hit, target, clickedAt: performance.now() });
  }
}

function sameBlocks(a: Uint16Array, b: Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Software WebGL (no GPU): SwiftShader, llvmpipe and the like name themselves in the renderer string. */
function isSoftwareGl(renderer: WebGLRenderer): boolean {
  const gl = renderer.getContext();
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? "");
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}

function checkDistance(name: string, chunks: number): number {
  if (!Number.isInteger(chunks) || chunks < 0 || chunks > MAX_VIEW_DISTANCE)
    throw new RangeError(`${name} must be an integer 0..${MAX_VIEW_DISTANCE}, got ${chunks}`);
  return chunks;
}
