/**
 * User accounts as stored: email (normalised), display name, role, password hash, group and
 * whether the account is disabled. Password hashes never leave this module except through
 * passwordHashOf, for verification.
 */
import { randomUUID } from "node:crypto";
import type { Role } from "../accounts/roles.js";
import { ServerError } from "../errors.js";
import type { Database } from "./database.js";
import { isSqliteError } from "./sqlite.js";

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly groupId: string | null;
  readonly disabled: boolean;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface NewUser {
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly groupId?: string | null;
}

export interface UserChanges {
  readonly name?: string;
  readonly role?: Role;
  readonly groupId?: string | null;
  readonly disabled?: boolean;
}

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  group_id: string | null;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Emails compare without surrounding spaces and case (the domain is case-insensitive; local parts almost always are). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    groupId: row.group_id,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class UserStore {
  readonly #db: Database;
  readonly #now: () => number;

  /** @internal Created by Database. */
  constructor(db: Database, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  count(): number {
    return this.#db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM users").get()?.n ?? 0;
  }

  /** Throws EMAIL_TAKEN if the email is in use, GROUP_NOT_FOUND for an unknown group. */
  create(user: NewUser): User {
    const now = this.#now();
    const row: UserRow = {
      id: randomUUID(),
      email: normalizeEmail(user.email),
      name: user.name,
      role: user.role,
      password_hash: user.passwordHash,
      group_id: user.groupId ?? null,
      disabled_at: null,
      created_at: now,
      updated_at: now,
    };
    try {
      this.#db.connection
        .prepare(
          `INSERT INTO users (id, email, name, role, password_hash, group_id, disabled_at, created_at, updated_at)
           VALUES (@id, @email, @name, @role, @password_hash, @group_id, @disabled_at, @created_at, @updated_at)`,
        )
        .run(row);
    } catch (e) {
      throw translateConstraint(e);
    }
    return toUser(row);
  }

  /**
   * Create the owner if there is no user yet, atomically; undefined if someone already exists
   * (two concurrent set-ups: exactly one wins).
   */
  createOwnerIfNone(user: Omit<NewUser, "role" | "groupId">): User | undefined {
    return this.#db.connection.transaction(() => (this.count() === 0 ? this.create({ ...user, role: "owner" }) : undefined))();
  }

  get(id: string): User | undefined {
    const row = this.#db.connection.prepare<UserRow>("SELECT * FROM users WHERE id = ?").get(id);
    return row === undefined ? undefined : toUser(row);
  }

  getByEmail(email: string): User | undefined {
    const row = this.#db.connection.prepare<UserRow>("SELECT * FROM users WHERE email = ?").get(normalizeEmail(email));
    return row === undefined ? undefined : toUser(row);
  }

  /** The stored password hash, for verification only. */
  passwordHashOf(id: string): string | undefined {
    return this.#db.connection.prepare<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = ?").get(id)
      ?.password_hash;
  }

  /** Owner first, then by name. */
  list(options: { groupId?: string } = {}): User[] {
    const where = options.groupId !== undefined ? "WHERE group_id = ?" : "";
    const params = options.groupId !== undefined ? [options.groupId] : [];
    return this.#db.connection
      .prepare<UserRow>(
        `SELECT * FROM users ${where} ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, name, email`,
      )
      .all(...params)
      .map(toUser);
  }

  /** Throws USER_NOT_FOUND, GROUP_NOT_FOUND. Returns the user as stored afterwards. */
  update(id: string, changes: UserChanges): User {
    const db = this.#db.connection;
    const sets: string[] = [];
    const params: Record<string, unknown> = { id, updated_at: this.#now() };
    if (changes.name !== undefined) {
      sets.push("name = @name");
      params.name = changes.name;
    }
    if (changes.role !== undefined) {
      sets.push("role = @role");
      params.role = changes.role;
    }
    if (changes.groupId !== undefined) {
      sets.push("group_id = @group_id");
      params.group_id = changes.groupId;
    }
    if (changes.disabled !== undefined) {
      // Keep the first disable time when disabling twice.
      sets.push(changes.disabled ? "disabled_at = coalesce(disabled_at, @updated_at)" : "disabled_at = NULL");
    }
    sets.push("updated_at = @updated_at");
    let changed: number;
    try {
      changed = db.prepare(`UPDATE users SET ${sets.join(", ")} WHERE id = @id`).run(params).changes;
    } catch (e) {
      throw translateConstraint(e);
    }
    if (changed === 0) throw new ServerError("USER_NOT_FOUND");
    return this.get(id)!;
  }

  setPasswordHash(id: string, passwordHash: string): void {
    const changed = this.#db.connection
      .prepare("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
      .run(passwordHash, this.#now(), id).changes;
    if (changed === 0) throw new ServerError("USER_NOT_FOUND");
  }

  /**
   * Deletes the user with their sessions, settings and meetings (foreign keys cascade); the
   * meetings' data keys go with them (a trigger: crypto-shredding), and cached copies are wiped.
   */
  delete(id: string): boolean {
    const db = this.#db.connection;
    const meetings = db.prepare<{ id: string }>("SELECT id FROM meetings WHERE owner_user_id = ?").all(id);
    const deleted = db.prepare("DELETE FROM users WHERE id = ?").run(id).changes > 0;
    if (deleted && this.#db.hasKeys) {
      for (const m of meetings) void this.#db.keys.forget({ kind: "meeting", id: m.id }, "server").catch(() => {});
    }
    return deleted;
  }
}

function translateConstraint(e: unknown): unknown {
  if (isSqliteError(e, "SQLITE_CONSTRAINT_UNIQUE")) {
    return /users\.role/.test(e.message) ? new ServerError("OWNER_PROTECTED", "there is already an owner") : new ServerError("EMAIL_TAKEN");
  }
  if (isSqliteError(e, "SQLITE_CONSTRAINT_FOREIGNKEY")) return new ServerError("GROUP_NOT_FOUND");
  return e;
}
