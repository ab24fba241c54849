// The Microsoft SIP profile in SDES and offer/answer: AES_CM_128_HMAC_SHA1_32 and MKI lines are
// accepted only under profile "microsoft", parsed strictly, answered in kind, and the keys that
// cross to the phone call process keep their MKI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SrtpKeyMaterial, cryptoKeyParams, formatCryptoAttribute, parseCryptoAttribute } from "../src/media/sdes.js";
import { SrtpProtection } from "../src/media/srtp.js";
import { negotiateOffer, buildAnswer } from "../src/connectors/sip-room/negotiate.js";
import { AesCmSrtp } from "../src/microsoft/srtp-aes-cm.js";
import { streamSchema } from "../src/framework/ipc.js";
import { decodeRtp, encodeRtp } from "../src/media/rtp.js";
import { isConnectorError } from "../src/errors.js";
import { parseSdp } from "@conclave/protocol/sdp";

const KEY = SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80").inline();
const bad = (e: unknown) => isConnectorError(e, "SRTP_BAD_KEY");

test("AES_CM_128_HMAC_SHA1_32 and MKI lines: parsed under 'microsoft' (MKI value and length to bytes), skipped under 'standard'", () => {
  const a = parseCryptoAttribute(`2 AES_CM_128_HMAC_SHA1_32 inline:${KEY}|2^31|1:4`, "microsoft")!;
  assert.equal(a.suite, "AES_CM_128_HMAC_SHA1_32");
  assert.deepEqual(a.keys.mki, Buffer.from([0, 0, 0, 1]));
  assert.equal(a.keys.inline(), KEY);
  assert.deepEqual(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|258:2`, "microsoft")!.keys.mki, Buffer.from([1, 2]), "MKI without a lifetime");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^31`, "microsoft")!.keys.mki, undefined);
  assert.equal(parseCryptoAttribute(`2 AES_CM_128_HMAC_SHA1_32 inline:${KEY}`), null, "standard: no 32-bit tag");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^31|1:4`), null, "standard: no MKI");
  const gcm = SrtpKeyMaterial.generate("AEAD_AES_128_GCM").inline();
  assert.equal(parseCryptoAttribute(`1 AEAD_AES_128_GCM inline:${gcm}|2^31|1:4`, "microsoft"), null, "no MKI with GCM (werift's SRTP)");
});

test("malformed lifetimes and MKIs are SRTP_BAD_KEY; under 'standard' a line with an MKI is skipped whatever its spelling, so the offer's other lines still count", () => {
  for (const tail of ["|1:4|2^31", "|2^31|2^31", "|2^31|1:4|1:4", "|1:0", "|1:129", "|256:1", "|-1:4", "|1:", "|:4", "|2^31|", "|x"]) {
    assert.throws(() => parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}${tail}`, "microsoft"), bad, `${tail} (microsoft)`);
    const standard = () => parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}${tail}`, "standard");
    // More than "|lifetime|mki" is malformed under both; otherwise a ':' is an MKI's.
    if (tail.includes(":") && tail.split("|").length <= 3) assert.equal(standard(), null, `${tail} (standard): an MKI line, skipped`);
    else assert.throws(standard, bad, `${tail} (standard)`);
  }
  // RFC 4568 §9.2: mki-value = 1*DIGIT, mki-length = 1*3DIGIT: leading zeros are allowed.
  for (const tail of ["|01:4", "|1:04", "|2^31|0001:004"]) {
    assert.deepEqual(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}${tail}`, "microsoft")!.keys.mki, Buffer.from([0, 0, 0, 1]), tail);
  }
  assert.throws(() => parseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_32 inline:c2hvcnQ=|2^31|1:4", "microsoft"), bad, "short key");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_32 inline:${KEY}|2^31|1:4 UNENCRYPTED_SRTP`, "microsoft"), null, "session parameters are not honoured");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_32 inline:${KEY}|1:4;inline:${KEY}|2:4`, "microsoft"), null, "several master keys");
});

test("our key with an MKI formats as '|2^31|1:<length>' and parses back to the same key and MKI; its transfer keeps the MKI", () => {
  const ours = SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_32", 4);
  assert.match(cryptoKeyParams(ours), /^inline:[A-Za-z0-9+/]{40}\|2\^31\|1:4$/);
  const back = parseCryptoAttribute(formatCryptoAttribute(5, ours), "microsoft")!;
  assert.deepEqual([back.tag, back.keys.key, back.keys.salt, back.keys.mki], [5, ours.key, ours.salt, ours.mki]);
  const t = ours.toTransfer();
  const again = SrtpKeyMaterial.fromTransfer(t);
  assert.deepEqual([again.suite, again.key, again.mki], [ours.suite, ours.key, ours.mki]);
  assert.equal(JSON.stringify(ours), '"[SrtpKeyMaterial]"');
  assert.throws(() => SrtpKeyMaterial.generate("AEAD_AES_128_GCM", 4), bad);
  assert.throws(() => new SrtpProtection(ours, ours), bad, "werift's SRTP refuses keys it cannot honour");
});

const offer = (cryptoLines: string[]) =>
  [
    "v=0",
    "o=sbc 1 1 IN IP4 192.0.2.10",
    "s=-",
    "c=IN IP4 192.0.2.10",
    "t=0 0",
    "m=audio 40000 RTP/SAVP 0 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    ...cryptoLines.map((l) => `a=crypto:${l}`),
    "",
  ].join("\r\n");

test("offer/answer under 'microsoft': a 32-bit-tag MKI offer is answered with the 32-bit tag and an MKI of the same length; 'standard' cannot answer it", () => {
  const sdp = offer([`1 AES_CM_128_HMAC_SHA1_32 inline:${KEY}|2^31|1:4`]);
  assert.equal(negotiateOffer(sdp, { signaling: "tls", requireEncryption: false, allowDtls: false, srtpProfile: "standard" }).ok, false);
  const r = negotiateOffer(sdp, { signaling: "tls", requireEncryption: false, allowDtls: false, srtpProfile: "microsoft" });
  assert.ok(r.ok);
  const n = r.negotiation;
  assert.equal(n.farLeg.suite, "AES_CM_128_HMAC_SHA1_32");
  assert.equal(n.audio.srtp!.profile, "microsoft");
  assert.equal(n.audio.srtp!.local.mki!.length, 4);
  const answer = parseSdp(buildAnswer(n, { address: "198.51.100.1", audioPort: 30000, videoPort: undefined }, 1, 1));
  const crypto = answer.media[0]!.crypto!;
  assert.equal(crypto.length, 1);
  assert.equal(crypto[0]!.suite, "AES_CM_128_HMAC_SHA1_32");
  assert.match(crypto[0]!.config, /\|2\^31\|1:4$/);
  // What crosses to the phone call process validates, MKI included.
  const transfer = { codec: "pcmu", payloadType: 0, clockRate: 8000, channels: 1, remoteAddress: "192.0.2.10", remotePort: 40000, remoteRtcpPort: 40001, rtcpMux: false, index: 0, direction: "sendrecv", srtp: { local: n.audio.srtp!.local.toTransfer(), remote: n.audio.srtp!.remote.toTransfer(), tag: 1, profile: "microsoft" } };
  assert.equal(streamSchema.safeParse(transfer).success, true);
  assert.equal(streamSchema.safeParse({ ...transfer, srtp: { ...transfer.srtp, local: { ...transfer.srtp.local, mki: "not base64!" } } }).success, false);
});

test("'microsoft' prefers the 80-bit tag when both are offered and never picks GCM; the SBC and our leg protect and unprotect each other's packets", () => {
  const gcm = SrtpKeyMaterial.generate("AEAD_AES_128_GCM").inline();
  const sbcKey = SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_32", 1);
  const sdp = offer([`1 AEAD_AES_128_GCM inline:${gcm}`, `2 ${sbcKey.suite} ${cryptoKeyParams(sbcKey)}`, `3 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^31|1:1`]);
  const both = negotiateOffer(sdp, { signaling: "tls", requireEncryption: false, allowDtls: false, srtpProfile: "microsoft" });
  assert.ok(both.ok);
  assert.equal(both.negotiation.farLeg.suite, "AES_CM_128_HMAC_SHA1_80");
  const only32 = negotiateOffer(offer([`1 AEAD_AES_128_GCM inline:${gcm}`, `2 ${sbcKey.suite} ${cryptoKeyParams(sbcKey)}`]), { signaling: "tls", requireEncryption: false, allowDtls: false, srtpProfile: "microsoft" });
  assert.ok(only32.ok);
  const s = only32.negotiation.audio.srtp!;
  assert.equal(s.tag, 2);
  // Our leg (local = ours, remote = the SBC's) against the SBC (the other way round).
  const key = (k: SrtpKeyMaterial) => ({ key: k.key, salt: k.salt, ...(k.mki ? { mki: k.mki } : {}) });
  const us = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", key(s.local), key(s.remote));
  const sbc = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", key(s.remote), key(s.local));
  const header = { payloadType: 0, marker: false, sequenceNumber: 7, timestamp: 160, ssrc: 0x1234 };
  const payload = Buffer.alloc(160, 0x55);
  const plain = encodeRtp(header, payload);
  const fromUs = us.protectRtp(header, payload, plain);
  assert.equal(fromUs.length, plain.length + 1 + 4, "1-byte MKI and 32-bit tag");
  assert.deepEqual(Buffer.from(decodeRtp(sbc.unprotectRtp(fromUs))!.payload), payload);
  const fromSbc = sbc.protectRtp(header, payload, plain);
  assert.deepEqual(Buffer.from(decodeRtp(us.unprotectRtp(fromSbc))!.payload), payload);
});
