import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CONNECTOR_KINDS,
  describeFarLeg,
  farLegEncrypted,
  farLegProtection,
  type FarLeg,
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
  for (const v of [0, 3, 255]) rejectsCredential(() => decodeMemberIdentity(new Uint8Array([v, ...good.subarray(1)])), /unknown version/);
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

const sipTls: FarLeg = { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" };
const room: MemberIdentity = { kind: "connector", memberId: "c-1", displayName: "Room 4", connector: "sip", farLeg: sipTls };

test("a connector with a far leg round-trips as version 2; without one it stays version 1", () => {
  const bytes = encodeMemberIdentity(room);
  assert.equal(bytes[0], 2);
  assert.deepEqual(decodeMemberIdentity(bytes), room);
  const { farLeg: _omit, ...v1 } = room;
  assert.equal(encodeMemberIdentity(v1)[0], 1);
  for (const farLeg of [
    { protocol: "SIP", signaling: "udp", media: "rtp" },
    { protocol: "SIP", signaling: "tcp", media: "srtp", suite: "AEAD_AES_128_GCM" },
    { protocol: "SIP", signaling: "tls", media: "dtls-srtp", suite: "SRTP_AES128_CM_SHA1_80" },
    { protocol: "PSTN", signaling: "none", media: "none" },
  ] as FarLeg[]) {
    const id: MemberIdentity = { ...room, farLeg };
    assert.deepEqual(decodeMemberIdentity(encodeMemberIdentity(id)), id);
  }
});

test("the version-2 encoding is byte-exact: ..., protocol<u8>, signaling, media, suite<u8>", () => {
  const id: MemberIdentity = { kind: "connector", memberId: "s", displayName: "R", connector: "sip", farLeg: { protocol: "SIP", signaling: "tls", media: "srtp", suite: "X_1" } };
  assert.deepEqual(encodeMemberIdentity(id), hexToBytes("020102" + "01" + "73" + "0001" + "52" + "03" + "534950" + "03" + "02" + "03" + "585f31"));
});

test("far-leg rules: a suite exactly with SRTP media, known signaling and media values, token characters, no trailing bytes", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ protocol: "SIP", signaling: "tls", media: "srtp" }, /farLeg.suite/],
    [{ protocol: "SIP", signaling: "udp", media: "rtp", suite: "AES_CM_128_HMAC_SHA1_80" }, /farLeg.suite/],
    [{ protocol: "SIP", signaling: "carrier-pigeon", media: "rtp" }, /farLeg.signaling/],
    [{ protocol: "SIP", signaling: "tls", media: "zrtp" }, /farLeg.media/],
    [{ protocol: "S I P", signaling: "tls", media: "rtp" }, /farLeg.protocol/],
    [{ protocol: "", signaling: "tls", media: "rtp" }, /farLeg.protocol/],
    [{ protocol: "SIP", signaling: "tls", media: "srtp", suite: "aes" }, /farLeg.suite/],
  ];
  for (const [farLeg, why] of bad) {
    rejectsCredential(() => encodeMemberIdentity({ ...room, farLeg } as unknown as MemberIdentity), why);
  }
  const good = encodeMemberIdentity(room);
  rejectsCredential(() => decodeMemberIdentity(new Uint8Array([...good, 0])), /trailing bytes after the far leg/);
  rejectsCredential(() => decodeMemberIdentity(good.subarray(0, good.length - 1)), /truncated/);
  // A person is never version 2.
  rejectsCredential(() => decodeMemberIdentity(new Uint8Array([2, 0, 1, 0x61, 0, 1, 0x41, 3, 0x53, 0x49, 0x50, 0, 0, 0])), /version 2 is for connectors only/);
  // Unknown signaling and media values.
  const at = good.length - 1 - "AES_CM_128_HMAC_SHA1_80".length;
  const withMedia = (v: number) => { const b = good.slice(); b[at - 1] = v; return b; };
  rejectsCredential(() => decodeMemberIdentity(withMedia(4)), /farLeg.media: unknown/);
  const withSignaling = (v: number) => { const b = good.slice(); b[at - 2] = v; return b; };
  rejectsCredential(() => decodeMemberIdentity(withSignaling(9)), /farLeg.signaling: unknown/);
});

test("only TLS signaling with SRTP or DTLS-SRTP counts as an encrypted far leg", () => {
  assert.equal(farLegEncrypted(sipTls), true);
  assert.equal(farLegProtection(sipTls), "TLS + SRTP");
  assert.equal(describeFarLeg(sipTls), "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80");
  const sdesOverUdp: FarLeg = { protocol: "SIP", signaling: "udp", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" };
  assert.equal(farLegEncrypted(sdesOverUdp), false, "SDES keys crossed the network in clear");
  assert.equal(farLegProtection(sdesOverUdp), "unencrypted");
  assert.match(describeFarLeg(sdesOverUdp), /SRTP keys sent without TLS/);
  assert.equal(farLegProtection({ protocol: "SIP", signaling: "tls", media: "rtp" }), "unencrypted");
  assert.equal(farLegProtection({ protocol: "SIP", signaling: "tls", media: "dtls-srtp", suite: "SRTP_AES128_CM_SHA1_80" }), "TLS + DTLS-SRTP");
  assert.equal(farLegEncrypted({ protocol: "SIP", signaling: "udp", media: "dtls-srtp", suite: "SRTP_AES128_CM_SHA1_80" }), false);
  assert.equal(farLegProtection(undefined), "unencrypted");
});
