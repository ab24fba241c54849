/**
 * Who a request's session cookie signs in, for requests that do not go through the HTTP API's
 * routes, such as the WebSocket upgrade on /ws. No CSRF check: use it for GET-like requests
 * only (a WebSocket upgrade is a GET; SameSite=Strict keeps the cookie off cross-site upgrades,
 * and the signaling layer should still check the Origin header).
 */
import type { IncomingMessage } from "node:http";
import type { Role } from "../accounts/roles.js";
import { SESSION_COOKIE, parseCookies } from "../http/cookies.js";
import type { SessionStore } from "../storage/sessions.js";
import { TOKEN_PATTERN } from "./tokens.js";

export interface SessionUser {
  readonly userId: string;
  readonly role: Role;
}

/** The signed-in user of `req`, or null (no cookie; unknown, expired or disabled user's session). */
export function userFromRequestWith(sessions: SessionStore, req: IncomingMessage): SessionUser | null {
  const sessionId = parseCookies(req.headers).get(SESSION_COOKIE);
  if (sessionId === undefined || !TOKEN_PATTERN.test(sessionId)) return null;
  const session = sessions.lookup(sessionId);
  return session === undefined ? null : { userId: session.userId, role: session.role };
}
