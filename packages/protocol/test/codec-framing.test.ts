import { test } from "node:test";
import assert from "node:assert/strict";
import { clearPrefixLength, splitFrame, isVp8KeyFrame } from "../src/codec-framing.js";
import { isProtocolError } from "../src/errors.js";

test("a VP8 key frame keeps 10 bytes clear, a delta frame 3, Opus 1", () => {
  const key = new Uint8Array(100); // tag bit 0 = 0: key frame
  const delta = new Uint8Array(100);
  delta[0] = 0x01;
  assert.ok(isVp8KeyFrame(key));
  assert.ok(!isVp8KeyFrame(delta));
  assert.equal(clearPrefixLength("vp8", key), 10);
  assert.equal(clearPrefixLength("vp8", delta), 3);
  assert.equal(clearPrefixLength("opus", new Uint8Array(40)), 1);
});

test("splitFrame returns views of the frame without copying", () => {
  const f = new Uint8Array(50).map((_, i) => i);
  const { clear, payload } = splitFrame("vp8", f);
  assert.equal(clear.buffer, f.buffer);
  assert.equal(payload.byteOffset, 10);
  assert.equal(clear.length + payload.length, 50);
});

test("frames too short for their codec header are refused with FRAME_TOO_SHORT", () => {
  assert.throws(() => clearPrefixLength("vp8", new Uint8Array(5)), (e) => isProtocolError(e, "FRAME_TOO_SHORT"));
  assert.throws(() => clearPrefixLength("opus", new Uint8Array(0)), (e) => isProtocolError(e, "FRAME_TOO_SHORT"));
});
