/**
 * Invitations: an admin invites an email address with a role; the invitee gets a one-time token
 * (returned once to the admin, who passes it on) and accepts it by choosing a name and password.
 * Only the token's SHA-256 is stored. A token works once, and for 7 days.
 */
import { randomUUID } from "node:crypto";
import type { AssignableRole } from "../accounts/roles.js";
import { newToken, tokenHash } from "../auth/tokens.js";
import { ServerError } from "../errors.js";
import type { Database } from "./database.js";
import { isSqliteError } from "./sqlite.js";
import { normalizeEmail, type User, type UserStore } from "./users.js";

export const INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export interface Invitation {
  readonly id: string;
  readonly email: string;
  readonly role: AssignableRole;
  readonly groupId: string | null;
  readonly invitedBy: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

interface InvitationRow {
  id: string;
  token_hash: string;
  email: string;
  role: AssignableRole;
  group_id: string | null;
  invited_by: string | null;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
}

function toInvitation(row: InvitationRow): Invitation {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    groupId: row.group_id,
    invitedBy: row.invited_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export class InvitationStore {
  readonly #db: Database;
  readonly #users: UserStore;
  readonly #now: () => number;

  /** @internal Created by Database. */
  constructor(db: Database, users: UserStore, now: () => number) {
    this.#db = db;
    this.#users = users;
    this.#now = now;
  }

  /** Throws EMAIL_TAKEN if an account has this email, GROUP_NOT_FOUND for an unknown group. */
  create(options: { email: string; role: AssignableRole; groupId?: string | null; invitedBy: string | null }): {
    invitation: Invitation;
    token: string;
  } {
    const email = normalizeEmail(options.email);
    if (this.#users.getByEmail(email) !== undefined) throw new ServerError("EMAIL_TAKEN");
    const now = this.#now();
    const token = newToken();
    const row: InvitationRow = {
      id: randomUUID(),
      token_hash: tokenHash(token),
      email,
      role: options.role,
      group_id: options.groupId ?? null,
      invited_by: options.invitedBy,
      created_at: now,
      expires_at: now + INVITATION_LIFETIME_MS,
      accepted_at: null,
    };
    try {
      this.#db.connection
        .prepare(
          `INSERT INTO invitations (id, token_hash, email, role, group_id, invited_by, created_at, expires_at, accepted_at)
           VALUES (@id, @token_hash, @email, @role, @group_id, @invited_by, @created_at, @expires_at, @accepted_at)`,
        )
        .run(row);
    } catch (e) {
      if (isSqliteError(e, "SQLITE_CONSTRAINT_FOREIGNKEY")) throw new ServerError("GROUP_NOT_FOUND");
      throw e;
    }
    return { invitation: toInvitation(row), token };
  }

  /** Pending invitations (not accepted, not expired), newest first. */
  listPending(): Invitation[] {
    return this.#db.connection
      .prepare<InvitationRow>("SELECT * FROM invitations WHERE accepted_at IS NULL AND expires_at > ? ORDER BY created_at DESC")
      .all(this.#now())
      .map(toInvitation);
  }

  /** The pending invitation for `token`, if it is valid now (unused, unexpired). */
  find(token: string): Invitation | undefined {
    const row = this.#db.connection
      .prepare<InvitationRow>("SELECT * FROM invitations WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?")
      .get(tokenHash(token), this.#now());
    return row === undefined ? undefined : toInvitation(row);
  }

  /** Withdraw an invitation. */
  delete(id: string): boolean {
    return this.#db.connection.prepare("DELETE FROM invitations WHERE id = ? AND accepted_at IS NULL").run(id).changes > 0;
  }

  /**
   * Use the invitation `token` to create its user, atomically: the token is spent and the user
   * created together, or neither. Throws INVITATION_INVALID (unknown, expired, used) or EMAIL_TAKEN.
   */
  accept(token: string, user: { name: string; passwordHash: string }): User {
    const db = this.#db.connection;
    return db.transaction(() => {
      const now = this.#now();
      const row = db
        .prepare<InvitationRow>("SELECT * FROM invitations WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?")
        .get(tokenHash(token), now);
      if (row === undefined) throw new ServerError("INVITATION_INVALID");
      db.prepare("UPDATE invitations SET accepted_at = ? WHERE id = ?").run(now, row.id);
      // The group may have been deleted since (group_id is then NULL).
      return this.#users.create({ email: row.email, name: user.name, role: row.role, passwordHash: user.passwordHash, groupId: row.group_id });
    })();
  }
}
