// A bounded, seeded fast-check run of every connector fuzz target (fuzz-targets.ts): the SIP
// stack, SDP offer/answer, SDES, RTP/RTCP, SRTP and H.264 depacketization. Long runs:
// scripts/fuzz-sip-sdp.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runTarget } from "@conclave/test-support";
import { connectorTargets } from "./fuzz-targets.js";

for (const target of connectorTargets()) {
  test(`fuzz ${target.name}: ${target.reads} — decodes consistently or fails with its own error`, async () => {
    const r = await runTarget(target, { numRuns: 2000, seed: 1010 });
    assert.equal(r.failure, null, r.failure ?? "");
    assert.equal(r.executions, 2000);
  });
}
