import { test } from "node:test";
import assert from "node:assert/strict";
import {
  APP_MESSAGE_TYPES,
  MAX_APP_MESSAGE_PAYLOAD_BYTES,
  decodeAppMessage,
  encodeAppMessage,
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
  ];
  for (const [bytes, expected] of bad) assert.equal(code(() => decodeAppMessage(bytes)), expected, new TextDecoder().decode(bytes));
});

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
