/**
 * Fuzz targets for the decoders of the media relay that read network input (fuzz-relay.test.ts,
 * bench/fuzz.mjs): the session descriptions participants send (SDP offers and answers, trickled
 * ICE candidates) and the RTP/RTCP headers of every packet it forwards.
 */
import * as fc from "fast-check";
import { PropertyViolation, mutatedBytes, type FuzzTarget } from "@conclave/test-support";
import { isRelayError } from "../src/relay/errors.js";
import { parseSdp, restrictPublishOffer, serializeSdp } from "../src/relay/sdp.js";
import { extractSenderReport, forEachRtcpPacket, isRtcp, rtcpRequestsKeyframe, rtpPayloadBounds } from "../src/relay/rtp.js";
import { CHROMIUM_PUBLISH_OFFER } from "./relay-chromium-offer.js";

const utf8 = new TextEncoder();
const latin1 = new TextDecoder("latin1");

function expectRelayError(e: unknown, codes: readonly string[], what: string): void {
  if (isRelayError(e) && codes.includes(e.code)) return;
  throw new PropertyViolation(`${what} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
}

/** SDP text: mutations of a real Chromium offer, line shuffles, and arbitrary text. */
function sdpArbitrary(): fc.Arbitrary<string> {
  const offer = CHROMIUM_PUBLISH_OFFER;
  const lines = offer.split("\r\n");
  return fc.oneof(
    { weight: 4, arbitrary: mutatedBytes([utf8.encode(offer)], 32).map((b) => latin1.decode(b)) },
    { weight: 2, arbitrary: fc.shuffledSubarray(lines).map((ls) => ["v=0", ...ls.filter((l) => l !== "v=0")].join("\r\n")) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...lines, "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0", "a=rtpmap:96 VP8/90000", "a=ssrc:1 cname:x", "a=ssrc-group:FID 1 2"), { maxLength: 40 }).map((ls) => ["v=0", ...ls].join("\r\n")) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  );
}

/** RTP and RTCP packets: mutations of real headers, and arbitrary bytes. */
function packetArbitrary(): fc.Arbitrary<Uint8Array> {
  const rtp = new Uint8Array([0x90, 0x60, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 1, 2, 3, 4]);
  const sr = new Uint8Array(28 + 24);
  sr.set([0x81, 200, 0, 12]);
  const pli = new Uint8Array([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }) }, { weight: 3, arbitrary: mutatedBytes([rtp, sr, pli, new Uint8Array([...sr, ...pli])], 16) });
}

export function relayTargets(): FuzzTarget[] {
  return [
    {
      name: "relay.sdp",
      reads: "every SDP offer and answer a participant sends the relay",
      arbitrary: sdpArbitrary(),
      check(input) {
        const text = input as string;
        let desc;
        try {
          desc = parseSdp(text);
        } catch (e) {
          return expectRelayError(e, ["RELAY_BAD_SDP"], "parseSdp");
        }
        // What parses serializes to text that parses to the same description: the same
        // m-sections as the relay reads them, and (the parser being sdp-transform behind a strict
        // check, which writes attributes in its own order) text that is stable from then on.
        const written = serializeSdp(desc);
        const again = parseSdp(written);
        if (JSON.stringify(again.media, relayView) !== JSON.stringify(desc.media, relayView)) throw new PropertyViolation("an SDP's m-sections do not round-trip");
        if (serializeSdp(again) !== written) throw new PropertyViolation("an SDP does not round-trip: written again, it reads differently");
        try {
          restrictPublishOffer(desc);
        } catch (e) {
          expectRelayError(e, ["RELAY_BAD_SDP", "RELAY_UNSUPPORTED_MEDIA"], "restrictPublishOffer");
        }
      },
    },
    {
      name: "relay.rtp",
      reads: "the RTP and RTCP headers of every packet the relay forwards",
      arbitrary: packetArbitrary(),
      check(input) {
        const p = input as Uint8Array;
        isRtcp(p);
        const b = rtpPayloadBounds(p);
        if (b !== undefined && !(b.start >= 12 && b.start <= b.end && b.end <= p.length)) throw new PropertyViolation(`payload bounds ${b.start}..${b.end} of a ${p.length}-byte packet`);
        forEachRtcpPacket(p, (_t, _c, offset, length) => {
          if (offset < 0 || length < 4 || offset + length > p.length) throw new PropertyViolation(`an RTCP packet at ${offset}+${length} of ${p.length}`);
        });
        rtcpRequestsKeyframe(p);
        const sr = extractSenderReport(p);
        if (sr !== undefined && sr.length !== 28) throw new PropertyViolation("a sender report that is not 28 bytes");
      },
    },
  ];
}

/** The relay's own view of an m-section (what it acts on), without sdp-transform's object. */
function relayView(k: string, v: unknown): unknown {
  return k === "raw" ? undefined : mapReplacer(k, v);
}

/**
 * Maps as entry lists, and object keys sorted: the description keeps sdp-transform's parsed object
 * (`raw`), whose key order follows line order, which sdp-transform's writer normalises (the same
 * description, written in its own attribute order).
 */
function mapReplacer(_k: string, v: unknown): unknown {
  if (v instanceof Map) return [...v.entries()];
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return v;
}
