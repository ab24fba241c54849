/**
 * Stored settings per level: the account (one row per key), each group, each user. A row holds
 * the value set at that level (JSON; NULL: not set) and, for account and group, whether the
 * level locks the key. The rules that combine levels are in settings/resolve.ts; the rules for
 * who may write what are in settings/levels.ts.
 */
import { isSettingKey, isValidSettingValue, type SettingKey, type SettingValue } from "../settings/catalog.js";
import type { LevelSetting, StoredLevels } from "../settings/resolve.js";
import type { Database } from "./database.js";

export type StoredLevel = Partial<Record<SettingKey, LevelSetting>>;
export type StoredUserLevel = Partial<Record<SettingKey, { value?: SettingValue }>>;

/** A change to one key at one level: value null clears it; an absent field stays as it is. */
export interface SettingChange {
  readonly value?: SettingValue | null;
  readonly locked?: boolean;
}
export type LevelChanges = Partial<Record<SettingKey, SettingChange>>;

interface SettingRow {
  key: string;
  value: string | null;
  locked: number;
}

/** Rows for keys no longer in the table, or values that no longer fit it, are ignored. */
function toLevel(rows: readonly SettingRow[]): StoredLevel {
  const out: StoredLevel = {};
  for (const row of rows) {
    if (!isSettingKey(row.key)) continue;
    const value = row.value === null ? undefined : parseValue(row.key, row.value);
    out[row.key] = { ...(value !== undefined ? { value } : {}), ...(row.locked === 1 ? { locked: true } : {}) };
  }
  return out;
}

function parseValue(key: SettingKey, text: string): SettingValue | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isValidSettingValue(key, value) ? value : undefined;
}

export class SettingsStore {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #listeners = new Set<() => void>();

  /** @internal Created by Database. */
  constructor(db: Database, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Calls `listener` after every write at any level (live meetings re-resolve their features).
   * Returns the function that stops it.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const l of [...this.#listeners]) l();
  }

  account(): StoredLevel {
    return toLevel(this.#db.connection.prepare<SettingRow>("SELECT key, value, locked FROM account_settings").all());
  }

  group(groupId: string): StoredLevel {
    return toLevel(this.#db.connection.prepare<SettingRow>("SELECT key, value, locked FROM group_settings WHERE group_id = ?").all(groupId));
  }

  user(userId: string): StoredUserLevel {
    const rows = this.#db.connection.prepare<SettingRow>("SELECT key, value, 0 AS locked FROM user_settings WHERE user_id = ?").all(userId);
    return toLevel(rows) as StoredUserLevel;
  }

  /** The three levels that apply to a user (no group level if they are in no group). */
  levelsFor(user: { readonly id: string; readonly groupId: string | null }): StoredLevels {
    return {
      account: this.account(),
      ...(user.groupId !== null ? { group: this.group(user.groupId) } : {}),
      user: this.user(user.id),
    };
  }

  writeAccount(changes: LevelChanges): void {
    const db = this.#db.connection;
    const current = this.account();
    db.transaction(() => {
      for (const [key, next] of merged(current, changes)) {
        if (next === undefined) db.prepare("DELETE FROM account_settings WHERE key = ?").run(key);
        else
          db.prepare(
            "INSERT INTO account_settings (key, value, locked, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, locked = excluded.locked, updated_at = excluded.updated_at",
          ).run(key, next.value, next.locked, this.#now());
      }
    })();
    this.#changed();
  }

  writeGroup(groupId: string, changes: LevelChanges): void {
    const db = this.#db.connection;
    const current = this.group(groupId);
    db.transaction(() => {
      for (const [key, next] of merged(current, changes)) {
        if (next === undefined) db.prepare("DELETE FROM group_settings WHERE group_id = ? AND key = ?").run(groupId, key);
        else
          db.prepare(
            "INSERT INTO group_settings (group_id, key, value, locked, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, key) DO UPDATE SET value = excluded.value, locked = excluded.locked, updated_at = excluded.updated_at",
          ).run(groupId, key, next.value, next.locked, this.#now());
      }
    })();
    this.#changed();
  }

  /** Users cannot lock: `locked` in a change is ignored (the API refuses it before). */
  writeUser(userId: string, changes: LevelChanges): void {
    const db = this.#db.connection;
    const current = this.user(userId);
    db.transaction(() => {
      for (const [key, next] of merged(current, changes)) {
        if (next === undefined || next.value === null) db.prepare("DELETE FROM user_settings WHERE user_id = ? AND key = ?").run(userId, key);
        else
          db.prepare(
            "INSERT INTO user_settings (user_id, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
          ).run(userId, key, next.value, this.#now());
      }
    })();
    this.#changed();
  }
}

/** For each changed key: the row to store ({value JSON or null, locked 0/1}), or undefined to delete it. */
function merged(current: StoredLevel, changes: LevelChanges): [SettingKey, { value: string | null; locked: 0 | 1 } | undefined][] {
  const out: [SettingKey, { value: string | null; locked: 0 | 1 } | undefined][] = [];
  for (const [key, change] of Object.entries(changes) as [SettingKey, SettingChange | undefined][]) {
    if (change === undefined) continue;
    const before = current[key] ?? {};
    const value = change.value === undefined ? before.value : change.value === null ? undefined : change.value;
    const locked = change.locked ?? before.locked ?? false;
    out.push([key, value === undefined && !locked ? undefined : { value: value === undefined ? null : JSON.stringify(value), locked: locked ? 1 : 0 }]);
  }
  return out;
}
