/**
 * Video transcoding for H.264-only room systems, in ffmpeg child processes (Debian's ffmpeg has
 * libvpx and libx264; nothing on npm encodes H.264): the device's H.264 (Annex B) becomes VP8
 * for the meeting, and the meeting's VP8 (the active speaker) becomes H.264 for the device.
 * Streams go through pipes: IVF for VP8, Annex B (with access unit delimiters) for H.264.
 * A transcoder that dies is not restarted: the call goes on without that video direction.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { AnnexBReader } from "./h264.js";

// No "-fflags +nobuffer": with it the raw h264 and ivf demuxers read nothing from a pipe.
const COMMON = ["-hide_banner", "-loglevel", "error", "-nostdin", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0"];

/** Reads IVF frames (32-byte file header, then 12-byte frame headers) from a stream. */
export class IvfReader {
  #buffer = Buffer.alloc(0);
  #headerDone = false;

  push(chunk: Buffer): Uint8Array[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const frames: Uint8Array[] = [];
    if (!this.#headerDone) {
      if (this.#buffer.length < 32) return frames;
      const headerSize = this.#buffer.readUInt16LE(6);
      if (this.#buffer.toString("latin1", 0, 4) !== "DKIF" || headerSize < 32) throw new Error("not an IVF stream");
      if (this.#buffer.length < headerSize) return frames;
      this.#buffer = this.#buffer.subarray(headerSize);
      this.#headerDone = true;
    }
    while (this.#buffer.length >= 12) {
      const size = this.#buffer.readUInt32LE(0);
      if (size > 8 * 1024 * 1024) throw new Error("IVF frame too large");
      if (this.#buffer.length < 12 + size) break;
      frames.push(this.#buffer.subarray(12, 12 + size).slice());
      this.#buffer = this.#buffer.subarray(12 + size);
    }
    return frames;
  }
}

export function ivfFileHeader(width: number, height: number): Buffer {
  const h = Buffer.alloc(32);
  h.write("DKIF", 0, "latin1");
  h.writeUInt16LE(0, 4);
  h.writeUInt16LE(32, 6);
  h.write("VP80", 8, "latin1");
  h.writeUInt16LE(width, 12);
  h.writeUInt16LE(height, 14);
  h.writeUInt32LE(90000, 16); // timebase denominator (pts in 90 kHz ticks)
  h.writeUInt32LE(1, 20);
  h.writeUInt32LE(0, 24);
  return h;
}

export function ivfFrame(data: Uint8Array, pts: bigint): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(data.length, 0);
  h.writeBigUInt64LE(pts, 4);
  return Buffer.concat([h, data]);
}

abstract class FfmpegPipe {
  protected readonly proc: ChildProcessWithoutNullStreams;
  #closed = false;

  constructor(args: string[]) {
    this.proc = spawn("ffmpeg", [...COMMON, ...args], { stdio: "pipe" });
    this.proc.on("error", () => undefined);
    this.proc.stdin.on("error", () => undefined);
    // ffmpeg's own errors, one line each, to the connector's log (no media in them).
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", (line: string) => process.stderr.write(`ffmpeg: ${line.trim().slice(0, 300)}\n`));
  }

  protected write(data: Uint8Array): void {
    if (this.#closed || this.proc.exitCode !== null || !this.proc.stdin.writable) return;
    // Drop input while ffmpeg is behind rather than buffer without bound (live video).
    if (this.proc.stdin.writableLength > 4 * 1024 * 1024) return;
    this.proc.stdin.write(data);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.proc.stdin.end();
    this.proc.kill("SIGTERM");
  }
}

/** Device H.264 (Annex B access units) in, VP8 frames out. */
export class H264ToVp8 extends FfmpegPipe {
  readonly #reader = new IvfReader();

  constructor(onFrame: (vp8: Uint8Array) => void) {
    super([
      "-f", "h264", "-i", "pipe:0", "-an",
      "-vf", "scale=640:-2",
      "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k", "-g", "30", "-keyint_min", "30",
      "-auto-alt-ref", "0", "-lag-in-frames", "0", "-error-resilient", "1",
      "-f", "ivf", "-flush_packets", "1", "pipe:1",
    ]);
    this.proc.stdout.on("data", (chunk: Buffer) => {
      try {
        for (const f of this.#reader.push(chunk)) onFrame(f);
      } catch {
        this.close();
      }
    });
  }

  push(accessUnit: Uint8Array): void {
    this.write(accessUnit);
  }
}

/** Meeting VP8 frames in, device H.264 access units (NAL units) out. */
export class Vp8ToH264 extends FfmpegPipe {
  readonly #reader = new AnnexBReader();
  #pts = 0n;
  #lastTs: number | undefined;

  /** `sliceMaxSize`: for packetization mode 0, every NAL unit must fit one RTP packet. */
  constructor(onAccessUnit: (nals: Uint8Array[]) => void, opts: { sliceMaxSize?: number } = {}) {
    super([
      "-f", "ivf", "-i", "pipe:0", "-an",
      "-vf", "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2",
      "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
      "-b:v", "600k", "-g", "30", "-x264-params", `aud=1:repeat-headers=1${opts.sliceMaxSize ? `:slice-max-size=${opts.sliceMaxSize}` : ""}`,
      "-f", "h264", "-flush_packets", "1", "pipe:1",
    ]);
    this.write(ivfFileHeader(640, 360));
    this.proc.stdout.on("data", (chunk: Buffer) => {
      for (const unit of this.#reader.push(chunk)) onAccessUnit(unit);
    });
  }

  /** One VP8 frame with its RTP timestamp (90 kHz). */
  push(vp8: Uint8Array, rtpTimestamp: number): void {
    if (this.#lastTs !== undefined) {
      const delta = (rtpTimestamp - this.#lastTs) >>> 0;
      this.#pts += BigInt(delta > 0 && delta < 90_000 ? delta : 6000);
    }
    this.#lastTs = rtpTimestamp;
    this.write(ivfFrame(vp8, this.#pts));
  }
}
