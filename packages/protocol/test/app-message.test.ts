import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MEETING_FEATURES,
  APP_MESSAGE_TYPES,
  MAX_APP_MESSAGE_PAYLOAD_BYTES,
  SEALED_ONLY_TYPES,
  SEALED_PADDING,
  decodeAppMessage,
  decodeSealedPayload,
  disabledFeature,
  encodeAppMessage,
  encodeSealedPayload,
  type AppMessage,
} from "../src/app-messages/app-message.js";
import { MlsSession, createKeyPackage, type MemberIdentity } from "../src/mls/index.js";
import { isProtocolError, type ProtocolErrorCode } from "../src/errors.js";

const utf8 = new TextEncoder();
const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });

const SAMPLES: AppMessage[] = [
  { v: 1, type: "mediaState", mic: false, camera: true, screen: false },
  { v: 1, type: "hostRequest", action: "askUnmute", target: "m_abc-1" },
  { v: 1, type: "hostRequest", action: "mute", target: "m2" },
  { v: 1, type: "spotlight", memberIds: ["a", "b"] },
  { v: 1, type: "spotlight", memberIds: [] },
  { v: 1, type: "chat", id: "c-12345678", text: "Hello, everyone\n👋 ça va?" },
  { v: 1, type: "privateChat", id: "p_abcdefgh", text: "just for you" },
  { v: 1, type: "file", id: "f-12345678", fileId: "0123456789abcdefABCDEF", name: "notes.pdf", size: 5_000_000, mediaType: "application/pdf", key: "A".repeat(43) + "=" },
  { v: 1, type: "privateFile", id: "f-87654321", fileId: "0123456789abcdefABCDEF", name: "empty", size: 0, mediaType: "", key: "B".repeat(43) + "=" },
  { v: 1, type: "reaction", emoji: "👏" },
  { v: 1, type: "reaction", emoji: "❤️" },
  { v: 1, type: "hand", raised: true },
  { v: 1, type: "lowerHand", target: "m2" },
  { v: 1, type: "localRecording", state: "started" },
  { v: 1, type: "localRecording", state: "stopped" },
  { v: 1, type: "caption", speaker: "m_abc-1", seq: 3, text: "he might even have been made amiable himself", start: 29_160, end: 31_950, final: true },
  { v: 1, type: "caption", speaker: "m2", seq: 0, text: "good", start: 0, end: 0, final: false },
  { v: 1, type: "pollLaunch", pollId: "poll-0001", question: "Lunch?", options: ["Pizza", "Salad"], multiple: false, anonymous: true },
  { v: 1, type: "pollVote", pollId: "poll-0001", choices: [1] },
  { v: 1, type: "pollEnd", pollId: "poll-0001" },
  { v: 1, type: "pollResults", pollId: "poll-0001", counts: [3, 1], voters: 4 },
  { v: 1, type: "breakoutPlan", planId: "plan-0001", rooms: [{ roomId: "r1", name: "Room 1" }], broadcastKey: "C".repeat(43) + "=", signingKey: "F".repeat(43) + "=" },
  { v: 1, type: "sealed", to: "m2", toLeaf: 3, enc: "D".repeat(43) + "=", ct: "E".repeat(364) },
];

function code(f: () => unknown): ProtocolErrorCode | "ok" {
  try {
    f();
    return "ok";
  } catch (e) {
    assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
    return e.code;
  }
}

test("every kind of application message round-trips, and every kind has a sample", () => {
  for (const m of SAMPLES) assert.deepEqual(decodeAppMessage(encodeAppMessage(m)), m);
  assert.deepEqual(new Set(SAMPLES.map((m) => m.type)), new Set(APP_MESSAGE_TYPES));
});

test("malformed payloads are refused by name: not UTF-8, not a JSON object, missing, extra or mistyped fields", () => {
  const bad: [Uint8Array, ProtocolErrorCode][] = [
    [new Uint8Array([0xff, 0xfe, 0x7b]), "APP_MESSAGE_MALFORMED"],
    [utf8.encode("not json"), "APP_MESSAGE_MALFORMED"],
    [utf8.encode("[1,2]"), "APP_MESSAGE_MALFORMED"],
    [utf8.encode("null"), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "mediaState", mic: true, camera: true })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "mediaState", mic: true, camera: true, screen: false, extra: 1 })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "mediaState", mic: "yes", camera: true, screen: false })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "hostRequest", action: "unmute", target: "x" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "hostRequest", action: "mute", target: "has space" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "spotlight", memberIds: ["a", "b", "c", "d", "e"] })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "c-12345678", text: "" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "c-12345678", text: "   " })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "c-12345678", text: "bell\u0007" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "c-12345678", text: "lone \ud800 surrogate" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "c-12345678", text: "x".repeat(2001) })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "chat", id: "short", text: "hi" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "reaction", emoji: "<script>" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "pollLaunch", pollId: "poll-0001", question: "Q", options: ["only one"], multiple: false, anonymous: false })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "pollVote", pollId: "poll-0001", choices: [1, 1] })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "pollVote", pollId: "poll-0001", choices: [] })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "pollVote", pollId: "poll-0001", choices: [10] })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "file", id: "f-12345678", fileId: "0123456789abcdefABCDEF", name: "../etc/passwd", size: 1, mediaType: "", key: "A".repeat(43) + "=" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "file", id: "f-12345678", fileId: "0123456789abcdefABCDEF", name: "a", size: 1, mediaType: "", key: "A".repeat(40) })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "breakoutPlan", planId: "plan-0001", rooms: [], broadcastKey: "C".repeat(43) + "=", signingKey: "F".repeat(43) + "=" })), "APP_MESSAGE_MALFORMED"],
    [utf8.encode(JSON.stringify({ v: 1, type: "sealed", to: "m2", toLeaf: -1, enc: "D".repeat(43) + "=", ct: "E".repeat(364) })), "APP_MESSAGE_MALFORMED"],
  ];
  for (const [bytes, expected] of bad) assert.equal(code(() => decodeAppMessage(bytes)), expected, new TextDecoder().decode(bytes));
});

test("a localRecording announcement is only started or stopped, with no other field, and never oversized", () => {
  const bad: [unknown, ProtocolErrorCode][] = [
    [{ v: 1, type: "localRecording" }, "APP_MESSAGE_MALFORMED"],
    [{ v: 1, type: "localRecording", state: "paused" }, "APP_MESSAGE_MALFORMED"],
    [{ v: 1, type: "localRecording", state: true }, "APP_MESSAGE_MALFORMED"],
    [{ v: 1, type: "localRecording", state: "STARTED" }, "APP_MESSAGE_MALFORMED"],
    // It speaks only for its sender: naming someone else, or adding a caption, is refused.
    [{ v: 1, type: "localRecording", state: "started", memberId: "m2" }, "APP_MESSAGE_MALFORMED"],
    [{ v: 1, type: "localRecording", state: "stopped", note: "x" }, "APP_MESSAGE_MALFORMED"],
    [{ v: 2, type: "localRecording", state: "started" }, "APP_MESSAGE_UNSUPPORTED"],
    [{ v: 1, type: "localRecording", state: "started", pad: "x".repeat(MAX_APP_MESSAGE_PAYLOAD_BYTES) }, "APP_MESSAGE_TOO_LARGE"],
  ];
  for (const [json, expected] of bad) assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify(json)))), expected, JSON.stringify(json).slice(0, 80));
  assert.equal(code(() => encodeAppMessage({ v: 1, type: "localRecording", state: "paused" } as unknown as AppMessage)), "APP_MESSAGE_MALFORMED");
  // Never sealed: it is for everyone.
  assert.equal(code(() => decodeSealedPayload(padTo256(utf8.encode(JSON.stringify({ v: 1, type: "localRecording", state: "started" }))))), "APP_MESSAGE_MALFORMED");
});

function padTo256(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 256) * 256);
  out.set(bytes);
  return out;
}

test("an unknown version or type is APP_MESSAGE_UNSUPPORTED (a newer client's message is ignored, not misread)", () => {
  assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify({ v: 2, type: "mediaState", mic: true, camera: true, screen: false })))), "APP_MESSAGE_UNSUPPORTED");
  assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify({ type: "mediaState", mic: true, camera: true, screen: false })))), "APP_MESSAGE_UNSUPPORTED");
  assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify({ v: 1, type: "telepathy" })))), "APP_MESSAGE_UNSUPPORTED");
});

test("oversized payloads are APP_MESSAGE_TOO_LARGE both ways; errors never echo the payload", () => {
  const big = utf8.encode(JSON.stringify({ v: 1, type: "spotlight", memberIds: [], pad: "x".repeat(MAX_APP_MESSAGE_PAYLOAD_BYTES) }));
  assert.equal(code(() => decodeAppMessage(big)), "APP_MESSAGE_TOO_LARGE");
  try {
    decodeAppMessage(utf8.encode(JSON.stringify({ v: 1, type: "hostRequest", action: "mute", target: "secret value here" })));
    assert.fail("should throw");
  } catch (e) {
    assert.ok(!String((e as Error).message).includes("secret value"));
  }
  assert.equal(code(() => encodeAppMessage({ v: 1, type: "hostRequest", action: "mute", target: "" } as AppMessage)), "APP_MESSAGE_MALFORMED");
});

test("fuzz: random bytes and mutated valid payloads either decode to a valid message or fail with an APP_MESSAGE code", () => {
  let seed = 0x1234567;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const allowed = new Set(["ok", "APP_MESSAGE_MALFORMED", "APP_MESSAGE_UNSUPPORTED", "APP_MESSAGE_TOO_LARGE"]);
  for (let i = 0; i < 5000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) {
      bytes = new Uint8Array(rand(64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = rand(256);
    } else {
      bytes = encodeAppMessage(SAMPLES[rand(SAMPLES.length)]!).slice();
      for (let k = 0; k <= rand(3); k++) bytes[rand(bytes.length)] = rand(128);
    }
    const c = code(() => decodeAppMessage(bytes));
    assert.ok(allowed.has(c), `${c} for ${Buffer.from(bytes).toString("hex")}`);
  }
});

test("carried in MLS: the receiver learns the authenticated sender, a tampered or replayed message is refused, and a message of the previous epoch still decrypts after a commit", async () => {
  const group = utf8.encode("app-message-test");
  const alice = await MlsSession.create(group, person("Alice"));
  const [bobKp, cyKp] = await Promise.all([createKeyPackage(person("Bob")), createKeyPackage(person("Cy"))]);
  const add = await alice.commit({ add: [bobKp.keyPackage] });
  await alice.applyPendingCommit();
  const bob = await MlsSession.joinFromWelcome(add.welcome!, bobKp.secret);

  const sealed = await bob.encryptApplicationMessage(encodeAppMessage(SAMPLES[0]!));
  const tampered = sealed.slice();
  tampered[tampered.length - 1]! ^= 1;
  await assert.rejects(alice.processMessage(tampered), (e) => isProtocolError(e, "MLS_MESSAGE_REJECTED"));
  const got = await alice.processMessage(sealed);
  assert.equal(got.kind, "application");
  if (got.kind === "application") {
    assert.equal(got.sender.identity.memberId, "id-Bob");
    assert.deepEqual(decodeAppMessage(got.data), SAMPLES[0]);
  }
  await assert.rejects(alice.processMessage(sealed), (e) => isProtocolError(e, "MLS_REPLAY"));

  // Sent at epoch 1, delivered after Alice moved to epoch 2: still read, still attributed.
  const late = await bob.encryptApplicationMessage(encodeAppMessage(SAMPLES[1]!));
  const next = await alice.commit({ add: [cyKp.keyPackage] });
  await alice.applyPendingCommit();
  assert.equal(alice.epoch, 2n);
  const old = await alice.processMessage(late);
  assert.ok(old.kind === "application" && old.epoch === 1n && old.sender.identity.memberId === "id-Bob");
  await assert.rejects(alice.processMessage(late), (e) => isProtocolError(e, "MLS_REPLAY"));
  await bob.processMessage(next.commit);
  assert.equal(bob.epoch, 2n);
});

test("sealed payloads are padded to whole blocks (a vote is as long as any other) and decode strictly", () => {
  const vote: AppMessage = { v: 1, type: "pollVote", pollId: "poll-0001", choices: [0] };
  const votes3: AppMessage = { v: 1, type: "pollVote", pollId: "poll-0001", choices: [0, 4, 9] };
  assert.equal(encodeSealedPayload(vote).length, SEALED_PADDING);
  assert.equal(encodeSealedPayload(votes3).length, SEALED_PADDING);
  assert.deepEqual(decodeSealedPayload(encodeSealedPayload(vote)), vote);
  const chat = SAMPLES.find((m) => m.type === "privateChat")!;
  assert.deepEqual(decodeSealedPayload(encodeSealedPayload(chat)), chat);
  // Only sealed-only kinds are sealed, and a sealed-only kind must not appear unsealed-in-sealed.
  assert.equal(code(() => encodeSealedPayload(SAMPLES[0]!)), "APP_MESSAGE_MALFORMED");
  const inner = encodeAppMessage({ v: 1, type: "chat", id: "c-12345678", text: "hi" });
  const block = new Uint8Array(SEALED_PADDING);
  block.set(inner);
  assert.equal(code(() => decodeSealedPayload(block)), "APP_MESSAGE_MALFORMED");
  // Padding: not block-aligned, too much, or not zeros.
  assert.equal(code(() => decodeSealedPayload(encodeSealedPayload(vote).subarray(1))), "APP_MESSAGE_MALFORMED");
  const double = new Uint8Array(SEALED_PADDING * 2);
  double.set(encodeSealedPayload(vote).subarray(0, 40));
  assert.equal(code(() => decodeSealedPayload(double)), "APP_MESSAGE_MALFORMED");
  const dirty = encodeSealedPayload(vote);
  dirty[SEALED_PADDING - 1] = 0x20;
  assert.equal(code(() => decodeSealedPayload(dirty)), "APP_MESSAGE_MALFORMED");
  assert.equal(code(() => decodeSealedPayload(new Uint8Array(0))), "APP_MESSAGE_MALFORMED");
  assert.deepEqual([...SEALED_ONLY_TYPES].sort(), ["pollVote", "privateChat", "privateFile"]);
});

test("each kind is governed by the settings that name it: chat by inMeetingChat, files also by fileSharing, polls by polling", () => {
  const off = (k: keyof typeof DEFAULT_MEETING_FEATURES) => ({ ...DEFAULT_MEETING_FEATURES, [k]: false });
  assert.equal(disabledFeature("chat", off("inMeetingChat")), "inMeetingChat");
  assert.equal(disabledFeature("chat", off("privateChat")), null);
  assert.equal(disabledFeature("privateChat", off("privateChat")), "privateChat");
  assert.equal(disabledFeature("file", off("fileSharing")), "fileSharing");
  assert.equal(disabledFeature("file", off("inMeetingChat")), "inMeetingChat");
  assert.equal(disabledFeature("privateFile", off("fileSharing")), "fileSharing");
  assert.equal(disabledFeature("reaction", off("reactions")), "reactions");
  for (const t of ["pollLaunch", "pollVote", "pollEnd", "pollResults"] as const) assert.equal(disabledFeature(t, off("polling")), "polling");
  assert.equal(disabledFeature("breakoutPlan", off("breakoutRooms")), "breakoutRooms");
  for (const t of ["mediaState", "hostRequest", "spotlight", "hand", "lowerHand", "localRecording", "sealed"] as const) {
    for (const k of Object.keys(DEFAULT_MEETING_FEATURES) as (keyof typeof DEFAULT_MEETING_FEATURES)[]) assert.equal(disabledFeature(t, off(k)), null);
  }
  // chatHistory governs no kind of message: it only tells apps to hand group chat to the server.
  for (const t of ["chat", "privateChat", "file"] as const) {
    assert.equal(disabledFeature(t, { ...DEFAULT_MEETING_FEATURES, chatHistory: false }), null);
  }
});

test("fuzz: random and mutated sealed payloads decode to a sealed-only kind or fail with an APP_MESSAGE code", () => {
  let seed = 0x7654321;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const allowed = new Set(["ok", "APP_MESSAGE_MALFORMED", "APP_MESSAGE_UNSUPPORTED", "APP_MESSAGE_TOO_LARGE"]);
  const sealable = SAMPLES.filter((m) => SEALED_ONLY_TYPES.has(m.type));
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    if (i % 3 === 0) {
      bytes = new Uint8Array(rand(3) * SEALED_PADDING);
      for (let j = 0; j < bytes.length; j++) bytes[j] = rand(256);
    } else {
      bytes = encodeSealedPayload(sealable[rand(sealable.length)]!).slice();
      for (let k = 0; k <= rand(3); k++) bytes[rand(bytes.length)] = rand(256);
    }
    const c = code(() => decodeSealedPayload(bytes));
    assert.ok(allowed.has(c), `${c} for ${Buffer.from(bytes).toString("hex")}`);
    if (c === "ok") assert.ok(SEALED_ONLY_TYPES.has(decodeSealedPayload(bytes).type));
  }
});

test("a caption is strict: bounded text without control characters, integer ms times within 24 h, end not before start, a member id for the speaker, no extra fields", () => {
  const ok = { v: 1, type: "caption", speaker: "m2", seq: 0, text: "hello there", start: 100, end: 900, final: true };
  assert.deepEqual(decodeAppMessage(utf8.encode(JSON.stringify(ok))), ok);
  const bad: Record<string, unknown>[] = [
    { ...ok, text: "" },
    { ...ok, text: "   " },
    { ...ok, text: "x".repeat(1001) },
    { ...ok, text: "bell\u0007" },
    { ...ok, text: "\ud800 lone surrogate" },
    { ...ok, start: 900, end: 100 },
    { ...ok, start: -1 },
    { ...ok, end: 86_400_001 },
    { ...ok, start: 1.5 },
    { ...ok, seq: -1 },
    { ...ok, seq: 2 ** 31 },
    { ...ok, speaker: "" },
    { ...ok, speaker: "<script>" },
    { ...ok, final: "yes" },
    { ...ok, speakerName: "Forged Name" },
  ];
  for (const b of bad) assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify(b)))), "APP_MESSAGE_MALFORMED", JSON.stringify(b).slice(0, 80));
  assert.equal(code(() => decodeAppMessage(utf8.encode(JSON.stringify({ ...ok, text: "x".repeat(1000) })))), "ok");
  assert.equal(disabledFeature("caption", { ...DEFAULT_MEETING_FEATURES, inMeetingChat: false, reactions: false }), null);
});
