/**
 * The device side's audio codecs, all behind one shape: 20 ms frames of 48 kHz mono PCM in and
 * out, RTP payloads on the other side. Opus uses @evan/opus (libopus, native); G.711 is done here;
 * G.722 runs in an ffmpeg child process per direction (no maintained G.722 codec exists on npm).
 * Output may be asynchronous (ffmpeg), so results are delivered to a callback.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { Decoder as OpusDecoder, Encoder as OpusEncoder } from "@evan/opus";
import { ConnectorError } from "../errors.js";
import { decodeG711, encodeG711 } from "./g711.js";
import { Resampler } from "./resample.js";

export type DeviceAudioCodecName = "opus" | "g722" | "pcmu" | "pcma";

/** 20 ms at 48 kHz. */
export const FRAME_SAMPLES_48K = 960;

export interface DeviceAudioCodec {
  readonly name: DeviceAudioCodecName;
  /** RTP timestamp ticks per 20 ms frame (RFC 3551: G.722 counts at 8 kHz). */
  readonly rtpTicksPerFrame: number;
  /** Encodes one 20 ms frame of 48 kHz mono PCM; the payload goes to `onPayload`. */
  encode(pcm: Int16Array): void;
  /** Decodes one RTP payload; 48 kHz mono PCM goes to `onPcm`. */
  decode(payload: Uint8Array): void;
  close(): void;
}

export interface CodecSinks {
  onPayload(payload: Uint8Array): void;
  onPcm(pcm: Int16Array): void;
}

export function createDeviceAudioCodec(name: DeviceAudioCodecName, sinks: CodecSinks): DeviceAudioCodec {
  switch (name) {
    case "opus":
      return new OpusCodec(sinks);
    case "pcmu":
    case "pcma":
      return new G711Codec(name, sinks);
    case "g722":
      return new G722Codec(sinks);
  }
}

class OpusCodec implements DeviceAudioCodec {
  readonly name = "opus" as const;
  readonly rtpTicksPerFrame = 960;
  readonly #enc = new OpusEncoder({ channels: 1, sample_rate: 48000, application: "voip" });
  readonly #dec = new OpusDecoder({ channels: 1, sample_rate: 48000 });
  readonly #sinks: CodecSinks;

  constructor(sinks: CodecSinks) {
    this.#sinks = sinks;
    this.#enc.bitrate = 48000;
  }

  encode(pcm: Int16Array): void {
    this.#sinks.onPayload(this.#enc.encode(pcm));
  }

  decode(payload: Uint8Array): void {
    this.#sinks.onPcm(decodeOpus(this.#dec, payload));
  }

  close(): void {}
}

/** Decodes an Opus packet to 48 kHz mono PCM (throws MEDIA_CODEC_FAILED on a corrupt packet). */
export function decodeOpus(dec: InstanceType<typeof OpusDecoder>, payload: Uint8Array): Int16Array {
  let bytes: Uint8Array;
  try {
    bytes = dec.decode(payload);
  } catch {
    throw new ConnectorError("MEDIA_CODEC_FAILED", "Opus decode");
  }
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1).slice();
}

class G711Codec implements DeviceAudioCodec {
  readonly name: "pcmu" | "pcma";
  readonly rtpTicksPerFrame = 160;
  readonly #down = new Resampler(48000, 8000);
  readonly #up = new Resampler(8000, 48000);
  readonly #sinks: CodecSinks;

  constructor(name: "pcmu" | "pcma", sinks: CodecSinks) {
    this.name = name;
    this.#sinks = sinks;
  }

  encode(pcm: Int16Array): void {
    this.#sinks.onPayload(encodeG711(this.#down.process(pcm), this.name));
  }

  decode(payload: Uint8Array): void {
    if (payload.length === 0 || payload.length > 1600) return;
    this.#sinks.onPcm(this.#up.process(decodeG711(payload, this.name)));
  }

  close(): void {}
}

/**
 * G.722 (64 kbit/s, 16 kHz audio) through two long-lived ffmpeg processes, raw streams both
 * ways: 16-bit PCM at 16 kHz in, G.722 bytes out (160 per 20 ms), and the reverse.
 */
class G722Codec implements DeviceAudioCodec {
  readonly name = "g722" as const;
  readonly rtpTicksPerFrame = 160;
  readonly #down = new Resampler(48000, 16000);
  readonly #up = new Resampler(16000, 48000);
  readonly #enc: ChildProcessWithoutNullStreams;
  readonly #dec: ChildProcessWithoutNullStreams;
  #encOut = Buffer.alloc(0);
  #decOut = Buffer.alloc(0);
  #closed = false;

  constructor(sinks: CodecSinks) {
    const common = ["-hide_banner", "-loglevel", "error", "-nostdin", "-fflags", "+nobuffer", "-probesize", "32", "-analyzeduration", "0"];
    this.#enc = spawn("ffmpeg", [...common, "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "pipe:0", "-c:a", "g722", "-f", "g722", "-flush_packets", "1", "pipe:1"], { stdio: "pipe" });
    // No "-ar" on the g722 input: ffmpeg 5.1's g722 demuxer has no such option (it refuses to
    // start) and reads 16 kHz anyway.
    this.#dec = spawn("ffmpeg", [...common, "-f", "g722", "-i", "pipe:0", "-f", "s16le", "-ar", "16000", "-ac", "1", "-flush_packets", "1", "pipe:1"], { stdio: "pipe" });
    for (const p of [this.#enc, this.#dec]) {
      p.on("error", () => undefined);
      p.stdin.on("error", () => undefined);
      p.stderr.resume();
    }
    this.#enc.stdout.on("data", (chunk: Buffer) => {
      this.#encOut = Buffer.concat([this.#encOut, chunk]);
      while (this.#encOut.length >= 160) {
        sinks.onPayload(this.#encOut.subarray(0, 160));
        this.#encOut = this.#encOut.subarray(160);
      }
    });
    this.#dec.stdout.on("data", (chunk: Buffer) => {
      this.#decOut = Buffer.concat([this.#decOut, chunk]);
      while (this.#decOut.length >= 640) {
        const pcm16 = new Int16Array(this.#decOut.buffer.slice(this.#decOut.byteOffset, this.#decOut.byteOffset + 640));
        sinks.onPcm(this.#up.process(pcm16));
        this.#decOut = this.#decOut.subarray(640);
      }
    });
  }

  encode(pcm: Int16Array): void {
    if (this.#closed) return;
    const low = this.#down.process(pcm);
    this.#enc.stdin.write(Buffer.from(low.buffer, low.byteOffset, low.byteLength));
  }

  decode(payload: Uint8Array): void {
    if (this.#closed || payload.length === 0 || payload.length > 1600) return;
    this.#dec.stdin.write(payload);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [this.#enc, this.#dec]) {
      p.stdin.end();
      p.kill("SIGTERM");
    }
  }
}
