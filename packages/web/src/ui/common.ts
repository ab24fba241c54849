/** Pieces every screen shares: the brand header, error boxes, the encryption badge. */
import type { Encryption } from "../api/meetings.js";
import type { UiError } from "../errors.js";
import { h, icon } from "./dom.js";
import { ICONS } from "./icons.js";
import { t } from "../i18n/i18n.js";

export function brandHeader(...extra: Node[]): HTMLElement {
  return h("header", { class: "brand-bar" }, h("a", { class: "brand", href: "/" }, logo(), h("span", {}, t("common.brand"))), ...extra);
}

export function logo(): SVGSVGElement {
  return icon(["M12 2l8 3v6c0 5-3.5 9.5-8 11-4.5-1.5-8-6-8-11V5z", "M8.5 12a3.5 3.5 0 1 0 7 0 3.5 3.5 0 1 0-7 0"], "logo");
}

/** A visible, announced error: what happened, and what to do. */
export function errorBox(error: UiError, ...actions: Node[]): HTMLElement {
  return h(
    "div",
    { class: "error-box", role: "alert", "data-testid": "error", "data-error-code": error.code },
    h("p", { class: "error-title" }, icon(ICONS.shieldAlert), error.title),
    h("p", {}, error.action),
    error.detail ? h("p", { class: "muted", "data-testid": "error-detail" }, detailText(error.detail)) : null,
    actions.length > 0 ? h("div", { class: "row" }, ...actions) : null,
  );
}

/** The server's messages end with the specifics in parentheses ("… (topic: too long)"): show those. */
function detailText(message: string): string {
  const m = /\(([^()]+)\)\s*$/.exec(message);
  return m ? m[1]! : message;
}

export function encryptionBadge(encryption: Encryption): HTMLElement {
  return encryption === "e2ee"
    ? h("span", { class: "badge badge-e2ee" }, icon(ICONS.lock), t("common.e2ee"))
    : h("span", { class: "badge badge-encrypted" }, icon(ICONS.shieldCheck), t("common.enhanced"));
}

/** "12345678901" → "123 4567 8901" for reading; the ID itself is unchanged elsewhere. */
export function formatMeetingId(id: string): string {
  return id.length === 11 ? `${id.slice(0, 3)} ${id.slice(3, 7)} ${id.slice(7)}` : id;
}
