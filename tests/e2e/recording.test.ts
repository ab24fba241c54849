// Cloud recording end to end: a real server, three bots each sending its own tone, the recording
// connector as a visible member, the files on disk, ffprobe/ffmpeg reading what comes back, and a
// recorder killed with SIGKILL mid-recording.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meetingLink, startTestServer, waitFor, type TestServer } from "./support/harness.js";
import { api, audioSamples, decodeErrors, entropy, execFileAsync, probe, requireFfmpeg, toneBot, type ToneBot } from "./support/recording.js";
import { toneCorrelation } from "./support/baresip.js";

let t: TestServer;
let scratch: string;
/** The server's warnings (the harness drops them otherwise): shown when an assertion fails. */
const warnings: string[] = [];

before(async () => {
  requireFfmpeg();
  t = await startTestServer({
    logger: { info() {}, warn: (m, e) => void warnings.push(`${m}${e instanceof Error ? `: ${e.message}` : ""}`), error: (m, e) => console.error(m, e) },
  });
  scratch = await mkdtemp(join(tmpdir(), "conclave-rec-test-"));
  t.server.context.database.settings.writeAccount({ cloudRecording: { value: true } });
});

after(async () => {
  await t.close();
  await rm(scratch, { recursive: true, force: true });
});

type Json = Record<string, unknown>;
const call = (method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) => api(t.server.port, t.ca, t.server.adminToken, method, path, opts);
const errorCode = (r: { json<T>(): T }): string => r.json<{ error: { code: string } }>().error.code;
const dirOf = (id: string): string => join(t.server.context.config.dataDir, "recordings", id);
const pause = (ms: number) => new Promise((res) => setTimeout(res, ms));

async function startBots(tones: { name: string; hz: number }[]): Promise<{ meeting: { id: string; passcode: string | null }; bots: ToneBot[] }> {
  const meeting = await t.createMeeting("enhanced");
  const bots: ToneBot[] = [];
  for (const { name, hz } of tones) bots.push(await toneBot(meetingLink(t, meeting), t.ca, name, hz));
  await waitFor(`${tones.length} bots in the group`, 40_000, (wake) => bots[0]!.p.on("epoch", wake), () => bots[0]!.p.session.groupMembers.length === tones.length || undefined);
  return { meeting, bots };
}

/** Waits until every bot's own MLS member list holds the recording connector. */
function waitRecorderVisible(bots: ToneBot[]): Promise<unknown> {
  return waitFor(
    "every bot to see the recording connector in its MLS member list",
    40_000,
    (wake) => {
      const offs = bots.map((b) => b.p.on("epoch", wake));
      return () => offs.forEach((o) => o());
    },
    () => bots.every((b) => b.p.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "recording")) || undefined,
  );
}

async function waitStatus(id: string, pred: (r: Json) => boolean, what: string, ms = 90_000): Promise<Json> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = (await call("GET", `/api/recordings/${id}`)).json<{ recording: Json }>().recording;
    if (pred(r)) return r;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (status ${String(r.status)})`);
    await pause(250);
  }
}

async function waitLiveFiles(id: string, n: number): Promise<void> {
  const deadline = Date.now() + 40_000;
  while ((await readdir(dirOf(id))).filter((f) => f.startsWith("live-")).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} live track files were written`);
    await pause(200);
  }
}

/** Asserts a file on disk is ciphertext: no WebM/EBML magic, no names, near-random bytes, unreadable by ffprobe. */
async function assertCiphertext(path: string, names: string[]): Promise<void> {
  const bytes = await readFile(path);
  assert.ok(bytes.length > 10_000, `${path} holds data`);
  assert.equal(bytes.indexOf(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])), -1, "no EBML header (WebM magic) on disk");
  const { stdout } = await execFileAsync("strings", ["-n", "4", path], { maxBuffer: 1 << 26 });
  for (const s of ["webm", "OpusHead", "V_VP8", "A_OPUS", ...names]) assert.ok(!stdout.includes(s), `strings finds no "${s}" in ${path}`);
  const h = entropy(bytes.subarray(64));
  assert.ok(h > 7.9, `the bytes look random (entropy ${h.toFixed(3)} bits/byte)`);
  await assert.rejects(probe(path), "ffprobe cannot read the file on disk");
}

// Long, distinctive names: `strings` over random ciphertext finds short words by chance.
const TONES = [
  { name: "Ada Tone-440", hz: 440 },
  { name: "Bob Tone-660", hz: 660 },
  { name: "Cyd Tone-1000", hz: 1000 },
];

test("three bots recorded for 20 s: everyone sees the recorder, the finalized WebM decodes cleanly with each bot's tone on its own track and a duration within 1 s, ranges work, the files on disk are ciphertext, and deleting shreds the key", { timeout: 240_000 }, async (ctx) => {
  const { meeting, bots } = await startBots(TONES);
  ctx.after(() => bots.forEach((b) => b.stop()));

  const started = await call("POST", `/api/meetings/${meeting.id}/recording`);
  assert.equal(started.status, 202, started.body.toString());
  const id = started.json<{ recording: { id: string } }>().recording.id;
  assert.equal(errorCode(await call("POST", `/api/meetings/${meeting.id}/recording`)), "RECORDING_ACTIVE");
  await waitRecorderVisible(bots);
  const recording = await waitStatus(id, (r) => r.status === "recording", "the first frame on disk");
  const startedAt = Date.parse(recording.startedAt as string);
  await waitLiveFiles(id, 6);

  // Recording: 20 s of meeting time (the duration under test).
  await pause(Math.max(0, startedAt + 20_000 - Date.now()));
  // While it records, the live files are ciphertext too.
  const live = (await readdir(dirOf(id))).filter((f) => f.startsWith("live-") && f.includes("video"));
  await assertCiphertext(join(dirOf(id), live[0]!), TONES.map((x) => x.name));
  const stoppedAt = Date.now();
  const stopped = await call("DELETE", `/api/meetings/${meeting.id}/recording`);
  assert.equal(stopped.status, 200, stopped.body.toString());
  const done = stopped.json<{ recording: Json }>().recording;
  const why = `${JSON.stringify(done)}; server warnings: ${JSON.stringify(warnings)}`;
  assert.equal(done.status, "ready", why);
  // Finalized by the recorder itself, once: not recovered after a crash, no failure on the way.
  assert.equal(done.recovered, false, why);
  assert.equal(done.error, null, why);
  assert.equal(done.tracks, 6);
  // The recorder left: the bots' groups no longer hold it.
  await waitFor("the recorder to leave every group", 30_000, (wake) => {
    const offs = bots.map((b) => b.p.on("epoch", wake));
    return () => offs.forEach((o) => o());
  }, () => bots.every((b) => !b.p.session.groupMembers.some((m) => m.identity.kind === "connector")) || undefined);

  // The finalized files on disk: ciphertext.
  ctx.diagnostic(`files: ${(await readdir(dirOf(id))).join(" ")}`);
  await assertCiphertext(join(dirOf(id), "recording.webm.clvc"), TONES.map((x) => x.name));
  await assertCiphertext(join(dirOf(id), "audio.webm.clvc"), TONES.map((x) => x.name));

  // Listed for the admin, downloaded (decrypted on the fly) and read by ffprobe/ffmpeg.
  const list = (await call("GET", "/api/recordings")).json<{ recordings: Json[] }>().recordings;
  assert.ok(list.some((r) => r.id === id));
  const download = await call("GET", `/api/recordings/${id}/recording.webm?download=1`);
  assert.equal(download.status, 200);
  assert.equal(download.headers["content-type"], "video/webm");
  assert.match(String(download.headers["content-disposition"]), /^attachment; filename="recording-/);
  const file = join(scratch, "recording.webm");
  await writeFile(file, download.body);
  const probed = await probe(file);
  assert.equal(await decodeErrors(file), "", "ffmpeg decodes every stream without an error");
  const expected = (stoppedAt - startedAt) / 1000;
  assert.ok(Math.abs(probed.duration - expected) <= 1, `duration ${probed.duration} s is within 1 s of the ${expected.toFixed(2)} s recorded`);
  const video = probed.streams.filter((s) => s.codec_type === "video");
  const audio = probed.streams.filter((s) => s.codec_type === "audio");
  assert.deepEqual(video.map((s) => s.codec_name), ["vp8", "vp8", "vp8"], "each bot's camera, VP8 as sent (no transcoding)");
  assert.deepEqual(audio.map((s) => s.codec_name), ["opus", "opus", "opus"]);
  // Each bot's tone is on the audio track named after it, and only there.
  for (const [n, stream] of audio.entries()) {
    const owner = TONES.find((x) => x.name === stream.tags?.title);
    assert.ok(owner, `audio track ${n} is named after a bot (${stream.tags?.title})`);
    const samples = await audioSamples(file, n);
    const own = toneCorrelation(samples, 48000, owner.hz);
    assert.ok(own > 0.6, `${owner.name}'s ${owner.hz} Hz tone is on its track (correlation ${own.toFixed(2)})`);
    for (const other of TONES.filter((x) => x !== owner)) {
      const c = toneCorrelation(samples, 48000, other.hz);
      assert.ok(c < 0.3, `${other.name}'s tone is not on ${owner.name}'s track (correlation ${c.toFixed(2)})`);
    }
  }
  // The audio-only file: the three Opus tracks, nothing else.
  const audioOnly = join(scratch, "audio.webm");
  await writeFile(audioOnly, (await call("GET", `/api/recordings/${id}/audio.webm`)).body);
  assert.deepEqual((await probe(audioOnly)).streams.map((s) => s.codec_name), ["opus", "opus", "opus"]);

  // Range requests (what a browser's media element uses to seek).
  const part = await call("GET", `/api/recordings/${id}/recording.webm`, { headers: { range: "bytes=1000-1999" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers["content-range"], `bytes 1000-1999/${download.body.length}`);
  assert.ok(part.body.equals(download.body.subarray(1000, 2000)));
  const tail = await call("GET", `/api/recordings/${id}/recording.webm`, { headers: { range: "bytes=-500" } });
  assert.ok(tail.body.equals(download.body.subarray(download.body.length - 500)));
  assert.equal((await call("GET", `/api/recordings/${id}/recording.webm`, { headers: { range: `bytes=${download.body.length}-` } })).status, 416);
  assert.equal((await call("GET", `/api/recordings/${id}/other.webm`)).status, 404);

  // Delete: the data key is destroyed (crypto-shredding), the files are gone.
  const keys = t.server.context.database.keys;
  assert.ok(await keys.dataKeyIdOf({ kind: "recording", id }));
  assert.equal((await call("DELETE", `/api/recordings/${id}`)).status, 204);
  assert.equal(await keys.dataKeyIdOf({ kind: "recording", id }), undefined);
  assert.ok(!existsSync(dirOf(id)));
  assert.equal(errorCode(await call("GET", `/api/recordings/${id}/recording.webm`)), "RECORDING_NOT_FOUND");
});

test("a recorder killed with SIGKILL mid-recording: what it wrote is recovered into a playable, finalized recording that loses only the last seconds", { timeout: 180_000 }, async (ctx) => {
  const { meeting, bots } = await startBots(TONES.slice(0, 2));
  ctx.after(() => bots.forEach((b) => b.stop()));
  const id = (await call("POST", `/api/meetings/${meeting.id}/recording`)).json<{ recording: { id: string } }>().recording.id;
  const recording = await waitStatus(id, (r) => r.status === "recording", "the first frame on disk");
  const startedAt = Date.parse(recording.startedAt as string);
  await waitLiveFiles(id, 4);
  await pause(Math.max(0, startedAt + 12_000 - Date.now()));
  const pid = t.server.recordings!.active(meeting.id)!.pid!;
  const killedAt = Date.now();
  process.kill(pid, "SIGKILL");

  const done = await waitStatus(id, (r) => r.status === "ready" || r.status === "failed", "the recovered recording");
  assert.equal(done.status, "ready", String(done.error));
  assert.equal(done.recovered, true);
  const file = join(scratch, "recovered.webm");
  await writeFile(file, (await call("GET", `/api/recordings/${id}/recording.webm`)).body);
  const probed = await probe(file);
  assert.equal(await decodeErrors(file), "", "the recovered recording decodes without an error");
  const elapsed = (killedAt - startedAt) / 1000;
  assert.ok(probed.duration <= elapsed + 1, `duration ${probed.duration} s is not more than was recorded (${elapsed.toFixed(1)} s)`);
  assert.ok(probed.duration >= elapsed - 6, `duration ${probed.duration} s: at most the last seconds of ${elapsed.toFixed(1)} s are lost`);
  assert.equal(probed.streams.filter((s) => s.codec_type === "audio").length, 2);
  const samples = await audioSamples(file, 0);
  assert.ok(toneCorrelation(samples, 48000, 440) > 0.6 || toneCorrelation(samples, 48000, 660) > 0.6, "a bot's tone survives in the recovered audio");
  // The meeting goes on without the recorder, and a new recording can start.
  await waitFor("the dead recorder to leave the group", 30_000, (wake) => bots[0]!.p.on("epoch", wake), () => !bots[0]!.p.session.groupMembers.some((m) => m.identity.kind === "connector") || undefined);
  assert.equal((await call("GET", `/api/meetings/${meeting.id}/recording`)).json<{ recording: unknown }>().recording, null);
  assert.equal((await call("DELETE", `/api/recordings/${id}`)).status, 204);
});

test("recording is refused in an e2ee meeting and when the owner's settings turn it off; retention deletes old recordings", { timeout: 120_000 }, async () => {
  const e2ee = await t.createMeeting("e2ee");
  assert.equal(errorCode(await call("POST", `/api/meetings/${e2ee.id}/recording`)), "CONNECTOR_NOT_ALLOWED");
  const enhanced = await t.createMeeting("enhanced");
  const settings = t.server.context.database.settings;
  settings.writeAccount({ cloudRecording: { value: false, locked: true } });
  try {
    assert.equal(errorCode(await call("POST", `/api/meetings/${enhanced.id}/recording`)), "RECORDING_NOT_ALLOWED");
  } finally {
    settings.writeAccount({ cloudRecording: { value: true, locked: false } });
  }
  assert.equal(errorCode(await call("DELETE", `/api/meetings/${enhanced.id}/recording`)), "RECORDING_NOT_ACTIVE");

  // Retention: a finished recording older than the owner's setting is crypto-shredded.
  const { meeting, bots } = await startBots(TONES.slice(0, 1));
  try {
    const id = (await call("POST", `/api/meetings/${meeting.id}/recording`)).json<{ recording: { id: string } }>().recording.id;
    await waitStatus(id, (r) => r.status === "recording", "the first frame on disk");
    await call("DELETE", `/api/meetings/${meeting.id}/recording`);
    const service = t.server.recordings!;
    settings.writeAccount({ recordingRetention: { value: "7d" } });
    await service.sweepRetention(Date.now() + 6 * 86_400_000);
    assert.equal((await call("GET", `/api/recordings/${id}`)).status, 200, "kept within 7 days");
    assert.ok((await service.sweepRetention(Date.now() + 8 * 86_400_000)) >= 1);
    assert.equal(errorCode(await call("GET", `/api/recordings/${id}`)), "RECORDING_NOT_FOUND", "deleted after 7 days");
    assert.ok(!existsSync(dirOf(id)));
    assert.equal(await t.server.context.database.keys.dataKeyIdOf({ kind: "recording", id }), undefined);
  } finally {
    settings.writeAccount({ recordingRetention: { value: null } });
    bots.forEach((b) => b.stop());
  }
});
