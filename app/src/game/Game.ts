/**
 * The game's composition root once a player joins: the peer's replica is the truth about blocks, and the
 * world (three.js) shows it. Our edits go through the mesh (signed, applied, sent to peers) and into the
 * anchor queue; peers' ops, ties and anchored snapshots reach the world the same way, through the replica.
 * Every edit, ours or a peer's, is listed with its state.
 */
import createDebug from "debug";
import type { Address } from "viem";
import { AIR, BLOCK_IDS, BLOCKS } from "../../../core/blocks.ts";
import { CHUNK_SIZE, chunkCoordsOf, chunkIdOf, localOf, locateBlock } from "../../../core/chunk.ts";
import { compareHlc } from "../../../core/hlc.ts";
import type { BlockOp } from "../../../core/op.ts";
import type { Position } from "../../../core/proximity.ts";
import { EYE_HEIGHT, opPosition, REACH_BLOCKS } from "../../../core/rules.ts";
import { WORLD_MAX_Y, WORLD_MIN_Y } from "../../../core/terrain.ts";
import type { AnchorQueue } from "../../../p2p/anchor-queue.ts";
import type { HeadSource } from "../../../p2p/heads.ts";
import type { MeshPeer } from "../../../p2p/mesh.ts";
import type { WorldPeer } from "../../../p2p/peer.ts";
import type { SoundBank } from "../assets/sounds.ts";
import { type EditEntry, type EditList, type EditState, isOpen } from "../edits/editList.ts";
import { displayName } from "../hud/format.ts";
import { createStore, type Store } from "../store.ts";
import type { Vec3 } from "../world/picking.ts";
import type { OutlineState, World } from "../world/World.ts";

const debug = createDebug("seedcraft:game");

/** A chat line as the HUD shows it: `history` lines were said before we linked, replayed by a neighbour. */
export type ChatLine = { id: number; from: string; own: boolean; text: string; atMs: number; history: boolean };
export type PeerRow = {
  id: string;
  name: string;
  wallet: Address;
  distance: number | undefined;
  roundTripMs: number | undefined;
};

export type GameOptions = {
  world: World;
  peer: WorldPeer;
  edits: EditList;
  queue: AnchorQueue;
  wallet: Address;
  /** Whether a block must be unlocked with energy before this wallet places it (the session's rule). */
  locked: (block: number) => boolean;
  /** Effects for edits, ours and peers' (quieter farther away). */
  sounds?: SoundBank;
  /** The anchored heads, for peers' edits that stay provisional too long (their anchor may have passed us by). */
  heads: HeadSource;
};

/** A remote op rendered: when (performance.timeOrigin-based ms), for the edit-to-render figure. */
export type RenderedOp = { key: string; drawnAt: number };

const MAX_CHAT = 100;

const OUTLINED: Record<EditState, OutlineState | undefined> = {
  provisional: "provisional",
  anchoring: "anchoring",
  anchored: undefined,
  // The later edit that replaced it has an outline of its own.
  overwritten: undefined,
  bounced: "failed",
  "rolled-back": "failed",
  failed: "failed",
};
/** A failed edit's outline shows this long: the block itself already shows what stands. */
const FAILED_OUTLINE_MS = 5_000;

export class Game {
  readonly world: World;
  readonly peer: WorldPeer;
  readonly edits: EditList;
  readonly queue: AnchorQueue;
  readonly chat: Store<readonly ChatLine[]> = createStore<readonly ChatLine[]>([]);
  readonly peers: Store<readonly PeerRow[]> = createStore<readonly PeerRow[]>([]);
  /** Remote ops drawn, newest last (bounded): what the bench reads. */
  readonly rendered: RenderedOp[] = [];
  readonly #options: GameOptions;
  readonly #unsubscribe: (() => void)[] = [];
  #chatId = 0;
  readonly #roundTrips = new Map<string, number>();
  readonly #outlines = new Map<string, { position: Vec3; state: OutlineState }>();
  #peersTimer: ReturnType<typeof setInterval>;
  #lastMoveAt = 0;

  constructor(options: GameOptions) {
    this.#options = options;
    this.world = options.world;
    this.peer = options.peer;
    this.edits = options.edits;
    this.queue = options.queue;
    const { mesh, replica } = options.peer;
    this.#unsubscribe.push(
      mesh.on("op", (verdict, from) => {
        if (!from) return;
        const op = verdict.op;
        this.#showBlock(op.chunk, op.index, op);
        if (verdict.status === "applied" && verdict.changed) {
          this.#listPeerEdit(op, from);
          this.#sound(op);
        } else if (verdict.status === "bounced") this.#bounced(verdict.ops, verdict.reason);
      }),
      // Two players may share a name: the wallet's tag tells them apart; a replayed line keeps when it was said.
      mesh.on("chat", (from, text, line) =>
        this.#addChat(displayName(from.name, from.wallet), false, text, line.atMs, line.history),
      ),
      mesh.on("peer", () => this.#refreshPeers()),
      mesh.on("left", () => this.#refreshPeers()),
      options.edits.subscribe(() => this.#syncOutlines()),
      replica.onAnchored((id, version, dropped) => {
        this.#showChunk(id);
        this.#settlePeerEdits(id, version, dropped);
      }),
      replica.onRetracted((op) => this.#retracted(op)),
    );
    this.#peersTimer = setInterval(() => {
      this.#refreshPeers();
      this.#syncOutlines();
    }, 1000);
    options.world.onChunkLoaded = (cx, cy, cz) => this.chunkLoaded(cx, cy, cz);
    options.world.onFrame = (dt, now) => this.#frame(dt, now);
    // Chunks loaded before we joined may already hold what the replica knows better.
    for (const id of replica.chunkIds) this.#showChunk(id);
  }

  /** Per frame: our avatar's position goes to the mesh, and peers' avatars move towards theirs. */
  #frame(dt: number, now: number): boolean {
    this.move(this.world.controls.position as unknown as Position, now);
    return this.world.avatars.update(this.peer.mesh.peers, Date.now(), dt);
  }

  /** Where our avatar stands (feet). Peers hear of it as deltas, at a rate their distance allows. */
  move(position: Position, nowMs = performance.now()): void {
    // The mesh decides what each peer needs; 30 Hz is enough input for its dead reckoning.
    if (nowMs - this.#lastMoveAt < 33) return;
    this.#lastMoveAt = nowMs;
    this.peer.move(position);
  }

  /** Our edit of block `target`: checked, signed, applied at once (provisional), sent, queued for anchoring. */
  async edit(
    mode: "break" | "place",
    target: Vec3,
    block: number,
    clickedAt = performance.now(),
  ): Promise<string | undefined> {
    const [x, y, z] = target;
    if (y < WORLD_MIN_Y || y >= WORLD_MAX_Y) return "outside the world's height limits";
    const current = this.world.getBlock(x, y, z);
    if (current === undefined) return "that chunk is not loaded";
    const next = mode === "break" ? AIR : block;
    const type = BLOCKS[next];
    if (!type) return `unknown block ${next}`;
    if (this.#options.locked(next)) return `${type.name} must be unlocked with energy first`;
    if (mode === "break" && (current === AIR || current === BLOCK_IDS.water)) return "nothing to break";
    if (mode === "place" && current !== AIR && current !== BLOCK_IDS.water) return "that cell is taken";
    const position = this.peer.mesh.position;
    if (position) {
      const reach = Math.hypot(x + 0.5 - position[0], y + 0.5 - (position[1] + EYE_HEIGHT), z + 0.5 - position[2]);
      if (reach > REACH_BLOCKS) return "out of reach";
    }
    const { cx, cy, cz, index } = locateBlock(x, y, z);
    const chunkId = chunkIdOf(cx, cy, cz);
    const entry = this.edits.add({
      mode,
      position: target,
      block: next,
      chunk: { cx, cy, cz },
      chunkId,
      index,
      own: true,
    });
    let made: Awaited<ReturnType<typeof this.peer.mesh.edit>>;
    try {
      made = await this.peer.mesh.edit(chunkId, index, next);
    } catch (error) {
      // Not signed or not applied (the session key gone, the replica refusing it): it ends here, said, rather
      // than staying provisional with nothing to carry it on.
      const reason = `not made: ${(error as Error).message}`;
      this.edits.update(entry.id, { state: "failed", reason });
      return reason;
    }
    const { op, verdict } = made;
    this.edits.update(entry.id, { hlc: op.hlc });
    switch (verdict.status) {
      case "applied":
        this.queue.record(entry.id, chunkId, op.hlc);
        this.#sound(op);
        break;
      case "bounced":
        this.edits.update(entry.id, { state: "bounced", reason: bounceReason(verdict.reason) });
        break;
      case "rejected":
        this.edits.update(entry.id, { state: "failed", reason: verdict.reason });
        break;
      case "duplicate":
        break;
    }
    void this.#showBlock(chunkId, index, undefined, clickedAt)?.then((applyMs) =>
      applyMs === undefined ? undefined : this.edits.update(entry.id, { applyMs }),
    );
    return verdict.status === "rejected" ? verdict.reason : undefined;
  }

  say(text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    // A line too long throws at once; signing or sending may fail later: either way the player reads why.
    const failed = (error: unknown) => {
      debug("chat not sent: %o", error);
      this.#addChat("not sent", true, (error as Error).message ?? String(error), Date.now(), false);
    };
    try {
      void this.peer.mesh.chat(trimmed).catch(failed);
    } catch (error) {
      failed(error);
      return;
    }
    this.#addChat(displayName(this.peer.mesh.identity.name, this.#options.wallet), true, trimmed, Date.now(), false);
  }

  /** A newly loaded chunk shows the replica's state of it when the replica holds more than terrain. */
  chunkLoaded(cx: number, cy: number, cz: number): void {
    const id = chunkIdOf(cx, cy, cz);
    const { replica } = this.peer;
    if (replica.holds(id) && (replica.version(id) > 0 || replica.chunk(id).pendingBlocks > 0)) this.#showChunk(id);
  }

  destroy(): void {
    clearInterval(this.#peersTimer);
    this.world.onChunkLoaded = undefined;
    this.world.onFrame = undefined;
    for (const stop of this.#unsubscribe) stop();
    this.queue.destroy();
  }

  /** The world shows the replica's value of one block; resolves when a frame shows it (if it changed). */
  #showBlock(
    chunkId: bigint,
    index: number,
    op?: BlockOp,
    startedAt = performance.now(),
  ): Promise<number | undefined> | undefined {
    const { cx, cy, cz } = chunkCoordsOf(chunkId);
    const { x, y, z } = localOf(index);
    const wx = cx * CHUNK_SIZE + x;
    const wy = cy * CHUNK_SIZE + y;
    const wz = cz * CHUNK_SIZE + z;
    const value = this.peer.replica.chunk(chunkId).blocks[index] as number;
    const shown = this.world.getBlock(wx, wy, wz);
    if (shown === undefined || shown === value) return undefined;
    // A chunk that leaves the view before the frame is drawn rejects: nothing was shown then.
    const drawn = this.world.setBlock(wx, wy, wz, value, startedAt).catch(() => undefined);
    if (op) {
      const key = `${chunkId}:${index}:${op.block}:${op.hlc.wallMs}:${op.hlc.logical}`;
      void drawn.then((ms) => {
        if (ms === undefined) return;
        this.rendered.push({ key, drawnAt: performance.timeOrigin + startedAt + ms });
        if (this.rendered.length > 1000) this.rendered.splice(0, this.rendered.length - 1000);
      });
    }
    return drawn;
  }

  #showChunk(id: bigint): void {
    const { cx, cy, cz } = chunkCoordsOf(id);
    if (!this.world.chunkBlocks(cx, cy, cz)) return;
    void this.world.setChunk(cx, cy, cz, this.peer.replica.chunk(id).blocks.slice()).catch(() => undefined);
  }

  #sound(op: BlockOp): void {
    const sounds = this.#options.sounds;
    if (!sounds) return;
    const [x, y, z] = opPosition(op);
    const here = this.world.controls.position;
    sounds.play(
      op.block === AIR ? "break" : "place",
      Math.hypot(x + 0.5 - here[0], y + 0.5 - here[1], z + 0.5 - here[2]),
    );
  }

  #listPeerEdit(op: BlockOp, from: MeshPeer): void {
    const { cx, cy, cz } = chunkCoordsOf(op.chunk);
    const { x, y, z } = localOf(op.index);
    this.edits.add({
      mode: op.block === AIR ? "break" : "place",
      position: [cx * CHUNK_SIZE + x, cy * CHUNK_SIZE + y, cz * CHUNK_SIZE + z],
      block: op.block,
      chunk: { cx, cy, cz },
      chunkId: op.chunk,
      index: op.index,
      hlc: op.hlc,
      own: false,
      // History a neighbour replays may hold our own ops from an earlier visit.
      author:
        op.author.toLowerCase() === this.#options.wallet.toLowerCase()
          ? "you, earlier"
          : op.author.toLowerCase() === from.wallet.toLowerCase()
            ? from.name
            : short(op.author),
    });
  }

  /** A tie (or a late op) bounced: every listed edit among `ops` bounces, ours included. */
  #bounced(ops: readonly BlockOp[], reason: string): void {
    for (const op of ops) {
      const entry = this.#entryOf(op);
      if (entry && isOpen(entry.state)) {
        this.edits.update(entry.id, { state: "bounced", reason: bounceReason(reason), note: undefined });
        if (entry.own) this.queue.drop(entry.id);
      }
    }
  }

  #entryOf(op: BlockOp): EditEntry | undefined {
    return this.edits.entries.find(
      (entry) =>
        entry.chunkId === op.chunk &&
        entry.index === op.index &&
        entry.hlc !== undefined &&
        entry.hlc.wallMs === op.hlc.wallMs &&
        entry.hlc.logical === op.hlc.logical,
    );
  }

  /** Peers' edits an anchored snapshot covers are accepted (it was checked against the ledger) or rolled back. */
  #settlePeerEdits(id: bigint, version: number, dropped: readonly BlockOp[]): void {
    const watermark = this.peer.replica.chunk(id).watermark;
    if (!watermark) return;
    for (const entry of this.edits.open(id)) {
      if (entry.own || !entry.hlc || compareHlc(entry.hlc, watermark) > 0) continue;
      const lost = dropped.some((op) => op.index === entry.index && compareHlc(op.hlc, entry.hlc as never) === 0);
      this.edits.update(
        entry.id,
        lost ? this.edits.lost(entry, version, watermark) : { state: "anchored", version: BigInt(version) },
      );
    }
  }

  /** An op left the replica (it was never anchored): the block shows what stands, and a peer's edit ends. */
  #retracted(op: BlockOp): void {
    this.#showBlock(op.chunk, op.index);
    const entry = this.#entryOf(op);
    if (entry && !entry.own && isOpen(entry.state))
      this.edits.update(entry.id, {
        state: "rolled-back",
        reason: "rolled back: no anchor took it in time",
        note: undefined,
      });
  }

  /** One outline per block, showing its newest edit's state; accepted blocks lose theirs. */
  #syncOutlines(): void {
    const wanted = new Map<string, { position: Vec3; state: OutlineState | undefined }>();
    const now = performance.now();
    for (const entry of this.edits.entries) {
      const faded = entry.endedAt !== undefined && now - entry.endedAt > FAILED_OUTLINE_MS;
      wanted.set(entry.position.join(","), {
        position: entry.position,
        state: faded ? undefined : OUTLINED[entry.state],
      });
    }
    for (const [key, outline] of this.#outlines)
      if (!wanted.get(key)?.state) {
        this.world.setOutline(outline.position, undefined);
        this.#outlines.delete(key);
      }
    for (const [key, { position, state }] of wanted) {
      if (!state || this.#outlines.get(key)?.state === state) continue;
      this.world.setOutline(position, state);
      this.#outlines.set(key, { position, state });
    }
  }

  #addChat(from: string, own: boolean, text: string, atMs: number, history: boolean): void {
    const line: ChatLine = { id: ++this.#chatId, from, own, text, atMs, history };
    const lines = [...this.chat.get(), line];
    this.chat.set(lines.length > MAX_CHAT ? lines.slice(-MAX_CHAT) : lines);
  }

  #refreshPeers(): void {
    const { mesh } = this.peer;
    const here = mesh.position;
    const rows: PeerRow[] = mesh.peers.map((p) => ({
      id: p.id,
      name: p.name,
      wallet: p.wallet,
      distance:
        here && p.position
          ? Math.hypot(p.position[0] - here[0], p.position[1] - here[1], p.position[2] - here[2])
          : undefined,
      roundTripMs: this.#roundTrips.get(p.id),
    }));
    rows.sort((a, b) => (a.distance ?? Number.POSITIVE_INFINITY) - (b.distance ?? Number.POSITIVE_INFINITY));
    this.peers.set(rows);
    // Round trips come from each connection's stats, for the next refresh.
    for (const row of rows)
      void mesh.roundTripMs(row.id as `0x${string}`).then((ms) => {
        if (ms !== undefined) this.#roundTrips.set(row.id, ms);
      });
    debug("%d peers", rows.length);
  }
}

function bounceReason(code: string): string {
  if (code === "TIE") return "a tie: another player edited the same block at the same instant, so both edits bounced";
  if (code === "SUPERSEDED_BY_ANCHOR") return "an anchored version already covers that instant";
  return code;
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}
