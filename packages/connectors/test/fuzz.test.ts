// Bounded fuzzing in the suite (scripts/fuzz-sip-sdp.mjs runs 10^5 inputs of each).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzSdp, fuzzSip } from "./fuzz.js";

test("the SIP parser (datagram and stream framing) survives 3,000 random and mutated messages: each decodes or fails with SIP_BAD_MESSAGE", () => {
  const r = fuzzSip(3000, 0xc0ffee);
  assert.equal(r.accepted + r.rejected, 6000);
  assert.ok(r.rejected > 0 && r.accepted > 0, JSON.stringify(r));
});

test("the shared SDP parser and offer/answer survive 3,000 random and mutated descriptions: each parses or fails with SDP_MALFORMED", () => {
  const r = fuzzSdp(3000, 0x5eed);
  assert.equal(r.accepted + r.rejected, 3000);
  assert.ok(r.rejected > 0 && r.accepted > 0, JSON.stringify(r));
});
