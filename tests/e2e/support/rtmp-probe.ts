/**
 * Reading a live RTMP stream back with ffprobe/ffmpeg, as a viewer of the ingest would: its
 * streams, a stretch of its audio, and a small grey-level picture of one frame.
 */
import { execFileAsync } from "./recording.js";

/** ffprobe's streams of a live RTMP stream (rejects when nothing is published there). */
export async function probeRtmp(url: string): Promise<{ codec_type: string; codec_name: string }[]> {
  const { stdout } = await execFileAsync("ffprobe", ["-v", "error", "-rw_timeout", "15000000", "-print_format", "json", "-show_streams", url], { timeout: 30_000 });
  return (JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string }[] }).streams;
}

/** `seconds` of the stream's audio, decoded to 48 kHz mono. */
export async function rtmpAudio(url: string, seconds: number): Promise<Float64Array> {
  const { stdout } = await execFileAsync("ffmpeg", ["-v", "error", "-rw_timeout", "15000000", "-i", url, "-t", String(seconds), "-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-"], { encoding: "buffer", maxBuffer: 1 << 26, timeout: 60_000 });
  const f32 = new Float32Array(stdout.buffer, stdout.byteOffset, stdout.byteLength >> 2);
  return Float64Array.from(f32);
}

export const FRAME_WIDTH = 64;
export const FRAME_HEIGHT = 36;

/** One frame of the stream's video, 64x36 grey levels, taken `at` seconds in. */
export async function rtmpFrame(url: string, at: number): Promise<Uint8Array> {
  const { stdout } = await execFileAsync("ffmpeg", ["-v", "error", "-rw_timeout", "15000000", "-i", url, "-ss", String(at), "-frames:v", "1", "-an", "-vf", `scale=${FRAME_WIDTH}:${FRAME_HEIGHT},format=gray`, "-f", "rawvideo", "-"], { encoding: "buffer", maxBuffer: 1 << 20, timeout: 60_000 });
  return new Uint8Array(stdout);
}

/** Standard deviation of grey levels: about 0 for the black placeholder, well above for a camera picture. */
export function spread(px: Uint8Array): number {
  const mean = px.reduce((a, b) => a + b, 0) / px.length;
  return Math.sqrt(px.reduce((a, b) => a + (b - mean) ** 2, 0) / px.length);
}

/** The pixels of one quarter of a 64x36 frame: 0 top left, 1 top right, 2 bottom left, 3 bottom right. */
export function quarter(frame: Uint8Array, q: number): Uint8Array {
  const w = FRAME_WIDTH / 2;
  const h = FRAME_HEIGHT / 2;
  const x0 = (q % 2) * w;
  const y0 = Math.floor(q / 2) * h;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) out.set(frame.subarray((y0 + y) * FRAME_WIDTH + x0, (y0 + y) * FRAME_WIDTH + x0 + w), y * w);
  return out;
}
