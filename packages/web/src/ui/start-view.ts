/**
 * The start page (/) for someone signed out: sign in (or set up the server's owner account on
 * a fresh server), open a meeting from a link or ID, and start an instant meeting with the
 * server's admin API token (automation, and servers whose owner has not set up accounts).
 *
 * The token is remembered in localStorage only when the person ticks "Remember"; it is accepted
 * prefilled from a `#token=` fragment (fragments never reach the server), which is then removed
 * from the address bar so it does not stay in history.
 */
import { dialInBox } from "./dial-in.js";
import { createMeetingWithToken, type CreatedMeeting, type Encryption } from "../api/meetings.js";
import { UiError } from "../errors.js";
import { h, icon, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";
import { brandHeader, errorBox } from "./common.js";
import { safeGet, safeRemove, safeSet } from "./forms.js";
import { t, tParts } from "../i18n/i18n.js";

const TOKEN_KEY = "conclave.adminToken";

export interface StartViewOptions {
  navigate: (path: string) => void;
  /** The sign-in or setup form. */
  accountCard: HTMLElement;
  /** Move focus into the account card (the person came here to sign in). */
  focusAccount: boolean;
}

export function renderStartView(root: HTMLElement, opts: StartViewOptions): void {
  const navigate = opts.navigate;
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromFragment = fragment.get("token");
  if (fromFragment !== null) history.replaceState(null, "", location.pathname + location.search);
  const stored = safeGet(TOKEN_KEY);
  const tokenInput = h("input", {
    id: "admin-token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "admin-token-help",
    "data-testid": "admin-token",
  });
  tokenInput.value = fromFragment ?? stored ?? "";
  const remember = h("input", { id: "remember-token", type: "checkbox", "data-testid": "remember-token" });
  remember.checked = stored !== null;

  const radio = (value: Encryption, title: string, text: string, iconPaths: readonly string[], checked: boolean): HTMLLabelElement => {
    const input = h("input", { type: "radio", name: "encryption", value, "data-testid": `encryption-${value}` });
    input.checked = checked;
    return h(
      "label",
      { class: "choice" },
      input,
      h("span", { class: "choice-body" }, h("span", { class: "choice-title" }, icon(iconPaths), title), h("span", { class: "choice-text" }, text)),
    );
  };

  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button primary", "data-testid": "start-button" }, t("start.startButton"));
  const form = h(
    "form",
    { class: "token-form", "aria-label": t("start.tokenTitle") },
    h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, t("start.encryption")),
      radio("e2ee", t("common.e2ee"), t("start.e2eeText"), ICONS.shieldLock, true),
      radio("enhanced", t("common.enhanced"), t("start.enhancedText"), ICONS.shieldCheck, false),
    ),
    h("label", { for: "admin-token", class: "field-label" }, t("start.tokenLabel")),
    tokenInput,
    h("p", { id: "admin-token-help", class: "help" }, ...tParts("start.tokenHelp", { command: h("code", {}, "conclave serve") })),
    h("label", { class: "check" }, remember, t("start.remember")),
    submit,
    status,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (!token) {
      replaceChildren(status, errorBox(new UiError("UNAUTHORIZED")));
      tokenInput.focus();
      return;
    }
    const encryption = (form.querySelector<HTMLInputElement>('input[name="encryption"]:checked')?.value ?? "e2ee") as Encryption;
    if (remember.checked) safeSet(TOKEN_KEY, token);
    else safeRemove(TOKEN_KEY);
    submit.disabled = true;
    replaceChildren(status, h("p", { class: "muted" }, t("start.creating")));
    createMeetingWithToken(token, encryption)
      .then((created) => replaceChildren(status, createdBox(created, navigate)))
      .catch((e: unknown) => {
        replaceChildren(status, errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
      })
      .finally(() => (submit.disabled = false));
  });

  const linkInput = h("input", { id: "join-link", type: "text", autocomplete: "off", placeholder: "https://…/m/12345678901#pwd=…", "data-testid": "join-link" });
  const joinStatus = h("div", { "aria-live": "polite" });
  const joinForm = h(
    "form",
    { class: "card", "aria-labelledby": "join-title" },
    h("h2", { id: "join-title" }, t("start.joinTitle")),
    h("label", { for: "join-link", class: "field-label" }, t("start.joinLabel")),
    linkInput,
    h("button", { type: "submit", class: "button" }, t("start.continue")),
    joinStatus,
  );
  joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const target = parseJoinTarget(linkInput.value);
    if (!target) {
      replaceChildren(joinStatus, errorBox(new UiError("MEETING_NOT_FOUND")));
      return;
    }
    navigate(target);
  });

  const tokenCard = h(
    "details",
    { class: "card token-card", "data-testid": "token-card", ...(fromFragment !== null || stored !== null ? { open: true } : {}) },
    h("summary", { "data-testid": "token-summary" }, h("h2", { id: "start-title" }, t("start.tokenTitle"))),
    h("p", { class: "muted" }, t("start.tokenLead")),
    form,
  );

  replaceChildren(
    root,
    brandHeader(),
    h(
      "main",
      { class: "start", id: "main" },
      h(
        "section",
        { class: "hero" },
        h("h1", {}, t("start.heroTitle")),
        h("p", {}, t("start.heroText")),
      ),
      h("div", { class: "cards" }, opts.accountCard, joinForm),
      tokenCard,
    ),
  );
  if (opts.focusAccount) opts.accountCard.querySelector<HTMLElement>("input")?.focus();
}

function createdBox(created: CreatedMeeting, navigate: (path: string) => void): HTMLElement {
  const link = h("input", { id: "meeting-link", type: "text", readonly: true, "data-testid": "meeting-link" });
  link.value = created.url;
  const copied = h("span", { class: "muted", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "button" }, icon(ICONS.copy), t("start.copyLink"));
  copy.addEventListener("click", () => {
    link.select();
    navigator.clipboard
      .writeText(created.url)
      .then(() => (copied.textContent = t("forms.copied")))
      .catch(() => (copied.textContent = t("start.copyLinkByHand")));
  });
  const url = new URL(created.url);
  const open = h("a", { class: "button primary", href: url.pathname + url.hash }, t("start.joinNow"));
  open.addEventListener("click", (event) => {
    event.preventDefault();
    navigate(url.pathname + url.hash);
  });
  return h(
    "div",
    { class: "created" },
    h("p", { class: "success" }, created.encryption === "e2ee" ? t("start.readyE2ee") : t("start.readyEnhanced")),
    h("label", { for: "meeting-link", class: "field-label" }, t("start.linkLabel")),
    h("div", { class: "row" }, link, copy),
    copied,
    dialInBox(created.dialIn),
    h("div", { class: "row" }, open),
  );
}

/** A meeting link or a bare ID → the app path to open, or null. */
export function parseJoinTarget(text: string): string | null {
  const typed = text.trim();
  if (/^[0-9][0-9 ]{5,40}$/.test(typed)) return `/m/${typed.replace(/ /g, "")}`;
  try {
    const u = new URL(typed);
    const m = /^\/m\/([0-9]{6,32})\/?$/.exec(u.pathname);
    return m ? `/m/${m[1]}${u.hash}` : null;
  } catch {
    return null;
  }
}
