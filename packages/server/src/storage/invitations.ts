/**
 * Invitations: an admin invites an email address with a role; the invitee gets a one-time token
 * (returned once to the admin, who passes it on) and accepts it by choosing a name and password.
 * Only the token's SHA-256 is stored. A token works once, and for 7 days.
 *
 * The invitation's contents (the email address) are sealed under the invitation's own data key
 * (storage/sealed.ts); once accepted or withdrawn, the contents and the key are destroyed.
 */
import { randomUUID } from "node:crypto";
import type { AssignableRole } from "../accounts/roles.js";
import { newToken, tokenHash } from "../auth/tokens.js";
import { ServerError } from "../errors.js";
import type { Database } from "./database.js";
import { SERVER_PRINCIPAL, openJson, sealJson, stringOrNull, type Principal } from "./sealed.js";
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
  sealed?: Buffer | null;
}

const CONTENTS_FIELD = "contents";

export function invitationRef(id: string): { kind: "invitation"; id: string } {
  return { kind: "invitation", id };
}

function toInvitation(row: InvitationRow, email: string): Invitation {
  return {
    id: row.id,
    email,
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

  /** Throws EMAIL_TAKEN if an account has this email, GROUP_NOT_FOUND for an unknown group, KMS_UNAVAILABLE. */
  async create(
    options: { email: string; role: AssignableRole; groupId?: string | null; invitedBy: string | null },
    by: Principal = SERVER_PRINCIPAL,
  ): Promise<{ invitation: Invitation; token: string }> {
    const email = normalizeEmail(options.email);
    if (this.#users.getByEmail(email) !== undefined) throw new ServerError("EMAIL_TAKEN");
    const now = this.#now();
    const token = newToken();
    const id = randomUUID();
    const sealed = await sealJson(this.#db, invitationRef(id), CONTENTS_FIELD, { email }, by);
    const row: InvitationRow = {
      id,
      token_hash: tokenHash(token),
      // The address lives only in `sealed`; the NOT NULL column keeps an empty string.
      email: "",
      role: options.role,
      group_id: options.groupId ?? null,
      invited_by: options.invitedBy,
      created_at: now,
      expires_at: now + INVITATION_LIFETIME_MS,
      accepted_at: null,
      sealed,
    };
    try {
      this.#db.connection
        .prepare(
          `INSERT INTO invitations (id, token_hash, email, role, group_id, invited_by, created_at, expires_at, accepted_at, sealed)
           VALUES (@id, @token_hash, @email, @role, @group_id, @invited_by, @created_at, @expires_at, @accepted_at, @sealed)`,
        )
        .run(row);
    } catch (e) {
      this.#db.connection.prepare("DELETE FROM data_keys WHERE object_kind = 'invitation' AND object_id = ?").run(id);
      if (isSqliteError(e, "SQLITE_CONSTRAINT_FOREIGNKEY")) throw new ServerError("GROUP_NOT_FOUND");
      throw e;
    }
    return { invitation: toInvitation(row, email), token };
  }

  async #unseal(row: InvitationRow, by: Principal): Promise<Invitation> {
    // A clear `email` remains only in rows the migration (storage/seal-migration.ts) has not reached yet.
    if (row.sealed === null || row.sealed === undefined) return toInvitation(row, row.email);
    const contents = await openJson(this.#db, invitationRef(row.id), CONTENTS_FIELD, row.sealed, by);
    return toInvitation(row, stringOrNull(contents.email) ?? "");
  }

  /** Pending invitations (not accepted, not expired), newest first. */
  async listPending(by: Principal = SERVER_PRINCIPAL): Promise<Invitation[]> {
    const rows = this.#db.connection
      .prepare<InvitationRow>("SELECT * FROM invitations WHERE accepted_at IS NULL AND expires_at > ? ORDER BY created_at DESC")
      .all(this.#now());
    return Promise.all(rows.map((r) => this.#unseal(r, by)));
  }

  /** The pending invitation for `token`, if it is valid now (unused, unexpired). */
  async find(token: string, by: Principal = "invitee"): Promise<Invitation | undefined> {
    const row = this.#findRow(token);
    return row === undefined ? undefined : this.#unseal(row, by);
  }

  /** True if `token` names a pending invitation (no KMS needed). */
  isPending(token: string): boolean {
    return this.#findRow(token) !== undefined;
  }

  #findRow(token: string): InvitationRow | undefined {
    return this.#db.connection
      .prepare<InvitationRow>("SELECT * FROM invitations WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?")
      .get(tokenHash(token), this.#now());
  }

  /** Withdraw an invitation; its data key goes with it (crypto-shredding). */
  async delete(id: string, by: Principal = SERVER_PRINCIPAL): Promise<boolean> {
    const deleted = this.#db.connection.prepare("DELETE FROM invitations WHERE id = ? AND accepted_at IS NULL").run(id).changes > 0;
    if (deleted && this.#db.hasKeys) await this.#db.keys.forget(invitationRef(id), by);
    return deleted;
  }

  /**
   * Use the invitation `token` to create its user, atomically: the token is spent and the user
   * created together, or neither. Throws INVITATION_INVALID (unknown, expired, used) or EMAIL_TAKEN.
   */
  async accept(token: string, user: { name: string; passwordHash: string }): Promise<User> {
    const pending = this.#findRow(token);
    if (pending === undefined) throw new ServerError("INVITATION_INVALID");
    const { email } = await this.#unseal(pending, "invitee");
    const db = this.#db.connection;
    const created = db.transaction(() => {
      const now = this.#now();
      const row = db
        .prepare<InvitationRow>("SELECT * FROM invitations WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?")
        .get(tokenHash(token), now);
      if (row === undefined || row.id !== pending.id) throw new ServerError("INVITATION_INVALID");
      // The contents have served their purpose: destroy them and their key with the acceptance.
      db.prepare("UPDATE invitations SET accepted_at = ?, email = '', sealed = NULL WHERE id = ?").run(now, row.id);
      db.prepare("DELETE FROM data_keys WHERE object_kind = 'invitation' AND object_id = ?").run(row.id);
      // The group may have been deleted since (group_id is then NULL).
      return this.#users.create({ email, name: user.name, role: row.role, passwordHash: user.passwordHash, groupId: row.group_id });
    })();
    if (this.#db.hasKeys) await this.#db.keys.forget(invitationRef(pending.id), "invitee");
    return created;
  }
}
