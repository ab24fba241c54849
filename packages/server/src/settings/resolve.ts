/**
 * The one function that decides a setting's effective value from the account, group and user
 * levels. Everything that needs a setting (the API, meeting creation, the meeting layer) goes
 * through resolveSetting, so the rules live here and nowhere else:
 *
 * 1. An account lock beats group and user values: the value is the account's, or the built-in
 *    default if the account locked the key without setting a value.
 * 2. Otherwise a group lock beats user values: the value is the group's, else the account's,
 *    else the default.
 * 3. Otherwise the most specific value set wins: user > group > account > default.
 *
 * A user level cannot lock (there is nothing below it); its `locked` is never read.
 */
import { SETTINGS, SETTING_KEYS, type SettingKey, type SettingValue, type SettingValues } from "./catalog.js";

export type SettingLevel = "account" | "group" | "user";
export type LockLevel = "account" | "group";

/** What one level says about one setting. An absent value means "not set here". */
export interface LevelSetting<T = SettingValue> {
  readonly value?: T;
  readonly locked?: boolean;
}

export interface SettingLevels<T = SettingValue> {
  readonly account: LevelSetting<T>;
  /** Absent when the user belongs to no group (or when resolving at account level). */
  readonly group?: LevelSetting<T>;
  readonly user: { readonly value?: T };
}

export interface ResolvedSetting<T = SettingValue> {
  readonly value: T;
  /** The level whose value is in effect, or "default" for the built-in default. */
  readonly source: SettingLevel | "default";
  /** True if a level above the user's locks the setting (the UI shows a lock). */
  readonly locked: boolean;
  /** The level that holds the lock in effect, when locked. */
  readonly lockedAt?: LockLevel;
}

export function resolveSetting<K extends SettingKey>(key: K, levels: SettingLevels<SettingValue<K>>): ResolvedSetting<SettingValue<K>> {
  let value = SETTINGS[key].default as SettingValue<K>;
  let source: ResolvedSetting["source"] = "default";

  if (levels.account.value !== undefined) {
    value = levels.account.value;
    source = "account";
  }
  if (levels.account.locked === true) return { value, source, locked: true, lockedAt: "account" };

  if (levels.group !== undefined) {
    if (levels.group.value !== undefined) {
      value = levels.group.value;
      source = "group";
    }
    if (levels.group.locked === true) return { value, source, locked: true, lockedAt: "group" };
  }

  if (levels.user.value !== undefined) {
    value = levels.user.value;
    source = "user";
  }
  return { value, source, locked: false };
}

/** Every level's stored settings, key by key (absent keys are not set at that level). */
export interface StoredLevels {
  readonly account: Readonly<Partial<Record<SettingKey, LevelSetting>>>;
  readonly group?: Readonly<Partial<Record<SettingKey, LevelSetting>>>;
  readonly user?: Readonly<Partial<Record<SettingKey, { value?: SettingValue }>>>;
}

export type ResolvedSettings = { readonly [K in SettingKey]: ResolvedSetting<SettingValue<K>> };

/** resolveSetting for every key of the table. */
export function resolveAll(levels: StoredLevels): ResolvedSettings {
  const out: Partial<Record<SettingKey, ResolvedSetting>> = {};
  for (const key of SETTING_KEYS) {
    out[key] = resolveSetting(key, {
      account: levels.account[key] ?? {},
      ...(levels.group !== undefined ? { group: levels.group[key] ?? {} } : {}),
      user: levels.user?.[key] ?? {},
    });
  }
  return out as ResolvedSettings;
}

/** Just the values. */
export function effectiveValues(resolved: ResolvedSettings): SettingValues {
  const out: Partial<Record<SettingKey, SettingValue>> = {};
  for (const key of SETTING_KEYS) out[key] = resolved[key].value;
  return out as SettingValues;
}
