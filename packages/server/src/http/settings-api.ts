/**
 * Settings over HTTP, level by level (account → group → user). A PATCH body maps keys to
 * `{value?, locked?}`: `value: null` clears the level's value, an absent field stays as it is.
 * Users cannot lock. Writing a key that a level above locks is 409 SETTING_LOCKED; the whole
 * PATCH is then refused, nothing is written.
 */
import { z } from "zod";
import { canManageUser } from "../accounts/roles.js";
import { ServerError } from "../errors.js";
import { SETTINGS, SETTING_KEYS, e2eeUnavailableReason, settingValueSchema, settingsCatalog, type SettingKey } from "../settings/catalog.js";
import { checkWritable, levelView } from "../settings/levels.js";
import { resolveAll, type SettingLevel } from "../settings/resolve.js";
import type { LevelChanges } from "../storage/settings.js";
import type { User } from "../storage/users.js";
import type { ApiDeps } from "./api-deps.js";
import { actorOf, type ApiRoutes, type Principal } from "./api-routes.js";
import { parseBody } from "./validation.js";

function levelPatchSchema(level: SettingLevel): z.ZodType<LevelChanges> {
  const shape: Record<string, z.ZodType> = {};
  for (const key of SETTING_KEYS) {
    const value = settingValueSchema(key).nullable().optional();
    shape[key] = (level === "user" ? z.strictObject({ value }) : z.strictObject({ value, locked: z.boolean().optional() })).optional();
  }
  return z.strictObject(shape) as unknown as z.ZodType<LevelChanges>;
}

const accountPatch = levelPatchSchema("account");
const groupPatch = levelPatchSchema("group");
const userPatch = levelPatchSchema("user");

export function registerSettingsApi(api: ApiRoutes, deps: ApiDeps): void {
  const { settings, groups, users } = deps.database;

  const existingGroup = (id: string): string => {
    if (groups.get(id) === undefined) throw new ServerError("GROUP_NOT_FOUND");
    return id;
  };

  /** The user whose settings `principal` wants: themselves, or anyone for admins (writes: whom they manage). */
  const settingsUser = (principal: Principal, id: string, write: boolean): User => {
    const target = users.get(id);
    const self = principal.kind === "user" && principal.user.id === id;
    if (target === undefined) {
      if (principal.kind === "user" && principal.user.role === "member") throw new ServerError("FORBIDDEN");
      throw new ServerError("USER_NOT_FOUND");
    }
    if (self) return target;
    const actor = actorOf(principal);
    const allowed = write ? canManageUser(actor, target) : actor.kind === "adminToken" || actor.role !== "member";
    if (!allowed) throw new ServerError("FORBIDDEN");
    return target;
  };

  api.route("GET", "/api/settings/catalog", "public", () => ({ body: { settings: settingsCatalog() } }));

  api.route("GET", "/api/settings/account", "admin", () => ({ body: { settings: levelView("account", { account: settings.account() }) } }));

  api.route("PATCH", "/api/settings/account", "admin", async ({ request }) => {
    const changes = await parseBody(request, accountPatch);
    settings.writeAccount(changes);
    return { body: { settings: levelView("account", { account: settings.account() }) } };
  });

  api.route("GET", "/api/settings/groups/:id", "admin", ({ request }) => {
    const groupId = existingGroup(request.params.id!);
    return { body: { settings: levelView("group", { account: settings.account(), group: settings.group(groupId) }) } };
  });

  api.route("PATCH", "/api/settings/groups/:id", "admin", async ({ request }) => {
    const groupId = existingGroup(request.params.id!);
    const changes = await parseBody(request, groupPatch);
    // Check and write without an await in between: nothing can lock the key in the meantime.
    checkWritable("group", changedKeys(changes), { account: settings.account() });
    settings.writeGroup(groupId, changes);
    return { body: { settings: levelView("group", { account: settings.account(), group: settings.group(groupId) }) } };
  });

  api.route("GET", "/api/settings/users/:id", "user", ({ request, principal }) => {
    const user = settingsUser(principal, request.params.id!, false);
    return { body: { settings: levelView("user", settings.levelsFor(user)) } };
  });

  api.route("PATCH", "/api/settings/users/:id", "user", async ({ request, principal }) => {
    const changes = await parseBody(request, userPatch);
    const user = settingsUser(principal, request.params.id!, true);
    const levels = settings.levelsFor(user);
    checkWritable("user", changedKeys(changes), { account: levels.account, ...(levels.group ? { group: levels.group } : {}) });
    settings.writeUser(user.id, changes);
    return { body: { settings: levelView("user", settings.levelsFor(user)) } };
  });

  api.route("GET", "/api/settings/effective", "session", ({ principal }) => {
    const resolved = resolveAll(settings.levelsFor(principal.user));
    const out: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) {
      out[key] = { ...resolved[key], ...(SETTINGS[key].needsServerSideMember ? { unavailableInE2ee: e2eeUnavailableReason(key) } : {}) };
    }
    return { body: { settings: out } };
  });
}

function changedKeys(changes: LevelChanges): SettingKey[] {
  return (Object.keys(changes) as SettingKey[]).filter((k) => changes[k]?.value !== undefined || changes[k]?.locked !== undefined);
}
