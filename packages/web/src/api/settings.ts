/**
 * Settings in the HTTP API: the catalog, the three levels (account, group, user) with their
 * locks, and what applies to the signed-in user (docs/api.md "Settings").
 */
import { z } from "zod";
import { apiRequest } from "./http.js";

export type SettingValue = boolean | string;
const value = z.union([z.boolean(), z.string()]);
const level = z.enum(["account", "group"]);

const catalogEntry = z.object({
  key: z.string(),
  type: z.enum(["boolean", "enum"]),
  values: z.array(z.string()).optional(),
  default: value,
  label: z.string(),
  description: z.string(),
  needsServerSideMember: z.boolean(),
  unavailableInE2ee: z.string().optional(),
  notBuilt: z.literal(true).optional(),
});
export type CatalogEntry = z.infer<typeof catalogEntry>;

const settingView = z.object({
  value: value.nullable(),
  locked: z.boolean(),
  effective: value,
  source: z.enum(["default", "account", "group", "user"]),
  lockedAt: level.optional(),
  writable: z.boolean(),
  needsServerSideMember: z.boolean().optional(),
});
export type SettingView = z.infer<typeof settingView>;
const levelBody = z.object({ settings: z.record(z.string(), settingView) });
export type LevelSettings = Record<string, SettingView>;

const effectiveSetting = z.object({
  value,
  source: z.enum(["default", "account", "group", "user"]),
  locked: z.boolean(),
  lockedAt: level.optional(),
  unavailableInE2ee: z.string().optional(),
});
export type EffectiveSetting = z.infer<typeof effectiveSetting>;

/** A level: the whole account, one group, or one user. */
export type SettingsLevel = { kind: "account" } | { kind: "group"; id: string } | { kind: "user"; id: string };

/** One key's change: `value: null` clears this level's value; `locked` only at account and group level. */
export type SettingPatch = Record<string, { value?: SettingValue | null; locked?: boolean }>;

export async function settingsCatalog(): Promise<CatalogEntry[]> {
  return (await apiRequest("/api/settings/catalog", { credentials: { kind: "none" }, schema: z.object({ settings: z.array(catalogEntry) }) })).settings;
}

function levelPath(l: SettingsLevel): string {
  return l.kind === "account" ? "/api/settings/account" : `/api/settings/${l.kind}s/${encodeURIComponent(l.id)}`;
}

export async function getLevelSettings(l: SettingsLevel): Promise<LevelSettings> {
  return (await apiRequest(levelPath(l), { schema: levelBody })).settings;
}

export async function patchLevelSettings(l: SettingsLevel, patch: SettingPatch): Promise<LevelSettings> {
  return (await apiRequest(levelPath(l), { method: "PATCH", body: patch, schema: levelBody })).settings;
}

export async function effectiveSettings(): Promise<Record<string, EffectiveSetting>> {
  return (await apiRequest("/api/settings/effective", { schema: z.object({ settings: z.record(z.string(), effectiveSetting) }) })).settings;
}
