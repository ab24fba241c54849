/**
 * Signing in: the first-run setup of the owner account, the sign-in form, and accepting an
 * invitation (the link carries its token in the #fragment, which browsers never send to servers;
 * the page removes it from the address bar at once so it does not stay in history).
 */
import { acceptInvitation, setup, signIn, type User } from "../api/accounts.js";
import { UiError } from "../errors.js";
import { brandHeader, errorBox } from "./common.js";
import { h, replaceChildren } from "./dom.js";
import { field, input, showError, statusArea, whileBusy } from "./forms.js";

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
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "signin-submit" }, "Sign in");
  const status = statusArea("signin-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "signin-title", "data-testid": "sign-in-form", novalidate: true },
    h("h2", { id: "signin-title" }, "Sign in"),
    opts.notice ? h("div", { "data-testid": "signin-notice" }, errorBox(opts.notice)) : null,
    h("p", { class: "muted" }, "Sign in to schedule meetings and host them, and (for admins) to manage users, groups and settings."),
    field("Email", email),
    field("Password", password),
    submit,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!email.value.trim() || !password.value) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, "Enter your email and password."));
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
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "setup-submit" }, "Create the owner account");
  const status = statusArea("setup-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "setup-title", "data-testid": "setup-form", novalidate: true },
    h("h2", { id: "setup-title" }, "Set up this server"),
    h(
      "p",
      { class: "muted" },
      "No account exists yet. Create the owner account: the owner manages users, groups and settings. Until this is done, anyone who can reach this server can claim it.",
    ),
    field("Your name", name),
    field("Email", email),
    field("Password", password, `At least ${MIN_PASSWORD} characters.`),
    submit,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const problem = !name.value.trim() ? name : !email.value.trim() ? email : null;
    if (problem) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, "Enter your name, email and a password."));
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
  const submit = h("button", { type: "submit", class: "button primary wide", "data-testid": "accept-submit" }, "Create my account");
  const status = statusArea("accept-status");
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "accept-title", "data-testid": "accept-form", novalidate: true },
    h("h1", { id: "accept-title" }, "Accept your invitation"),
    h("p", { class: "muted" }, "You were invited to this Conclave server. Choose the name others will see and a password; your email address is the one the invitation was sent to."),
    field("Your name", name),
    field("Password", password, `At least ${MIN_PASSWORD} characters.`),
    submit,
    status,
    h("p", { class: "help" }, "Already have an account? ", h("a", { href: "#/signin", class: "link" }, "Sign in")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, "Enter your name."));
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
