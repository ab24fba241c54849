/**
 * Parsers for the SIP header values the UA acts on (RFC 3261 §20, §25.1): name-addr (From, To,
 * Contact), Via, generic parameters, digest challenges and credentials, Session-Expires
 * (RFC 4028). Each returns a typed value or throws SIP_BAD_HEADER.
 */
import { ConnectorError } from "../errors.js";
import { parseHostPort, parseSipUri, formatSipUri, type SipUri } from "./uri.js";

export interface NameAddr {
  readonly displayName: string | undefined;
  readonly uri: SipUri;
  /** Header parameters (tag, expires, ...), lower-cased names. */
  readonly params: ReadonlyMap<string, string | null>;
}

export interface Via {
  readonly transport: "UDP" | "TCP" | "TLS" | "WS" | "WSS";
  readonly host: string;
  readonly port: number | undefined;
  readonly params: ReadonlyMap<string, string | null>;
}

function bad(what: string): ConnectorError {
  return new ConnectorError("SIP_BAD_HEADER", what);
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** `;name=value;flag` after the main part of a header. */
export function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  const t = text.trim();
  if (t === "") return params;
  if (!t.startsWith(";")) throw bad("parameters must start with ;");
  for (const raw of splitOutsideQuotes(t.slice(1), ";")) {
    const p = raw.trim();
    const eq = p.indexOf("=");
    const name = (eq >= 0 ? p.slice(0, eq) : p).trim().toLowerCase();
    let value: string | null = eq >= 0 ? p.slice(eq + 1).trim() : null;
    if (!TOKEN.test(name)) throw bad("malformed parameter name");
    if (value !== null) {
      if (value.startsWith('"')) value = unquote(value);
      else if (!/^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(value)) throw bad(`malformed value of parameter ${name}`);
    }
    if (params.has(name)) throw bad(`parameter ${name} appears twice`);
    params.set(name, value);
  }
  return params;
}

/** From, To, Contact: `"Name" <uri>;params`, `Name <uri>;params` or a bare `uri;params`. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  if (v.length === 0 || v.length > 2048) throw bad("empty or too long name-addr");
  let displayName: string | undefined;
  let uriText: string;
  let rest: string;
  const lt = findUnquoted(v, "<");
  if (lt >= 0) {
    const gt = v.indexOf(">", lt);
    if (gt < 0) throw bad("unterminated <");
    const name = v.slice(0, lt).trim();
    if (name.startsWith('"')) displayName = unquote(name);
    else if (name !== "") {
      if (!/^[A-Za-z0-9\-.!%*_+`'~ \u0080-\uffff]+$/u.test(name)) throw bad("malformed display name");
      displayName = name;
    }
    uriText = v.slice(lt + 1, gt);
    rest = v.slice(gt + 1);
  } else {
    // addr-spec without brackets: its parameters are header parameters (§20.10).
    const semi = v.indexOf(";");
    uriText = semi >= 0 ? v.slice(0, semi) : v;
    rest = semi >= 0 ? v.slice(semi) : "";
  }
  let uri: SipUri;
  try {
    uri = parseSipUri(uriText.trim());
  } catch (e) {
    throw bad(`name-addr URI: ${(e as Error).message}`);
  }
  return { displayName, uri, params: parseParams(rest) };
}

export function formatNameAddr(n: { displayName?: string | undefined; uri: SipUri | string; params?: ReadonlyMap<string, string | null> | Record<string, string | null> }): string {
  const uri = typeof n.uri === "string" ? n.uri : formatSipUri(n.uri);
  let s = n.displayName ? `${quote(n.displayName)} <${uri}>` : `<${uri}>`;
  const params = n.params instanceof Map ? n.params : new Map(Object.entries(n.params ?? {}));
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** One Via value: `SIP/2.0/TLS host:port;branch=z9hG4bK...;rport`. */
export function parseVia(value: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^\s;]+)\s*(;.*)?$/.exec(value.trim());
  if (!m) throw bad("malformed Via");
  const transport = m[1]!.toUpperCase();
  if (!["UDP", "TCP", "TLS", "WS", "WSS"].includes(transport)) throw bad("unknown Via transport");
  let hp;
  try {
    hp = parseHostPort(m[2]!);
  } catch (e) {
    throw bad(`Via host: ${(e as Error).message}`);
  }
  return { transport: transport as Via["transport"], host: hp.host, port: hp.port, params: parseParams(m[3] ?? "") };
}

export interface DigestParams {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

/** WWW-Authenticate, Proxy-Authenticate, Authorization: `Digest realm="x", nonce="y", ...`. */
export function parseAuthHeader(value: string): DigestParams {
  const v = value.trim();
  const sp = v.search(/\s/);
  if (sp <= 0) throw bad("malformed authentication header");
  const scheme = v.slice(0, sp);
  if (!TOKEN.test(scheme)) throw bad("malformed authentication scheme");
  const params = new Map<string, string>();
  for (const raw of splitOutsideQuotes(v.slice(sp + 1), ",")) {
    const p = raw.trim();
    if (p === "") continue;
    const eq = p.indexOf("=");
    if (eq <= 0) throw bad("malformed authentication parameter");
    const name = p.slice(0, eq).trim().toLowerCase();
    const val = p.slice(eq + 1).trim();
    if (!TOKEN.test(name)) throw bad("malformed authentication parameter name");
    if (params.has(name)) throw bad(`authentication parameter ${name} appears twice`);
    params.set(name, val.startsWith('"') ? unquote(val) : val);
  }
  return { scheme, params };
}

/** RFC 4028 §4: `Session-Expires: 1800;refresher=uac`. */
export function parseSessionExpires(value: string): { seconds: number; refresher: "uac" | "uas" | undefined } {
  const m = /^(\d{1,10})\s*(;.*)?$/.exec(value.trim());
  if (!m) throw bad("malformed Session-Expires");
  const params = parseParams(m[2] ?? "");
  const r = params.get("refresher");
  if (r !== undefined && r !== "uac" && r !== "uas") throw bad("malformed refresher");
  return { seconds: Number(m[1]), refresher: r ?? undefined };
}

export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function unquote(s: string): string {
  if (!s.startsWith('"') || !s.endsWith('"') || s.length < 2) throw bad("malformed quoted string");
  let out = "";
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i]!;
    if (c === "\\") {
      i++;
      if (i >= s.length - 1) throw bad("dangling escape in quoted string");
      out += s[i];
    } else if (c === '"') {
      throw bad("unescaped quote inside quoted string");
    } else {
      out += c;
    }
  }
  return out;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw bad("unterminated quoted string");
  out.push(text.slice(start));
  return out;
}

function findUnquoted(text: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ch) return i;
  }
  return -1;
}
