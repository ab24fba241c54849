import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeMediaKid, decodeMediaKid } from "../src/media-keys/kid.js";
import { isProtocolError } from "../src/errors.js";

test("KID = (index << 8) + (epoch mod 256), RFC 9605 §5.2 with E=8, S=16", () => {
  assert.equal(encodeMediaKid(17n, 33), (33n << 8n) + 17n);
  assert.equal(encodeMediaKid(256n + 3n, 2), (2n << 8n) + 3n);
  assert.deepEqual(decodeMediaKid(encodeMediaKid(1000n, 999)), { epochBits: 1000 % 256, senderIndex: 999, context: 0n });
});

test("different senders in the same epoch get different KIDs, so different keys", () => {
  const kids = new Set<bigint>();
  for (let i = 0; i < 1000; i++) kids.add(encodeMediaKid(5n, i));
  assert.equal(kids.size, 1000);
});

test("out-of-range sender indices are refused", () => {
  assert.throws(() => encodeMediaKid(0n, 65536), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
  assert.throws(() => encodeMediaKid(0n, -1), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
  assert.throws(() => encodeMediaKid(-1n, 0), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
});
