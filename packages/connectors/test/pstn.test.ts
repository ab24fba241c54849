// Phone dial-in building blocks: DTMF (RFC 4733 and SIP INFO), the IVR state machine, what the
// meeting learns about a caller, the espeak-ng prompt cache, and the phone's media loop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { DtmfReceiver, decodeTelephoneEvent, dtmfFromInfo, encodeTelephoneEvent, type DtmfDigit } from "../src/pstn/dtmf.js";
import { DialInIvr, MAX_ATTEMPTS, MAX_SILENCES, type IvrAction } from "../src/pstn/ivr.js";
import { callerDigits, callerKey, phoneDisplayName } from "../src/pstn/caller.js";
import { PROMPTS, PromptSet, renderPrompts } from "../src/pstn/prompts.js";
import { PhoneMedia } from "../src/pstn/phone-media.js";
import { decodeRtp, encodeRtp } from "../src/media/rtp.js";
import { decodeG711, encodeG711 } from "../src/media/g711.js";
import { isConnectorError } from "../src/errors.js";
import { phoneToGatewaySchema } from "../src/pstn/ipc.js";
import { gatewayToServerSchema, parseIpc } from "../src/framework/ipc.js";
import { parseNameAddr } from "../src/sip/headers.js";

test("RFC 4733 telephone events round-trip, and malformed ones are refused with DTMF_BAD_EVENT", () => {
  for (const digit of ["0", "5", "9", "*", "#", "D"] as DtmfDigit[]) {
    const e = { digit, end: true, volume: 10, duration: 1280 };
    assert.deepEqual(decodeTelephoneEvent(encodeTelephoneEvent(e)), e);
  }
  // §2.3: event 11 is "#", E bit set, volume 10, duration 800.
  assert.deepEqual(decodeTelephoneEvent(Uint8Array.of(11, 0x8a, 0x03, 0x20)), { digit: "#", end: true, volume: 10, duration: 800 });
  for (const bad of [Uint8Array.of(), Uint8Array.of(1, 2, 3), Uint8Array.of(1, 0, 0, 0, 0), Uint8Array.of(16, 0, 0, 0), Uint8Array.of(255, 0, 0, 0)]) {
    assert.throws(() => decodeTelephoneEvent(bad), (e) => isConnectorError(e, "DTMF_BAD_EVENT"));
  }
});

test("one key press sent as several packets (growing duration, the end packet three times) counts once; the next press counts again", () => {
  const got: string[] = [];
  const r = new DtmfReceiver((d) => got.push(d));
  const press = (ts: number, digit: DtmfDigit) => {
    for (const [end, duration] of [[false, 160], [false, 320], [true, 480], [true, 480], [true, 480]] as const) {
      assert.equal(r.push(ts, encodeTelephoneEvent({ digit, end, volume: 10, duration })), true);
    }
  };
  press(1000, "4");
  press(2000, "4");
  press(3000, "#");
  assert.equal(r.push(4000, Uint8Array.of(99, 0, 0, 0)), false, "a malformed packet is ignored");
  assert.deepEqual(got, ["4", "4", "#"]);
});

test("SIP INFO DTMF bodies: application/dtmf-relay and application/dtmf, nothing else", () => {
  assert.equal(dtmfFromInfo("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), "5");
  assert.equal(dtmfFromInfo("Application/DTMF-Relay; charset=x", "signal= #\r\n"), "#");
  assert.equal(dtmfFromInfo("application/dtmf-relay", "Signal=11\r\nDuration=160"), "#");
  assert.equal(dtmfFromInfo("application/dtmf", "*"), "*");
  assert.equal(dtmfFromInfo("application/dtmf", "10"), "*");
  assert.equal(dtmfFromInfo("application/sdp", "Signal=5"), null);
  assert.equal(dtmfFromInfo(undefined, "5"), null);
  assert.equal(dtmfFromInfo("application/dtmf-relay", "Signal=55"), null);
  assert.equal(dtmfFromInfo("application/dtmf-relay", "Duration=160"), null);
  assert.equal(dtmfFromInfo("application/dtmf", "5".repeat(1000)), null);
});

test("DTMF decoders take 10^4 random inputs without throwing anything but DTMF_BAD_EVENT", () => {
  for (let i = 0; i < 10_000; i++) {
    const bytes = randomBytes(i % 9);
    try {
      decodeTelephoneEvent(bytes);
    } catch (e) {
      assert.ok(isConnectorError(e, "DTMF_BAD_EVENT"));
    }
    const d = dtmfFromInfo(i % 2 ? "application/dtmf-relay" : "application/dtmf", bytes.toString("latin1"));
    assert.ok(d === null || "0123456789*#ABCD".includes(d));
  }
});

function ivr(): { machine: DialInIvr; actions: IvrAction[]; keys(s: string): void } {
  const actions: IvrAction[] = [];
  const machine = new DialInIvr((a) => actions.push(a));
  return { machine, actions, keys: (s) => [...s].forEach((k) => machine.digit(k as DtmfDigit)) };
}

test("IVR: the meeting ID, then the passcode, then join with the server's ticket", () => {
  const { machine, actions, keys } = ivr();
  machine.start();
  assert.deepEqual(actions.shift(), { type: "play", prompt: "welcome" });
  keys("12*1234567890#");
  assert.deepEqual(actions.shift(), { type: "lookup", meetingId: "1234567890" }, "* starts the entry over");
  keys("99#");
  assert.equal(actions.length, 0, "keys are ignored while the server is asked");
  machine.lookupResult({ ok: true, passcodeRequired: true });
  assert.deepEqual(actions.shift(), { type: "play", prompt: "passcode" });
  keys("13572468#");
  assert.deepEqual(actions.shift(), { type: "authorize", meetingId: "1234567890", passcode: "13572468" });
  const ticket = "t".repeat(43);
  machine.authorizeResult({ ok: true, ticket, meetingId: "1234567890" });
  assert.deepEqual(actions.shift(), { type: "join", ticket, meetingId: "1234567890" });
  assert.equal(machine.state, "done");
});

test(`IVR: wrong meeting IDs get the 'not valid' prompt and a retry, ${MAX_ATTEMPTS} end the call`, () => {
  const { machine, actions, keys } = ivr();
  machine.start();
  actions.length = 0;
  keys("#");
  assert.deepEqual(actions.shift(), { type: "play", prompt: "badMeetingId" }, "an empty entry is wrong too");
  keys("111#");
  machine.lookupResult({ ok: false, code: "MEETING_NOT_FOUND" });
  assert.deepEqual(actions.shift(), { type: "lookup", meetingId: "111" });
  assert.deepEqual(actions.shift(), { type: "play", prompt: "badMeetingId" });
  keys("222#");
  actions.shift();
  machine.lookupResult({ ok: false, code: "MEETING_NOT_FOUND" });
  assert.deepEqual(actions.shift(), { type: "hangup", prompt: "tooManyAttempts", code: "RATE_LIMITED" });
});

test("IVR: wrong passcodes retry until the limit; e2ee, dial-in off and server limits end the call with their own prompt", () => {
  const { machine, actions, keys } = ivr();
  machine.start();
  keys("5#");
  machine.lookupResult({ ok: true, passcodeRequired: true });
  actions.length = 0;
  for (let i = 1; i < MAX_ATTEMPTS; i++) {
    keys("0#");
    machine.authorizeResult({ ok: false, code: "WRONG_PASSCODE" });
    assert.deepEqual(actions.at(-1), { type: "play", prompt: "badPasscode" });
  }
  keys("0#");
  machine.authorizeResult({ ok: false, code: "WRONG_PASSCODE" });
  assert.deepEqual(actions.at(-1), { type: "hangup", prompt: "tooManyAttempts", code: "RATE_LIMITED" });

  for (const [code, prompt] of [["CONNECTOR_NOT_ALLOWED", "e2ee"], ["DIAL_IN_DISABLED", "dialInOff"], ["MEETING_ENDED", "ended"], ["RATE_LIMITED", "tooManyAttempts"], ["SERVER_TIMEOUT", "unavailable"]] as const) {
    const x = ivr();
    x.machine.start();
    x.keys("5#");
    x.machine.lookupResult({ ok: false, code });
    assert.deepEqual(x.actions.at(-1), { type: "hangup", prompt, code });
  }
  // A meeting without passcode: straight to authorize, no passcode prompt.
  const open = ivr();
  open.machine.start();
  open.keys("5#");
  open.machine.lookupResult({ ok: true, passcodeRequired: false });
  assert.deepEqual(open.actions.at(-1), { type: "authorize", meetingId: "5", passcode: undefined });
});

test("the meeting learns 'Phone ••• 1234' and nothing more of the caller's number; the server gets a keyed digest", () => {
  const from = parseNameAddr('"Jane Doe" <sip:+1-555-010-1234@trunk.example.net>;tag=a');
  assert.equal(callerDigits(from), "15550101234");
  assert.equal(phoneDisplayName(callerDigits(from)), "Phone \u2022\u2022\u2022 1234");
  assert.equal(phoneDisplayName(""), "Phone");
  assert.equal(phoneDisplayName("1234"), "Phone", "too short a number is not shown at all");
  const secret = randomBytes(32);
  const key = callerKey("15550101234", secret);
  assert.match(key, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(callerKey("15550101234", secret), key);
  assert.notEqual(callerKey("15550101235", secret), key);
  assert.notEqual(callerKey("15550101234", randomBytes(32)), key);
  assert.ok(!key.includes("1234"));
});

test("prompts are rendered once with espeak-ng at 8 and 16 kHz and then read from the cache", { timeout: 120_000 }, async (t) => {
  requireSystemBinary("espeak-ng");
  requireSystemBinary("ffmpeg");
  const dir = await mkdtemp(join(tmpdir(), "conclave-prompts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(await renderPrompts(dir), Object.keys(PROMPTS).length);
  assert.equal((await readdir(dir)).length, 2 * Object.keys(PROMPTS).length);
  assert.equal(await renderPrompts(dir), 0, "the second start renders nothing");
  const narrow = await PromptSet.load(dir, 8000);
  const wide = await PromptSet.load(dir, 16000);
  const seconds = narrow.get("welcome").length / 8000;
  assert.ok(seconds > 2 && seconds < 10, `the welcome prompt lasts ${seconds} s`);
  assert.ok(Math.abs(wide.get("welcome").length / 16000 - seconds) < 0.05, "both renderings are the same speech");
  assert.ok(narrow.get("welcome").some((v) => Math.abs(v) > 5000), "the prompt is speech, not silence");
});

test("the phone's media: RFC 4733 key presses from the phone reach the IVR, and a prompt reaches the phone as PCMU", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("espeak-ng");
  const dir = await mkdtemp(join(tmpdir(), "conclave-prompts-"));
  const phone = createSocket("udp4");
  await new Promise<void>((r) => phone.bind(0, "127.0.0.1", r));
  const digits: string[] = [];
  let twoKeys!: () => void;
  const gotKeys = new Promise<void>((r) => (twoKeys = r));
  const media = await PhoneMedia.open("127.0.0.1", (d) => {
    if (digits.push(d) === 2) twoKeys();
  });
  t.after(async () => {
    media.close();
    phone.close();
    await rm(dir, { recursive: true, force: true });
  });
  await renderPrompts(dir);
  const prompts = { "8000": await PromptSet.load(dir, 8000), "16000": await PromptSet.load(dir, 16000) };
  const port = phone.address().port;
  media.configure({ codec: "pcmu", payloadType: 0, clockRate: 8000, channels: 1, remoteAddress: "127.0.0.1", remotePort: port, remoteRtcpPort: port + 1, rtcpMux: false, dtmfPayloadType: 101, index: 0, direction: "sendrecv" });
  const received: Int16Array[] = [];
  const gotEnough = new Promise<void>((resolve) => {
    phone.on("message", (m) => {
      const rtp = decodeRtp(m);
      if (rtp?.payloadType !== 0) return;
      received.push(decodeG711(rtp.payload, "pcmu"));
      if (received.length === 100) resolve();
    });
  });
  media.start(prompts);
  media.play("welcome");
  // The phone presses 7 then # (each as three packets of one event).
  let seq = 1;
  for (const [ts, digit] of [[8000, "7"], [16000, "#"]] as const) {
    for (const end of [false, true, true]) {
      const payload = encodeTelephoneEvent({ digit, end, volume: 10, duration: 400 });
      phone.send(encodeRtp({ payloadType: 101, marker: !end, sequenceNumber: seq++, timestamp: ts, ssrc: 42 }, payload), media.port, "127.0.0.1");
    }
  }
  // Plain audio packets do not count as keys.
  phone.send(encodeRtp({ payloadType: 0, marker: false, sequenceNumber: seq++, timestamp: 0, ssrc: 42 }, encodeG711(new Int16Array(160), "pcmu")), media.port, "127.0.0.1");
  await gotEnough;
  await gotKeys;
  assert.deepEqual(digits, ["7", "#"]);
  // The first 2 s the phone heard are the welcome prompt's first 2 s (G.711 keeps it within a few %).
  const heard = Int16Array.from(received.flatMap((f) => [...f]));
  const ref = prompts["8000"].get("welcome").subarray(0, heard.length);
  let dot = 0;
  let e1 = 0;
  let e2 = 0;
  for (let i = 0; i < ref.length; i++) {
    dot += heard[i]! * ref[i]!;
    e1 += heard[i]! * heard[i]!;
    e2 += ref[i]! * ref[i]!;
  }
  assert.ok(dot / Math.sqrt(e1 * e2) > 0.95, "the phone receives the prompt, sample for sample");
});

test("every prompt's start and end crosses both IPC hops (phone -> gateway -> server); other names do not", () => {
  for (const prompt of Object.keys(PROMPTS)) {
    for (const phase of ["start", "end"] as const) {
      assert.deepEqual(parseIpc(phoneToGatewaySchema, { type: "prompt", prompt, phase }), { type: "prompt", prompt, phase });
      parseIpc(gatewayToServerSchema, { type: "ivr", displayName: "Phone \u2022\u2022\u2022 1234", prompt, phase });
    }
  }
  assert.throws(() => parseIpc(phoneToGatewaySchema, { type: "prompt", prompt: "secretDigits", phase: "start" }), (e) => isConnectorError(e, "CONNECTOR_BAD_IPC"));
});

test(`IVR: silence after a prompt repeats it; a key resets the count; ${MAX_SILENCES} silences in a row end the call`, () => {
  const { machine, actions, keys } = ivr();
  machine.start();
  actions.length = 0;
  machine.silence();
  assert.deepEqual(actions.shift(), { type: "play", prompt: "welcome" });
  keys("12");
  machine.silence();
  assert.deepEqual(actions.shift(), { type: "play", prompt: "welcome" }, "a partial entry is dropped with the repeat");
  keys("5#");
  assert.deepEqual(actions.shift(), { type: "lookup", meetingId: "5" }, "the partial entry did not survive the repeat");
  machine.silence();
  assert.equal(actions.length, 0, "no repeats while the server is asked");
  machine.lookupResult({ ok: true, passcodeRequired: true });
  actions.length = 0;
  for (let i = 1; i < MAX_SILENCES; i++) {
    machine.silence();
    assert.deepEqual(actions.shift(), { type: "play", prompt: "passcode" });
  }
  machine.silence();
  assert.deepEqual(actions.shift(), { type: "hangup", prompt: "tooManyAttempts", code: "IVR_TIMEOUT" });
});
