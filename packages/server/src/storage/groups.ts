/**
 * Groups of users. A user belongs to at most one group (users.group_id); deleting a group leaves
 * its members without a group and deletes its settings.
 */
import { randomUUID } from "node:crypto";
import { ServerError } from "../errors.js";
import type { Database } from "./database.js";
import { isSqliteError } from "./sqlite.js";

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly memberCount: number;
  readonly createdAt: number;
}

interface GroupRow {
  id: string;
  name: string;
  member_count: number;
  created_at: number;
}

const SELECT_GROUPS = `SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM users u WHERE u.group_id = g.id) AS member_count FROM groups g`;

function toGroup(row: GroupRow): Group {
  return { id: row.id, name: row.name, memberCount: row.member_count, createdAt: row.created_at };
}

export class GroupStore {
  readonly #db: Database;
  readonly #now: () => number;

  /** @internal Created by Database. */
  constructor(db: Database, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /** Throws GROUP_NAME_TAKEN (names are unique, ignoring ASCII case). */
  create(name: string): Group {
    const id = randomUUID();
    const createdAt = this.#now();
    try {
      this.#db.connection.prepare("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)").run(id, name, createdAt);
    } catch (e) {
      throw translateConstraint(e);
    }
    return { id, name, memberCount: 0, createdAt };
  }

  get(id: string): Group | undefined {
    const row = this.#db.connection.prepare<GroupRow>(`${SELECT_GROUPS} WHERE g.id = ?`).get(id);
    return row === undefined ? undefined : toGroup(row);
  }

  list(): Group[] {
    return this.#db.connection.prepare<GroupRow>(`${SELECT_GROUPS} ORDER BY g.name COLLATE NOCASE`).all().map(toGroup);
  }

  /** Throws GROUP_NOT_FOUND, GROUP_NAME_TAKEN. */
  rename(id: string, name: string): Group {
    let changed: number;
    try {
      changed = this.#db.connection.prepare("UPDATE groups SET name = ? WHERE id = ?").run(name, id).changes;
    } catch (e) {
      throw translateConstraint(e);
    }
    if (changed === 0) throw new ServerError("GROUP_NOT_FOUND");
    return this.get(id)!;
  }

  delete(id: string): boolean {
    return this.#db.connection.prepare("DELETE FROM groups WHERE id = ?").run(id).changes > 0;
  }
}

function translateConstraint(e: unknown): unknown {
  return isSqliteError(e, "SQLITE_CONSTRAINT_UNIQUE") ? new ServerError("GROUP_NAME_TAKEN") : e;
}
