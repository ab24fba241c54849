// The reconnect policy shared by Node participants and the web app.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PERMANENT_REFUSALS, reconnectDelayMs } from "../src/index.js";
import { NO_MEETING_FEATURES, FEATURE_KEYS } from "@conclave/protocol";

test("reconnect delays double from 0.5 s to 8 s with ±25 % jitter and never exceed 10 s", () => {
  const low = [0, 1, 2, 3, 4, 5, 50].map((a) => reconnectDelayMs(a, () => 0));
  const high = [0, 1, 2, 3, 4, 5, 50].map((a) => reconnectDelayMs(a, () => 0.999999));
  assert.deepEqual(low, [375, 750, 1500, 3000, 6000, 6000, 6000]);
  assert.deepEqual(high, [625, 1250, 2500, 5000, 10_000, 10_000, 10_000]);
  assert.equal(reconnectDelayMs(-3, () => 0.5), 500);
});

test("refusals that a new attempt cannot fix end the participant; a dropped connection does not", () => {
  for (const code of ["WRONG_PASSCODE", "REMOVED_BY_HOST", "BANNED", "MEETING_ENDED"]) assert.ok(PERMANENT_REFUSALS.has(code), code);
  for (const code of ["SIGNALING_CLOSED", "SERVER_CLOSED", "MESSAGE_TIMEOUT"]) assert.ok(!PERMANENT_REFUSALS.has(code), code);
});

test("a member assumes every meeting feature off until the server says otherwise", () => {
  assert.deepEqual(Object.keys(NO_MEETING_FEATURES).sort(), [...FEATURE_KEYS].sort());
  assert.ok(Object.values(NO_MEETING_FEATURES).every((v) => v === false));
  assert.ok(Object.isFrozen(NO_MEETING_FEATURES));
});
