/**
 * Voice, and video where the player turns it on, with the nearest linked peers. Each call is a media-only
 * RTCPeerConnection of its own (the mesh's data link is left alone), signaled through the mesh as `media`
 * messages, one hop. At most `maxStreams` calls at once (a full mesh of streams breaks down near 8 peers):
 * the nearest linked peers within `range`; farther ones are hung up as players move.
 *
 * Every remote voice plays through Web Audio: source → gain (distance × mute) → stereo panner (our yaw) →
 * analyser (the level meter) → speakers. Our microphone is sent while V is held (push-to-talk) or always
 * (open mic); a blocked player is never called, and its calls are refused. Only peers whose hello says they
 * take calls (CAPABILITIES.voice: the app's players, not Node seeders) are called or listed.
 */
import createDebug from "debug";
import type { Hex } from "viem";
import type { Position } from "../../../core/proximity.ts";
import { CAPABILITIES, type MediaMessage } from "../../../core/wire.ts";
import type { Mesh, MeshPeer } from "../../../p2p/mesh.ts";
import { createStore, type Store } from "../store.ts";
import { distanceGain, panOf } from "./spatial.ts";

const debug = createDebug("seedcraft:voice");

/** Whether a peer's hello says it takes voice calls. */
const takesCalls = (peer: MeshPeer) => (peer.capabilities & CAPABILITIES.voice) !== 0;

/** What VoiceChat needs of the mesh. */
export type VoiceMesh = Pick<Mesh, "id" | "peers" | "peer" | "on" | "sendMedia" | "strike">;

export type MicMode = "push-to-talk" | "open";

export type VoiceOptions = {
  mesh: VoiceMesh;
  /** Our avatar's feet and look yaw (the world's controls). */
  position: () => Position;
  yaw: () => number;
  /** Where a peer stands now; the mesh's last position for it unless given (e.g. the avatar's, extrapolated). */
  peerPosition?: (peer: MeshPeer) => Position | undefined;
  /** Calls at once (default 6). */
  maxStreams?: number;
  /** Peers farther than this are not called (default 36: beyond 32 they would be silent); hung up 8 farther. */
  range?: number;
  /**
   * The world's STUN/TURN servers (seedcraft.json's iceServers and the gateway's TURN credentials), as the
   * mesh's links use; read for each call (a function, or an object whose list is kept current, as the app's
   * config.iceServers is), so a call made after a refresh has the fresh credentials. Default: none.
   */
  rtcConfig?: RTCConfiguration | (() => RTCConfiguration);
  /** Constraints for the microphone (default: echo cancellation, noise suppression, gain control). */
  audio?: MediaTrackConstraints | boolean;
  mediaDevices?: MediaDevices;
  /** Where the push-to-talk key is listened for (default window) and which key (default "KeyV"). */
  keyTarget?: EventTarget;
  pushToTalkKey?: string;
  /** Wallets blocked from the start (lowercase or not). */
  blocked?: Iterable<string>;
  /** Milliseconds on one clock across tabs (default performance.timeOrigin + performance.now()). */
  now?: () => number;
};

/** When a call was decided, connected, got the remote track, and first carried sound (ms, `now`'s clock). */
export type VoiceTiming = { decidedAt: number; connectedAt?: number; trackAt?: number; flowingAt?: number };

export type VoicePeerState = {
  id: Hex;
  name: string;
  wallet: string;
  distance: number | undefined;
  /** "calling" until the media connection is up. */
  call: "none" | "calling" | "connected";
  muted: boolean;
  blocked: boolean;
  /** The level meter (see `level`). */
  level: number;
  /** Whether the peer sends video. */
  video: boolean;
};

export type VoiceState = {
  on: boolean;
  mode: MicMode;
  /** Whether our microphone is being sent now. */
  talking: boolean;
  mic: "off" | "on" | "denied";
  video: "off" | "on" | "denied";
  peers: readonly VoicePeerState[];
};

const DEFAULT_MAX_STREAMS = 6;
const DEFAULT_RANGE = 36;
/** A call already up is kept this much farther than a new one is made (no flapping at the edge). */
const HANG_UP_MARGIN = 8;
/** Calls are reconsidered this often. */
const TICK_MS = 250;
/** The level meter samples this often, and holds its peak this long (voices and beeps come in bursts). */
const METER_MS = 50;
const PEAK_HOLD_MS = 1000;
/** The higher id waits this long for the lower id's offer before offering itself (no glare when both want). */
const SECOND_OFFER_MS = 1000;
/** After a refusal or a failure, a peer is not called again for this long. */
const RETRY_MS = 3000;
/** A new call is not hung up for distance this soon: where the other stands may reach us after its offer. */
const CALL_GRACE_MS = 2000;
/**
 * A call not connected this long is hung up and tried again (after RETRY_MS): a lost offer or answer (the mesh
 * drops media signals past a peer's budget) left both sides "calling" for good, in the NAT test now and then.
 */
const CONNECT_MS = 12_000;
/** A remote voice counts as flowing once its raw level passes this RMS (silence and comfort noise stay under). */
const FLOWING_RMS = 0.005;

type Call = {
  peer: Hex;
  wallet: string;
  session: number;
  pc: RTCPeerConnection;
  offerer: boolean;
  startedAt: number;
  timing: VoiceTiming;
  connected: boolean;
  pending: RTCIceCandidateInit[];
  remote: MediaStream;
  /** Chromium plays a remote WebRTC stream into Web Audio only while a media element also holds it. */
  element: HTMLAudioElement | undefined;
  graph:
    | {
        source: MediaStreamAudioSourceNode;
        raw: AnalyserNode;
        gain: GainNode;
        panner: StereoPannerNode;
        analyser: AnalyserNode;
      }
    | undefined;
  peaks: { atMs: number; rms: number }[];
};

function defaultNow(): number {
  return performance.timeOrigin + performance.now();
}

function isTyping(target: EventTarget | null): boolean {
  if (typeof HTMLElement === "undefined" || !(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

function rmsOf(analyser: AnalyserNode, buffer: Float32Array<ArrayBuffer>): number {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (const sample of buffer) sum += sample * sample;
  return Math.sqrt(sum / buffer.length);
}

export class VoiceChat {
  readonly state: Store<VoiceState>;
  readonly maxStreams: number;
  readonly range: number;
  readonly #options: VoiceOptions;
  readonly #mesh: VoiceMesh;
  readonly #now: () => number;
  readonly #calls = new Map<Hex, Call>();
  readonly #queues = new Map<Hex, Promise<void>>();
  readonly #wantedSince = new Map<Hex, number>();
  readonly #retryAt = new Map<Hex, number>();
  readonly #muted = new Set<string>();
  readonly #blocked = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Finished calls' timings, newest last (for the bench). */
  readonly connectedAt: { peer: Hex; timing: VoiceTiming }[] = [];
  #context: AudioContext | undefined;
  #mic: MediaStreamTrack | undefined;
  #camera: MediaStreamTrack | undefined;
  #micState: VoiceState["mic"] = "off";
  #videoState: VoiceState["video"] = "off";
  #mode: MicMode = "push-to-talk";
  #keyHeld = false;
  #on = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  #meter: ReturnType<typeof setInterval> | undefined;
  #buffer = new Float32Array(4096);
  #destroyed = false;

  constructor(options: VoiceOptions) {
    this.#options = options;
    this.#mesh = options.mesh;
    this.#now = options.now ?? defaultNow;
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.range = options.range ?? DEFAULT_RANGE;
    for (const wallet of options.blocked ?? []) this.#blocked.add(wallet.toLowerCase());
    this.state = createStore<VoiceState>(this.#snapshot());
  }

  get on(): boolean {
    return this.#on;
  }

  /** Whether our microphone goes out now: the mode, and V held in push-to-talk. */
  get talking(): boolean {
    return this.#on && this.#mic !== undefined && (this.#mode === "open" || this.#keyHeld);
  }

  /**
   * Turns voice on: asks for the microphone (call it from a click, so audio may start), then calls the
   * nearest peers. Without a microphone (denied), it still listens.
   */
  async start(): Promise<void> {
    if (this.#on || this.#destroyed) return;
    this.#on = true;
    this.#context ??= new AudioContext();
    await this.#context.resume().catch(() => {});
    const devices = this.#options.mediaDevices ?? navigator.mediaDevices;
    try {
      const stream = await devices.getUserMedia({
        audio: this.#options.audio ?? { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      this.#mic = stream.getAudioTracks()[0];
      this.#micState = this.#mic ? "on" : "denied";
    } catch (error) {
      debug("no microphone: %s", (error as Error).message);
      this.#micState = "denied";
    }
    if (!this.#on || this.#destroyed) {
      this.#mic?.stop();
      return;
    }
    this.#applyTalking();
    const target = this.#options.keyTarget ?? window;
    const key = this.#options.pushToTalkKey ?? "KeyV";
    const down = (event: Event) => {
      const e = event as KeyboardEvent;
      if (e.code !== key || e.repeat || isTyping(e.target)) return;
      this.setPushToTalk(true);
    };
    const up = (event: Event) => {
      if ((event as KeyboardEvent).code === key) this.setPushToTalk(false);
    };
    // A key released while the window is away never sends its keyup.
    const blur = () => this.setPushToTalk(false);
    target.addEventListener("keydown", down);
    target.addEventListener("keyup", up);
    target.addEventListener("blur", blur);
    this.#unsubscribe.push(
      () => target.removeEventListener("keydown", down),
      () => target.removeEventListener("keyup", up),
      () => target.removeEventListener("blur", blur),
      this.#mesh.on("media", (peer, message) => this.#enqueue(peer.id, () => this.#signal(peer, message))),
      this.#mesh.on("left", (peer) => this.#hangUp(peer.id, false)),
    );
    this.#tick = setInterval(() => this.#round(), TICK_MS);
    this.#meter = setInterval(() => this.#measure(), METER_MS);
    this.#round();
  }

  /** Turns voice off: every call hung up, the microphone and camera released. */
  stop(): void {
    if (!this.#on) return;
    this.#on = false;
    clearInterval(this.#tick);
    clearInterval(this.#meter);
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const id of [...this.#calls.keys()]) this.#hangUp(id, true);
    this.#wantedSince.clear();
    this.#mic?.stop();
    this.#mic = undefined;
    this.#micState = "off";
    this.#camera?.stop();
    this.#camera = undefined;
    this.#videoState = "off";
    this.#keyHeld = false;
    this.#publish();
  }

  /** Stops, and closes the audio context. Safe to call twice. */
  destroy(): void {
    if (this.#destroyed) return;
    this.stop();
    this.#destroyed = true;
    void this.#context?.close().catch(() => {});
    this.#context = undefined;
  }

  setMode(mode: MicMode): void {
    this.#mode = mode;
    this.#applyTalking();
  }

  /** Push-to-talk held or released (the V key does it; the HUD may too). */
  setPushToTalk(held: boolean): void {
    if (this.#keyHeld === held) return;
    this.#keyHeld = held;
    this.#applyTalking();
  }

  /** Sends our camera to every call (and every later one), or stops it. */
  async setVideo(on: boolean): Promise<void> {
    if (!on) {
      this.#camera?.stop();
      this.#camera = undefined;
      this.#videoState = "off";
    } else if (!this.#camera) {
      const devices = this.#options.mediaDevices ?? navigator.mediaDevices;
      try {
        const stream = await devices.getUserMedia({ video: { width: 320, height: 240, frameRate: 15 } });
        this.#camera = stream.getVideoTracks()[0];
        this.#videoState = this.#camera ? "on" : "denied";
      } catch (error) {
        debug("no camera: %s", (error as Error).message);
        this.#videoState = "denied";
      }
    }
    // The video transceiver is there from the offer on: switching the track needs no new offer.
    for (const call of this.#calls.values()) void this.#videoSender(call)?.replaceTrack(this.#camera ?? null);
    this.#publish();
  }

  /** Mutes a player for us (the call stays; its gain goes to zero). */
  setMuted(peerId: Hex, muted: boolean): void {
    const wallet = this.#walletOf(peerId);
    if (!wallet) return;
    if (muted) this.#muted.add(wallet);
    else this.#muted.delete(wallet);
    this.#place();
  }

  /** Blocks a player (by wallet): hung up now, never called, its calls refused. */
  setBlocked(peerId: Hex, blocked: boolean): void {
    const wallet = this.#walletOf(peerId);
    if (!wallet) return;
    if (blocked) {
      this.#blocked.add(wallet);
      for (const call of [...this.#calls.values()]) if (call.wallet === wallet) this.#hangUp(call.peer, true);
    } else this.#blocked.delete(wallet);
    this.#publish();
  }

  /** The wallets blocked (lowercase), to keep across sessions. */
  get blocked(): ReadonlySet<string> {
    return this.#blocked;
  }

  /**
   * How loud a peer is for us: the RMS of what reaches the speakers from it (after distance, mute and
   * panning), its peak over the last second. 0 without a call.
   */
  level(peerId: Hex): number {
    const call = this.#calls.get(peerId.toLowerCase() as Hex);
    if (!call) return 0;
    const since = this.#now() - PEAK_HOLD_MS;
    let peak = 0;
    for (const sample of call.peaks) if (sample.atMs >= since && sample.rms > peak) peak = sample.rms;
    return peak;
  }

  /** The call's timings with a peer, while there is one. */
  timing(peerId: Hex): VoiceTiming | undefined {
    return this.#calls.get(peerId.toLowerCase() as Hex)?.timing;
  }

  /** The peer's camera, when it sends one (a stream to put in a <video>). */
  videoOf(peerId: Hex): MediaStream | undefined {
    const call = this.#calls.get(peerId.toLowerCase() as Hex);
    return call?.remote.getVideoTracks().some((track) => !track.muted) ? call.remote : undefined;
  }

  /** The peers we are in a call with (or calling). */
  get calls(): Hex[] {
    return [...this.#calls.keys()];
  }

  #walletOf(peerId: Hex): string | undefined {
    const id = peerId.toLowerCase();
    return (
      this.#mesh.peer(peerId)?.wallet.toLowerCase() ??
      [...this.#calls.values()].find((call) => call.peer === id)?.wallet
    );
  }

  #positionOf(peer: MeshPeer): Position | undefined {
    return this.#options.peerPosition ? this.#options.peerPosition(peer) : peer.position;
  }

  #distanceTo(peer: MeshPeer): number | undefined {
    const at = this.#positionOf(peer);
    if (!at) return undefined;
    const us = this.#options.position();
    return Math.hypot(at[0] - us[0], at[1] - us[1], at[2] - us[2]);
  }

  /** The peers we want a call with now: the nearest `maxStreams` in range, not blocked. */
  #wanted(margin: number): Set<Hex> {
    const ranked: { id: Hex; distance: number }[] = [];
    for (const peer of this.#mesh.peers) {
      if (!takesCalls(peer) || this.#blocked.has(peer.wallet.toLowerCase())) continue;
      const distance = this.#distanceTo(peer);
      const limit = this.range + (this.#calls.has(peer.id) ? HANG_UP_MARGIN : 0) + margin;
      if (distance !== undefined && distance <= limit) ranked.push({ id: peer.id, distance });
    }
    ranked.sort((a, b) => a.distance - b.distance);
    return new Set(ranked.slice(0, this.maxStreams).map((entry) => entry.id));
  }

  /** Every TICK_MS: call the nearest, hang up the rest, and place every voice. */
  #round(): void {
    if (!this.#on) return;
    const now = this.#now();
    const wanted = this.#wanted(0);
    for (const id of this.#wantedSince.keys()) if (!wanted.has(id)) this.#wantedSince.delete(id);
    for (const [id, call] of [...this.#calls])
      if (!wanted.has(id) && (now - call.startedAt >= CALL_GRACE_MS || this.#blocked.has(call.wallet)))
        this.#hangUp(id, true);
      else if (!call.connected && now - call.startedAt >= CONNECT_MS) {
        debug("call with %s not connected in %d ms: hung up, tried again", id.slice(0, 10), CONNECT_MS);
        this.#hangUp(id, true);
        this.#retryAt.set(id, now + RETRY_MS);
      }
    for (const id of wanted) {
      if (!this.#wantedSince.has(id)) this.#wantedSince.set(id, now);
      if (this.#calls.has(id) || (this.#retryAt.get(id) ?? 0) > now) continue;
      // The lower id offers; the higher one only when the lower has not called within a second.
      const since = this.#wantedSince.get(id) as number;
      if (this.#mesh.id < id || now - since >= SECOND_OFFER_MS) this.#enqueue(id, () => this.#offer(id, since));
    }
    this.#place();
  }

  /** Signals of one peer are handled one at a time, in order. */
  #enqueue(id: Hex, task: () => Promise<void>): void {
    const next = (this.#queues.get(id) ?? Promise.resolve()).then(task).catch((error: unknown) => {
      debug("call with %s failed: %s", id.slice(0, 10), (error as Error).message);
      this.#hangUp(id, true);
      this.#retryAt.set(id, this.#now() + RETRY_MS);
    });
    this.#queues.set(id, next);
    void next.then(() => {
      if (this.#queues.get(id) === next) this.#queues.delete(id);
    });
  }

  #newCall(peer: Hex, session: number, offerer: boolean, decidedAt: number): Call {
    const wallet = this.#mesh.peer(peer)?.wallet.toLowerCase() ?? "";
    const rtcConfig = this.#options.rtcConfig;
    const config = typeof rtcConfig === "function" ? rtcConfig() : rtcConfig;
    // A copy of the list as it is now: the RTCPeerConnection keeps what it was made with.
    const pc = new RTCPeerConnection({ ...config, iceServers: [...(config?.iceServers ?? [])] });
    const call: Call = {
      peer,
      wallet,
      session,
      pc,
      offerer,
      startedAt: this.#now(),
      timing: { decidedAt },
      connected: false,
      pending: [],
      remote: new MediaStream(),
      element: undefined,
      graph: undefined,
      peaks: [],
    };
    this.#calls.set(peer, call);
    pc.onicecandidate = (event) => {
      if (!event.candidate || this.#calls.get(peer) !== call) return;
      this.#mesh.sendMedia(peer, { kind: "candidate", session, text: JSON.stringify(event.candidate.toJSON()) });
    };
    pc.onconnectionstatechange = () => {
      if (this.#calls.get(peer) !== call) return;
      if (pc.connectionState === "connected" && !call.connected) {
        call.connected = true;
        call.timing.connectedAt = this.#now();
        this.#publish();
      } else if (pc.connectionState === "failed") {
        this.#hangUp(peer, true);
        this.#retryAt.set(peer, this.#now() + RETRY_MS);
      }
    };
    pc.ontrack = (event) => {
      if (this.#calls.get(peer) !== call) return;
      call.remote.addTrack(event.track);
      if (event.track.kind === "audio") this.#listen(call, event.track);
    };
    return call;
  }

  #videoSender(call: Call): RTCRtpSender | undefined {
    return call.pc.getTransceivers().find((t) => t.receiver.track.kind === "video")?.sender;
  }

  async #offer(peer: Hex, decidedAt: number): Promise<void> {
    if (!this.#on || this.#calls.has(peer)) return;
    const session = crypto.getRandomValues(new Uint32Array(1))[0] as number;
    const call = this.#newCall(peer, session, true, decidedAt);
    // Both transceivers from the start: the microphone and the camera come and go by replaceTrack.
    call.pc.addTransceiver(this.#mic ?? "audio", { direction: "sendrecv" });
    call.pc.addTransceiver(this.#camera ?? "video", { direction: "sendrecv" });
    await call.pc.setLocalDescription(await call.pc.createOffer());
    if (this.#calls.get(peer) !== call) return;
    this.#mesh.sendMedia(peer, { kind: "offer", session, text: call.pc.localDescription?.sdp ?? "" });
    debug("calling %s", peer.slice(0, 10));
  }

  async #signal(peer: MeshPeer, message: MediaMessage): Promise<void> {
    const id = peer.id;
    const call = this.#calls.get(id);
    if (message.kind === "offer") {
      if (call && call.session !== message.session && call.offerer && !call.connected && this.#mesh.id < id) return; // glare: ours wins
      // Any distance: its offer may come before its move does (movement from afar comes slowly).
      if (
        !this.#on ||
        this.#blocked.has(peer.wallet.toLowerCase()) ||
        !this.#wanted(Number.POSITIVE_INFINITY).has(id)
      ) {
        this.#mesh.sendMedia(id, { kind: "bye", session: message.session, text: "" });
        return;
      }
      if (call) this.#hangUp(id, false);
      const decidedAt = Math.min(this.#wantedSince.get(id) ?? this.#now(), this.#now());
      const answering = this.#newCall(id, message.session, false, decidedAt);
      await answering.pc.setRemoteDescription({ type: "offer", sdp: message.text });
      for (const transceiver of answering.pc.getTransceivers()) {
        const audio = transceiver.receiver.track.kind === "audio";
        transceiver.direction = "sendrecv";
        await transceiver.sender.replaceTrack((audio ? this.#mic : this.#camera) ?? null);
      }
      await answering.pc.setLocalDescription(await answering.pc.createAnswer());
      if (this.#calls.get(id) !== answering) return;
      this.#mesh.sendMedia(id, {
        kind: "answer",
        session: message.session,
        text: answering.pc.localDescription?.sdp ?? "",
      });
      await this.#flushCandidates(answering);
      return;
    }
    // Anything else belongs to the call it names; a late signal of an older call is dropped.
    if (!call || call.session !== message.session) return;
    if (message.kind === "bye") {
      this.#hangUp(id, false);
      // Refused: not again at once. A call that was up and ended may start again whenever both want it.
      if (!call.connected) this.#retryAt.set(id, this.#now() + RETRY_MS);
    } else if (message.kind === "answer") {
      if (!call.offerer || call.pc.signalingState !== "have-local-offer") return;
      await call.pc.setRemoteDescription({ type: "answer", sdp: message.text });
      await this.#flushCandidates(call);
    } else {
      let candidate: RTCIceCandidateInit;
      try {
        candidate = JSON.parse(message.text) as RTCIceCandidateInit;
        if (typeof candidate !== "object" || candidate === null) throw new Error("not an object");
      } catch {
        this.#mesh.strike(id, "MEDIA_MALFORMED");
        return;
      }
      if (call.pc.remoteDescription) await call.pc.addIceCandidate(candidate);
      else call.pending.push(candidate);
    }
  }

  async #flushCandidates(call: Call): Promise<void> {
    for (const candidate of call.pending.splice(0)) await call.pc.addIceCandidate(candidate);
  }

  /** A remote voice into Web Audio: source → gain → panner → analyser → speakers (plus a raw analyser). */
  #listen(call: Call, track: MediaStreamTrack): void {
    const context = this.#context;
    if (!context || call.graph) return;
    call.timing.trackAt = this.#now();
    const stream = new MediaStream([track]);
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    void element.play().catch(() => {});
    call.element = element;
    const source = context.createMediaStreamSource(stream);
    const raw = context.createAnalyser();
    const gain = context.createGain();
    const panner = context.createStereoPanner();
    const analyser = context.createAnalyser();
    raw.fftSize = analyser.fftSize = this.#buffer.length;
    source.connect(raw);
    source.connect(gain).connect(panner).connect(analyser).connect(context.destination);
    call.graph = { source, raw, gain, panner, analyser };
    this.#place();
  }

  /** Every voice's gain (distance, mute) and pan (our yaw), smoothed over ~50 ms. */
  #place(): void {
    const context = this.#context;
    if (context) {
      const us = this.#options.position();
      const yaw = this.#options.yaw();
      for (const call of this.#calls.values()) {
        if (!call.graph) continue;
        const peer = this.#mesh.peer(call.peer);
        const at = peer && this.#positionOf(peer);
        const distance = at ? Math.hypot(at[0] - us[0], at[1] - us[1], at[2] - us[2]) : Number.POSITIVE_INFINITY;
        const gain = this.#muted.has(call.wallet) ? 0 : distanceGain(distance);
        call.graph.gain.gain.setTargetAtTime(gain, context.currentTime, 0.05);
        call.graph.panner.pan.setTargetAtTime(at ? panOf(us, yaw, at) : 0, context.currentTime, 0.05);
      }
    }
    this.#publish();
  }

  #measure(): void {
    const now = this.#now();
    for (const call of this.#calls.values()) {
      if (!call.graph) continue;
      if (call.timing.flowingAt === undefined && rmsOf(call.graph.raw, this.#buffer) > FLOWING_RMS) {
        call.timing.flowingAt = now;
        debug(
          "voice of %s flows %d ms after the call was decided",
          call.peer.slice(0, 10),
          now - call.timing.decidedAt,
        );
      }
      call.peaks.push({ atMs: now, rms: rmsOf(call.graph.analyser, this.#buffer) });
      while ((call.peaks[0]?.atMs ?? now) < now - PEAK_HOLD_MS) call.peaks.shift();
    }
  }

  /** Ends a call; `tell` sends the peer a bye (not when it told us). */
  #hangUp(id: Hex, tell: boolean): void {
    const call = this.#calls.get(id);
    if (!call) return;
    this.#calls.delete(id);
    // A next call is a new decision (its connect time counts from then, not from before this one).
    this.#wantedSince.delete(id);
    if (tell) this.#mesh.sendMedia(id, { kind: "bye", session: call.session, text: "" });
    this.connectedAt.push({ peer: id, timing: call.timing });
    if (this.connectedAt.length > 100) this.connectedAt.shift();
    call.pc.onicecandidate = call.pc.ontrack = call.pc.onconnectionstatechange = null;
    call.pc.close();
    if (call.graph) for (const node of Object.values(call.graph)) node.disconnect();
    if (call.element) call.element.srcObject = null;
    for (const track of call.remote.getTracks()) track.stop();
    debug("hung up %s", id.slice(0, 10));
    this.#publish();
  }

  #applyTalking(): void {
    if (this.#mic) this.#mic.enabled = this.talking;
    this.#publish();
  }

  #snapshot(): VoiceState {
    return {
      on: this.#on,
      mode: this.#mode,
      talking: this.talking,
      mic: this.#micState,
      video: this.#videoState,
      peers: this.#mesh.peers.filter(takesCalls).map((peer) => {
        const call = this.#calls.get(peer.id);
        const wallet = peer.wallet.toLowerCase();
        return {
          id: peer.id,
          name: peer.name,
          wallet,
          distance: this.#distanceTo(peer),
          call: call ? (call.connected ? "connected" : "calling") : "none",
          muted: this.#muted.has(wallet),
          blocked: this.#blocked.has(wallet),
          level: this.level(peer.id),
          video: this.videoOf(peer.id) !== undefined,
        };
      }),
    };
  }

  #publish(): void {
    this.state.set(this.#snapshot());
  }
}
