import { test } from "node:test";
import assert from "node:assert/strict";
import { SERVER_ERRORS, ServerError, isServerError, type ServerErrorCode } from "../src/errors.js";

test("every server error code has an HTTP status and a sentence for a message", () => {
  const codes = Object.keys(SERVER_ERRORS) as ServerErrorCode[];
  assert.ok(codes.length >= 10);
  for (const code of codes) {
    const { status, message } = SERVER_ERRORS[code];
    assert.match(code, /^[A-Z][A-Z0-9_]+$/, `${code} is UPPER_SNAKE_CASE`);
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} has a 4xx/5xx status`);
    assert.ok(message.length > 10 && /[.)]$/.test(message), `${code} has a full-sentence message`);
  }
});

test("the codes the signaling layer relies on are in the table", () => {
  for (const code of ["MEETING_NOT_FOUND", "MEETING_ENDED", "WRONG_PASSCODE", "RATE_LIMITED", "BAD_REQUEST"]) {
    assert.ok(code in SERVER_ERRORS, code);
  }
});

test("a ServerError carries its code, status and the table's message plus detail", () => {
  const e = new ServerError("BODY_TOO_LARGE", "limit 10 bytes");
  assert.equal(e.code, "BODY_TOO_LARGE");
  assert.equal(e.status, 413);
  assert.equal(e.message, `${SERVER_ERRORS.BODY_TOO_LARGE.message} (limit 10 bytes)`);
  assert.deepEqual(e.toBody(), { error: { code: "BODY_TOO_LARGE", message: e.message } });
  assert.ok(isServerError(e, "BODY_TOO_LARGE"));
  assert.ok(!isServerError(e, "NOT_FOUND"));
  assert.ok(!isServerError(new Error("x")));
});

test("an INTERNAL error's response body never includes its detail", () => {
  const e = new ServerError("INTERNAL", "stack trace with /secret/path");
  assert.deepEqual(e.toBody(), { error: { code: "INTERNAL", message: SERVER_ERRORS.INTERNAL.message } });
});
