/**
 * SIP messages (RFC 3261 §7): the types, the strict decoder and the encoder, side by side.
 *
 * Why our own and not the `sip` npm package's parser: that package (0.0.6) parses with lenient
 * regular expressions and throws TypeErrors from inside its header parsers on malformed input,
 * calls the long-removed `util.debug`, and has no types; a decoder that reads bytes from the
 * network must fail one way (SIP_BAD_MESSAGE) and be fuzzed, so it lives here.
 *
 * Decoding rules (a message that breaks one is refused as a whole):
 * - at most MAX_SIP_MESSAGE bytes, at most MAX_HEADERS header fields;
 * - lines end in CRLF; folded header lines (leading SP/HT, §7.3.1) are joined;
 * - the start line is `METHOD SP Request-URI SP SIP/2.0` or `SIP/2.0 SP 3DIGIT SP reason`;
 * - header names are tokens; compact forms (§7.3.3) are expanded to their long names;
 * - Via, From, To, Call-ID and CSeq are mandatory, CSeq's method equals a request's method;
 * - Content-Length is mandatory on streams and must match the body; on datagrams a missing one
 *   means "the rest", and a longer body than it states is cut to it (§18.3).
 */
import { ConnectorError } from "../errors.js";

export const MAX_SIP_MESSAGE = 65_535;
export const MAX_HEADERS = 128;
const MAX_HEADER_VALUE = 8_192;

export interface SipHeader {
  /** The canonical name ("Call-ID", "Via", ...). Compare with `sameName`. */
  readonly name: string;
  readonly value: string;
}

export interface SipRequest {
  readonly kind: "request";
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeader[];
  readonly body: Uint8Array;
}

export interface SipResponse {
  readonly kind: "response";
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeader[];
  readonly body: Uint8Array;
}

export type SipMessage = SipRequest | SipResponse;

const COMPACT: Record<string, string> = {
  i: "Call-ID",
  m: "Contact",
  e: "Content-Encoding",
  l: "Content-Length",
  c: "Content-Type",
  f: "From",
  s: "Subject",
  k: "Supported",
  t: "To",
  v: "Via",
  x: "Session-Expires",
  o: "Event",
  r: "Refer-To",
  u: "Allow-Events",
};

const CANONICAL: Record<string, string> = {
  "call-id": "Call-ID",
  cseq: "CSeq",
  via: "Via",
  from: "From",
  to: "To",
  contact: "Contact",
  "content-length": "Content-Length",
  "content-type": "Content-Type",
  "max-forwards": "Max-Forwards",
  "www-authenticate": "WWW-Authenticate",
  "proxy-authenticate": "Proxy-Authenticate",
  "proxy-authorization": "Proxy-Authorization",
  authorization: "Authorization",
  "session-expires": "Session-Expires",
  "min-se": "Min-SE",
  "user-agent": "User-Agent",
  "record-route": "Record-Route",
};

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const SIP_VERSION = "SIP/2.0";

function bad(detail: string): ConnectorError {
  return new ConnectorError("SIP_BAD_MESSAGE", detail);
}

export function canonicalName(name: string): string {
  if (name.length === 1) {
    const long = COMPACT[name.toLowerCase()];
    if (long) return long;
  }
  const known = CANONICAL[name.toLowerCase()];
  if (known) return known;
  return name
    .split("-")
    .map((p) => (p.length > 0 ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : p))
    .join("-");
}

export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** The first value of a header, or undefined. */
export function header(msg: { headers: readonly SipHeader[] }, name: string): string | undefined {
  const n = canonicalName(name);
  return msg.headers.find((h) => h.name === n)?.value;
}

/**
 * Every value of a header, with comma-separated values split (§7.3.1) — outside quoted strings
 * and angle brackets — for the headers whose grammar is a list.
 */
export function headerValues(msg: { headers: readonly SipHeader[] }, name: string): string[] {
  const n = canonicalName(name);
  const out: string[] = [];
  for (const h of msg.headers) if (h.name === n) out.push(...(LIST_HEADERS.has(n) ? splitList(h.value) : [h.value]));
  return out;
}

const LIST_HEADERS = new Set(["Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require", "Accept", "Proxy-Require", "Unsupported"]);

/** Splits a header value on commas that are not inside "quotes" or <angle brackets>. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") depth++;
    else if (c === ">") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v.length > 0);
}

/**
 * Decodes one whole SIP message. `datagram` selects the §18.3 rules for UDP (Content-Length may
 * be absent; extra bytes after the body are discarded).
 */
export function parseSipMessage(data: Uint8Array, opts: { datagram: boolean }): SipMessage {
  if (!(data instanceof Uint8Array)) throw bad("expected bytes");
  if (data.length > MAX_SIP_MESSAGE) throw new ConnectorError("SIP_MESSAGE_TOO_LARGE", `${data.length} bytes`);
  const end = indexOfCrlfCrlf(data, 0);
  if (end < 0) throw bad("no end of headers (CRLF CRLF)");
  const head = latin1(data.subarray(0, end));
  const rawLines = head.split("\r\n");
  for (const l of rawLines) {
    if (l.includes("\r") || l.includes("\n") || l.includes("\0")) throw bad("bare CR, LF or NUL in the headers");
  }
  const startLine = rawLines[0]!;
  // Unfold continuation lines (§7.3.1).
  const lines: string[] = [];
  for (const l of rawLines.slice(1)) {
    if (l.startsWith(" ") || l.startsWith("\t")) {
      if (lines.length === 0) throw bad("a continuation line before any header");
      lines[lines.length - 1] += " " + l.trim();
    } else {
      lines.push(l);
    }
  }
  if (lines.length > MAX_HEADERS) throw bad(`more than ${MAX_HEADERS} header fields`);
  const headers: SipHeader[] = [];
  for (const l of lines) {
    const colon = l.indexOf(":");
    if (colon <= 0) throw bad("a header line without a name and colon");
    const rawName = l.slice(0, colon).trimEnd();
    if (!TOKEN.test(rawName)) throw bad("a header name is not a token");
    const value = decodeUtf8(l.slice(colon + 1).trim());
    if (value.length > MAX_HEADER_VALUE) throw bad("a header value is too long");
    headers.push({ name: canonicalName(rawName), value });
  }

  let body = data.subarray(end + 4);
  const lengths = headers.filter((h) => h.name === "Content-Length");
  if (lengths.length > 1) throw bad("Content-Length appears more than once");
  if (lengths.length === 1) {
    const text = lengths[0]!.value;
    if (!/^\d{1,6}$/.test(text)) throw bad("Content-Length is not a number");
    const n = Number(text);
    if (body.length < n) throw bad("the body is shorter than Content-Length");
    if (body.length > n) {
      if (!opts.datagram) throw bad("bytes after the body");
      body = body.subarray(0, n);
    }
  } else if (!opts.datagram) {
    throw bad("Content-Length is mandatory on stream transports");
  }

  let msg: SipMessage;
  if (startLine.startsWith(SIP_VERSION + " ")) {
    const m = /^SIP\/2\.0 ([1-6]\d\d) ([^\r\n]*)$/.exec(startLine);
    if (!m) throw bad("malformed status line");
    msg = { kind: "response", status: Number(m[1]), reason: decodeUtf8(m[2]!), headers, body: body.slice() };
  } else {
    const parts = startLine.split(" ");
    if (parts.length !== 3) throw bad("malformed request line");
    const [method, uri, version] = parts as [string, string, string];
    if (!TOKEN.test(method)) throw bad("the method is not a token");
    if (version !== SIP_VERSION) throw bad("unsupported SIP version");
    if (uri.length === 0 || uri.length > 1024 || !/^[\x21-\x7e]+$/.test(uri)) throw bad("malformed Request-URI");
    msg = { kind: "request", method, uri, headers, body: body.slice() };
  }
  checkMandatory(msg);
  return msg;
}

function checkMandatory(msg: SipMessage): void {
  for (const name of ["Via", "From", "To", "Call-ID", "CSeq"]) {
    if (!msg.headers.some((h) => h.name === name)) throw bad(`missing ${name}`);
  }
  for (const name of ["From", "To", "Call-ID", "CSeq"]) {
    if (msg.headers.filter((h) => h.name === name).length > 1) throw bad(`${name} appears more than once`);
  }
  const cseq = parseCSeq(header(msg, "CSeq")!);
  if (msg.kind === "request" && cseq.method !== msg.method) throw bad("CSeq method differs from the request method");
  const callId = header(msg, "Call-ID")!;
  if (callId.length === 0 || callId.length > 256 || !/^[\x21-\x7e]+$/.test(callId)) throw bad("malformed Call-ID");
}

export function parseCSeq(value: string): { seq: number; method: string } {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) throw bad("malformed CSeq");
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) throw bad("CSeq number out of range");
  return { seq, method: m[2]! };
}

export function serializeSipMessage(msg: SipMessage): Buffer {
  const start = msg.kind === "request" ? `${msg.method} ${msg.uri} ${SIP_VERSION}` : `${SIP_VERSION} ${msg.status} ${msg.reason}`;
  const lines = [start];
  for (const h of msg.headers) {
    if (h.name === "Content-Length") continue;
    if (/[\r\n]/.test(h.value)) throw bad(`header ${h.name} contains a line break`);
    lines.push(`${h.name}: ${h.value}`);
  }
  lines.push(`Content-Length: ${msg.body.length}`);
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "utf8");
  return Buffer.concat([head, msg.body]);
}

export function indexOfCrlfCrlf(data: Uint8Array, from: number): number {
  for (let i = from; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Header values may hold UTF-8 (display names, reason phrases); anything else is refused. */
function decodeUtf8(latin: string): string {
  // Pure ASCII stays as is; otherwise re-read the bytes as UTF-8, strictly.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(latin)) return latin;
  const bytes = Buffer.from(latin, "latin1");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw bad("a header is not valid UTF-8");
  }
}

/**
 * Splits a byte stream (TCP, TLS) into SIP messages (§18.3: Content-Length frames the body).
 * CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped. A malformed message makes
 * `push` throw; the connection must then be closed, since framing is lost.
 */
export class SipStreamParser {
  #buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): SipMessage[] {
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const out: SipMessage[] = [];
    for (;;) {
      let skip = 0;
      while (skip + 1 < this.#buffer.length && this.#buffer[skip] === 13 && this.#buffer[skip + 1] === 10) skip += 2;
      if (skip > 0) this.#buffer = this.#buffer.subarray(skip);
      const end = indexOfCrlfCrlf(this.#buffer, 0);
      if (end < 0) {
        if (this.#buffer.length > MAX_SIP_MESSAGE) throw new ConnectorError("SIP_MESSAGE_TOO_LARGE", "headers never end");
        return out;
      }
      const head = this.#buffer.subarray(0, end).toString("latin1");
      const m = /(?:^|\r\n)(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*(?:\r\n|$)/i.exec(head);
      if (!m) throw bad("Content-Length is mandatory on stream transports");
      const total = end + 4 + Number(m[1]);
      if (total > MAX_SIP_MESSAGE) throw new ConnectorError("SIP_MESSAGE_TOO_LARGE", `${total} bytes`);
      if (this.#buffer.length < total) return out;
      const one = this.#buffer.subarray(0, total);
      this.#buffer = this.#buffer.subarray(total);
      out.push(parseSipMessage(one, { datagram: false }));
    }
  }
}
