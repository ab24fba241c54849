import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ActiveSpeaker,
  AudioMixer,
  ENCRYPTION_REQUIRED_TEXT,
  Resampler,
  SrtpKeyMaterial,
  SrtpProtection,
  buildAnswer,
  decodeG711,
  decodeRtp,
  encodeG711,
  encodePli,
  encodeRtp,
  formatCryptoAttribute,
  isConnectorError,
  isRtcp,
  negotiateOffer,
  parseCryptoAttribute,
  rtcpRequestsKeyframe,
} from "../src/index.js";

const sine = (hz: number, rate: number, n: number, amp = 10000) => Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate)));

function tonePower(x: Int16Array, rate: number, hz: number): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i]! * Math.sin((2 * Math.PI * hz * i) / rate);
    c += x[i]! * Math.cos((2 * Math.PI * hz * i) / rate);
  }
  return Math.sqrt(s * s + c * c) / x.length;
}

test("a=crypto (RFC 4568): both suites parse and format; MKI, several keys and session parameters are skipped; bad keys are refused", () => {
  const keys = SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80");
  const line = formatCryptoAttribute(1, keys);
  const parsed = parseCryptoAttribute(line)!;
  assert.equal(parsed.suite, "AES_CM_128_HMAC_SHA1_80");
  assert.deepEqual([parsed.keys.key, parsed.keys.salt], [keys.key, keys.salt]);
  const gcm = SrtpKeyMaterial.generate("AEAD_AES_128_GCM");
  assert.equal(parseCryptoAttribute(`2 AEAD_AES_128_GCM inline:${gcm.inline()}|2^31`)!.keys.salt.length, 12);
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_32 inline:${keys.inline()}`), null, "unsupported suite");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${keys.inline()}|2^20|1:4`), null, "MKI");
  assert.equal(parseCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${keys.inline()} UNENCRYPTED_SRTP`), null, "session parameters");
  assert.throws(() => parseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ="), (e: unknown) => isConnectorError(e, "SRTP_BAD_KEY"));
  assert.equal(JSON.stringify({ keys }), '{"keys":"[SrtpKeyMaterial]"}', "key material does not serialise");
});

for (const suite of ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"] as const) {
  test(`SRTP ${suite}: what one side protects the other unprotects; a replayed or altered packet is refused`, () => {
    const a2b = SrtpKeyMaterial.generate(suite);
    const b2a = SrtpKeyMaterial.generate(suite);
    const a = new SrtpProtection(a2b, b2a);
    const b = new SrtpProtection(b2a, a2b);
    const payload = Buffer.from("hello room system");
    const header = { payloadType: 0, marker: false, sequenceNumber: 65535, timestamp: 1234, ssrc: 0xdeadbeef };
    const packet = a.protectRtp(header, payload, encodeRtp(header, payload));
    assert.ok(!packet.includes(payload), "encrypted");
    const plain = decodeRtp(b.unprotectRtp(packet))!;
    assert.deepEqual(Buffer.from(plain.payload), payload);
    assert.throws(() => b.unprotectRtp(packet), (e: unknown) => isConnectorError(e, "SRTP_REPLAY"));
    const next = { ...header, sequenceNumber: 0 };
    const altered = a.protectRtp(next, payload, encodeRtp(next, payload));
    altered[altered.length - 1]! ^= 1;
    assert.throws(() => b.unprotectRtp(altered), (e: unknown) => isConnectorError(e, "SRTP_AUTH_FAILED"));
    // The sequence number wrapped (65535 -> 0): the next good packet is still accepted.
    const good = a.protectRtp({ ...next, sequenceNumber: 1 }, payload, encodeRtp({ ...next, sequenceNumber: 1 }, payload));
    assert.deepEqual(Buffer.from(decodeRtp(b.unprotectRtp(good))!.payload), payload);
    // RTCP both ways.
    const pli = encodePli(1, 2);
    assert.ok(rtcpRequestsKeyframe(b.unprotectRtcp(a.protectRtcp(pli))));
  });
}

test("RTP headers decode strictly: version, CSRCs, extension and padding bounds; RTCP is told apart", () => {
  const p = encodeRtp({ payloadType: 96, marker: true, sequenceNumber: 7, timestamp: 9, ssrc: 5 }, Buffer.from([1, 2, 3]));
  const d = decodeRtp(p)!;
  assert.deepEqual({ ...d, payload: [...d.payload] }, { payloadType: 96, marker: true, sequenceNumber: 7, timestamp: 9, ssrc: 5, payload: [1, 2, 3] });
  assert.equal(decodeRtp(p.subarray(0, 11)), null);
  const badVersion = Buffer.from(p);
  badVersion[0] = 0x40;
  assert.equal(decodeRtp(badVersion), null);
  const csrc = Buffer.from(p);
  csrc[0] = 0x8f; // 15 CSRCs announced, none there
  assert.equal(decodeRtp(csrc), null);
  const padded = Buffer.from(p);
  padded[0] = 0xa0;
  padded[padded.length - 1] = 200;
  assert.equal(decodeRtp(padded), null);
  assert.equal(isRtcp(encodePli(1, 2)), true);
  assert.equal(isRtcp(p), false);
});

test("G.711 μ-law and A-law keep a tone within a few percent, and resampling 48 kHz <-> 8 kHz keeps it too", () => {
  const tone = sine(440, 8000, 1600);
  for (const law of ["pcmu", "pcma"] as const) {
    const back = decodeG711(encodeG711(tone, law), law);
    assert.ok(Math.abs(tonePower(back, 8000, 440) / tonePower(tone, 8000, 440) - 1) < 0.05, law);
  }
  const down = new Resampler(48000, 8000);
  const up = new Resampler(8000, 48000);
  let out = new Int16Array(0);
  for (let i = 0; i < 10; i++) {
    const frame = sine(440, 48000, 960 * 10).subarray(i * 960, (i + 1) * 960);
    const round = up.process(down.process(frame));
    out = Int16Array.from([...out, ...round]);
  }
  const tail = out.subarray(960);
  const ratio = tonePower(tail, 48000, 440) / tonePower(sine(440, 48000, tail.length), 48000, 440);
  assert.ok(ratio > 0.9 && ratio < 1.1, `440 Hz survives the round trip (${ratio.toFixed(2)})`);
  assert.ok(tonePower(tail, 48000, 6000) < 0.05 * tonePower(tail, 48000, 440), "no aliasing");
});

test("the mixer sums everyone once two frames are queued, skips a source that runs dry, and the loudest member becomes the speaker after a hold", () => {
  const m = new AudioMixer();
  const a = sine(300, 48000, 960, 5000);
  const b = sine(700, 48000, 960, 1000);
  m.push("a", a);
  assert.equal(tonePower(m.mix(), 48000, 300), 0, "one frame is not enough to start");
  m.push("a", a);
  m.push("b", b);
  m.push("b", b);
  const mix = m.mix();
  assert.ok(tonePower(mix, 48000, 300) > 2000 && tonePower(mix, 48000, 700) > 400);
  const speaker = new ActiveSpeaker();
  const levels = new Map([["a", 2000], ["b", 100]]);
  assert.equal(speaker.update(levels, new Set(["a", "b"]), 0), "a");
  assert.equal(speaker.update(new Map([["a", 10], ["b", 3000]]), new Set(["a", "b"]), 100), "a", "held");
  assert.equal(speaker.update(new Map([["a", 10], ["b", 3000]]), new Set(["a", "b"]), 1700), "b");
});

const OFFER = (proto: string, crypto: string) =>
  [
    "v=0",
    "o=- 1 1 IN IP4 127.0.0.1",
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio 4000 ${proto} 96 0 101`,
    "a=rtpmap:96 opus/48000/2",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    ...(crypto ? [`a=crypto:${crypto}`] : []),
    `m=video 4002 ${proto} 96 97`,
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:97 H264/90000",
    "a=fmtp:97 packetization-mode=1",
    ...(crypto ? [`a=crypto:${crypto}`] : []),
    "",
  ].join("\r\n");

test("offer/answer: Opus and VP8 with SDES over TLS is an encrypted far leg; the answer carries our own keys", () => {
  const theirs = SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80");
  const r = negotiateOffer(OFFER("RTP/SAVP", formatCryptoAttribute(1, theirs)), { signaling: "tls", requireEncryption: true });
  assert.ok(r.ok);
  const n = r.negotiation;
  assert.deepEqual([n.audio.codec, n.audio.payloadType, n.audio.dtmfPayloadType, n.video?.codec], ["opus", 96, 101, "vp8"]);
  assert.deepEqual(n.farLeg, { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" });
  const answer = buildAnswer(n, { address: "192.0.2.1", audioPort: 40000, videoPort: 40002 }, 1);
  assert.match(answer, /m=audio 40000 RTP\/SAVP 96 101/);
  assert.match(answer, /m=video 40002 RTP\/SAVP 96/);
  assert.ok(!answer.includes(theirs.inline()), "never echoes the device's key");
  assert.ok(answer.includes(n.audio.srtp!.local.inline()));
});

test("offer/answer: with encryption required, plain RTP or SDES over UDP is refused with 488 and the explanation; allowed, it is an unencrypted far leg", () => {
  const sdes = formatCryptoAttribute(1, SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80"));
  for (const [proto, crypto, signaling] of [["RTP/AVP", "", "tls"], ["RTP/SAVP", sdes, "udp"], ["RTP/AVP", "", "udp"]] as const) {
    const refused = negotiateOffer(OFFER(proto, crypto), { signaling, requireEncryption: true });
    assert.deepEqual(refused.ok ? null : [refused.status, refused.explanation], [488, ENCRYPTION_REQUIRED_TEXT], `${proto} over ${signaling}`);
  }
  const allowed = negotiateOffer(OFFER("RTP/SAVP", sdes), { signaling: "udp", requireEncryption: false });
  assert.ok(allowed.ok);
  assert.deepEqual(allowed.negotiation.farLeg, { protocol: "SIP", signaling: "udp", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" });
  // PCMU-only devices get G.711; offers without a common codec or malformed ones are answered, not thrown.
  const pcmu = negotiateOffer(OFFER("RTP/AVP", "").replace("96 0 101", "0").replace("a=rtpmap:96 opus/48000/2\r\n", ""), { signaling: "udp", requireEncryption: false });
  assert.ok(pcmu.ok && pcmu.negotiation.audio.codec === "pcmu");
  const none = negotiateOffer(OFFER("RTP/AVP", "").replace("96 0 101", "18").replace(/a=rtpmap:(96|0|101)[^\r]*\r\n/g, ""), { signaling: "udp", requireEncryption: false });
  assert.deepEqual(none.ok ? null : none.status, 488);
  assert.deepEqual((negotiateOffer("not sdp", { signaling: "tls", requireEncryption: false }) as { status: number }).status, 400);
});

test("H.264 over RTP (RFC 6184): FU-A fragments and STAP-A aggregates come back as one Annex B access unit; mode 0 never fragments", async () => {
  const { H264Depacketizer, packetizeH264, AnnexBReader } = await import("../src/media/h264.js");
  const idr = Uint8Array.from([0x65, ...Array.from({ length: 3000 }, (_, i) => i & 0xff)]);
  const sps = Uint8Array.of(0x67, 1, 2, 3);
  const pps = Uint8Array.of(0x68, 4);
  const packets = packetizeH264([sps, pps, idr], 1100);
  assert.deepEqual(packets.slice(0, 2), [sps, pps]);
  assert.ok(packets.length >= 5 && packets.slice(2).every((p) => (p[0]! & 0x1f) === 28 && p.length <= 1100));
  assert.deepEqual(packetizeH264([sps, idr], 1100, 0), [sps], "mode 0 drops what does not fit (the encoder makes slices that do)");
  const d = new H264Depacketizer();
  let unit: { data: Uint8Array; keyframe: boolean } | undefined;
  packets.forEach((payload, i) => {
    const r = d.push({ sequenceNumber: 100 + i, timestamp: 9000, marker: i === packets.length - 1, payload });
    if (r.unit) unit = r.unit;
  });
  assert.ok(unit);
  assert.equal(unit!.keyframe, true);
  const nals = new AnnexBReader().push(Buffer.concat([Buffer.from([0, 0, 0, 1, 0x09, 0xf0]), Buffer.from(unit!.data), Buffer.from([0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1])]));
  assert.deepEqual(nals, [[sps, pps, idr]]);
  // A missing fragment loses the access unit (and says so).
  const d2 = new H264Depacketizer();
  let lost = false;
  let got: unknown;
  packets.forEach((payload, i) => {
    if (i === 3) return;
    const r = d2.push({ sequenceNumber: 100 + i, timestamp: 9000, marker: i === packets.length - 1, payload });
    lost ||= r.lost;
    got ??= r.unit;
  });
  assert.equal(got, undefined);
  assert.equal(lost, true);
  // STAP-A.
  const stap = Uint8Array.of(24, 0, sps.length, ...sps, 0, pps.length, ...pps);
  const r = new H264Depacketizer().push({ sequenceNumber: 1, timestamp: 1, marker: true, payload: stap });
  assert.deepEqual([...r.unit!.data], [0, 0, 0, 1, ...sps, 0, 0, 0, 1, ...pps]);
});
