import assert from "node:assert/strict";
import { test } from "node:test";
import { isRelayError } from "../src/relay/errors.js";
import { announceCandidate, announceDescription, parseSdp, restrictPublishOffer, serializeSdp } from "../src/relay/sdp.js";
import { CHROMIUM_PUBLISH_OFFER } from "./relay-chromium-offer.js";

const code = (c: string) => (e: unknown) => isRelayError(e) && e.code === c;

test("a Chromium publish offer is restricted to VP8 and Opus with NACK, PLI, FIR and REMB only", () => {
  const original = parseSdp(CHROMIUM_PUBLISH_OFFER);
  const video = original.media[1];
  assert.ok(video && video.formats.length > 10, "the fixture offers many video codecs");
  assert.ok(video.lines.some((l) => l.includes("rtx/90000")) && video.ssrcGroups.some((g) => g.semantics === "FID"));

  const { sdp, sections } = restrictPublishOffer(original);
  const fid = video.ssrcGroups.find((g) => g.semantics === "FID");
  assert.deepEqual(sections, [
    { mid: "0", kind: "audio", sending: true, payloadType: 111, ssrc: original.media[0]?.ssrcs[0] },
    { mid: "1", kind: "video", sending: true, payloadType: 96, ssrc: fid?.ssrcs[0] },
  ]);
  const restricted = parseSdp(sdp);
  const [a, v] = restricted.media;
  assert.ok(a && v);
  assert.deepEqual(a.formats, ["111"]);
  assert.deepEqual([...a.rtpMaps.values()].map((r) => `${r.encoding}/${r.clockRate}/${r.channels}`), ["opus/48000/2"]);
  assert.deepEqual(v.formats, ["96"]);
  assert.deepEqual([...v.rtpMaps.values()].map((r) => `${r.encoding}/${r.clockRate}`), ["VP8/90000"]);
  assert.deepEqual(
    v.lines.filter((l) => l.startsWith("a=rtcp-fb:")),
    ["a=rtcp-fb:96 goog-remb", "a=rtcp-fb:96 ccm fir", "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli"],
  );
  for (const m of restricted.media) {
    assert.ok(!m.lines.some((l) => l.startsWith("a=extmap:")), "no header extensions");
    assert.ok(!m.lines.some((l) => /transport-cc|red\/|ulpfec|rtx\//.test(l)));
    assert.equal(m.ssrcs.length, 1, "only the media SSRC is left");
    assert.equal(m.ssrcGroups.length, 0);
    // What the WebRTC stack needs from the rest is kept verbatim.
    for (const prefix of ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:", "a=candidate:", "a=msid:", "a=rtcp-mux"]) {
      assert.ok(m.lines.some((l) => l.startsWith(prefix)), `${prefix} kept`);
    }
  }
});

test("parsing keeps every line it does not interpret, and serializing gives the description back", () => {
  // The shared parser (sdp-transform) writes attributes in its grammar's order: the same lines,
  // and the same lines within each m-section, come back.
  const parsed = parseSdp(CHROMIUM_PUBLISH_OFFER);
  const sections = (sdp: string) => sdp.split(/\r\n(?=m=)/).map((s) => s.split("\r\n").filter((l) => l !== "").sort());
  assert.deepEqual(sections(serializeSdp(parsed)), sections(CHROMIUM_PUBLISH_OFFER));
  assert.deepEqual(sections(serializeSdp(parseSdp(CHROMIUM_PUBLISH_OFFER.replaceAll("\r\n", "\n")))), sections(CHROMIUM_PUBLISH_OFFER));
  assert.equal(parsed.media[0]?.direction, "sendonly");
});

test("offers the relay cannot forward are refused as unsupported media", () => {
  const variants: [string, string][] = [
    ["no VP8", CHROMIUM_PUBLISH_OFFER.replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000")],
    ["no Opus", CHROMIUM_PUBLISH_OFFER.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/1")],
    ["simulcast", CHROMIUM_PUBLISH_OFFER.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ssrc-group:SIM 1 2 3\r\n")],
    ["rid", CHROMIUM_PUBLISH_OFFER.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\na=rid:h send\r\n")],
    ["no SSRC", CHROMIUM_PUBLISH_OFFER.replace(/a=ssrc:[^\r]*\r\n/g, "").replace(/a=ssrc-group:[^\r]*\r\n/g, "")],
    ["data channel", CHROMIUM_PUBLISH_OFFER + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n"],
  ];
  for (const [what, sdp] of variants) {
    assert.throws(() => restrictPublishOffer(parseSdp(sdp)), code("RELAY_UNSUPPORTED_MEDIA"), what);
  }
  // A section that does not send needs no codec and no SSRC.
  const inactive = CHROMIUM_PUBLISH_OFFER.replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000")
    .replace(/a=sendonly/g, "a=inactive")
    .replace(/a=ssrc:[^\r]*\r\n/g, "");
  assert.deepEqual(
    restrictPublishOffer(parseSdp(inactive)).sections.map((s) => s.sending),
    [false, false],
  );
});

test("malformed descriptions are refused with RELAY_BAD_SDP", () => {
  const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\n";
  const cases: [string, string][] = [
    ["empty", ""],
    ["not SDP", "hello"],
    ["v= not first", "o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n"],
    ["a line without x=", head + "garbage\r\n"],
    ["an empty line inside", head + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"],
    ["an unparsable m= line", head + "m=audio nine UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"],
    ["a port above 65535", head + "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"],
    ["no formats", head + "m=audio 9 UDP/TLS/RTP/SAVPF\r\na=mid:0\r\n"],
    ["no mid", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"],
    ["two mids in a section", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=mid:1\r\n"],
    ["a duplicate mid", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"],
    ["two directions", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=recvonly\r\n"],
    ["a bad rtpmap", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus\r\n"],
    ["a payload type above 127", head + "m=audio 9 UDP/TLS/RTP/SAVPF 200\r\na=mid:0\r\na=rtpmap:200 opus/48000/2\r\n"],
    ["an SSRC above 2^32-1", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ssrc:4294967296 cname:x\r\n"],
    ["no ICE ufrag", head.replace("a=ice-ufrag:abcd\r\n", "") + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"],
  ];
  for (const [what, sdp] of cases) assert.throws(() => parseSdp(sdp), code("RELAY_BAD_SDP"), what);
  // The error says what is wrong without echoing the description.
  try {
    parseSdp(head + "a=ice-pwd:supersecretpassword\r\nbogus\r\n");
  } catch (e) {
    assert.ok(e instanceof Error && !e.message.includes("supersecret"));
  }
});

test("an announced address replaces the address of host candidates only", () => {
  const host = "candidate:1 1 UDP 2114977791 10.0.0.5 35775 typ host";
  assert.equal(announceCandidate(host, "203.0.113.7"), "candidate:1 1 UDP 2114977791 203.0.113.7 35775 typ host");
  assert.equal(announceCandidate(host, undefined), host);
  const srflx = "candidate:2 1 UDP 1686052607 198.51.100.1 35775 typ srflx raddr 10.0.0.5 rport 35775";
  assert.equal(announceCandidate(srflx, "203.0.113.7"), srflx);
  const sdp = `v=0\r\na=candidate:${host.slice("candidate:".length)}\r\n`;
  assert.equal(announceDescription(sdp, "203.0.113.7"), "v=0\r\na=candidate:1 1 UDP 2114977791 203.0.113.7 35775 typ host\r\n");
});
