/**
 * Admin portal, Settings: the account's, a group's or a user's settings, chosen in one list.
 * Account and group settings have a Lock per key; the levels below then show them read-only.
 */
import { listGroups, listUsers, type Group, type User } from "../../api/accounts.js";
import { getLevelSettings, settingsCatalog, type SettingsLevel } from "../../api/settings.js";
import { UiError } from "../../errors.js";
import { errorBox } from "../common.js";
import { h, replaceChildren } from "../dom.js";
import { settingsTable } from "../settings-table.js";
import { adminTabs, pageHead } from "../shell.js";

export function levelHash(l: SettingsLevel): string {
  return l.kind === "account" ? "#/admin/settings" : `#/admin/settings/${l.kind}/${encodeURIComponent(l.id)}`;
}

export async function renderAdminSettingsPage(main: HTMLElement, level: SettingsLevel): Promise<void> {
  const head = pageHead("Admin");
  replaceChildren(main, head, adminTabs("settings"), h("p", { class: "muted" }, "Loading…"));
  let groups: Group[];
  let users: User[];
  let body: HTMLElement;
  try {
    const [catalog, g, u, settings] = await Promise.all([settingsCatalog(), listGroups(), listUsers(), getLevelSettings(level)]);
    groups = g;
    users = u;
    body = settingsTable({ level, catalog, settings });
  } catch (e) {
    replaceChildren(main, head, adminTabs("settings"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }

  const picker = h(
    "select",
    { id: "settings-level", "data-testid": "settings-level" },
    h("option", { value: levelHash({ kind: "account" }), selected: level.kind === "account" }, "The whole account (everyone)"),
    groups.length > 0
      ? h("optgroup", { label: "Groups" }, ...groups.map((g) => h("option", { value: levelHash({ kind: "group", id: g.id }), selected: level.kind === "group" && level.id === g.id }, `Group: ${g.name}`)))
      : null,
    h("optgroup", { label: "Users" }, ...users.map((u) => h("option", { value: levelHash({ kind: "user", id: u.id }), selected: level.kind === "user" && level.id === u.id }, `User: ${u.name} (${u.email})`))),
  );
  picker.addEventListener("change", () => (location.hash = picker.value));

  let title: string;
  let explain: string;
  if (level.kind === "account") {
    title = "Account settings";
    explain = "These apply to everyone. Lock a setting to force it on every group and user: they then see it read-only.";
  } else if (level.kind === "group") {
    title = `Group settings: ${groups.find((g) => g.id === level.id)?.name ?? "unknown group"}`;
    explain = "These apply to the group's members. A lock here forces the value on them; a lock on the account wins over the group.";
  } else {
    const u = users.find((x) => x.id === level.id);
    title = `User settings: ${u?.name ?? "unknown user"}`;
    explain = "What this user would set for themselves. Locks on the account or their group win.";
  }
  replaceChildren(
    main,
    head,
    adminTabs("settings"),
    h(
      "section",
      { class: "card", "aria-labelledby": "level-title", "data-testid": "admin-settings" },
      h("div", { class: "field level-picker" }, h("label", { for: "settings-level", class: "field-label" }, "Settings for"), picker),
      h("h2", { id: "level-title" }, title),
      h("p", { class: "muted" }, explain),
      body,
    ),
  );
}
