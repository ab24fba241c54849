/**
 * Synthetic camera and microphone for Node participants: real VP8 and Opus frames (so browsers
 * can render and hear them) looped from small files shipped in packages/client/assets.
 *
 * Frames are produced on timers at their natural rate (15 fps video, 20 ms audio) with RTP
 * timestamps on the codecs' clocks. A key frame request (PLI from the relay) restarts the video
 * loop at its first frame, which is a key frame.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseIvf } from "./ivf.js";
import { parseOggOpus } from "./ogg-opus.js";

export interface SyntheticFrame {
  data: Uint8Array;
  /** RTP timestamp on the codec clock (90 kHz video, 48 kHz audio). */
  rtpTimestamp: number;
  keyframe: boolean;
}

export interface SyntheticSinks {
  video?(frame: SyntheticFrame): void;
  audio?(frame: SyntheticFrame): void;
}

const ASSETS = new URL("../../../assets/", import.meta.url);
const AUDIO_FRAME_MS = 20;

export class SyntheticMedia {
  readonly videoFrames: Uint8Array[];
  readonly audioFrames: Uint8Array[];
  readonly fps: number;
  #timers: ReturnType<typeof setInterval>[] = [];
  #videoIndex = 0;
  #audioIndex = 0;
  #videoTs = Math.floor(Math.random() * 2 ** 31);
  #audioTs = Math.floor(Math.random() * 2 ** 31);

  private constructor(video: Uint8Array[], audio: Uint8Array[], fps: number) {
    if (video.length === 0 || audio.length === 0) throw new Error("synthetic media: empty asset");
    if ((video[0]![0]! & 1) !== 0) throw new Error("synthetic media: the video must start with a key frame");
    this.videoFrames = video;
    this.audioFrames = audio;
    this.fps = fps;
  }

  /** Loads the bundled assets. */
  static load(): SyntheticMedia {
    const ivf = parseIvf(new Uint8Array(readFileSync(fileURLToPath(new URL("synthetic-video.ivf", ASSETS)))));
    const opus = parseOggOpus(new Uint8Array(readFileSync(fileURLToPath(new URL("synthetic-audio.opus", ASSETS)))));
    const fps = Math.round(ivf.timebase.den / Math.max(1, ivf.timebase.num));
    return new SyntheticMedia(ivf.frames.map((f) => f.data), opus, fps > 0 && fps <= 60 ? fps : 15);
  }

  start(sinks: SyntheticSinks): void {
    this.stop();
    if (sinks.video) {
      const sink = sinks.video;
      const step = Math.round(90_000 / this.fps);
      this.#timers.push(setInterval(() => {
        const data = this.videoFrames[this.#videoIndex]!;
        this.#videoIndex = (this.#videoIndex + 1) % this.videoFrames.length;
        this.#videoTs = (this.#videoTs + step) >>> 0;
        sink({ data, rtpTimestamp: this.#videoTs, keyframe: (data[0]! & 1) === 0 });
      }, 1000 / this.fps));
    }
    if (sinks.audio) {
      const sink = sinks.audio;
      this.#timers.push(setInterval(() => {
        const data = this.audioFrames[this.#audioIndex]!;
        this.#audioIndex = (this.#audioIndex + 1) % this.audioFrames.length;
        this.#audioTs = (this.#audioTs + 48 * AUDIO_FRAME_MS) >>> 0;
        sink({ data, rtpTimestamp: this.#audioTs, keyframe: false });
      }, AUDIO_FRAME_MS));
    }
  }

  /** The next video frame will be a key frame (the loop restarts). */
  requestKeyframe(): void {
    this.#videoIndex = 0;
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
