/**
 * The one SDP parser (RFC 8866) of Conclave, shared by the media relay and the connectors:
 * `sdp-transform` (the parser mediasoup and Jitsi use) behind a strict structural check.
 *
 * sdp-transform alone is lenient: it skips lines it cannot read and keeps unknown attributes in
 * `invalid`. So before it runs, the text must be well formed: at most MAX_SDP_BYTES and
 * MAX_SDP_LINES, every line `<letter>=<value>` without control characters, `v=0` first, `o=`
 * and `s=` present, and every `m=` line `m=<media> <port>[/<n>] <proto> <fmt>...` with a port up
 * to 65535. After it runs, payload types are 0..127 and clock rates positive. Anything else is
 * SDP_MALFORMED. Attribute order is not preserved by `writeSdp` (sdp-transform writes in its
 * grammar's order), which no SDP consumer depends on.
 */
import sdpTransform from "sdp-transform";
import type { MediaDescription, SessionDescription } from "sdp-transform";
import { ProtocolError } from "../errors.js";

export type { MediaDescription, SessionDescription } from "sdp-transform";

export const MAX_SDP_BYTES = 128 * 1024;
export const MAX_SDP_LINES = 4096;
export const MAX_SDP_MEDIA = 64;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const LINE = /^[a-z]=/;
const SINGLE = /^a=(mid|sendrecv|sendonly|recvonly|inactive|setup|ice-ufrag|ice-pwd)(?::|$)/;
const DIRECTION = new Set(["sendrecv", "sendonly", "recvonly", "inactive"]);
// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 8866 §6.6)
const RTPMAP = /^a=rtpmap:(\d{1,3}) ([A-Za-z][A-Za-z0-9_.-]*)\/([1-9]\d{0,9})(?:\/([1-9]\d{0,2}))?$/;
// a=candidate (RFC 8839 §5.1). sdp-transform reads raddr/rport, tcptype, generation, network-id
// and network-cost in that order (network-* only after generation: its writer shifts them
// otherwise), and ignores what follows; so those come in that order, and other extensions
// (werift's "ufrag", ...) only after them.
const CANDIDATE =
  /^a=candidate:[A-Za-z0-9+/]{1,32} \d{1,3} [A-Za-z]{1,8} \d{1,10} [A-Za-z0-9.:-]{1,253} \d{1,5} typ (?:host|srflx|prflx|relay)(?: raddr [A-Za-z0-9.:-]{1,253} rport \d{1,5})?(?: tcptype (?:active|passive|so))?(?: generation \d{1,10}(?: network-id \d{1,10}(?: network-cost \d{1,10})?)?)?(?: (?!(?:raddr|rport|tcptype|generation|network-id|network-cost) )[A-Za-z0-9-]{1,32} [\x21-\x7e]{1,256})*$/;
// The protocol starts with a letter (RTP/AVP, UDP/TLS/RTP/SAVPF): sdp-transform turns an all-digit
// token into a number, so "m=audio 1 448 RTP/AVP 0" must not pass as port 1, protocol "448".
// sdp-transform reads the media type and protocol as word characters and slashes only.
const M_LINE = /^m=[a-z][a-z0-9_]* (\d{1,5})(?:\/\d{1,5})? [A-Za-z][A-Za-z0-9/_]*(?: [^ ]+)+$/;
// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (RFC 8866 §5.2):
// sdp-transform skips an o= line it cannot read, and would write the description without one.
const O_LINE = /^o=\S+ \d{1,20} \d{1,20} [A-Za-z]+ IP[46] \S+$/;

// Line order (RFC 8866 §5): the session part v o s i u e p c b (t r)* z k a, then each media
// section m i c b k a. sdp-transform files lines out of order into its object and writes them back
// in order: a description whose meaning depends on where a misplaced line lands is refused.
const SESSION_ORDER = "vosiuepcbtzka";
const MEDIA_ORDER = "micbka";

function bad(detail: string): ProtocolError {
  return new ProtocolError("SDP_MALFORMED", detail);
}

/** Parses a session description strictly; throws SDP_MALFORMED naming the first problem. */
export function parseSdp(text: string): SessionDescription {
  if (typeof text !== "string" || text.length === 0) throw bad("empty description");
  if (text.length > MAX_SDP_BYTES) throw bad(`longer than ${MAX_SDP_BYTES} bytes`);
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length > MAX_SDP_LINES) throw bad(`more than ${MAX_SDP_LINES} lines`);
  if (lines[0] !== "v=0") throw bad("the first line must be v=0");
  let media = 0;
  let sawO = false;
  let sawS = false;
  // Attributes that may appear at most once per section (RFC 8866 §6.7, RFC 8843 §9.1).
  let once = new Set<string>();
  let order = SESSION_ORDER;
  let rank = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!LINE.test(line)) throw bad(`line ${i + 1} is not of the form x=value`);
    const type = line[0]!;
    if (type === "m") {
      order = MEDIA_ORDER;
      rank = 0;
    } else {
      // r= lines belong to the t= line before them (t r r t r ...).
      const r = order.indexOf(type === "r" && order === SESSION_ORDER ? "t" : type);
      if (r < 0) throw bad(`line ${i + 1}: ${type}= is not allowed ${order === SESSION_ORDER ? "in the session part" : "in a media section"}`);
      if (r < rank || (type === "v" && i > 0)) throw bad(`line ${i + 1}: ${type}= is out of order (RFC 8866 §5)`);
      rank = r;
    }
    if (CONTROL.test(line)) throw bad(`line ${i + 1} contains a control character`);
    if (line.startsWith("o=")) {
      if (sawO || !O_LINE.test(line)) throw bad(`line ${i + 1} is not a valid (single) o= line`);
      sawO = true;
    }
    if (line.startsWith("s=")) sawS = true;
    if (line.startsWith("m=")) {
      const m = M_LINE.exec(line);
      if (!m) throw bad(`line ${i + 1} is not a valid m= line`);
      if (Number(m[1]) > 65535) throw bad(`line ${i + 1}: port out of range`);
      if (++media > MAX_SDP_MEDIA) throw bad(`more than ${MAX_SDP_MEDIA} m-sections`);
      once = new Set();
    }
    const single = SINGLE.exec(line)?.[1];
    if (single !== undefined) {
      const kind = DIRECTION.has(single) ? "direction" : single;
      if (once.has(kind)) throw bad(`line ${i + 1}: a second a=${kind} in one section`);
      once.add(kind);
    }
    if (line.startsWith("a=rtpmap:") && !RTPMAP.test(line)) throw bad(`line ${i + 1} is not a valid a=rtpmap`);
    if (line.startsWith("a=candidate:") && !CANDIDATE.test(line)) throw bad(`line ${i + 1} is not a valid a=candidate`);
    if (line.startsWith("a=ssrc:")) {
      const ssrc = /^a=ssrc:(\d{1,10})(?: |$)/.exec(line);
      if (!ssrc || Number(ssrc[1]) > 0xffffffff) throw bad(`line ${i + 1} is not a valid a=ssrc`);
    }
  }
  if (!sawO || !sawS) throw bad("o= and s= lines are mandatory");
  let parsed: SessionDescription;
  try {
    parsed = sdpTransform.parse(lines.join("\r\n") + "\r\n");
  } catch (e) {
    throw bad(`unreadable (${e instanceof Error ? e.name : "error"})`);
  }
  if (parsed.connection) parsed.connection.ip = String(parsed.connection.ip);
  for (const g of parsed.groups ?? []) g.mids = String(g.mids);
  for (const [i, m] of parsed.media.entries()) checkMedia(i, m);
  return parsed;
}

function checkMedia(index: number, m: MediaDescription): void {
  // sdp-transform converts numeric-looking fields to numbers: insist on the shapes we rely on.
  if (typeof m.type !== "string" || typeof m.protocol !== "string" || !Number.isInteger(m.port)) throw bad(`m-section ${index}: malformed m= line`);
  if (m.payloads !== undefined) m.payloads = String(m.payloads);
  if (m.connection) m.connection.ip = String(m.connection.ip);
  for (const r of m.rtp) r.codec = String(r.codec);
  for (const f of m.fmtp) f.config = String(f.config);
  for (const c of m.crypto ?? []) {
    c.suite = String(c.suite);
    c.config = String(c.config);
  }
  if (m.mid !== undefined) m.mid = String(m.mid);
  for (const g of m.ssrcGroups ?? []) g.ssrcs = String(g.ssrcs);
  for (const r of m.rtp) {
    if (!Number.isInteger(r.payload) || r.payload < 0 || r.payload > 127) throw bad(`m-section ${index}: payload type out of range`);
    if (!Number.isInteger(r.rate ?? 0) || (r.rate ?? 0) < 0) throw bad(`m-section ${index}: bad clock rate`);
  }
  for (const f of m.fmtp) {
    if (!Number.isInteger(f.payload) || f.payload < 0 || f.payload > 127) throw bad(`m-section ${index}: fmtp payload type out of range`);
  }
}

/** Writes a description (CRLF line ends). */
export function writeSdp(desc: SessionDescription): string {
  return sdpTransform.write(desc);
}

/** `a=fmtp` parameters (`a=b;c=d`) as a map. */
export function parseFmtpParams(config: string): Record<string, string | number | undefined> {
  return sdpTransform.parseParams(config) as Record<string, string | number | undefined>;
}

/** The payload types an m= line lists, as numbers (RTP/AVP formats). */
export function payloadTypes(m: MediaDescription): number[] {
  return String(m.payloads ?? "")
    .split(" ")
    .filter((p) => p !== "")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0 && n <= 127);
}
