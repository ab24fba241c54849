/**
 * Signing in: the first-run setup of the owner account, the sign-in form, and accepting an
 * invitation (the link carries its token in the #fragment, which browsers never send to servers;
 * the page removes it from the address bar at once so it does not stay in history).
 */
import { acceptInvitation, setup, signIn, type User } from "../api/accounts.js";
import { UiError } from "../errors.js";
import { brandHeader, errorBox } from "./common.js";
import { h, icon, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";
import { field, input, showError, statusArea, whileBusy } from "./forms.js";
import { t } from "../i18n/i18n.js";

const MIN_PASSWORD = 10;

export interface SignInCardOptions {
  setupRequired: boolean;
  /** Why the person is asked to sign in (their session ended, the page needs one). */
  notice?: UiError | null;
  onSignedIn: (user: User) => void;
}

/** The sign-in form, or the owner's setup form on a server without accounts. */
export function signInCard(opts: SignInCardOptions): HTMLFormElement {
  return opts.setupRequired ? setupForm(opts.onSignedIn) : signInForm(opts);
}

function signInForm(opts: SignInCardOptions): HTMLFormElement {
  const email = input({ type: "email", autocomplete: "username", required: true, spellcheck: "false", "data-testid": "signin-email" });
  const password = input({ type: "password", autocomplete: "current-password", required: true, "data-testid": "signin-password" });
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "signin-submit" }, t("signin.submit"));
  const status = statusArea("signin-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "signin-title", "data-testid": "sign-in-form", novalidate: true },
    h("h2", { id: "signin-title" }, t("signin.title")),
    opts.notice ? h("div", { "data-testid": "signin-notice" }, errorBox(opts.notice)) : null,
    h("p", { class: "muted" }, t("signin.lead")),
    field(t("signin.email"), email),
    field(t("signin.password"), password),
    submit,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!email.value.trim() || !password.value) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, t("signin.missing")));
      (email.value.trim() ? password : email).focus();
      return;
    }
    void whileBusy(submit, () => signIn(email.value.trim(), password.value))
      .then((user) => opts.onSignedIn(user))
      .catch((e: unknown) => {
        showError(status, e);
        password.select();
        password.focus();
      });
  });
  return form;
}

function setupForm(onSignedIn: (u: User) => void): HTMLFormElement {
  const name = input({ autocomplete: "name", required: true, maxlength: 100, "data-testid": "setup-name" });
  const email = input({ type: "email", autocomplete: "username", required: true, spellcheck: "false", "data-testid": "setup-email" });
  const password = input({ type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSWORD, "data-testid": "setup-password" });
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "setup-submit" }, t("setup.submit"));
  const status = statusArea("setup-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "setup-title", "data-testid": "setup-form", novalidate: true },
    h("h2", { id: "setup-title" }, t("setup.title")),
    h("p", { class: "first-start", role: "note", "data-testid": "first-start-banner" }, icon(ICONS.shieldAlert), h("span", {}, t("setup.banner"))),
    h("p", { class: "muted" }, t("setup.lead")),
    field(t("setup.name"), name),
    field(t("signin.email"), email),
    field(t("signin.password"), password, t("setup.passwordHelp", { min: MIN_PASSWORD })),
    submit,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const problem = !name.value.trim() ? name : !email.value.trim() ? email : null;
    if (problem) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, t("setup.missing")));
      problem.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD) {
      showError(status, new UiError("WEAK_PASSWORD"));
      password.focus();
      return;
    }
    void whileBusy(submit, () => setup(email.value.trim(), name.value.trim(), password.value))
      .then(onSignedIn)
      .catch((e: unknown) => showError(status, e));
  });
  return form;
}

/** The page an invitation link opens: choose a name and a password, and you are signed in. */
export function renderAcceptInvitation(root: HTMLElement, token: string, onSignedIn: (u: User) => void): void {
  const name = input({ autocomplete: "name", required: true, maxlength: 100, "data-testid": "accept-name" });
  const password = input({ type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSWORD, "data-testid": "accept-password" });
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "accept-submit" }, t("accept.submit"));
  const status = statusArea("accept-status");
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "accept-title", "data-testid": "accept-form", novalidate: true },
    h("h1", { id: "accept-title" }, t("accept.title")),
    h("p", { class: "muted" }, t("accept.lead")),
    field(t("setup.name"), name),
    field(t("signin.password"), password, t("setup.passwordHelp", { min: MIN_PASSWORD })),
    submit,
    status,
    h("p", { class: "help" }, t("accept.haveAccount"), " ", h("a", { href: "#/signin", class: "link" }, t("signin.submit"))),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, t("accept.missingName")));
      name.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD) {
      showError(status, new UiError("WEAK_PASSWORD"));
      password.focus();
      return;
    }
    void whileBusy(submit, () => acceptInvitation(token, name.value.trim(), password.value))
      .then(onSignedIn)
      .catch((e: unknown) => showError(status, e));
  });
  replaceChildren(root, brandHeader(), h("main", { class: "start", id: "main" }, form));
  name.focus();
}
