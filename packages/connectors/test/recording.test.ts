import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DataKey, EncryptedFileReader, isKmsError } from "@conclave/kms";
import { SyntheticMedia } from "@conclave/client/node";
import { requireSystemBinary } from "@conclave/test-support";
import { LiveTrack, type LiveTrackInfo } from "../src/connectors/recording/live-track.js";
import { finalizeRecording, FINAL_FIELDS } from "../src/connectors/recording/finalize.js";
import { opusHead, vp8KeyframeSize } from "../src/connectors/recording/vp8.js";
import { serverToRecorderSchema, recorderToServerSchema } from "../src/connectors/recording/messages.js";
import { parseIpc } from "../src/framework/ipc.js";
import { isConnectorError } from "../src/errors.js";

const run = promisify(execFile);
const media = SyntheticMedia.load();
const RECORDING_ID = "0123456789abcdef0123456789abcdef";

function tracks(): LiveTrackInfo[] {
  return [
    { file: "live-0-video.webm.clvc", field: "live.0.video", memberId: "m1", displayName: "Ada", kind: "video" },
    { file: "live-1-audio.webm.clvc", field: "live.1.audio", memberId: "m1", displayName: "Ada", kind: "audio" },
  ];
}

/** Feeds `seconds` of the synthetic camera and microphone, with media timestamps (no waiting). */
function feed(video: LiveTrack, audio: LiveTrack, seconds: number): void {
  const events: { t: number; kind: "v" | "a"; i: number }[] = [];
  for (let i = 0; i * (1 / media.fps) < seconds; i++) events.push({ t: i / media.fps, kind: "v", i });
  for (let i = 0; i * 0.02 < seconds; i++) events.push({ t: i * 0.02, kind: "a", i });
  events.sort((a, b) => a.t - b.t);
  for (const e of events) {
    if (e.kind === "v") video.add(media.videoFrames[e.i % media.videoFrames.length]!, e.t);
    else audio.add(media.audioFrames[e.i % media.audioFrames.length]!, e.t);
  }
}

async function finalizedWebm(dir: string, key: DataKey): Promise<string> {
  const reader = await EncryptedFileReader.open(join(dir, "recording.webm.clvc"), key, FINAL_FIELDS["recording.webm"]);
  const out = join(dir, "clear.webm");
  await writeFile(out, await reader.read(0));
  await reader.close();
  return out;
}

async function probe(file: string): Promise<{ duration: number; codecs: string[] }> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
  return { duration: Number(j.format.duration), codecs: j.streams.map((s) => s.codec_name).sort() };
}

test("live tracks written as received finalize into an indexed WebM ffmpeg decodes cleanly, with the fed duration and VP8/Opus untouched", async (t) => {
  requireSystemBinary("ffprobe");
  const dir = await mkdtemp(join(tmpdir(), "conclave-rec-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = DataKey.generate({ kind: "recording", id: RECORDING_ID });
  const [vi, ai] = tracks();
  const video = await LiveTrack.create(dir, vi!, key);
  const audio = await LiveTrack.create(dir, ai!, key);
  feed(video, audio, 10);
  await video.close();
  await audio.close();
  const r = await finalizeRecording(dir, tracks(), key);
  assert.equal(r.tracks, 2);
  assert.ok(Math.abs(r.durationMs - 10_000) <= 100, `duration ${r.durationMs} ms`);
  assert.deepEqual(r.files.map((f) => f.name), ["recording.webm", "audio.webm"]);
  const file = await finalizedWebm(dir, key);
  const p = await probe(file);
  assert.deepEqual(p.codecs, ["opus", "vp8"]);
  assert.ok(Math.abs(p.duration - 10) <= 0.1, `ffprobe duration ${p.duration}`);
  const { stderr } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", "0", "-fps_mode", "vfr", "-f", "null", "-"]);
  assert.equal(stderr.trim(), "");
  // The seek index (Matroska Cues, element id 0x1C53BB6B) is in the finalized file.
  const { readFile } = await import("node:fs/promises");
  assert.ok((await readFile(file)).includes(Buffer.from([0x1c, 0x53, 0xbb, 0x6b])), "the WebM has Cues");
});

test("a recorder cut off mid-write (never closed, as after kill -9) leaves live files that are detected as unfinished and recover to a playable WebM losing only the last seconds", async (t) => {
  requireSystemBinary("ffprobe");
  const dir = await mkdtemp(join(tmpdir(), "conclave-rec-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = DataKey.generate({ kind: "recording", id: RECORDING_ID });
  const [vi, ai] = tracks();
  const video = await LiveTrack.create(dir, vi!, key);
  const audio = await LiveTrack.create(dir, ai!, key);
  feed(video, audio, 20);
  await video.flush();
  await audio.flush();
  // No close(): the streams have no final chunk, like a process killed here.
  await assert.rejects(EncryptedFileReader.open(join(dir, vi!.file), key, vi!.field), (e) => isKmsError(e, "KMS_STREAM_TRUNCATED"));
  const r = await finalizeRecording(dir, tracks(), key);
  assert.equal(r.tracks, 2);
  const p = await probe(await finalizedWebm(dir, key));
  assert.deepEqual(p.codecs, ["opus", "vp8"]);
  assert.ok(p.duration <= 20 && p.duration >= 14, `recovered ${p.duration} s of 20 s`);
  t.diagnostic(`recovered ${p.duration} s of 20 s`);
  assert.ok((await readdir(dir)).includes("audio.webm.clvc"));
});

test("a live track refuses video until a key frame, and reads a VP8 key frame's size", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "conclave-rec-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const track = await LiveTrack.create(dir, tracks()[0]!, DataKey.generate({ kind: "recording", id: RECORDING_ID }));
  const firstDelta = media.videoFrames.find((f) => (f[0]! & 1) === 1)!;
  assert.equal(track.add(firstDelta, 0), false, "a delta frame before any key frame is not written");
  assert.equal(track.add(media.videoFrames[0]!, 0.1), true);
  assert.equal(track.add(firstDelta, 0.2), true, "after the key frame, deltas are written");
  assert.equal(track.frames, 2);
  await track.close();
  const key = media.videoFrames[0]!;
  const size = vp8KeyframeSize(key);
  assert.ok(size && size.width > 0 && size.height > 0);
  const delta = media.videoFrames.find((f) => (f[0]! & 1) === 1)!;
  assert.equal(vp8KeyframeSize(delta), null);
  assert.equal(vp8KeyframeSize(key.subarray(0, 9)), null, "a truncated key frame has no size");
  const bad = Uint8Array.from(key.subarray(0, 10));
  bad[3] = 0;
  assert.equal(vp8KeyframeSize(bad), null, "no start code, no size");
  const head = opusHead(2);
  assert.equal(Buffer.from(head.subarray(0, 8)).toString("ascii"), "OpusHead");
  assert.equal(head[9], 2);
  assert.equal(new DataView(head.buffer).getUint32(12, true), 48000);
});

test("recorder IPC refuses malformed messages: bad ids, keys of the wrong length or object, unknown types, extra fields", () => {
  const key = { id: "0".repeat(32), kind: "recording", objectId: RECORDING_ID, key: Buffer.alloc(32).toString("base64") };
  const ok = { type: "recover", recordingId: RECORDING_ID, dir: "/tmp/x", key };
  assert.equal(parseIpc(serverToRecorderSchema, ok).type, "recover");
  const bad: unknown[] = [
    { ...ok, recordingId: "../etc" },
    { ...ok, key: { ...key, key: Buffer.alloc(16).toString("base64") } },
    { ...ok, key: { ...key, kind: "meeting" } },
    { ...ok, extra: 1 },
    { type: "format-disk" },
    null,
    { type: "record", recordingId: RECORDING_ID, signalingUrl: "wss://x/ws", meetingId: "12a", ticket: "t".repeat(40), displayName: "R", dir: "/tmp", key },
  ];
  for (const m of bad) assert.throws(() => parseIpc(serverToRecorderSchema, m), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"), JSON.stringify(m));
  assert.throws(() => parseIpc(recorderToServerSchema, { type: "finalized", durationMs: -1, tracks: 0, files: [], recovered: false }), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
  assert.throws(() => parseIpc(recorderToServerSchema, { type: "finalized", durationMs: 1, tracks: 0, files: [{ name: "../../etc/passwd", bytes: 1 }], recovered: false }), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
});
