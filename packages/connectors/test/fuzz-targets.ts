/**
 * Fast-check fuzz targets (the @conclave/test-support FuzzTarget shape) for every decoder of the
 * connectors package that reads bytes from a SIP device: SIP messages (datagram and stream
 * framing), SIP URIs and the header values the UA acts on, digest Authorization headers, the
 * SDP offer (the parser shared with the relay, then offer/answer), SDES a=crypto lines, RTP and
 * RTCP headers, SRTP authentication, and H.264 RTP depacketization. Inputs are mutations of real
 * messages (baresip's), recombinations of their parts, and arbitrary bytes or text. Each check
 * throws a PropertyViolation when a decoder fails any way but its own error, or breaks a promise
 * (a re-encoded message that decodes differently, an altered SRTP packet that authenticates).
 * fuzz-targets.test.ts runs a bounded number of each; scripts/fuzz-sip-sdp.mjs runs more.
 */
import * as fc from "fast-check";
import { farLegEncrypted, isProtocolError } from "@conclave/protocol";
import { parseSdp } from "@conclave/protocol/sdp";
import { PropertyViolation, mutatedBytes, type FuzzTarget } from "@conclave/test-support";
import { isConnectorError, type ConnectorErrorCode } from "../src/errors.js";
import { SipStreamParser, parseSipMessage, serializeSipMessage, type SipMessage } from "../src/sip/message.js";
import { formatSipUri, parseSipUri } from "../src/sip/uri.js";
import { parseAuthHeader, parseNameAddr, parseSessionExpires, parseVia } from "../src/sip/headers.js";
import { DigestServer, answerChallenge } from "../src/sip/digest.js";
import { negotiateOffer } from "../src/connectors/sip-room/negotiate.js";
import { parseCryptoAttribute, SrtpKeyMaterial, type SrtpSuite } from "../src/media/sdes.js";
import { SrtpProtection } from "../src/media/srtp.js";
import { decodeRtp, isRtcp, rtcpRequestsKeyframe, encodeRtp } from "../src/media/rtp.js";
import { H264Depacketizer, packetizeH264 } from "../src/media/h264.js";
import { SDP_CORPUS, SIP_CORPUS } from "./fuzz.js";

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

function expectError(e: unknown, codes: readonly ConnectorErrorCode[], what: string): void {
  if (isConnectorError(e) && codes.includes(e.code)) return;
  throw new PropertyViolation(`${what} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
}

/** Text: mutations of real values, recombined tokens, and arbitrary strings. */
function textArbitrary(seeds: readonly string[], tokens: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: mutatedBytes(seeds.map(bytes), 24).map(latin1) },
    { weight: 2, arbitrary: fc.array(fc.constantFrom(...seeds, ...tokens), { minLength: 1, maxLength: 8 }).map((p) => p.join("")) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
}

/** Equal start line, headers (Content-Length aside: the encoder always writes the true one) and body. */
function sameMessage(a: SipMessage, b: SipMessage): boolean {
  const plain = (m: SipMessage) => JSON.stringify({ ...m, headers: m.headers.filter((h) => h.name !== "Content-Length"), body: Buffer.from(m.body).toString("hex") });
  return plain(a) === plain(b);
}

const URIS = ["sip:12345678901.abcdef@127.0.0.1:5061;transport=tls", "sips:room@[2001:db8::1]:5061", "sip:conclave@example.com;lr", "sip:+4930123456@gw.example.com:5060;user=phone;transport=udp", "sip:alice@10.0.0.2"];
const NAME_ADDRS = ['"Room 4" <sip:alice@127.0.0.1>;tag=e2f90b', "Boardroom <sips:b@example.com:5061;transport=tls>;tag=1;expires=60", "sip:bob@127.0.0.1;tag=2", '"a \\"q\\" b" <sip:x@y>'];
const VIAS = ["SIP/2.0/TLS 127.0.0.1:25060;branch=z9hG4bK0a5944;rport", "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKabc;received=::1;rport=5060", "SIP / 2.0 / TCP host.example.com;branch=z9hG4bKx"];
const AUTHS = ['Digest username="room", realm="conclave", nonce="abc", uri="sip:127.0.0.1", response="00", qop=auth, nc=00000001, cnonce="x"', 'Digest realm="conclave", nonce="AAAA", algorithm=SHA-256, qop="auth", stale=true'];
const EXPIRES = ["1800;refresher=uac", "90", "4294967295;refresher=uas;x=y"];
const CRYPTO = ["1 AES_CM_128_HMAC_SHA1_80 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE", "2 AEAD_AES_128_GCM inline:ep/OYfFcRDBHCWNptQURBO1+G/pK3C+eAfH2|2^31", "3 AES_CM_128_HMAC_SHA1_80 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE|2^20|1:4", "4 AES_CM_128_HMAC_SHA1_32 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE UNENCRYPTED_SRTP", "5 AES_CM_128_HMAC_SHA1_32 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE|2^31|1:4", "6 AES_CM_128_HMAC_SHA1_80 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE|258:2"];
const HEADER_TOKENS = [";", "=", '"', "\\", "<", ">", ",", " ", ":", "[", "]", "sip:", "sips:", "@", ";tag=", ";branch=z9hG4bK", "\u00e9", "%00"];

function srtpPair(suite: SrtpSuite): { send: SrtpProtection; receive: SrtpProtection } {
  const a = SrtpKeyMaterial.generate(suite);
  const b = SrtpKeyMaterial.generate(suite);
  return { send: new SrtpProtection(a, b), receive: new SrtpProtection(b, a) };
}

export function connectorTargets(): FuzzTarget[] {
  return [
    {
      name: "sip.message",
      reads: "every SIP datagram and TLS/TCP stream a device or peer sends the SIP gateway",
      arbitrary: fc.oneof({ weight: 5, arbitrary: mutatedBytes(SIP_CORPUS.map(bytes), 48) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) }),
      check(input) {
        const data = input as Uint8Array;
        for (const datagram of [true, false]) {
          let msg: SipMessage;
          try {
            msg = parseSipMessage(data, { datagram });
          } catch (e) {
            expectError(e, ["SIP_BAD_MESSAGE", "SIP_MESSAGE_TOO_LARGE"], "parseSipMessage");
            continue;
          }
          // What decodes re-encodes to a message that decodes the same.
          const again = parseSipMessage(serializeSipMessage(msg), { datagram });
          if (!sameMessage(msg, again)) throw new PropertyViolation("a SIP message does not survive re-encoding");
        }
        // Stream framing, fed in uneven pieces: only its own errors.
        const parser = new SipStreamParser();
        try {
          for (let off = 0, step = 1; off < data.length; off += step, step = (step * 7) % 61 + 1) parser.push(data.subarray(off, off + step));
        } catch (e) {
          expectError(e, ["SIP_BAD_MESSAGE", "SIP_MESSAGE_TOO_LARGE"], "SipStreamParser.push");
        }
      },
    },
    {
      name: "sip.uri",
      reads: "Request-URIs and the URIs in From, To and Contact",
      arbitrary: textArbitrary(URIS, HEADER_TOKENS),
      check(input) {
        let uri;
        try {
          uri = parseSipUri(input as string);
        } catch (e) {
          return expectError(e, ["SIP_BAD_URI"], "parseSipUri");
        }
        const text = formatSipUri(uri);
        if (formatSipUri(parseSipUri(text)) !== text) throw new PropertyViolation("a SIP URI does not survive re-formatting");
      },
    },
    {
      name: "sip.headers",
      reads: "the header values the UA acts on: From/To/Contact, Via, Session-Expires, authentication challenges",
      arbitrary: fc.tuple(fc.constantFrom("nameAddr", "via", "sessionExpires", "auth"), textArbitrary([...NAME_ADDRS, ...VIAS, ...EXPIRES, ...AUTHS], HEADER_TOKENS)).map(([k, v]) => `${k}\u0000${v}`),
      check(input) {
        const [kind, value] = (input as string).split("\u0000", 2) as [string, string];
        try {
          if (kind === "nameAddr") parseNameAddr(value);
          else if (kind === "via") parseVia(value);
          else if (kind === "sessionExpires") parseSessionExpires(value);
          else parseAuthHeader(value);
        } catch (e) {
          expectError(e, ["SIP_BAD_HEADER", "SIP_BAD_URI"], `header ${kind}`);
        }
      },
    },
    {
      name: "sip.digest",
      reads: "Authorization headers of devices registering or calling with a configured account, and challenges answered",
      arbitrary: textArbitrary(AUTHS, [...HEADER_TOKENS, "Digest ", "username=", "response=", "algorithm=MD5", "algorithm=SHA-256"]),
      check(input) {
        const server = new DigestServer("conclave", [{ username: "room", password: "secret" }]);
        // A forged or mangled Authorization never authenticates, and never throws.
        const verdict = server.verify(input as string, "INVITE");
        if (verdict !== null) throw new PropertyViolation(`a forged Authorization was accepted (${String(verdict)})`);
        const answer = answerChallenge(input as string, { username: "room", password: "secret" }, "INVITE", "sip:x@y");
        if (answer !== null && typeof answer !== "string") throw new PropertyViolation("answerChallenge returned a non-string");
      },
    },
    {
      name: "sdp.offer",
      reads: "the SDP offer or answer of every call, parsed by the parser shared with the relay, then offer/answer",
      arbitrary: fc.oneof(
        { weight: 4, arbitrary: mutatedBytes(SDP_CORPUS.map(bytes), 48).map(latin1) },
        { weight: 2, arbitrary: fc.shuffledSubarray(SDP_CORPUS[0]!.split("\r\n")).map((ls) => ["v=0", ...ls.filter((l) => l !== "v=0")].join("\r\n")) },
        { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      ),
      check(input) {
        const text = input as string;
        try {
          parseSdp(text);
        } catch (e) {
          if (!isProtocolError(e, "SDP_MALFORMED")) throw new PropertyViolation(`parseSdp threw ${String(e)}`);
        }
        for (const signaling of ["tls", "udp"] as const) {
          for (const requireEncryption of [true, false]) {
            let r;
            try {
              r = negotiateOffer(text, { signaling, requireEncryption });
            } catch (e) {
              throw new PropertyViolation(`negotiateOffer threw ${String(e)}`);
            }
            // An offer is answered or refused, never half-way; required encryption is never waived.
            if (r.ok && requireEncryption && !farLegEncrypted(r.negotiation.farLeg)) throw new PropertyViolation("an unencrypted far leg was accepted while encryption is required");
            if (!r.ok && (typeof r.status !== "number" || r.explanation === "")) throw new PropertyViolation("a refusal without a status or an explanation");
          }
        }
      },
    },
    {
      name: "sdes.crypto",
      reads: "a=crypto lines (SDES keys) of an offer",
      arbitrary: textArbitrary(CRYPTO, ["|", ":", "^", "inline:", "==", " ", "AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "|2^31|1:4"]),
      check(input) {
        for (const profile of ["standard", "microsoft"] as const) {
          try {
            const a = parseCryptoAttribute(input as string, profile);
            if (a !== null && a.keys.suite !== a.suite) throw new PropertyViolation("key material of another suite");
            // The standard profile's keys go to werift's SRTP, which has neither the 32-bit tag nor the MKI.
            if (a !== null && profile === "standard" && (a.suite === "AES_CM_128_HMAC_SHA1_32" || a.keys.mki !== undefined)) throw new PropertyViolation("standard accepted a Microsoft-only line");
            if (a?.keys.mki !== undefined && (a.keys.mki.length < 1 || a.keys.mki.length > 128)) throw new PropertyViolation("an MKI outside 1..128 bytes");
          } catch (e) {
            if (e instanceof PropertyViolation) throw e;
            expectError(e, ["SRTP_BAD_KEY"], "parseCryptoAttribute");
          }
        }
      },
    },
    {
      name: "rtp.header",
      reads: "every RTP and RTCP packet from a device (after SRTP), on the media sockets",
      arbitrary: fc.oneof(
        { weight: 3, arbitrary: mutatedBytes([encodeRtp({ payloadType: 96, marker: true, sequenceNumber: 65535, timestamp: 1, ssrc: 7 }, new Uint8Array(20)), new Uint8Array([0xb1, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 9, 3]), new Uint8Array([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]), new Uint8Array([0x80, 201, 0, 1, 0, 0, 0, 1, 0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0])], 16) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      ),
      check(input) {
        const p = input as Uint8Array;
        const rtp = decodeRtp(p);
        if (rtp !== null) {
          const start = rtp.payload.byteOffset - p.byteOffset;
          if (start < 12 || start + rtp.payload.length > p.length) throw new PropertyViolation("an RTP payload outside its packet");
        }
        isRtcp(p);
        rtcpRequestsKeyframe(p);
      },
    },
    {
      name: "srtp.unprotect",
      reads: "every SRTP and SRTCP packet from a device: altered ones must never authenticate",
      arbitrary: fc.tuple(fc.constantFrom<SrtpSuite>("AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.integer({ min: 0, max: 65535 }), mutatedBytes([new Uint8Array(0)], 8), fc.boolean()).map(([suite, payload, seq, noise, rtcp]) => JSON.stringify({ suite, payload: Buffer.from(payload).toString("hex"), seq, noise: Buffer.from(noise).toString("hex"), rtcp })),
      check(input) {
        const { suite, payload, seq, noise, rtcp } = JSON.parse(input as string) as { suite: SrtpSuite; payload: string; seq: number; noise: string; rtcp: boolean };
        const { send, receive } = srtpPair(suite);
        const plain = rtcp ? Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 5]) : encodeRtp({ payloadType: 0, marker: false, sequenceNumber: seq, timestamp: 160, ssrc: 5 }, Buffer.from(payload, "hex"));
        const good = rtcp ? send.protectRtcp(plain) : send.protectRtp({ payloadType: 0, marker: false, sequenceNumber: seq, timestamp: 160, ssrc: 5 }, Buffer.from(payload, "hex"), plain);
        // Alter it: xor the noise in somewhere, or cut it, or append to it.
        const n = Buffer.from(noise, "hex");
        const altered = Buffer.from(good);
        if (n.length === 0) return;
        const at = n[0]! % altered.length;
        let bad: Buffer;
        if (n.length === 1) bad = altered.subarray(0, at);
        else if (n.length === 2) bad = Buffer.concat([altered, n]);
        else {
          for (let i = 1; i < n.length; i++) altered[(at + i) % altered.length]! ^= n[i]!;
          bad = altered;
        }
        if (bad.equals(good)) return;
        try {
          if (rtcp) receive.unprotectRtcp(bad);
          else receive.unprotectRtp(bad);
        } catch (e) {
          expectError(e, ["SRTP_AUTH_FAILED", "SRTP_REPLAY"], "unprotect");
          // The genuine packet still authenticates afterwards (a forgery does not poison the window).
          const back = rtcp ? receive.unprotectRtcp(good) : receive.unprotectRtp(good);
          if (!back.equals(plain)) throw new PropertyViolation("the genuine packet decrypts to something else");
          return;
        }
        throw new PropertyViolation("an altered SRTP packet authenticated");
      },
    },
    {
      name: "h264.rtp",
      reads: "H.264 RTP payloads (single NAL, STAP-A, FU-A) from an H.264-only device",
      arbitrary: fc.array(fc.tuple(mutatedBytes([...packetizeH264([new Uint8Array([0x65, ...new Array<number>(300).fill(7)])], 100), new Uint8Array([24, 0, 2, 0x67, 1, 0, 2, 0x68, 2]), new Uint8Array([0x41, 1, 2, 3])], 16), fc.boolean(), fc.integer({ min: -1, max: 2 })), { maxLength: 12 }).map((ps) => JSON.stringify(ps.map(([p, m, d]) => [Buffer.from(p).toString("hex"), m, d]))),
      check(input) {
        const d = new H264Depacketizer();
        let seq = 65530;
        let ts = 0;
        for (const [hex, marker, step] of JSON.parse(input as string) as [string, boolean, number][]) {
          seq = (seq + step + 65536) & 0xffff;
          if (step === 2) ts += 3000;
          const r = d.push({ sequenceNumber: seq, timestamp: ts, marker, payload: Buffer.from(hex, "hex") });
          if (r.unit && !(r.unit.data instanceof Uint8Array)) throw new PropertyViolation("an access unit without bytes");
        }
      },
    },
  ];
}
