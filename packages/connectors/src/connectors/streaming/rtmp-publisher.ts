/**
 * One ffmpeg process publishing to an RTMP/RTMPS ingest: the meeting's mixed audio (48 kHz mono
 * s16le on stdin) and the chosen video (VP8 frames in IVF on fd 3; for the grid layout one
 * input per tile on fd 3…6, stacked by ffmpeg's xstack) in, H.264 (libx264
 * veryfast/zerolatency) + AAC in FLV out (VP8 and Opus cannot go into FLV). Progress lines on
 * stdout tell that the destination accepted the stream; error lines on stderr are redacted (the
 * stream key is part of the URL ffmpeg prints) before anyone sees them.
 *
 * For rtmps:// ffmpeg verifies the ingest's certificate (it does not by default): the chain
 * against a CA bundle (the system's unless the server names one) and the host name against the
 * URL's host. With Debian's ffmpeg (GnuTLS) both checks fail the TLS handshake, and the lines it
 * prints for them become a clear error.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { ivfFileHeader, ivfFrame } from "../../media/transcoder.js";

export const VIDEO_WIDTH = 640;
export const VIDEO_HEIGHT = 360;
/** Output frame rate of the stream. */
export const FPS = 25;

/** Replaces every form of `secret` in `text` (as is and URL-encoded) with a marker. */
export function redact(text: string, secret: string): string {
  if (secret === "") return text;
  let out = text;
  for (const form of new Set([secret, encodeURIComponent(secret), encodeURI(secret)])) out = out.split(form).join("[stream key]");
  return out;
}

/** The system's trust store (Debian's ca-certificates), used unless the server names a CA bundle. */
export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";

/** The full publishing URL: the application URL, then the stream key as the stream name. */
export function publishUrl(url: string, streamKey: string): string {
  return `${url.replace(/\/+$/, "")}/${streamKey}`;
}

/**
 * The stream's picture: the active speaker's camera full frame, or a grid of up to GRID_TILES
 * cameras (2×2), each tile its own VP8 input that ffmpeg scales into place.
 */
export type StreamLayout = "speaker" | "grid";
/** Tiles of the grid layout (2 columns × 2 rows). */
export const GRID_TILES = 4;
const GRID_COLUMNS = 2;

/** How many VP8 inputs a layout has (fd 3, 4, …). */
export function videoInputs(layout: StreamLayout): number {
  return layout === "grid" ? GRID_TILES : 1;
}

/** Scale into a w×h box, keeping the aspect ratio (black bars), at the stream's frame rate. */
function fit(w: number, h: number): string {
  return `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,fps=${FPS},format=yuv420p`;
}

/** The video filter arguments: one input fitted to the frame, or the tiles stacked into a grid. */
function videoFilter(layout: StreamLayout): string[] {
  if (layout === "speaker") return ["-map", "1:v", "-map", "0:a", "-vf", fit(VIDEO_WIDTH, VIDEO_HEIGHT)];
  const rows = Math.ceil(GRID_TILES / GRID_COLUMNS);
  const w = VIDEO_WIDTH / GRID_COLUMNS;
  const h = VIDEO_HEIGHT / rows;
  const tiles = Array.from({ length: GRID_TILES }, (_, i) => `[${i + 1}:v]${fit(w, h)}[t${i}]`);
  const positions = Array.from({ length: GRID_TILES }, (_, i) => `${(i % GRID_COLUMNS) * w}_${Math.floor(i / GRID_COLUMNS) * h}`);
  const stack = `${Array.from({ length: GRID_TILES }, (_, i) => `[t${i}]`).join("")}xstack=inputs=${GRID_TILES}:layout=${positions.join("|")}[v]`;
  return ["-filter_complex", [...tiles, stack].join(";"), "-map", "[v]", "-map", "0:a"];
}

/**
 * ffmpeg's command line: raw audio on stdin and IVF video on fd 3 (and, for the grid, one more fd
 * per tile) in, FLV to the ingest out. `caFile` is the CA bundle an rtmps:// ingest's certificate
 * must chain to (default: the system's).
 */
export function publisherArgs(url: string, streamKey: string, caFile?: string, layout: StreamLayout = "speaker"): string[] {
  const video = Array.from({ length: videoInputs(layout) }, (_, i) => ["-thread_queue_size", "1024", "-probesize", "32", "-analyzeduration", "0", "-f", "ivf", "-i", `pipe:${3 + i}`]).flat();
  return [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-progress", "pipe:1", "-stats_period", "0.5",
    "-thread_queue_size", "1024", "-f", "s16le", "-ar", "48000", "-ac", "1", "-i", "pipe:0",
    ...video,
    ...videoFilter(layout),
    // Constant frame rate and a key frame every 2 s (what ingest services ask for), whatever
    // rate the cameras (or the placeholder) arrive at: players joining later start within 2 s.
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "main",
    "-b:v", "1000k", "-maxrate", "1000k", "-bufsize", "2000k", "-g", String(2 * FPS), "-keyint_min", String(2 * FPS), "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2",
    ...tlsArgs(url, caFile),
    "-f", "flv", "-flvflags", "no_duration_filesize", publishUrl(url, streamKey),
  ];
}

/**
 * TLS options of ffmpeg's tls protocol (rtmps:// opens tls:// with the output's options):
 * `tls_verify 1` checks the chain against `ca_file` and, with GnuTLS, the certificate against the
 * URL's host (ffmpeg's `verifyhost` defaults to it). Nothing for rtmp://, which has no TLS.
 */
function tlsArgs(url: string, caFile: string | undefined): string[] {
  if (!url.startsWith("rtmps://")) return [];
  return ["-tls_verify", "1", "-ca_file", caFile ?? SYSTEM_CA_FILE];
}

/**
 * What an ffmpeg error line says about the ingest's certificate, in words for the host; undefined
 * for any other line. The texts are those of libavformat/tls_gnutls.c (ffmpeg 5.1).
 */
export function certificateFailure(line: string, caFile?: string): string | undefined {
  if (!line.includes("[tls @")) return undefined;
  // The server's file path is not for hosts to read: the bundle is named by its setting.
  const bundle = caFile === undefined ? "the system's CA certificates" : "the server's streaming CA bundle (streamingCa)";
  const host = /The certificate's owner does not match hostname (\S+)/.exec(line);
  if (host) return `the ingest's TLS certificate is not for the host ${host[1]!}; check the host name in the URL`;
  if (/Peer certificate failed verification|Unable to verify peer certificate/.test(line)) {
    return `the ingest's TLS certificate is not trusted: it does not chain to ${bundle}, or it has expired`;
  }
  if (/Error while reading file/.test(line)) return `${bundle} cannot be read`;
  return undefined;
}

/**
 * Splits a stream of text into whole lines: `push` returns the lines a chunk completes and keeps
 * the rest, `end` returns what is left. An unfinished line is kept to its first `maxLine`
 * characters, so a writer that never ends its line cannot make the buffer grow without bound.
 */
export class LineBuffer {
  #tail = "";
  readonly #maxLine: number;

  constructor(maxLine = 8192) {
    this.#maxLine = maxLine;
  }

  push(chunk: string): string[] {
    const parts = (this.#tail + chunk).split(/\r?\n/);
    // Only a line's beginning is ever shown (300 characters): the rest of an endless line is dropped.
    this.#tail = (parts.pop() ?? "").slice(0, this.#maxLine);
    return parts;
  }

  end(): string[] {
    const rest = this.#tail;
    this.#tail = "";
    return rest === "" ? [] : [rest];
  }
}

export interface PublisherEvents {
  /** The destination accepted the stream: ffmpeg is encoding and sending. */
  onConnected(): void;
  /** ffmpeg exited; `lastError` says why the ingest's certificate was refused, else it is ffmpeg's last error line, redacted. */
  onExit(lastError: string): void;
}

export class RtmpPublisher {
  readonly #proc: ChildProcess;
  readonly #audio: Writable;
  /** One IVF pipe per video input (the grid's tiles, in order). */
  readonly #video: Writable[];
  #connected = false;
  #lastError = "";
  /** The first complaint about the ingest's certificate: it says more than ffmpeg's last line. */
  #certificateError: string | undefined;
  #closed = false;
  readonly #t0 = performance.now();
  #samples = 0;

  constructor(url: string, streamKey: string, events: PublisherEvents, options: { caFile?: string | undefined; layout?: StreamLayout } = {}) {
    const { caFile, layout = "speaker" } = options;
    const args = publisherArgs(url, streamKey, caFile, layout);
    const inputs = videoInputs(layout);
    this.#proc = spawn("ffmpeg", args, { stdio: ["pipe", "pipe", "pipe", ...Array<"pipe">(inputs).fill("pipe")] });
    this.#audio = this.#proc.stdin!;
    this.#video = Array.from({ length: inputs }, (_, i) => this.#proc.stdio[3 + i] as Writable);
    this.#audio.on("error", () => undefined);
    for (const v of this.#video) v.on("error", () => undefined);
    this.#proc.on("error", (e) => {
      this.#lastError = redact(e.message, streamKey).slice(0, 300);
    });
    const stdout = this.#proc.stdout as Readable;
    stdout.setEncoding("utf8");
    stdout.on("data", (s: string) => {
      if (!this.#connected && s.includes("progress=")) {
        this.#connected = true;
        events.onConnected();
      }
    });
    const stderr = this.#proc.stderr as Readable;
    stderr.setEncoding("utf8");
    // ffmpeg writes a line in parts ("[tls @ 0x…] " then the message): whole lines only, so
    // that the key is redacted and certificate errors are recognised whatever the pipe delivers.
    const lines = new LineBuffer();
    const onLine = (line: string): void => {
      const clean = redact(line.trim(), streamKey).slice(0, 300);
      if (clean === "") return;
      this.#lastError = clean;
      this.#certificateError ??= certificateFailure(clean, caFile);
      process.stderr.write(`ffmpeg: ${clean}\n`);
    };
    stderr.on("data", (s: string) => lines.push(s).forEach(onLine));
    stderr.on("end", () => lines.end().forEach(onLine));
    this.#proc.on("close", () => {
      this.#closed = true;
      events.onExit(this.#certificateError ?? this.#lastError);
    });
    for (const v of this.#video) v.write(ivfFileHeader(VIDEO_WIDTH, VIDEO_HEIGHT));
  }


  get connected(): boolean {
    return this.#connected;
  }

  /** Seconds since this publisher started: the stream's timeline. */
  elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** Samples (48 kHz) of audio written so far. */
  get samples(): number {
    return this.#samples;
  }

  /** 20 ms of mixed audio, 48 kHz mono. */
  writeAudio(pcm: Int16Array): void {
    this.#samples += pcm.length;
    if (this.#closed || this.#audio.writableLength > 1024 * 1024) return;
    this.#audio.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  /** One VP8 frame for video input `input` (0: the speaker layout's only one), stamped with the stream's clock. */
  writeVideo(vp8: Uint8Array, input = 0): void {
    const v = this.#video[input];
    if (this.#closed || !v || v.writableLength > 4 * 1024 * 1024) return;
    v.write(ivfFrame(vp8, BigInt(Math.round(this.elapsed() * 90_000))));
  }

  /** Ends the stream: ffmpeg flushes and closes the RTMP connection. */
  close(): void {
    if (this.#closed) return;
    this.#audio.end();
    for (const v of this.#video) v.end();
    const kill = setTimeout(() => this.#proc.kill("SIGKILL"), 5000);
    kill.unref();
    this.#proc.once("close", () => clearTimeout(kill));
  }

  kill(): void {
    if (!this.#closed) this.#proc.kill("SIGKILL");
  }
}

/** A black VP8 key frame (IVF payload), shown while nobody's camera is on. Made once by ffmpeg. */
export async function blackKeyframe(): Promise<Uint8Array> {
  const { IvfReader } = await import("../../media/transcoder.js");
  return new Promise((resolve, reject) => {
    const p = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", `color=c=black:s=${VIDEO_WIDTH}x${VIDEO_HEIGHT}:r=1`, "-frames:v", "1", "-c:v", "libvpx", "-f", "ivf", "pipe:1"], { stdio: ["ignore", "pipe", "pipe"] });
    const reader = new IvfReader();
    const frames: Uint8Array[] = [];
    p.stdout.on("data", (c: Buffer) => frames.push(...reader.push(c)));
    p.on("error", reject);
    p.on("close", (code) => (frames[0] ? resolve(frames[0]) : reject(new Error(`ffmpeg could not make a black frame (exit ${code})`))));
  });
}
