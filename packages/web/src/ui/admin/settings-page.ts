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
import { t } from "../../i18n/i18n.js";

export function levelHash(l: SettingsLevel): string {
  return l.kind === "account" ? "#/admin/settings" : `#/admin/settings/${l.kind}/${encodeURIComponent(l.id)}`;
}

export async function renderAdminSettingsPage(main: HTMLElement, level: SettingsLevel): Promise<void> {
  const head = pageHead(t("shell.admin"));
  replaceChildren(main, head, adminTabs("settings"), h("p", { class: "muted" }, t("common.loading")));
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
    h("option", { value: levelHash({ kind: "account" }), selected: level.kind === "account" }, t("adminSettings.account")),
    groups.length > 0
      ? h("optgroup", { label: t("admin.tabGroups") }, ...groups.map((g) => h("option", { value: levelHash({ kind: "group", id: g.id }), selected: level.kind === "group" && level.id === g.id }, t("groups.title", { name: g.name }))))
      : null,
    h("optgroup", { label: t("admin.tabUsers") }, ...users.map((u) => h("option", { value: levelHash({ kind: "user", id: u.id }), selected: level.kind === "user" && level.id === u.id }, t("adminSettings.userOption", { name: u.name, email: u.email })))),
  );
  picker.addEventListener("change", () => (location.hash = picker.value));

  let title: string;
  let explain: string;
  if (level.kind === "account") {
    title = t("adminSettings.accountTitle");
    explain = t("adminSettings.accountExplain");
  } else if (level.kind === "group") {
    title = t("adminSettings.groupTitle", { name: groups.find((g) => g.id === level.id)?.name ?? t("adminSettings.unknownGroup") });
    explain = t("adminSettings.groupExplain");
  } else {
    const u = users.find((x) => x.id === level.id);
    title = t("adminSettings.userTitle", { name: u?.name ?? t("adminSettings.unknownUser") });
    explain = t("adminSettings.userExplain");
  }
  replaceChildren(
    main,
    head,
    adminTabs("settings"),
    h(
      "section",
      { class: "card", "aria-labelledby": "level-title", "data-testid": "admin-settings" },
      h("div", { class: "field level-picker" }, h("label", { for: "settings-level", class: "field-label" }, t("adminSettings.for")), picker),
      h("h2", { id: "level-title" }, title),
      h("p", { class: "muted" }, explain),
      body,
    ),
  );
}
