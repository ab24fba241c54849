/**
 * The audio a device hears: a mix of everyone else, 20 ms at a time, and who is speaking.
 *
 * Each source (a member) has a short queue of decoded 48 kHz mono frames. A source starts playing
 * once two frames are queued (absorbs network jitter), is skipped when its queue runs dry, and
 * drops its oldest frames past MAX_QUEUE (bounded latency). The mix is a clamped sum.
 * The level of each source (RMS, smoothed) feeds the active-speaker choice for video.
 */
import { FRAME_SAMPLES_48K } from "./audio-codec.js";

const MAX_QUEUE = 8;
const PREBUFFER = 2;
const LEVEL_SMOOTHING = 0.7;

interface Source {
  queue: Int16Array[];
  playing: boolean;
  level: number;
}

export class AudioMixer {
  readonly #sources = new Map<string, Source>();

  push(id: string, frame: Int16Array): void {
    if (frame.length !== FRAME_SAMPLES_48K) return;
    let s = this.#sources.get(id);
    if (!s) this.#sources.set(id, (s = { queue: [], playing: false, level: 0 }));
    s.queue.push(frame);
    while (s.queue.length > MAX_QUEUE) s.queue.shift();
  }

  remove(id: string): void {
    this.#sources.delete(id);
  }

  /** One 20 ms frame of the mix (silence when nobody speaks). */
  mix(): Int16Array {
    const acc = new Int32Array(FRAME_SAMPLES_48K);
    for (const s of this.#sources.values()) {
      if (!s.playing && s.queue.length >= PREBUFFER) s.playing = true;
      const frame = s.playing ? s.queue.shift() : undefined;
      if (!frame) {
        s.playing = false;
        s.level *= LEVEL_SMOOTHING;
        continue;
      }
      let energy = 0;
      for (let i = 0; i < FRAME_SAMPLES_48K; i++) {
        const v = frame[i]!;
        acc[i]! += v;
        energy += v * v;
      }
      s.level = LEVEL_SMOOTHING * s.level + (1 - LEVEL_SMOOTHING) * Math.sqrt(energy / FRAME_SAMPLES_48K);
    }
    const out = new Int16Array(FRAME_SAMPLES_48K);
    for (let i = 0; i < FRAME_SAMPLES_48K; i++) out[i] = Math.max(-32768, Math.min(32767, acc[i]!));
    return out;
  }

  levels(): Map<string, number> {
    return new Map([...this.#sources].map(([id, s]) => [id, s.level]));
  }
}

const SPEAKING_LEVEL = 300;
const SWITCH_HOLD_MS = 1500;

/**
 * Chooses whose video a device sees: the loudest member above a speaking threshold, switching
 * only after the current speaker has been quieter for SWITCH_HOLD_MS (no flapping). With nobody
 * speaking it keeps the last speaker, or takes the first candidate.
 */
export class ActiveSpeaker {
  #current: string | undefined;
  #challengerSince = 0;

  get current(): string | undefined {
    return this.#current;
  }

  update(levels: Map<string, number>, candidates: ReadonlySet<string>, now = Date.now()): string | undefined {
    if (this.#current !== undefined && !candidates.has(this.#current)) this.#current = undefined;
    let best: string | undefined;
    let bestLevel = SPEAKING_LEVEL;
    for (const id of candidates) {
      const l = levels.get(id) ?? 0;
      if (l > bestLevel) {
        best = id;
        bestLevel = l;
      }
    }
    if (this.#current === undefined) {
      this.#current = best ?? [...candidates][0];
      this.#challengerSince = now;
      return this.#current;
    }
    if (best === undefined || best === this.#current) {
      this.#challengerSince = now;
      return this.#current;
    }
    if (now - this.#challengerSince >= SWITCH_HOLD_MS) {
      this.#current = best;
      this.#challengerSince = now;
    }
    return this.#current;
  }
}

/**
 * Chooses the cameras of a grid of `size` tiles (the live stream's grid layout): every member with
 * a live camera while they fit. A member keeps its tile while its camera is live (tiles never
 * reshuffle), and a freed tile goes to the most recent speaker without one. With more cameras
 * than tiles, someone who has been speaking for SWITCH_HOLD_MS takes the tile of whoever spoke
 * least recently, if that one has been quiet at least as long.
 */
export class GridLayout {
  readonly #tiles: (string | undefined)[];
  readonly #lastSpoke = new Map<string, number>();
  readonly #speakingSince = new Map<string, number>();

  constructor(size: number) {
    this.#tiles = Array<string | undefined>(size).fill(undefined);
  }

  get tiles(): readonly (string | undefined)[] {
    return this.#tiles;
  }

  update(levels: Map<string, number>, candidates: ReadonlySet<string>, now = Date.now()): readonly (string | undefined)[] {
    for (const [id, level] of levels) {
      if (level > SPEAKING_LEVEL) {
        this.#lastSpoke.set(id, now);
        if (!this.#speakingSince.has(id)) this.#speakingSince.set(id, now);
      } else {
        this.#speakingSince.delete(id);
      }
    }
    for (const id of [...this.#lastSpoke.keys()]) {
      if (!levels.has(id) && !candidates.has(id)) {
        this.#lastSpoke.delete(id);
        this.#speakingSince.delete(id);
      }
    }
    for (let i = 0; i < this.#tiles.length; i++) {
      const id = this.#tiles[i];
      if (id !== undefined && !candidates.has(id)) this.#tiles[i] = undefined;
    }
    const shown = new Set(this.#tiles);
    const spoke = (id: string | undefined): number => (id === undefined ? -Infinity : (this.#lastSpoke.get(id) ?? -Infinity));
    // Waiting cameras, most recent speaker first (a stable sort keeps the others in join order).
    const waiting = [...candidates].filter((id) => !shown.has(id)).sort((a, b) => spoke(b) - spoke(a));
    for (const id of waiting) {
      const free = this.#tiles.indexOf(undefined);
      if (free >= 0) {
        this.#tiles[free] = id;
        continue;
      }
      const since = this.#speakingSince.get(id);
      if (since === undefined || now - since < SWITCH_HOLD_MS) continue;
      let quietest = 0;
      for (let i = 1; i < this.#tiles.length; i++) if (spoke(this.#tiles[i]) < spoke(this.#tiles[quietest])) quietest = i;
      if (now - spoke(this.#tiles[quietest]) >= SWITCH_HOLD_MS) this.#tiles[quietest] = id;
    }
    return this.#tiles;
  }
}
