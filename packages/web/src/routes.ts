/**
 * The app's addresses (see the README's table): `/m/<id>` is a meeting; everything else is `/`
 * with the page in the fragment, because the server serves the app at those two paths only.
 */
import type { SettingsLevel } from "./api/settings.js";

export type Route =
  | { kind: "meeting"; id: string }
  /** Nothing is at this address; `meetingLink` when it looks like a (malformed) meeting link. */
  | { kind: "not-found"; meetingLink: boolean }
  | { kind: "start"; signIn: boolean }
  | { kind: "invite"; token: string }
  | { kind: "meetings" }
  | { kind: "recordings" }
  | { kind: "settings" }
  | { kind: "admin-settings"; level: SettingsLevel }
  | { kind: "admin-users" }
  | { kind: "admin-groups" }
  | { kind: "admin-group"; id: string }
  | { kind: "admin-meetings" };

export function parseRoute(pathname: string, fragment: string): Route {
  const m = /^\/m\/([0-9]{6,32})\/?$/.exec(pathname);
  if (m) return { kind: "meeting", id: m[1]! };
  if (pathname === "/m" || pathname.startsWith("/m/")) return { kind: "not-found", meetingLink: true };
  if (pathname !== "/" && pathname !== "/index.html") return { kind: "not-found", meetingLink: false };
  const hash = fragment.replace(/^#/, "");
  if (!hash.startsWith("/")) {
    const invite = new URLSearchParams(hash).get("invite");
    return invite ? { kind: "invite", token: invite } : { kind: "start", signIn: false };
  }
  const parts = hash.slice(1).split("/").map(decodePart);
  switch (parts[0]) {
    case "signin":
      return { kind: "start", signIn: true };
    case "meetings":
      return { kind: "meetings" };
    case "recordings":
      return { kind: "recordings" };
    case "settings":
      return { kind: "settings" };
    case "admin":
      switch (parts[1]) {
        case "users":
          return { kind: "admin-users" };
        case "groups":
          return parts[2] ? { kind: "admin-group", id: parts[2] } : { kind: "admin-groups" };
        case "meetings":
          return { kind: "admin-meetings" };
        default:
          return {
            kind: "admin-settings",
            level: (parts[2] === "group" || parts[2] === "user") && parts[3] ? { kind: parts[2], id: parts[3] } : { kind: "account" },
          };
      }
    default:
      return { kind: "start", signIn: false };
  }
}

/** A malformed escape (`%E0%A4%A`) is kept as typed rather than breaking the page. */
function decodePart(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
