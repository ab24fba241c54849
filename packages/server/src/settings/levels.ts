/**
 * Reading and writing one level of the settings hierarchy (account → group → user).
 *
 * A key locked at a level is read-only at every level below it: writing it there (value or
 * lock) is refused with SETTING_LOCKED, naming the key and the level that holds the lock.
 * Values stored below a lock are kept and ignored while it holds; they apply again once it is
 * lifted.
 */
import { ServerError } from "../errors.js";
import type { StoredLevel } from "../storage/settings.js";
import { SETTINGS, SETTING_KEYS, type SettingKey, type SettingValue } from "./catalog.js";
import { resolveAll, type LockLevel, type ResolvedSetting, type SettingLevel, type StoredLevels } from "./resolve.js";

/** Throws SETTING_LOCKED if a level above `level` locks any of `keys`. */
export function checkWritable(level: SettingLevel, keys: Iterable<SettingKey>, above: { account: StoredLevel; group?: StoredLevel }): void {
  if (level === "account") return;
  for (const key of keys) {
    if (above.account[key]?.locked === true) throw new ServerError("SETTING_LOCKED", `${key} is locked at account level`);
    if (level === "user" && above.group?.[key]?.locked === true) throw new ServerError("SETTING_LOCKED", `${key} is locked at group level`);
  }
}

/** One key as GET /api/settings/{account,groups/:id,users/:id} shows it. */
export interface SettingView {
  /** The value set at this level, or null if this level does not set one. */
  readonly value: SettingValue | null;
  /** Whether this level locks the key (always false for users). */
  readonly locked: boolean;
  /** The value in effect at this level, all levels above considered. */
  readonly effective: SettingValue;
  /** Where the effective value comes from. */
  readonly source: ResolvedSetting["source"];
  /** The level that holds the lock in effect, if any (the UI shows a lock icon). */
  readonly lockedAt?: LockLevel;
  /** False when a level above locks the key: this level cannot change it. */
  readonly writable: boolean;
  /** Set for features that need a server-side member (unavailable in E2EE meetings). */
  readonly needsServerSideMember?: true;
}

export type LevelView = Record<SettingKey, SettingView>;

/**
 * The view of `level` given the stored levels down to it: for "account" pass only account,
 * for "group" account and group, for "user" all three (group absent if the user has none).
 */
export function levelView(level: SettingLevel, levels: StoredLevels): LevelView {
  const resolved = resolveAll(levels);
  const own: StoredLevel | undefined = level === "account" ? levels.account : level === "group" ? levels.group : levels.user;
  const out: Partial<LevelView> = {};
  for (const key of SETTING_KEYS) {
    const r = resolved[key];
    const mine = own?.[key];
    const lockedAbove = r.locked && r.lockedAt !== level;
    out[key] = {
      value: mine?.value ?? null,
      locked: level !== "user" && mine?.locked === true,
      effective: r.value,
      source: r.source,
      ...(r.lockedAt !== undefined ? { lockedAt: r.lockedAt } : {}),
      writable: !lockedAbove,
      ...(SETTINGS[key].needsServerSideMember ? { needsServerSideMember: true as const } : {}),
    };
  }
  return out as LevelView;
}
