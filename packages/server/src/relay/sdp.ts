// What the relay needs from SDP, on top of the one SDP parser Conclave has (@conclave/protocol/sdp,
// which wraps sdp-transform): the m-sections of a description with their mid, direction, codecs
// and SSRCs, a publish offer restricted to what the relay forwards, and announced candidate
// addresses. Parsing is strict about structure (see parseSdp in the protocol package) and the
// relay adds its own rules: one a=mid per m-section, unique mids, an ICE ufrag. Attributes it does
// not interpret are kept, because the WebRTC stack underneath reads them.

import { parseSdp as parseSessionDescription, writeSdp, type MediaDescription, type SessionDescription as SdpSession } from "@conclave/protocol/sdp";
import { isProtocolError } from "@conclave/protocol";
import { RelayError } from "./errors.js";

export type MediaDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

export interface RtpMap {
  readonly payloadType: number;
  /** Encoding name as written (case preserved); compare case-insensitively (RFC 8866 §6.6). */
  readonly encoding: string;
  readonly clockRate: number;
  readonly channels: number | undefined;
}

export interface SsrcGroup {
  readonly semantics: string;
  readonly ssrcs: readonly number[];
}

export interface MediaSection {
  readonly index: number;
  /** The `m=` media type: "audio", "video", "application", ... */
  readonly kind: string;
  /** 0 means the m-section is rejected or removed (RFC 8829 §5.2.2, §5.3.1). */
  readonly port: number;
  readonly protocol: string;
  readonly formats: readonly string[];
  readonly mid: string;
  readonly direction: MediaDirection;
  readonly rtpMaps: ReadonlyMap<number, RtpMap>;
  /** Every SSRC named in a=ssrc lines, in first-seen order. */
  readonly ssrcs: readonly number[];
  readonly ssrcGroups: readonly SsrcGroup[];
  /** The parsed m-section (sdp-transform's object), for rewriting and serializing. */
  readonly raw: MediaDescription;
  /** The section's lines after its `m=` line, as written back. */
  readonly lines: readonly string[];
}

export interface SessionDescription {
  readonly raw: SdpSession;
  readonly media: readonly MediaSection[];
}

function bad(detail: string): RelayError {
  return new RelayError("RELAY_BAD_SDP", detail);
}

export function parseSdp(sdp: string): SessionDescription {
  let raw: SdpSession;
  try {
    raw = parseSessionDescription(sdp);
  } catch (e) {
    if (isProtocolError(e, "SDP_MALFORMED")) throw bad(e.message);
    throw e;
  }
  const media = raw.media.map((m, i) => buildSection(i, m));
  const mids = new Set<string>();
  for (const section of media) {
    if (mids.has(section.mid)) throw bad(`mid ${JSON.stringify(section.mid)} appears twice`);
    mids.add(section.mid);
  }
  if (media.length > 0 && raw.iceUfrag === undefined && !raw.media.some((m) => m.iceUfrag !== undefined)) throw bad("no a=ice-ufrag");
  return { raw, media };
}

function buildSection(index: number, m: MediaDescription): MediaSection {
  const mid = m.mid === undefined ? undefined : String(m.mid);
  if (mid === undefined) throw bad(`m-section ${index} has no a=mid (the relay needs BUNDLE with mids)`);
  // RFC 8843 §9.1: mid is an RFC 8866 token, at most 16 characters in practice (RFC 8852).
  if (!/^[A-Za-z0-9!#$%&'*+.^_`{|}~-]{1,32}$/.test(mid)) throw bad(`m-section ${index} has an invalid mid`);
  const rtpMaps = new Map<number, RtpMap>();
  for (const r of m.rtp) {
    rtpMaps.set(r.payload, { payloadType: r.payload, encoding: r.codec, clockRate: r.rate ?? 0, channels: r.encoding === undefined ? undefined : Number(r.encoding) });
  }
  const ssrcs: number[] = [];
  for (const s of m.ssrcs ?? []) {
    const id = Number(s.id);
    if (!ssrcs.includes(id)) ssrcs.push(id);
  }
  const ssrcGroups: SsrcGroup[] = (m.ssrcGroups ?? []).map((g) => ({ semantics: g.semantics, ssrcs: g.ssrcs.trim().split(/\s+/).map(Number) }));
  return {
    index,
    kind: m.type,
    port: m.port,
    protocol: m.protocol,
    formats: String(m.payloads ?? "").split(" ").filter((f) => f.length > 0),
    mid,
    direction: (m.direction ?? "sendrecv") as MediaDirection,
    rtpMaps,
    ssrcs,
    ssrcGroups,
    raw: m,
    lines: sectionLines(m),
  };
}

function sectionLines(m: MediaDescription): string[] {
  const text = writeSdp({ version: 0, origin: { username: "-", sessionId: 0, sessionVersion: 0, netType: "IN", ipVer: 4, address: "0.0.0.0" }, name: "-", timing: { start: 0, stop: 0 }, media: [m] });
  const lines = text.split("\r\n").filter((l) => l !== "");
  return lines.slice(lines.findIndex((l) => l.startsWith("m=")) + 1);
}

export function serializeSdp(desc: SessionDescription): string {
  return writeSdp(desc.raw);
}

/** The codecs the relay forwards. Subscribers always see these payload types. */
export const VIDEO_CODEC = { encoding: "VP8", clockRate: 90000, payloadType: 96 } as const;
export const AUDIO_CODEC = { encoding: "opus", clockRate: 48000, channels: 2, payloadType: 111 } as const;

export type RelayMediaKind = "audio" | "video";

/** What the relay learned about one m-section of a publish offer. */
export interface PublishSection {
  readonly mid: string;
  readonly kind: RelayMediaKind;
  /** True when the client sends media on this m-section (port != 0, direction sendonly/sendrecv). */
  readonly sending: boolean;
  /** The client's payload type for VP8/Opus; set whenever `sending`. */
  readonly payloadType: number | undefined;
  /** The media SSRC; set whenever `sending`. */
  readonly ssrc: number | undefined;
}

export interface RestrictedOffer {
  readonly sdp: string;
  readonly sections: readonly PublishSection[];
}

// Feedback that stays: NACK and PLI (the relay repairs the downstream hop and asks publishers for
// keyframes), FIR, and REMB (the relay caps publishers' bitrate with it). transport-cc goes: the
// relay does not answer it per hop, and a sender that expects it and gets none backs off.
const KEPT_FEEDBACK = /^(nack|nack pli|ccm fir|goog-remb)$/;

/**
 * Restricts a publish offer to one codec per m-section (VP8 for video, Opus for audio) and strips
 * what breaks blind forwarding: RED, ULPFEC, RTX (with their SSRC groups), transport-cc and every
 * RTP header extension. The WebRTC stack then answers with only these, so the publisher sends
 * exactly one payload type on one SSRC per m-section. Throws RELAY_UNSUPPORTED_MEDIA for data
 * channels, simulcast, or a sending m-section without the codec.
 */
export function restrictPublishOffer(desc: SessionDescription): RestrictedOffer {
  const sections: PublishSection[] = [];
  const media: MediaDescription[] = [];
  for (const m of desc.media) {
    if (m.kind !== "audio" && m.kind !== "video") {
      if (m.port === 0) {
        media.push(m.raw);
        continue;
      }
      throw new RelayError("RELAY_UNSUPPORTED_MEDIA", `m-section ${m.mid} is ${m.kind}`);
    }
    const kind: RelayMediaKind = m.kind;
    const wanted = kind === "video" ? VIDEO_CODEC : AUDIO_CODEC;
    const codec = [...m.rtpMaps.values()].find(
      (r) =>
        r.encoding.toLowerCase() === wanted.encoding.toLowerCase() &&
        r.clockRate === wanted.clockRate &&
        (kind === "video" || r.channels === AUDIO_CODEC.channels),
    );
    const sending = m.port !== 0 && (m.direction === "sendonly" || m.direction === "sendrecv");
    if (sending && !codec) {
      throw new RelayError(
        "RELAY_UNSUPPORTED_MEDIA",
        `${kind} m-section ${m.mid} offers no ${wanted.encoding}/${wanted.clockRate}`,
      );
    }
    // RFC 5576 §4.2: FID/FEC-FR groups name a primary SSRC then its repair SSRCs.
    const repair = new Set<number>();
    for (const g of m.ssrcGroups) {
      if (g.semantics === "SIM") {
        throw new RelayError("RELAY_UNSUPPORTED_MEDIA", `m-section ${m.mid} uses simulcast`);
      }
      for (const s of g.ssrcs.slice(1)) repair.add(s);
    }
    const primary = m.ssrcs.filter((s) => !repair.has(s));
    if (sending && primary.length !== 1) {
      throw new RelayError(
        "RELAY_UNSUPPORTED_MEDIA",
        `m-section ${m.mid} must signal exactly one media SSRC with a=ssrc (found ${primary.length})`,
      );
    }
    if (m.raw.rids !== undefined || m.raw.simulcast !== undefined || m.raw.simulcast_03 !== undefined) {
      throw new RelayError("RELAY_UNSUPPORTED_MEDIA", `m-section ${m.mid} uses rid/simulcast`);
    }
    sections.push({
      mid: m.mid,
      kind,
      sending,
      payloadType: sending ? codec?.payloadType : undefined,
      ssrc: sending ? primary[0] : undefined,
    });
    if (!codec) {
      media.push(m.raw);
      continue;
    }
    const pt = codec.payloadType;
    const raw: MediaDescription = {
      ...m.raw,
      payloads: String(pt),
      rtp: m.raw.rtp.filter((r) => r.payload === pt),
      fmtp: m.raw.fmtp.filter((f) => f.payload === pt),
      rtcpFb: (m.raw.rtcpFb ?? []).filter((f) => (String(f.payload) === "*" || Number(f.payload) === pt) && KEPT_FEEDBACK.test(f.subtype ? `${f.type} ${f.subtype}` : f.type)),
      ssrcs: (m.raw.ssrcs ?? []).filter((s) => !repair.has(Number(s.id))),
    };
    delete raw.ext;
    delete raw.ssrcGroups;
    delete raw.extmapAllowMixed;
    media.push(raw);
  }
  const session: SdpSession = { ...desc.raw, media };
  delete session.ext;
  return { sdp: writeSdp(session), sections };
}

/**
 * Replaces the connection address of host candidates with `announced` (for a relay behind NAT
 * or bound to a private address). Accepts "candidate:..." or "a=candidate:...".
 */
export function announceCandidate(candidate: string, announced: string | undefined): string {
  if (announced === undefined) return candidate;
  const parts = candidate.split(" ");
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ... (RFC 8839 §5.1)
  if (parts.length >= 8 && parts[6] === "typ" && parts[7] === "host") {
    parts[4] = announced;
    return parts.join(" ");
  }
  return candidate;
}

/** Applies announceCandidate to every a=candidate line of a description. */
export function announceDescription(sdp: string, announced: string | undefined): string {
  if (announced === undefined) return sdp;
  return sdp
    .split("\r\n")
    .map((l) => (l.startsWith("a=candidate:") ? announceCandidate(l, announced) : l))
    .join("\r\n");
}

/** Strips the "a=" prefix libdatachannel puts on trickled candidates (browsers want "candidate:..."). */
export function normalizeCandidate(candidate: string): string {
  return candidate.startsWith("a=") ? candidate.slice(2) : candidate;
}
