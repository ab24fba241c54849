/**
 * HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 7616 with SHA-256 as RFC 8760 allows,
 * qop=auth), both ways: the UAS challenges and verifies devices configured with an account, and
 * the UAC answers a challenge when a device (or its proxy) asks the connector to authenticate.
 *
 * Nonces are stateless: base64url(expiry || HMAC-SHA-256(secret, expiry || realm)), so a restart
 * or a second process cannot accept another one's nonce, and an old one is answered `stale=true`.
 * Responses are compared in constant time. Passwords never reach a log or an error.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { parseAuthHeader, quote } from "./headers.js";

export type DigestAlgorithm = "MD5" | "SHA-256";

export interface DigestAccount {
  readonly username: string;
  readonly password: string;
}

const NONCE_LIFETIME_MS = 5 * 60_000;

function h(alg: DigestAlgorithm, s: string): string {
  return createHash(alg === "MD5" ? "md5" : "sha256").update(s, "utf8").digest("hex");
}

/** RFC 7616 §3.4.1 with qop=auth. */
export function digestResponse(alg: DigestAlgorithm, p: { username: string; realm: string; password: string; method: string; uri: string; nonce: string; nc: string; cnonce: string }): string {
  const ha1 = h(alg, `${p.username}:${p.realm}:${p.password}`);
  const ha2 = h(alg, `${p.method}:${p.uri}`);
  return h(alg, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
}

export class DigestServer {
  readonly realm: string;
  readonly #secret = randomBytes(32);
  readonly #accounts: ReadonlyMap<string, string>;

  constructor(realm: string, accounts: readonly DigestAccount[]) {
    this.realm = realm;
    this.#accounts = new Map(accounts.map((a) => [a.username, a.password]));
  }

  hasAccount(username: string | undefined): boolean {
    return username !== undefined && this.#accounts.has(username);
  }

  /** A WWW-Authenticate value (one per algorithm is offered by the caller). */
  challenge(alg: DigestAlgorithm = "SHA-256", stale = false): string {
    const expiry = Buffer.alloc(8);
    expiry.writeBigUInt64BE(BigInt(Date.now() + NONCE_LIFETIME_MS));
    const mac = createHmac("sha256", this.#secret).update(expiry).update(this.realm).digest();
    const nonce = Buffer.concat([expiry, mac]).toString("base64url");
    return `Digest realm=${quote(this.realm)}, nonce=${quote(nonce)}, algorithm=${alg}, qop="auth"${stale ? ", stale=true" : ""}`;
  }

  /**
   * Checks an Authorization header for `method`. Returns the authenticated username, "stale"
   * (a valid response for an expired nonce: challenge again with stale=true), or null.
   */
  verify(authorization: string | undefined, method: string): string | "stale" | null {
    if (authorization === undefined) return null;
    let parsed;
    try {
      parsed = parseAuthHeader(authorization);
    } catch {
      return null;
    }
    if (parsed.scheme.toLowerCase() !== "digest") return null;
    const p = parsed.params;
    const username = p.get("username");
    const realm = p.get("realm");
    const nonce = p.get("nonce");
    const uri = p.get("uri");
    const response = p.get("response");
    const alg = (p.get("algorithm") ?? "MD5").toUpperCase();
    const qop = p.get("qop");
    const nc = p.get("nc");
    const cnonce = p.get("cnonce");
    if (!username || realm !== this.realm || !nonce || !uri || !response || qop !== "auth" || !nc || !cnonce) return null;
    if (alg !== "MD5" && alg !== "SHA-256") return null;
    const password = this.#accounts.get(username);
    if (password === undefined) return null;
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== 40) return null;
    const expiry = raw.subarray(0, 8);
    const mac = createHmac("sha256", this.#secret).update(expiry).update(this.realm).digest();
    if (!timingSafeEqual(mac, raw.subarray(8))) return null;
    const expected = Buffer.from(digestResponse(alg, { username, realm, password, method, uri, nonce, nc, cnonce }), "utf8");
    const got = Buffer.from(response.toLowerCase(), "utf8");
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) return null;
    if (Number(expiry.readBigUInt64BE()) < Date.now()) return "stale";
    return username;
  }
}

/** The Authorization (or Proxy-Authorization) value answering a challenge. */
export function answerChallenge(challenge: string, account: DigestAccount, method: string, uri: string): string | null {
  let parsed;
  try {
    parsed = parseAuthHeader(challenge);
  } catch {
    return null;
  }
  if (parsed.scheme.toLowerCase() !== "digest") return null;
  const realm = parsed.params.get("realm");
  const nonce = parsed.params.get("nonce");
  const alg = (parsed.params.get("algorithm") ?? "MD5").toUpperCase();
  const qops = (parsed.params.get("qop") ?? "").split(",").map((q) => q.trim());
  if (realm === undefined || nonce === undefined || (alg !== "MD5" && alg !== "SHA-256")) return null;
  const opaque = parsed.params.get("opaque");
  if (!qops.includes("auth")) {
    // RFC 2069 compatibility (no qop): response = H(HA1:nonce:HA2).
    const ha1 = h(alg, `${account.username}:${realm}:${account.password}`);
    const response = h(alg, `${ha1}:${nonce}:${h(alg, `${method}:${uri}`)}`);
    return `Digest username=${quote(account.username)}, realm=${quote(realm)}, nonce=${quote(nonce)}, uri=${quote(uri)}, response=${quote(response)}, algorithm=${alg}${opaque !== undefined ? `, opaque=${quote(opaque)}` : ""}`;
  }
  const cnonce = randomBytes(12).toString("hex");
  const nc = "00000001";
  const response = digestResponse(alg, { username: account.username, realm, password: account.password, method, uri, nonce, nc, cnonce });
  return (
    `Digest username=${quote(account.username)}, realm=${quote(realm)}, nonce=${quote(nonce)}, uri=${quote(uri)}, ` +
    `response=${quote(response)}, algorithm=${alg}, qop=auth, nc=${nc}, cnonce=${quote(cnonce)}${opaque !== undefined ? `, opaque=${quote(opaque)}` : ""}`
  );
}
