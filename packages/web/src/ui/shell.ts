/**
 * The frame of the signed-in pages: the brand bar with the app's sections (Meetings, My
 * settings, and Admin for the owner and admins), who is signed in, and Sign out.
 */
import { isAdmin, type User } from "../api/accounts.js";
import { brandHeader } from "./common.js";
import { h, replaceChildren } from "./dom.js";
import { t, type MessageKey } from "../i18n/i18n.js";

export type Section = "meetings" | "recordings" | "settings" | "admin";

export interface ShellOptions {
  user: User;
  section: Section;
  onSignOut: (button: HTMLButtonElement) => void;
}

const ROLE_LABEL = { owner: "role.owner", admin: "role.admin", member: "role.member" } as const satisfies Record<string, MessageKey>;

/** Renders the frame and returns its <main>, for the page's content. */
export function renderShell(root: HTMLElement, opts: ShellOptions): HTMLElement {
  const link = (section: Section, href: string, text: string): HTMLAnchorElement =>
    h("a", { class: "nav-link", href, "data-testid": `nav-${section}`, ...(opts.section === section ? { "aria-current": "page" } : {}) }, text);
  const signOut = h("button", { type: "button", class: "button small", "data-testid": "sign-out" }, t("shell.signOut"));
  signOut.addEventListener("click", () => opts.onSignOut(signOut));
  const nav = h(
    "nav",
    { class: "app-nav", "aria-label": t("shell.sections") },
    link("meetings", "#/meetings", t("shell.meetings")),
    link("recordings", "#/recordings", t("shell.recordings")),
    link("settings", "#/settings", t("shell.mySettings")),
    isAdmin(opts.user) ? link("admin", "#/admin/settings", t("shell.admin")) : null,
  );
  const who = h(
    "span",
    { class: "who", "data-testid": "signed-in-as" },
    h("span", { class: "who-name" }, opts.user.name),
    h("span", { class: "muted" }, ` · ${t(ROLE_LABEL[opts.user.role])}`),
  );
  const main = h("main", { class: "page", id: "main" });
  replaceChildren(root, brandHeader(nav, h("div", { class: "spacer" }), who, signOut), main);
  return main;
}

export type AdminTab = "settings" | "users" | "groups" | "meetings";

/** The admin portal's own tabs, above each admin page. */
export function adminTabs(active: AdminTab): HTMLElement {
  const tab = (name: AdminTab, text: string): HTMLAnchorElement =>
    h("a", { class: "tab", href: `#/admin/${name}`, "data-testid": `admin-tab-${name}`, ...(active === name ? { "aria-current": "page" } : {}) }, text);
  return h("nav", { class: "tabs", "aria-label": t("shell.admin") }, tab("settings", t("admin.tabSettings")), tab("users", t("admin.tabUsers")), tab("groups", t("admin.tabGroups")), tab("meetings", t("admin.tabMeetings")));
}

/** A page heading with optional lead text. */
export function pageHead(title: string, lead?: string): HTMLElement {
  return h("div", { class: "page-head" }, h("h1", {}, title), lead ? h("p", { class: "muted" }, lead) : null);
}
