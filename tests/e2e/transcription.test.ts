// Live transcription end to end: a real server, a bot reading LibriVox clips from Debian's
// pocketsphinx-testdata (its own Opus publication), the transcription connector joining as a
// visible member and running the built-in Debian pocketsphinx engine, and another member
// receiving the captions as MLS application messages. A tap on the server's signaling sees every
// message it handled: no caption text is in them. E2EE meetings refuse; a caption from anyone
// but the transcription connector is refused by members.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { NodeParticipant } from "@conclave/client/node";
import type { Caption } from "@conclave/client";
import { computeShield } from "@conclave/protocol";
import { requireSystemBinary } from "@conclave/test-support";
import { meetingLink, startTestServer, waitFor, type TestServer } from "./support/harness.js";
import { api } from "./support/recording.js";
import { MODEL_LM, TESTDATA, norm, play, programme, referenceWords, requireSystemFile, wordOverlap } from "./support/transcription.js";

/**
 * Share of the reference words found in the captions (multiset overlap). Measured on this
 * machine: see docs/performance.md "Live transcription accuracy". pocketsphinx's accuracy is
 * modest; this bound catches a broken pipeline (wrong rate, garbled audio, lost captions), which
 * scores near zero.
 */
const MIN_WORD_OVERLAP = 0.5;

let t: TestServer;
const tapped: string[] = [];
const logged: string[] = [];

before(async () => {
  requireSystemBinary("pocketsphinx_continuous");
  requireSystemFile(MODEL_LM);
  requireSystemFile(`${TESTDATA}/transcription`);
  t = await startTestServer({
    // Everything the server's signaling received and sent, both ways.
    signalingTap: (_direction, text) => void tapped.push(text),
    logger: {
      info: (m) => void logged.push(String(m)),
      warn: (m, e) => void logged.push(`${String(m)} ${e instanceof Error ? e.message : ""}`),
      error: (m, e) => void logged.push(`${String(m)} ${e instanceof Error ? e.message : ""}`),
    },
  });
  t.server.context.database.settings.writeAccount({ liveTranscription: { value: true } });
});

after(async () => {
  await t.close();
});

const call = (method: string, path: string) => api(t.server.port, t.ca, t.server.adminToken, method, path);
const errorCode = (r: { json<T>(): T }): string => r.json<{ error: { code: string } }>().error.code;

function hasTranscriber(p: NodeParticipant): boolean {
  return p.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "transcription");
}

test("a bot reads LibriVox clips: the other member receives captions naming the speaker that overlap the reference words, and nothing the server handled holds caption text", { timeout: 240_000 }, async (ctx) => {
  const meeting = await t.createMeeting("enhanced");
  const link = meetingLink(t, meeting);
  const speaker = new NodeParticipant({ link, displayName: "Reader Marianne-Dashwood", ca: t.ca, externalMedia: { audio: true, video: false } });
  const listener = new NodeParticipant({ link, displayName: "Listener Elinor-Ferrars", ca: t.ca, media: false });
  ctx.after(() => {
    speaker.leave();
    listener.leave();
  });
  await speaker.join();
  await listener.join();
  await waitFor("both bots in the group", 40_000, (wake) => listener.on("epoch", wake), () => listener.session.groupMembers.length === 2 || undefined);

  const captions: Caption[] = [];
  const refused: string[] = [];
  listener.on("caption", (c) => void captions.push(c));
  listener.on("error", (e) => void refused.push(e.code));

  const started = await call("POST", `/api/meetings/${meeting.id}/transcription`);
  assert.equal(started.status, 202, started.body.toString());
  assert.equal(errorCode(await call("POST", `/api/meetings/${meeting.id}/transcription`)), "TRANSCRIPTION_ACTIVE");
  // Everyone sees the transcription connector in the group's own member list, listed in the shield panel.
  await waitFor("both bots to see the transcription connector", 40_000, (wake) => {
    const a = speaker.on("epoch", wake);
    const b = listener.on("epoch", wake);
    return () => (a(), b());
  }, () => (hasTranscriber(speaker) && hasTranscriber(listener)) || undefined);
  const shield = computeShield("enhanced", listener.session.groupMembers.map((m) => m.identity));
  assert.deepEqual(shield.keyHoldingConnectors.map((c) => c.connector), ["transcription"]);

  await play(speaker, programme());
  const stopped = await call("DELETE", `/api/meetings/${meeting.id}/transcription`);
  assert.equal(stopped.status, 200, stopped.body.toString());
  const view = stopped.json<{ transcription: { status: string; captions: number } }>().transcription;
  assert.equal(view.status, "stopped");
  // Its leave commit comes after its last captions on the listener's connection.
  await waitFor("the transcription connector to leave", 30_000, (wake) => listener.on("epoch", wake), () => !hasTranscriber(listener) || undefined);
  assert.equal(errorCode(await call("DELETE", `/api/meetings/${meeting.id}/transcription`)), "TRANSCRIPTION_NOT_ACTIVE");

  const finals = captions.filter((c) => c.final);
  assert.ok(finals.length >= 3, `captions arrived (${finals.length})`);
  assert.equal(view.captions, finals.length, "the server counted the captions the listener received");
  for (const c of finals) {
    assert.equal(c.speaker, speaker.memberId, "every caption names the speaker");
    assert.equal(c.speakerName, "Reader Marianne-Dashwood");
    assert.ok(c.end >= c.start);
  }
  assert.deepEqual(refused, [], "no caption was refused");
  const reference = referenceWords();
  const heard = finals.flatMap((c) => c.text.split(/\s+/)).map(norm).filter(Boolean);
  const overlap = wordOverlap(reference, heard);
  ctx.diagnostic(`word overlap ${(overlap * 100).toFixed(1)}% (${heard.length} words heard, ${reference.length} in the reference): ${finals.map((c) => c.text).join(" / ")}`);
  assert.ok(overlap >= MIN_WORD_OVERLAP, `the captions overlap the reference words: ${(overlap * 100).toFixed(1)}% (at least ${MIN_WORD_OVERLAP * 100}%)`);

  // The server-side tap: the server handled every caption (as ciphertext) yet no caption word
  // long enough to be found by chance is in anything it received, sent or logged.
  assert.ok(tapped.some((s) => s.includes('"appMessage"')), "the tap saw the application messages");
  const server = `${tapped.join("\n")}\n${logged.join("\n")}`.toLowerCase();
  const words = [...new Set(heard.filter((w) => w.length >= 6))];
  assert.ok(words.length >= 3, `long caption words to look for (${words.join(", ")})`);
  for (const w of words) assert.ok(!server.includes(w), `the server never handled "${w}" in clear`);
  assert.ok(!server.includes(finals[0]!.text.toLowerCase()), "nor a whole caption");
});

test("an e2ee meeting refuses transcription, the liveTranscription setting off refuses it, and members refuse a caption from anyone but the transcription connector", { timeout: 120_000 }, async (ctx) => {
  const e2ee = await t.createMeeting("e2ee");
  const refusedE2ee = await call("POST", `/api/meetings/${e2ee.id}/transcription`);
  assert.equal(errorCode(refusedE2ee), "CONNECTOR_NOT_ALLOWED");
  assert.equal(refusedE2ee.status, 403);

  const meeting = await t.createMeeting("enhanced");
  t.server.context.database.settings.writeAccount({ liveTranscription: { value: false } });
  try {
    assert.equal(errorCode(await call("POST", `/api/meetings/${meeting.id}/transcription`)), "TRANSCRIPTION_NOT_ALLOWED");
  } finally {
    t.server.context.database.settings.writeAccount({ liveTranscription: { value: true } });
  }

  // A hostile member forges captions under its own MLS keys: receivers check the sender's credential.
  const link = meetingLink(t, meeting);
  const forger = new NodeParticipant({ link, displayName: "Forger Willoughby", ca: t.ca, media: false });
  const victim = new NodeParticipant({ link, displayName: "Victim Brandon", ca: t.ca, media: false });
  ctx.after(() => {
    forger.leave();
    victim.leave();
  });
  await forger.join();
  await victim.join();
  await waitFor("both in the group", 40_000, (wake) => forger.on("epoch", wake), () => forger.session.groupMembers.length === 2 || undefined);
  const captions: Caption[] = [];
  victim.on("caption", (c) => void captions.push(c));
  const codes: string[] = [];
  const gotError = new Promise<void>((res) =>
    victim.on("error", (e) => {
      codes.push(e.code);
      res();
    }),
  );
  await forger.session.sendAppMessage({ v: 1, type: "caption", speaker: victim.memberId, seq: 0, text: "I confess everything", start: 0, end: 1000, final: true });
  await gotError;
  assert.deepEqual(codes, ["CAPTION_NOT_FROM_TRANSCRIBER"]);
  assert.equal(captions.length, 0, "no caption was shown");
});

test("captions received while a cloud recording runs are saved with it: a WebVTT file voiced by the speaker, ciphertext on disk, served decrypted to the owner", { timeout: 240_000 }, async (ctx) => {
  t.server.context.database.settings.writeAccount({ cloudRecording: { value: true } });
  const meeting = await t.createMeeting("enhanced");
  const link = meetingLink(t, meeting);
  const speaker = new NodeParticipant({ link, displayName: "Reader Edward-Ferrars", ca: t.ca, externalMedia: { audio: true, video: false } });
  const listener = new NodeParticipant({ link, displayName: "Listener Lucy-Steele", ca: t.ca, media: false });
  ctx.after(() => {
    speaker.leave();
    listener.leave();
  });
  await speaker.join();
  await listener.join();
  const captions: Caption[] = [];
  listener.on("caption", (c) => void (c.final && captions.push(c)));
  assert.equal((await call("POST", `/api/meetings/${meeting.id}/recording`)).status, 202);
  assert.equal((await call("POST", `/api/meetings/${meeting.id}/transcription`)).status, 202);
  const both = () => {
    const kinds = listener.session.groupMembers.map((m) => (m.identity.kind === "connector" ? m.identity.connector : "person"));
    return (kinds.includes("recording") && kinds.includes("transcription")) || undefined;
  };
  await waitFor("the listener to see the recorder and the transcriber", 60_000, (wake) => listener.on("epoch", wake), both);
  // "had he married a more amiable woman he might have been made still more respectable than he was"
  await play(speaker, programme(["sense_and_sensibility_01_austen_64kb-0920"]));
  await waitFor("a caption", 60_000, (wake) => listener.on("caption", wake), () => captions.length > 0 || undefined);
  assert.equal((await call("DELETE", `/api/meetings/${meeting.id}/transcription`)).status, 200);
  const stopped = await call("DELETE", `/api/meetings/${meeting.id}/recording`);
  assert.equal(stopped.status, 200, stopped.body.toString());
  const recording = stopped.json<{ recording: { id: string; status: string; files: { name: string; bytes: number; url: string }[] } }>().recording;
  assert.equal(recording.status, "ready");
  const vttFile = recording.files.find((f) => f.name === "captions.vtt");
  assert.ok(vttFile, `captions.vtt is among the files (${recording.files.map((f) => f.name).join(", ")})`);

  const served = await call("GET", vttFile.url);
  assert.equal(served.status, 200);
  assert.match(String(served.headers["content-type"]), /^text\/vtt/);
  const vtt = served.body.toString("utf8");
  assert.match(vtt, /^WEBVTT\n\n1\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n<v Reader Edward-Ferrars>/);
  for (const c of captions) assert.ok(vtt.includes(c.text), `the file holds "${c.text}"`);

  // On disk: ciphertext only (no WebVTT header, no speaker name, no caption words).
  const onDisk = await readFile(join(t.server.context.config.dataDir, "recordings", recording.id, "captions.vtt.clvc"));
  const sealed = await readFile(join(t.server.context.config.dataDir, "recordings", recording.id, "captions.sealed"));
  for (const bytes of [onDisk, sealed]) {
    const text = bytes.toString("latin1");
    assert.ok(!text.includes("WEBVTT") && !text.includes("Edward-Ferrars"), "no clear text on disk");
    for (const w of captions.flatMap((c) => c.text.split(" ")).filter((w) => w.length >= 6)) assert.ok(!text.includes(w), `"${w}" is not on disk`);
  }
});
