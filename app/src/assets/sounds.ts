/**
 * Sound effects through Web Audio: built-in defaults synthesized at start (short clicks and thumps), replaced
 * by an asset pack's sounds when it arrives. Effects near the listener are louder; beyond 32 blocks, silent.
 * The audio context starts on the first user gesture, as browsers require.
 */

export type SoundName = "place" | "break" | "step";

/** Mono 16-bit PCM, as asset packs carry it. */
export type PcmSound = { samples: Int16Array; sampleRate: number };

const SILENT_BEYOND = 32;
const DEFAULT_RATE = 22_050;

/** A decaying tone with some noise: the built-in effect for each name, different enough to tell apart. */
function synthesize(name: SoundName): PcmSound {
  const shape = {
    place: { hz: 220, ms: 90, noise: 0.2 },
    break: { hz: 110, ms: 140, noise: 0.7 },
    step: { hz: 70, ms: 60, noise: 0.5 },
  }[name];
  const length = Math.round((DEFAULT_RATE * shape.ms) / 1000);
  const samples = new Int16Array(length);
  let seed = name.length * 7919;
  for (let i = 0; i < length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const noise = (seed / 0x1_0000_0000) * 2 - 1;
    const t = i / DEFAULT_RATE;
    const envelope = Math.exp((-5 * i) / length);
    const value = (1 - shape.noise) * Math.sin(2 * Math.PI * shape.hz * t) + shape.noise * noise;
    samples[i] = Math.round(value * envelope * 0.6 * 32767);
  }
  return { samples, sampleRate: DEFAULT_RATE };
}

export class SoundBank {
  #context: AudioContext | undefined;
  readonly #pcm = new Map<SoundName, PcmSound>();
  readonly #buffers = new Map<SoundName, AudioBuffer>();
  #volume = 0.6;
  /** Where the pack's sounds came from, for the HUD: "built-in" or the pack's name. */
  source = "built-in";

  constructor() {
    for (const name of ["place", "break", "step"] as const) this.#pcm.set(name, synthesize(name));
    const start = () => {
      this.#context ??= new AudioContext();
      void this.#context.resume();
    };
    window.addEventListener("pointerdown", start, { once: true });
    window.addEventListener("keydown", start, { once: true });
  }

  /** Takes an asset pack's sounds in place of the built-in ones (names it does not know are ignored). */
  replace(sounds: ReadonlyMap<string, PcmSound>, source: string): void {
    for (const [name, sound] of sounds)
      if (name === "place" || name === "break" || name === "step") {
        this.#pcm.set(name, sound);
        this.#buffers.delete(name);
      }
    this.source = source;
  }

  set volume(value: number) {
    this.#volume = Math.max(0, Math.min(1, value));
  }

  /** Plays `name`, quieter with distance (blocks from the listener); nothing before the first gesture. */
  play(name: SoundName, distance = 0): void {
    const context = this.#context;
    if (context?.state !== "running" || distance >= SILENT_BEYOND) return;
    const buffer = this.#buffer(context, name);
    if (!buffer) return;
    const source = context.createBufferSource();
    source.buffer = buffer;
    const gain = context.createGain();
    gain.gain.value = this.#volume * (1 - Math.max(0, distance) / SILENT_BEYOND) ** 2;
    source.connect(gain).connect(context.destination);
    source.start();
  }

  #buffer(context: AudioContext, name: SoundName): AudioBuffer | undefined {
    let buffer = this.#buffers.get(name);
    const pcm = this.#pcm.get(name);
    if (!buffer && pcm && pcm.samples.length > 0) {
      buffer = context.createBuffer(1, pcm.samples.length, pcm.sampleRate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < pcm.samples.length; i++) channel[i] = (pcm.samples[i] as number) / 32768;
      this.#buffers.set(name, buffer);
    }
    return buffer;
  }
}
