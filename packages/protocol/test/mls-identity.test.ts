import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CONNECTOR_KINDS,
  MAX_DISPLAY_NAME_BYTES,
  MAX_MEMBER_ID_BYTES,
  decodeMemberIdentity,
  encodeMemberIdentity,
  hexToBytes,
  isProtocolError,
  utf8,
  type MemberIdentity,
} from "../src/index.js";

function rejectsCredential(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (e: unknown) => isProtocolError(e, "MLS_BAD_CREDENTIAL") && why.test((e as Error).message));
}

const person: MemberIdentity = { kind: "person", memberId: "u-42", displayName: "Zoë Ångström 山田" };

test("a person identity round-trips through its credential encoding", () => {
  assert.deepEqual(decodeMemberIdentity(encodeMemberIdentity(person)), person);
});

test("every connector kind round-trips and stays distinguishable from a person", () => {
  for (const connector of CONNECTOR_KINDS) {
    const id: MemberIdentity = { kind: "connector", memberId: `c-${connector}`, displayName: `Conclave ${connector}`, connector };
    assert.deepEqual(decodeMemberIdentity(encodeMemberIdentity(id)), id);
  }
});

test("the version-1 encoding is byte-exact: version, kind, [connector], id<u8>, name<u16>", () => {
  assert.deepEqual(
    encodeMemberIdentity({ kind: "person", memberId: "ab", displayName: "C" }),
    hexToBytes("0100" + "02" + "6162" + "0001" + "43"),
  );
  assert.deepEqual(
    encodeMemberIdentity({ kind: "connector", memberId: "s", displayName: "SIP", connector: "sip" }),
    hexToBytes("010102" + "01" + "73" + "0003" + "534950"),
  );
});

test("names at the maximum length are accepted and one byte more is rejected, both ways", () => {
  const max: MemberIdentity = {
    kind: "person",
    memberId: "i".repeat(MAX_MEMBER_ID_BYTES),
    displayName: "n".repeat(MAX_DISPLAY_NAME_BYTES),
  };
  assert.deepEqual(decodeMemberIdentity(encodeMemberIdentity(max)), max);
  rejectsCredential(() => encodeMemberIdentity({ ...max, memberId: max.memberId + "i" }), /memberId: longer/);
  rejectsCredential(() => encodeMemberIdentity({ ...max, displayName: max.displayName + "n" }), /displayName: longer/);
  // Multi-byte characters count in bytes, not code points.
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "é".repeat(129) }), /longer than 256 bytes/);
  // Hand-built over-long fields are refused by the decoder too.
  const longId = new Uint8Array([1, 0, 129, ...new Uint8Array(129).fill(0x61), 0, 1, 0x41]);
  rejectsCredential(() => decodeMemberIdentity(longId), /memberId: longer/);
  const longName = new Uint8Array([1, 0, 1, 0x61, 0x01, 0x01, ...new Uint8Array(257).fill(0x41)]);
  rejectsCredential(() => decodeMemberIdentity(longName), /displayName: longer/);
});

test("the decoder rejects trailing bytes", () => {
  const good = encodeMemberIdentity(person);
  rejectsCredential(() => decodeMemberIdentity(new Uint8Array([...good, 0])), /trailing bytes/);
});

test("the decoder rejects every truncation of a valid encoding", () => {
  const good = encodeMemberIdentity({ kind: "connector", memberId: "rec-1", displayName: "Recorder", connector: "recording" });
  for (let len = 0; len < good.length; len++) {
    rejectsCredential(() => decodeMemberIdentity(good.subarray(0, len)), /truncated|empty/);
  }
});

test("the decoder rejects unknown versions, member kinds and connector kinds", () => {
  const good = encodeMemberIdentity(person);
  for (const v of [0, 2, 255]) rejectsCredential(() => decodeMemberIdentity(new Uint8Array([v, ...good.subarray(1)])), /unknown version/);
  rejectsCredential(() => decodeMemberIdentity(new Uint8Array([1, 2, ...good.subarray(2)])), /unknown member kind/);
  for (const c of [0, 6, 255]) {
    rejectsCredential(() => decodeMemberIdentity(new Uint8Array([1, 1, c, 1, 0x61, 0, 1, 0x41])), /unknown connector kind/);
  }
});

test("the decoder rejects invalid UTF-8 (bad continuation, overlong form, surrogate half)", () => {
  for (const bad of [[0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]]) {
    const bytes = new Uint8Array([1, 0, bad.length, ...bad, 0, 1, 0x41]);
    rejectsCredential(() => decodeMemberIdentity(bytes), /memberId: invalid UTF-8/);
    const inName = new Uint8Array([1, 0, 1, 0x61, 0, bad.length, ...bad]);
    rejectsCredential(() => decodeMemberIdentity(inName), /displayName: invalid UTF-8/);
  }
});

test("empty names, control and bidi-override characters, and non-NFC text are refused", () => {
  rejectsCredential(() => encodeMemberIdentity({ ...person, memberId: "" }), /memberId: empty/);
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "" }), /displayName: empty/);
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "Alice\nHost" }), /control/);
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "evil\u202egnp.exe" }), /bidi/);
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "Zoe\u0308" }), /NFC/);
  rejectsCredential(() => encodeMemberIdentity({ ...person, displayName: "lone \ud800" }), /well-formed/);
  // The same rules hold on the wire: a decoder fed a name with a newline refuses it.
  const nl = utf8.encode("a\nb");
  rejectsCredential(() => decodeMemberIdentity(new Uint8Array([1, 0, 1, 0x61, 0, nl.length, ...nl])), /control/);
});

test("the encoder names the bad field for malformed input objects", () => {
  rejectsCredential(() => encodeMemberIdentity({ kind: "robot", memberId: "x", displayName: "y" } as unknown as MemberIdentity), /kind/);
  rejectsCredential(
    () => encodeMemberIdentity({ kind: "connector", memberId: "x", displayName: "y", connector: "fax" } as unknown as MemberIdentity),
    /connector: unknown/,
  );
  rejectsCredential(() => encodeMemberIdentity({ kind: "person", memberId: 7, displayName: "y" } as unknown as MemberIdentity), /memberId: expected a string/);
});
