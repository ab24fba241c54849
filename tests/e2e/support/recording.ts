/**
 * Helpers for the cloud recording tests: bots that send a known tone (Opus encoded here, one
 * frequency per bot, so the recording's tracks can be told apart by cross-correlation) with the
 * synthetic VP8 camera, an HTTPS client for the API, and ffprobe/ffmpeg readers. ffmpeg and
 * ffprobe are system packages (scripts/install-system-deps.sh): without them the tests fail.
 */
import { execFile } from "node:child_process";
import { request } from "node:https";
import { promisify } from "node:util";
import { Encoder } from "@evan/opus";
import { NodeParticipant, SyntheticMedia } from "@conclave/client/node";
import { requireSystemBinary } from "@conclave/test-support";

const run = promisify(execFile);

export function requireFfmpeg(): void {
  requireSystemBinary("ffmpeg");
  requireSystemBinary("ffprobe");
}

export interface ToneBot {
  p: NodeParticipant;
  hz: number;
  stop(): void;
}

/** A participant sending a `hz` sine (Opus, 20 ms frames) and the synthetic VP8 camera. */
export async function toneBot(link: string, ca: string, name: string, hz: number): Promise<ToneBot> {
  const p = new NodeParticipant({ link, displayName: name, ca, externalMedia: { audio: true, video: true } });
  const media = SyntheticMedia.load();
  const encoder = new Encoder({ channels: 1, sample_rate: 48000, application: "audio" });
  let n = 0;
  const timer = setInterval(() => {
    const pcm = new Int16Array(960);
    for (let i = 0; i < 960; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * (n * 960 + i)) / 48000));
    n++;
    void p.sendFrame("audio", encoder.encode(pcm), n * 960);
  }, 20);
  media.start({ audio: () => undefined, video: (f) => void p.sendFrame("video", f.data, f.rtpTimestamp, f.keyframe) });
  p.on("keyframeRequest", () => media.requestKeyframe());
  await p.join();
  return {
    p,
    hz,
    stop() {
      clearInterval(timer);
      media.stop();
      p.leave();
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** An HTTPS request to the test server (admin token unless `headers` says otherwise). */
export function api(port: number, ca: string, token: string, method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body.toString("utf8")) as T });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export interface ProbedStream {
  index: number;
  codec_type: string;
  codec_name: string;
  tags?: { title?: string };
}

/** ffprobe's view of a file: format duration and streams (throws when ffprobe cannot read it). */
export async function probe(file: string): Promise<{ duration: number; streams: ProbedStream[] }> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: ProbedStream[] };
  return { duration: Number(j.format.duration), streams: j.streams };
}

/**
 * Decodes every stream of the file; resolves with what ffmpeg wrote to stderr at level error
 * (empty = clean). Recorded video has variable frame timing (frames as they arrived), so the
 * decoded frames keep their own timestamps (-fps_mode vfr) instead of being forced onto the
 * nominal frame rate's grid, where two close frames would collide in ffmpeg's null output.
 */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", "0", "-fps_mode", "vfr", "-f", "null", "-"], { maxBuffer: 1 << 24 });
  return stderr.trim();
}

/** Audio stream `n` (0-based among audio streams) decoded to 48 kHz mono samples. */
export async function audioSamples(file: string, n: number): Promise<Float64Array> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", `0:a:${n}`, "-ac", "1", "-ar", "48000", "-f", "f32le", "-"], { encoding: "buffer", maxBuffer: 1 << 28 });
  const f32 = new Float32Array(stdout.buffer, stdout.byteOffset, stdout.byteLength >> 2);
  return Float64Array.from(f32);
}

/** Shannon entropy in bits per byte (8 = indistinguishable from random). */
export function entropy(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / bytes.length) * Math.log2(c / bytes.length);
  return h;
}

export { run as execFileAsync };
