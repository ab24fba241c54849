// The SFrame header codec (RFC 9605 §4.3): official vectors, round trips and strict rejection.
import { test } from "node:test";
import { prerequisite } from "@conclave/test-support";
import assert from "node:assert/strict";
import {
  SFRAME_MAX_HEADER_LENGTH,
  SFRAME_MAX_VALUE,
  bytesToHex,
  decodeSFrameHeader,
  encodeSFrameHeader,
  hexToBytes,
  sframeHeaderLength,
} from "../src/index.js";
import { VECTORS, VECTORS_SKIP, throwsWithCode } from "./sframe-support.js";

test("every RFC 9605 header vector encodes to its listed bytes and decodes back", prerequisite(VECTORS_SKIP), () => {
  assert.ok(VECTORS, VECTORS_SKIP || undefined);
  assert.equal(VECTORS.header.length, 289);
  for (const { kid, ctr, encoded } of VECTORS.header) {
    const label = `kid=${kid} ctr=${ctr}`;
    assert.equal(bytesToHex(encodeSFrameHeader({ kid, ctr })), encoded, label);
    assert.equal(sframeHeaderLength({ kid, ctr }), encoded.length / 2, label);
    const decoded = decodeSFrameHeader(hexToBytes(encoded));
    assert.deepEqual(decoded, { kid, ctr, headerLength: encoded.length / 2 }, label);
  }
});

test("the header is a prefix: bytes after it are left for the ciphertext", () => {
  const header = encodeSFrameHeader({ kid: 0x1234n, ctr: 9n });
  const frame = new Uint8Array([...header, 0xaa, 0xbb, 0xcc]);
  assert.deepEqual(decodeSFrameHeader(frame), { kid: 0x1234n, ctr: 9n, headerLength: header.length });
});

test("KID and CTR values round-trip across every length boundary", () => {
  const values = [0n, 1n, 7n, 8n, 0xffn, 0x100n, 0xffffn, 0x10000n, 0xffff_ffffn, 0x1_0000_0000n, 0xff_ffff_ffff_ffffn, 0x100_0000_0000_0000n, SFRAME_MAX_VALUE];
  for (const kid of values) {
    for (const ctr of values) {
      const bytes = encodeSFrameHeader({ kid, ctr });
      assert.ok(bytes.length <= SFRAME_MAX_HEADER_LENGTH);
      assert.deepEqual(decodeSFrameHeader(bytes), { kid, ctr, headerLength: bytes.length });
    }
  }
});

test("values below 8 fit in the config byte; KID 2^64-1 with CTR 2^64-1 takes 17 bytes", () => {
  assert.equal(bytesToHex(encodeSFrameHeader({ kid: 7n, ctr: 7n })), "77");
  assert.equal(encodeSFrameHeader({ kid: SFRAME_MAX_VALUE, ctr: SFRAME_MAX_VALUE }).length, SFRAME_MAX_HEADER_LENGTH);
});

test("encoding a KID or CTR above 2^64-1 fails with SFRAME_VALUE_TOO_LARGE", () => {
  throwsWithCode(() => encodeSFrameHeader({ kid: SFRAME_MAX_VALUE + 1n, ctr: 0n }), "SFRAME_VALUE_TOO_LARGE");
  throwsWithCode(() => encodeSFrameHeader({ kid: 0n, ctr: 1n << 64n }), "SFRAME_VALUE_TOO_LARGE");
});

test("encoding a negative or non-bigint KID or CTR fails with INVALID_ARGUMENT", () => {
  throwsWithCode(() => encodeSFrameHeader({ kid: -1n, ctr: 0n }), "INVALID_ARGUMENT");
  throwsWithCode(() => encodeSFrameHeader({ kid: 1 as unknown as bigint, ctr: 0n }), "INVALID_ARGUMENT");
});

test("an empty input fails with SFRAME_HEADER_TRUNCATED", () => {
  throwsWithCode(() => decodeSFrameHeader(new Uint8Array(0)), "SFRAME_HEADER_TRUNCATED");
});

test("a header cut inside its KID or CTR fails with SFRAME_HEADER_TRUNCATED", () => {
  const full = encodeSFrameHeader({ kid: 0x123456n, ctr: 0xabcdefn }); // 1 + 3 + 3 bytes
  for (let len = 1; len < full.length; len++) {
    throwsWithCode(() => decodeSFrameHeader(full.subarray(0, len)), "SFRAME_HEADER_TRUNCATED");
  }
  // Config byte promises an 8-byte KID, none follow.
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("f0")), "SFRAME_HEADER_TRUNCATED");
});

test("an extended KID or CTR below 8 fails with SFRAME_HEADER_NON_MINIMAL", () => {
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("8007")), "SFRAME_HEADER_NON_MINIMAL"); // KID 7 in 1 byte
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("0800")), "SFRAME_HEADER_NON_MINIMAL"); // CTR 0 in 1 byte
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("0805")), "SFRAME_HEADER_NON_MINIMAL"); // CTR 5 in 1 byte
});

test("an extended KID or CTR with a leading zero byte fails with SFRAME_HEADER_NON_MINIMAL", () => {
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("900008")), "SFRAME_HEADER_NON_MINIMAL"); // KID 8 in 2 bytes
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("0900ff")), "SFRAME_HEADER_NON_MINIMAL"); // CTR 255 in 2 bytes
  throwsWithCode(() => decodeSFrameHeader(hexToBytes("0f00ffffffffffffff")), "SFRAME_HEADER_NON_MINIMAL"); // 8-byte CTR
  // The minimal forms of the same values are accepted.
  assert.deepEqual(decodeSFrameHeader(hexToBytes("8008")), { kid: 8n, ctr: 0n, headerLength: 2 });
  assert.deepEqual(decodeSFrameHeader(hexToBytes("08ff")), { kid: 0n, ctr: 255n, headerLength: 2 });
});

test("decoding something that is not a Uint8Array fails with INVALID_ARGUMENT", () => {
  throwsWithCode(() => decodeSFrameHeader([0x00] as unknown as Uint8Array), "INVALID_ARGUMENT");
});
