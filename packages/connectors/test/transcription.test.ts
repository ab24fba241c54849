// The transcription engine process interface and the built-in pocketsphinx engine: strict
// parsing of engine output (bounded lines, exact utterance objects), the pocketsphinx output
// format, caption text made safe, and the real Debian pocketsphinx on a LibriVox clip through
// EngineProcess (pocketsphinx and pocketsphinx-en-us are in the REQUIREMENTS table: without them
// this fails).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { requireSystemBinary } from "@conclave/test-support";
import { EngineProcess, LineSplitter, MAX_LINE, captionText, parseUtterance, type Utterance } from "../src/connectors/transcription/engine.js";
import { toWebVtt } from "../src/connectors/recording/captions.js";
import { serverToTranscriberSchema, transcriberToServerSchema } from "../src/connectors/transcription/messages.js";
import { parseIpc } from "../src/framework/ipc.js";
import { isConnectorError } from "../src/errors.js";
import { PocketsphinxOutputParser, type PocketsphinxUtterance } from "../src/connectors/transcription/pocketsphinx-engine.js";

const ENGINE = fileURLToPath(new URL("../src/connectors/transcription/pocketsphinx-engine.js", import.meta.url));
const CLIP = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0930.wav";

test("an engine line is an utterance only when it is exactly {text, start, end, final} with end not before start", () => {
  assert.deepEqual(parseUtterance('{"text":"hello world","start":0.5,"end":1.25,"final":true}'), { text: "hello world", start: 0.5, end: 1.25, final: true });
  for (const line of [
    "",
    "hello world",
    "[]",
    "null",
    '{"text":"x","start":0,"end":1}',
    '{"text":"x","start":0,"end":1,"final":true,"speaker":"forged"}',
    '{"text":"x","start":2,"end":1,"final":true}',
    '{"text":"x","start":-1,"end":1,"final":true}',
    '{"text":1,"start":0,"end":1,"final":true}',
    `{"text":"${"x".repeat(4001)}","start":0,"end":1,"final":true}`,
    '{"text":"x","start":0,"end":1e400,"final":true}',
  ]) {
    assert.equal(parseUtterance(line), null, line.slice(0, 60));
  }
});

test("engine output is split into lines across chunks, and a line longer than the limit is dropped whole", () => {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const s = new LineSplitter((l) => lines.push(l), (n) => tooLong.push(n));
  s.push('{"a":');
  s.push("1}\r\nsecond\n");
  s.push("x".repeat(MAX_LINE + 10));
  s.push("y".repeat(100) + "\nthird\n");
  s.push("tail");
  s.end();
  assert.deepEqual(lines, ['{"a":1}', "second", "third", "tail"]);
  assert.equal(tooLong.length, 1);
});

test("pocketsphinx -time output becomes one utterance per hypothesis, timed by its words without fillers or silences", () => {
  const out: PocketsphinxUtterance[] = [];
  const p = new PocketsphinxOutputParser((u) => out.push(u));
  for (const line of [
    "he was not an illness those young man",
    "<s> 0.000 0.060 0.999500",
    "<sil> 0.070 0.200 0.694306",
    "he 0.210 0.320 0.998701",
    "was(2) 0.330 0.540 0.999800",
    "[SPEECH] 0.980 1.100 0.535598",
    "man 2.330 2.790 0.905008",
    "</s> 2.800 3.090 1.000000",
    "he might even",
    "he 5.210 5.370 0.997303",
    "even 5.630 5.910 1.000000",
  ]) {
    p.line(line);
  }
  p.flush();
  assert.deepEqual(out, [
    { text: "he was not an illness those young man", start: 0.21, end: 2.79, final: true },
    { text: "he might even", start: 5.21, end: 5.91, final: true },
  ]);
});

test("caption text from an engine loses control characters and extra spaces and is cut to 1,000 characters without splitting a surrogate pair", () => {
  assert.equal(captionText("  hello\u0000\u001b[31m   world\n\tagain  "), "hello [31m world again");
  assert.equal(captionText("a".repeat(1200)).length, 1000);
  const cut = captionText("a".repeat(999) + "😀" + "b");
  assert.equal(cut, "a".repeat(999));
});

test("EngineProcess drops what is not an utterance, and reports an engine that dies before its input ends as unexpected", async () => {
  const e = new EngineProcess(["/bin/sh", "-c", 'echo \'{"text":"ok","start":0,"end":1,"final":true}\'; echo garbage; exit 3']);
  const got: Utterance[] = [];
  let bad = 0;
  e.on("utterance", (u) => got.push(u));
  e.on("badLine", () => bad++);
  const exit = await new Promise<{ code: number | null; expected: boolean }>((r) => e.on("exit", r));
  assert.deepEqual(got, [{ text: "ok", start: 0, end: 1, final: true }]);
  assert.equal(bad, 1);
  assert.equal(exit.code, 3);
  assert.equal(exit.expected, false);
});

test("the built-in engine runs Debian pocketsphinx on a LibriVox clip: 16 kHz PCM in, a final utterance with the clip's words out", { timeout: 60_000 }, async () => {
  requireSystemBinary("pocketsphinx_continuous");
  const wav = readFileSync(CLIP);
  const pcm = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
  const e = new EngineProcess([process.execPath, ENGINE]);
  const got: Utterance[] = [];
  e.on("utterance", (u) => got.push(u));
  const exit = new Promise<{ code: number | null; expected: boolean; stderr: string }>((r) => e.on("exit", r));
  e.write(new Int16Array(8000));
  for (let i = 0; i < pcm.length; i += 320) e.write(pcm.subarray(i, i + 320));
  e.write(new Int16Array(16000));
  e.end();
  const done = await exit;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.expected, true);
  assert.equal(got.length, 1, JSON.stringify(got));
  const u = got[0]!;
  assert.equal(u.final, true);
  // Reference: "he might even have been made amiable himself" (pocketsphinx-testdata).
  for (const w of ["he", "might", "even", "have", "been", "made"]) assert.ok(u.text.split(" ").includes(w), `"${w}" in "${u.text}"`);
  assert.ok(u.start >= 0.5 && u.start < 1.5 && u.end > u.start && u.end <= 0.5 + pcm.length / 16000 + 0.5, `times ${u.start}-${u.end}`);
});

test("captions saved with a recording become WebVTT in time order, voiced by speaker, with markup in names and text escaped", () => {
  const vtt = toWebVtt([
    { start: 3.5, end: 5.25, speaker: "Bob <b>", text: "second & last" },
    { start: 0.2, end: 1.0, speaker: "Ada", text: "first --> line" },
  ]);
  assert.equal(vtt, "WEBVTT\n\n1\n00:00:00.200 --> 00:00:01.000\n<v Ada>first --&gt; line</v>\n\n2\n00:00:03.500 --> 00:00:05.250\n<v Bob &lt;b&gt;>second &amp; last</v>\n");
});

test("transcription IPC is strict both ways: a start needs a ticket and an engine argv, and the process can report counts but never caption text", () => {
  const start = { type: "transcribe", signalingUrl: "wss://127.0.0.1:1/ws", meetingId: "123456789", ticket: "t".repeat(43), displayName: "Live transcription", engine: ["/usr/bin/node", "/x/engine.js"] };
  assert.deepEqual(parseIpc(serverToTranscriberSchema, start), start);
  for (const bad of [{ ...start, engine: [] }, { ...start, ticket: "short" }, { ...start, meetingId: "../x" }, { ...start, extra: 1 }]) {
    assert.throws(() => parseIpc(serverToTranscriberSchema, bad), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
  }
  assert.equal(parseIpc(transcriberToServerSchema, { type: "stopped", captions: 3 }).type, "stopped");
  assert.throws(() => parseIpc(transcriberToServerSchema, { type: "stopped", captions: 3, text: "what was said" }), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
  assert.throws(() => parseIpc(transcriberToServerSchema, { type: "caption", text: "what was said" }), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
});

test("fuzz: engine output of random and mutated lines never throws, yields only valid utterances, and never a line over the limit", () => {
  let seed = 0x5eed;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const valid = '{"text":"he might even","start":5.21,"end":5.91,"final":true}\n';
  const alphabet = '{}[]":,.-+e0123456789 abcfinalstartendtext\\u\n\r\t\u0000é😀';
  for (let i = 0; i < 3000; i++) {
    let chunk = "";
    if (i % 3 === 0) {
      for (let j = rand(200); j > 0; j--) chunk += alphabet[rand(alphabet.length)];
    } else {
      const chars = [...valid.repeat(1 + rand(3))];
      for (let k = 0; k <= rand(4); k++) chars[rand(chars.length)] = alphabet[rand(alphabet.length)]!;
      chunk = chars.join("");
    }
    const lines: string[] = [];
    const split = new LineSplitter((l) => lines.push(l), () => undefined);
    for (let at = 0; at < chunk.length; ) {
      const n = 1 + rand(40);
      split.push(chunk.slice(at, at + n));
      at += n;
    }
    split.end();
    for (const l of lines) {
      assert.ok(l.length <= MAX_LINE);
      const u = parseUtterance(l);
      if (u) assert.ok(typeof u.text === "string" && u.start >= 0 && u.end >= u.start && typeof u.final === "boolean");
    }
    const p = new PocketsphinxOutputParser((u) => assert.ok(u.text.length > 0 && u.end >= u.start));
    for (const l of chunk.split("\n")) p.line(l);
    p.flush();
  }
});
