/**
 * SIP URIs (RFC 3261 §19.1): `sip:user@host:port;params?headers` and `sips:`.
 *
 * Strict: the scheme is sip or sips, the host is a hostname, an IPv4 address or a bracketed IPv6
 * address, the port is 1..65535, and every part uses only the characters §25.1 allows. A
 * password in the userinfo is refused (RFC 3261 §19.1.1: NOT RECOMMENDED, and we never want a
 * secret in a URI that ends up in a log).
 */
import { isIP } from "node:net";
import { ConnectorError } from "../errors.js";

export interface SipUri {
  readonly scheme: "sip" | "sips";
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  /** URI parameters (lower-cased names); a value of null is a flag parameter such as `lr`. */
  readonly params: ReadonlyMap<string, string | null>;
  /** Header fields after "?" kept verbatim (we never act on them). */
  readonly headers: string | undefined;
}

const MAX_URI = 1024;
// unreserved / escaped / user-unreserved (RFC 3261 §25.1)
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
const PARAM = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HEADERS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$=&]|%[0-9A-Fa-f]{2})*$/;

function bad(detail: string): ConnectorError {
  return new ConnectorError("SIP_BAD_URI", detail);
}

export function parseSipUri(text: string): SipUri {
  if (typeof text !== "string" || text.length === 0) throw bad("empty");
  if (text.length > MAX_URI) throw bad("longer than 1024 characters");
  const colon = text.indexOf(":");
  const scheme = text.slice(0, colon).toLowerCase();
  if (colon < 0 || (scheme !== "sip" && scheme !== "sips")) throw bad("the scheme must be sip: or sips:");
  let rest = text.slice(colon + 1);
  let headers: string | undefined;
  const q = rest.indexOf("?");
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
    if (!HEADERS.test(headers)) throw bad("malformed headers part");
  }
  const at = rest.lastIndexOf("@");
  let user: string | undefined;
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user.length === 0 || !USER.test(user)) throw bad("malformed user part");
    if (user.includes(":")) throw bad("a password in the URI is not accepted");
  }
  const semi = rest.indexOf(";");
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const paramText = semi >= 0 ? rest.slice(semi + 1) : "";
  const { host, port } = parseHostPort(hostport);
  const params = new Map<string, string | null>();
  if (semi >= 0) {
    for (const p of paramText.split(";")) {
      const eq = p.indexOf("=");
      const name = (eq >= 0 ? p.slice(0, eq) : p).toLowerCase();
      const value = eq >= 0 ? p.slice(eq + 1) : null;
      if (!PARAM.test(name) || (value !== null && !PARAM.test(value))) throw bad("malformed parameter");
      // RFC 3261 §19.1.1 says a parameter appears once, but real devices (baresip) repeat
      // ";transport=tls" in what they dial: an identical repeat is accepted, a conflicting one not.
      if (params.has(name) && params.get(name) !== value) throw bad(`parameter ${name} appears twice with different values`);
      params.set(name, value);
    }
  }
  return { scheme, user, host, port, params, headers };
}

/** host[:port], where host is a name, IPv4, or [IPv6]. */
export function parseHostPort(text: string): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) throw bad("unterminated IPv6 reference");
    host = text.slice(1, end);
    if (isIP(host) !== 6) throw bad("malformed IPv6 address");
    const after = text.slice(end + 1);
    if (after !== "") {
      if (!after.startsWith(":")) throw bad("malformed host");
      portText = after.slice(1);
    }
  } else {
    const c = text.indexOf(":");
    host = c >= 0 ? text.slice(0, c) : text;
    portText = c >= 0 ? text.slice(c + 1) : undefined;
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw bad("malformed host");
    host = host.toLowerCase();
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw bad("malformed port");
    port = Number(portText);
    if (port < 1 || port > 65535) throw bad("port out of range");
  }
  return { host, port };
}

export function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

export function formatSipUri(uri: SipUri): string {
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) s += `${uri.user}@`;
  s += formatHost(uri.host);
  if (uri.port !== undefined) s += `:${uri.port}`;
  for (const [k, v] of uri.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  if (uri.headers !== undefined) s += `?${uri.headers}`;
  return s;
}

export function sipUri(parts: { scheme?: "sip" | "sips"; user?: string; host: string; port?: number; params?: Record<string, string | null> }): SipUri {
  return {
    scheme: parts.scheme ?? "sip",
    user: parts.user,
    host: parts.host,
    port: parts.port,
    params: new Map(Object.entries(parts.params ?? {})),
    headers: undefined,
  };
}
