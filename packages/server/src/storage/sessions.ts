/**
 * Sign-in sessions. The session id and its CSRF token are random 256-bit tokens handed to the
 * browser in cookies; only their SHA-256 is stored, so the database alone cannot be replayed as
 * a session. A session ends at the first of:
 * - 12 hours after sign-in (absolute lifetime),
 * - 2 hours without a request (idle timeout),
 * - sign-out, sign-out everywhere, a password change, or the user being disabled or deleted.
 */
import { constantTimeEqual, newToken, tokenHash } from "../auth/tokens.js";
import type { Role } from "../accounts/roles.js";
import type { Database } from "./database.js";

export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
export const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;
/** last_seen_at is written at most this often per session, not on every request. */
const TOUCH_INTERVAL_MS = 60 * 1000;

export interface NewSession {
  /** For the `conclave_session` cookie; returned once, never stored. */
  readonly sessionId: string;
  /** For the `conclave_csrf` cookie and the X-CSRF-Token header; returned once, never stored. */
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/** A live session and its signed-in user (enabled). */
export interface SessionInfo {
  readonly idHash: string;
  readonly userId: string;
  readonly role: Role;
  readonly groupId: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly csrfHash: string;
}

interface SessionRow {
  id_hash: string;
  user_id: string;
  csrf_hash: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  role: Role;
  group_id: string | null;
  disabled_at: number | null;
}

export class SessionStore {
  readonly #db: Database;
  readonly #now: () => number;

  /** @internal Created by Database. */
  constructor(db: Database, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  create(userId: string): NewSession {
    const now = this.#now();
    const sessionId = newToken();
    const csrfToken = newToken();
    const expiresAt = now + SESSION_ABSOLUTE_MS;
    this.#db.connection
      .prepare("INSERT INTO sessions (id_hash, user_id, csrf_hash, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(tokenHash(sessionId), userId, tokenHash(csrfToken), now, now, expiresAt);
    this.deleteExpired();
    return { sessionId, csrfToken, expiresAt };
  }

  /**
   * The live session for a session id, refreshing its idle timer; undefined for an unknown,
   * expired (absolute or idle) or disabled user's session. Expired rows are deleted.
   */
  lookup(sessionId: string): SessionInfo | undefined {
    const db = this.#db.connection;
    const idHash = tokenHash(sessionId);
    const row = db
      .prepare<SessionRow>(
        `SELECT s.*, u.role, u.group_id, u.disabled_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
      )
      .get(idHash);
    if (row === undefined) return undefined;
    const now = this.#now();
    if (now >= row.expires_at || now - row.last_seen_at >= SESSION_IDLE_MS) {
      db.prepare("DELETE FROM sessions WHERE id_hash = ?").run(idHash);
      return undefined;
    }
    if (row.disabled_at !== null) return undefined;
    if (now - row.last_seen_at >= TOUCH_INTERVAL_MS) {
      db.prepare("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?").run(now, idHash);
    }
    return {
      idHash,
      userId: row.user_id,
      role: row.role,
      groupId: row.group_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      csrfHash: row.csrf_hash,
    };
  }

  /** True if `csrfToken` is the one issued with this session (constant time). */
  static csrfMatches(session: SessionInfo, csrfToken: string): boolean {
    return constantTimeEqual(tokenHash(csrfToken), session.csrfHash);
  }

  /** Sign out one session. */
  delete(idHash: string): void {
    this.#db.connection.prepare("DELETE FROM sessions WHERE id_hash = ?").run(idHash);
  }

  /** Sign out everywhere: returns how many sessions ended. */
  deleteAllForUser(userId: string, options: { except?: string } = {}): number {
    const db = this.#db.connection;
    return options.except === undefined
      ? db.prepare("DELETE FROM sessions WHERE user_id = ?").run(userId).changes
      : db.prepare("DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?").run(userId, options.except).changes;
  }

  countForUser(userId: string): number {
    return this.#db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ?").get(userId)?.n ?? 0;
  }

  deleteExpired(): number {
    const now = this.#now();
    return this.#db.connection
      .prepare("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?")
      .run(now, now - SESSION_IDLE_MS).changes;
  }
}
