import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseClientMessage, parseServerMessage, encodeMessage, toBase64, fromBase64, MAX_SIGNALING_MESSAGE_BYTES,
  type ClientMessage,
} from "../src/signaling/messages.js";
import { isProtocolError } from "../src/errors.js";

const join: ClientMessage = {
  type: "join", version: 1, meetingId: "12345678901", memberId: "m_1", displayName: "Ada", keyPackage: toBase64(new Uint8Array([1, 2, 3])),
};

test("a valid join round-trips through encode and parse", () => {
  assert.deepEqual(parseClientMessage(encodeMessage(join)), join);
});

test("unknown types, extra fields, wrong field types and non-JSON are MESSAGE_MALFORMED", () => {
  const bad = [
    "not json", "[]", "null", JSON.stringify({ type: "explode" }),
    JSON.stringify({ ...join, extra: 1 }), JSON.stringify({ ...join, meetingId: "abc" }),
    JSON.stringify({ ...join, keyPackage: "!!!" }), JSON.stringify({ type: "commit", epoch: "01", commit: "", added: [], removed: [] }),
  ];
  for (const text of bad) {
    assert.throws(() => parseClientMessage(text), (e) => isProtocolError(e, "MESSAGE_MALFORMED"), text);
  }
  assert.throws(() => parseClientMessage(new Uint8Array(3)), (e) => isProtocolError(e, "MESSAGE_MALFORMED"));
});

test("an oversized message is MESSAGE_TOO_LARGE before it is parsed", () => {
  assert.throws(() => parseServerMessage("x".repeat(MAX_SIGNALING_MESSAGE_BYTES + 1)), (e) => isProtocolError(e, "MESSAGE_TOO_LARGE"));
});

test("validation errors never echo field values (which may be passcodes)", () => {
  try {
    parseClientMessage(JSON.stringify({ ...join, passcode: 42 }));
    assert.fail("should throw");
  } catch (e) {
    assert.ok(isProtocolError(e, "MESSAGE_MALFORMED"));
    assert.ok(!String((e as Error).message).includes("42"));
  }
});

test("base64 round-trips arbitrary bytes, including large ones", () => {
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
});

test("fromBase64 refuses invalid base64 with MESSAGE_MALFORMED", () => {
  assert.throws(() => fromBase64("abc"), (e) => isProtocolError(e, "MESSAGE_MALFORMED"));
});

test("random garbage never throws anything but ProtocolError", () => {
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(Math.random() * 200);
    const text = String.fromCharCode(...crypto.getRandomValues(new Uint8Array(len)));
    try {
      parseClientMessage(text);
    } catch (e) {
      assert.ok(isProtocolError(e), String(e));
    }
    try {
      parseServerMessage(`{"type":"commit","epoch":"${i}","commit":${JSON.stringify(text)},"from":"a"}`);
    } catch (e) {
      assert.ok(isProtocolError(e), String(e));
    }
  }
});

test("renameMember carries a clean name: 1..64 characters, no surrounding spaces, no control or bidi override characters", () => {
  const ok: ClientMessage = { type: "renameMember", memberId: "c_1", displayName: "Front desk phone" };
  assert.deepEqual(parseClientMessage(encodeMessage(ok)), ok);
  for (const displayName of ["", " Front desk", "Front desk ", "a\u0000b", "line\nbreak", "evil\u202etxt", "x".repeat(65)]) {
    assert.throws(() => parseClientMessage(JSON.stringify({ ...ok, displayName })), (e) => isProtocolError(e, "MESSAGE_MALFORMED"), JSON.stringify(displayName));
  }
});
