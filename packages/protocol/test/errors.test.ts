import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, isProtocolError } from "../src/index.js";

test("a ProtocolError carries its stable code and the table's message", () => {
  const e = new ProtocolError("SFRAME_BAD_TAG");
  assert.equal(e.code, "SFRAME_BAD_TAG");
  assert.match(e.message, /failed authentication/);
  assert.ok(isProtocolError(e, "SFRAME_BAD_TAG"));
  assert.ok(!isProtocolError(e, "SFRAME_REPLAY"));
});
