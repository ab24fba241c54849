// The little SDP the relay needs: parse a description into m-sections (RFC 8866 §5), restrict a
// publish offer to what the relay forwards, and rewrite announced candidate addresses.
//
// The parser is strict about structure (every line `x=value`, `v=0` first, a parsable `m=` line,
// one a=mid per m-section, unique mids) and lenient about attributes it does not use, which it
// keeps verbatim: browsers add attributes every release and the WebRTC stack underneath reads them.

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
  /** The attribute and other lines after the `m=` line, verbatim. */
  readonly lines: readonly string[];
}

export interface SessionDescription {
  readonly sessionLines: readonly string[];
  readonly media: readonly MediaSection[];
}

const DIRECTIONS: ReadonlySet<string> = new Set(["sendrecv", "sendonly", "recvonly", "inactive"]);
const LINE = /^[a-z]=/;
// m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14)
const M_LINE = /^m=([a-z0-9-]+) (\d{1,5})(?:\/\d+)? ([A-Za-z0-9/_.-]+)((?: [^ ]+)*)$/;
// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 8866 §6.6)
const RTPMAP = /^a=rtpmap:(\d{1,3}) ([A-Za-z0-9_.-]+)\/(\d{1,10})(?:\/(\d{1,3}))?$/;
const SSRC = /^a=ssrc:(\d{1,10})(?: |$)/;
const SSRC_GROUP = /^a=ssrc-group:([A-Za-z0-9-]+)((?: \d{1,10})+)$/;

function bad(detail: string): RelayError {
  return new RelayError("RELAY_BAD_SDP", detail);
}

function parseUint32(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw bad(`${what} out of range`);
  return n;
}

export function parseSdp(sdp: string): SessionDescription {
  if (typeof sdp !== "string" || sdp.length === 0) throw bad("empty description");
  if (sdp.length > 1_000_000) throw bad("description longer than 1 MB");
  const lines = sdp.split(/\r?\n/);
  // A trailing CRLF leaves one empty string; any other empty line is malformed.
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines[0] !== "v=0") throw bad("first line must be v=0");
  const sessionLines: string[] = [];
  const media: MediaSection[] = [];
  let current: { mLine: RegExpExecArray; lines: string[] } | undefined;
  const flush = (): void => {
    if (current) media.push(buildSection(media.length, current.mLine, current.lines));
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!LINE.test(line)) throw bad(`line ${i + 1} is not of the form x=value`);
    if (line.startsWith("m=")) {
      flush();
      const m = M_LINE.exec(line);
      if (!m) throw bad(`line ${i + 1} is not a valid m= line`);
      current = { mLine: m, lines: [] };
    } else if (current) {
      current.lines.push(line);
    } else {
      sessionLines.push(line);
    }
  }
  flush();
  const mids = new Set<string>();
  for (const section of media) {
    if (mids.has(section.mid)) throw bad(`mid ${JSON.stringify(section.mid)} appears twice`);
    mids.add(section.mid);
  }
  const hasUfrag = (ls: readonly string[]): boolean => ls.some((l) => l.startsWith("a=ice-ufrag:"));
  if (media.length > 0 && !hasUfrag(sessionLines) && !media.some((m) => hasUfrag(m.lines))) {
    throw bad("no a=ice-ufrag");
  }
  return { sessionLines, media };
}

function buildSection(index: number, m: RegExpExecArray, lines: string[]): MediaSection {
  const kind = m[1] as string;
  const port = Number(m[2]);
  if (port > 65535) throw bad(`m-section ${index} port out of range`);
  const formats = (m[4] ?? "").trim().split(" ").filter((f) => f.length > 0);
  if (formats.length === 0) throw bad(`m-section ${index} lists no formats`);
  let mid: string | undefined;
  let direction: MediaDirection | undefined;
  const rtpMaps = new Map<number, RtpMap>();
  const ssrcs: number[] = [];
  const ssrcGroups: SsrcGroup[] = [];
  for (const line of lines) {
    if (line.startsWith("a=mid:")) {
      if (mid !== undefined) throw bad(`m-section ${index} has two a=mid lines`);
      mid = line.slice(6);
      // RFC 8843 §9.1: mid is an RFC 8866 token, at most 16 characters in practice (RFC 8852).
      if (!/^[A-Za-z0-9!#$%&'*+.^_`{|}~-]{1,32}$/.test(mid)) throw bad(`m-section ${index} has an invalid mid`);
    } else if (DIRECTIONS.has(line.slice(2))) {
      if (direction !== undefined) throw bad(`m-section ${index} has two direction attributes`);
      direction = line.slice(2) as MediaDirection;
    } else if (line.startsWith("a=rtpmap:")) {
      const r = RTPMAP.exec(line);
      if (!r) throw bad(`m-section ${index} has a malformed a=rtpmap`);
      const payloadType = Number(r[1]);
      if (payloadType > 127) throw bad(`m-section ${index} has payload type ${payloadType} > 127`);
      rtpMaps.set(payloadType, {
        payloadType,
        encoding: r[2] as string,
        clockRate: parseUint32(r[3] as string, "clock rate"),
        channels: r[4] === undefined ? undefined : Number(r[4]),
      });
    } else if (line.startsWith("a=ssrc:")) {
      const s = SSRC.exec(line);
      if (!s) throw bad(`m-section ${index} has a malformed a=ssrc`);
      const ssrc = parseUint32(s[1] as string, "ssrc");
      if (!ssrcs.includes(ssrc)) ssrcs.push(ssrc);
    } else if (line.startsWith("a=ssrc-group:")) {
      const g = SSRC_GROUP.exec(line);
      if (!g) throw bad(`m-section ${index} has a malformed a=ssrc-group`);
      const members = (g[2] as string).trim().split(" ").map((x) => parseUint32(x, "ssrc"));
      ssrcGroups.push({ semantics: g[1] as string, ssrcs: members });
    }
  }
  if (mid === undefined) throw bad(`m-section ${index} has no a=mid (the relay needs BUNDLE with mids)`);
  return {
    index,
    kind,
    port,
    protocol: m[3] as string,
    formats,
    mid,
    direction: direction ?? "sendrecv",
    rtpMaps,
    ssrcs,
    ssrcGroups,
    lines,
  };
}

export function serializeSdp(desc: SessionDescription): string {
  const out: string[] = [...desc.sessionLines];
  for (const m of desc.media) {
    out.push(`m=${m.kind} ${m.port} ${m.protocol} ${m.formats.join(" ")}`, ...m.lines);
  }
  return out.join("\r\n") + "\r\n";
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
  const media: MediaSection[] = [];
  for (const m of desc.media) {
    if (m.kind !== "audio" && m.kind !== "video") {
      if (m.port === 0) {
        media.push(m);
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
    if (m.lines.some((l) => l.startsWith("a=rid:") || l.startsWith("a=simulcast:"))) {
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
      media.push(m);
      continue;
    }
    const pt = codec.payloadType;
    const keepPt = (line: string, prefix: string): boolean => {
      const rest = line.slice(prefix.length);
      const sp = rest.indexOf(" ");
      return Number(sp < 0 ? rest : rest.slice(0, sp)) === pt;
    };
    const lines = m.lines.filter((line) => {
      if (line.startsWith("a=rtpmap:")) return keepPt(line, "a=rtpmap:");
      if (line.startsWith("a=fmtp:")) return keepPt(line, "a=fmtp:");
      if (line.startsWith("a=rtcp-fb:")) {
        const rest = line.slice("a=rtcp-fb:".length);
        const sp = rest.indexOf(" ");
        const target = sp < 0 ? rest : rest.slice(0, sp);
        if (target !== "*" && Number(target) !== pt) return false;
        return KEPT_FEEDBACK.test(rest.slice(sp + 1));
      }
      if (line.startsWith("a=extmap:") || line.startsWith("a=ssrc-group:")) return false;
      if (line.startsWith("a=ssrc:")) {
        const s = SSRC.exec(line);
        return s !== null && !repair.has(Number(s[1]));
      }
      return true;
    });
    media.push({ ...m, formats: [String(pt)], lines });
  }
  const sessionLines = desc.sessionLines.filter((l) => !l.startsWith("a=extmap:"));
  return { sdp: serializeSdp({ sessionLines, media }), sections };
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
