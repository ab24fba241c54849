/**
 * The two cookies of a sign-in session:
 * - `conclave_session`: the session id. HttpOnly (scripts cannot read it), Secure, SameSite=Strict
 *   (browsers do not send it on cross-site requests), Path=/.
 * - `conclave_csrf`: the session's CSRF token, readable by the web app's scripts, which echo it in
 *   the X-CSRF-Token header of every state-changing request (double submit). Another site can
 *   neither read it nor set the header on a request to this origin.
 * Both last at most the session's absolute lifetime; the server enforces the idle timeout itself.
 */
import type { IncomingHttpHeaders } from "node:http";
import { SESSION_ABSOLUTE_MS } from "../storage/sessions.js";

export const SESSION_COOKIE = "conclave_session";
export const CSRF_COOKIE = "conclave_csrf";
export const CSRF_HEADER = "x-csrf-token";

/** Cookie values as sent; the first of several cookies with one name wins. Values are not decoded. */
export function parseCookies(headers: IncomingHttpHeaders): Map<string, string> {
  const out = new Map<string, string>();
  const header = headers.cookie;
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== "" && !out.has(name)) out.set(name, value);
  }
  return out;
}

function cookie(name: string, value: string, options: { httpOnly: boolean; maxAgeSeconds: number }): string {
  const attributes = [`${name}=${value}`, "Path=/", `Max-Age=${options.maxAgeSeconds}`, "Secure", "SameSite=Strict"];
  if (options.httpOnly) attributes.push("HttpOnly");
  return attributes.join("; ");
}

/** Set-Cookie values that start a session. Tokens are base64url, safe in a cookie value as is. */
export function sessionCookies(sessionId: string, csrfToken: string): string[] {
  const maxAgeSeconds = Math.floor(SESSION_ABSOLUTE_MS / 1000);
  return [
    cookie(SESSION_COOKIE, sessionId, { httpOnly: true, maxAgeSeconds }),
    cookie(CSRF_COOKIE, csrfToken, { httpOnly: false, maxAgeSeconds }),
  ];
}

/** Set-Cookie values that make the browser drop both session cookies. */
export function clearedSessionCookies(): string[] {
  return [cookie(SESSION_COOKIE, "", { httpOnly: true, maxAgeSeconds: 0 }), cookie(CSRF_COOKIE, "", { httpOnly: false, maxAgeSeconds: 0 })];
}
