/**
 * Fuzzing of the decoders that read bytes from SIP devices: the SIP message parser (datagram and
 * stream framing), the SDP parser shared with the relay, and offer/answer on top of it. Random and
 * mutated inputs (a seeded PRNG, so a failure reproduces); every input must either decode or fail
 * with the decoder's own error (ConnectorError / ProtocolError SDP_MALFORMED) — anything else
 * (a TypeError, a RangeError) is a crash. The unit test runs a bounded number, and
 * scripts/fuzz-sip-sdp.mjs runs 10^5 of each.
 */
import { isProtocolError } from "@conclave/protocol";
import { parseSdp } from "@conclave/protocol/sdp";
import { isConnectorError } from "../src/errors.js";
import { SipStreamParser, parseSipMessage } from "../src/sip/message.js";
import { negotiateOffer } from "../src/connectors/sip-room/negotiate.js";

export const SIP_CORPUS = [
  "INVITE sip:12345678901.abcdef@127.0.0.1:5061;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:25060;branch=z9hG4bK0a5944;rport\r\nContact: <sip:alice@127.0.0.1:25060;transport=tls>\r\nMax-Forwards: 70\r\nTo: <sip:12345678901@127.0.0.1>\r\nFrom: \"Room 4\" <sip:alice@127.0.0.1>;tag=e2f90b\r\nCall-ID: a8819ddbdd095def\r\nCSeq: 18279 INVITE\r\nSupported: timer\r\nSession-Expires: 1800;refresher=uac\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
  "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport=5060;received=127.0.0.1\r\nFrom: <sip:conclave@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>;tag=2\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:5062;transport=udp>\r\nContent-Length: 0\r\n\r\n",
  "REGISTER sip:127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKreg\r\nf: <sip:room@127.0.0.1>;tag=9\r\nt: <sip:room@127.0.0.1>\r\ni: reg1\r\nCSeq: 2 REGISTER\r\nm: <sip:room@10.0.0.2:5060>;expires=3600\r\nAuthorization: Digest username=\"room\", realm=\"conclave\", nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\"\r\nl: 0\r\n\r\n",
  "BYE sip:conclave@127.0.0.1:5061;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:25060;branch=z9hG4bKbye\r\nFrom: <sip:alice@127.0.0.1>;tag=e2f90b\r\nTo: <sip:12345678901@127.0.0.1>;tag=abc\r\nCall-ID: a8819ddbdd095def\r\nCSeq: 18280 BYE\r\nContent-Length: 0\r\n\r\n",
];

export const SDP_CORPUS = [
  "v=0\r\no=- 2791857216 784047922 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1448 RTP/SAVP 96 0 101\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\na=ssrc:10979964 cname:sip:alice@127.0.0.1\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:IS7TyQUqTFEZVa1cePhgNCiBguxzGMuWCp0AwOvE\r\na=ptime:20\r\nm=video 11812 RTP/SAVP 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=1;profile-level-id=42e01f\r\na=sendrecv\r\na=crypto:1 AEAD_AES_128_GCM inline:ep/OYfFcRDBHCWNptQURBO1+G/pK3C+eAfH2\r\na=rtcp-fb:* nack pli\r\n",
  "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=ice-ufrag:abcd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\na=ssrc:1 cname:x\r\na=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=ssrc-group:FID 2 3\r\na=ssrc:2 cname:x\r\na=ssrc:3 cname:x\r\n",
];

/** xorshift32: reproducible randomness from a seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const TOKENS = ["\r\n", ":", ";", ",", "<", ">", '"', "\\", "=", " ", "\t", "sip:", "SIP/2.0", "Content-Length: ", "99999999", "-1", "0", "\u00ff", "\u0000", "a=", "m=", "inline:", "|2^31|1:1", "\r", "\n", "@", "[", "]", "%", "z9hG4bK"];

export function mutate(input: string, rnd: () => number): Buffer {
  let b = Buffer.from(input, "latin1");
  const n = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: // flip a bit
        if (b.length > 0) b[Math.min(pos, b.length - 1)]! ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1: // delete a run
        b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + Math.floor(rnd() * 20)))]);
        break;
      case 2: // insert a token
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(TOKENS[Math.floor(rnd() * TOKENS.length)]!, "latin1"), b.subarray(pos)]);
        break;
      case 3: // duplicate a line
        {
          const lines = b.toString("latin1").split("\r\n");
          const k = Math.floor(rnd() * lines.length);
          lines.splice(k, 0, lines[k] ?? "");
          b = Buffer.from(lines.join("\r\n"), "latin1");
        }
        break;
      case 4: // truncate
        b = b.subarray(0, pos);
        break;
      case 5: // random bytes
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256))), b.subarray(pos)]);
        break;
      default: // swap two lines
        {
          const lines = b.toString("latin1").split("\r\n");
          const x = Math.floor(rnd() * lines.length);
          const y = Math.floor(rnd() * lines.length);
          [lines[x], lines[y]] = [lines[y]!, lines[x]!];
          b = Buffer.from(lines.join("\r\n"), "latin1");
        }
    }
  }
  return b;
}

function randomBytes(rnd: () => number): Buffer {
  return Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
}

export interface FuzzReport {
  inputs: number;
  accepted: number;
  rejected: number;
  /** The slowest single input, in ms (reported, not asserted). */
  slowestMs: number;
}

/** Throws on the first input that makes a decoder fail in any way but its own error. */
export function fuzzSip(inputs: number, seed: number): FuzzReport {
  const rnd = prng(seed);
  const report: FuzzReport = { inputs, accepted: 0, rejected: 0, slowestMs: 0 };
  for (let i = 0; i < inputs; i++) {
    const data = rnd() < 0.1 ? randomBytes(rnd) : mutate(SIP_CORPUS[Math.floor(rnd() * SIP_CORPUS.length)]!, rnd);
    const t0 = performance.now();
    for (const datagram of [true, false]) {
      try {
        parseSipMessage(data, { datagram });
        report.accepted++;
      } catch (e) {
        if (!isConnectorError(e)) throw new Error(`SIP parser crashed (seed ${seed}, input ${i}): ${String(e)}\n${JSON.stringify(data.toString("latin1"))}`);
        report.rejected++;
      }
    }
    // Stream framing, in random chunks.
    const parser = new SipStreamParser();
    try {
      for (let off = 0; off < data.length; ) {
        const len = 1 + Math.floor(rnd() * 64);
        parser.push(data.subarray(off, off + len));
        off += len;
      }
    } catch (e) {
      if (!isConnectorError(e)) throw new Error(`SIP stream parser crashed (seed ${seed}, input ${i}): ${String(e)}`);
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
  }
  return report;
}

export function fuzzSdp(inputs: number, seed: number): FuzzReport {
  const rnd = prng(seed);
  const report: FuzzReport = { inputs, accepted: 0, rejected: 0, slowestMs: 0 };
  for (let i = 0; i < inputs; i++) {
    const data = (rnd() < 0.1 ? randomBytes(rnd) : mutate(SDP_CORPUS[Math.floor(rnd() * SDP_CORPUS.length)]!, rnd)).toString("latin1");
    const t0 = performance.now();
    try {
      parseSdp(data);
      report.accepted++;
    } catch (e) {
      if (!isProtocolError(e, "SDP_MALFORMED")) throw new Error(`SDP parser crashed (seed ${seed}, input ${i}): ${String(e)}\n${JSON.stringify(data)}`);
      report.rejected++;
    }
    // Offer/answer never throws: a bad offer is answered with a SIP error.
    try {
      const r = negotiateOffer(data, { signaling: "tls", requireEncryption: rnd() < 0.5 });
      if (typeof r.ok !== "boolean") throw new Error("no verdict");
    } catch (e) {
      throw new Error(`offer/answer crashed (seed ${seed}, input ${i}): ${String(e)}\n${JSON.stringify(data)}`);
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
  }
  return report;
}
