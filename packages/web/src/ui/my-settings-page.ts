/**
 * My settings, for every signed-in user: name, password, signing out everywhere, and the
 * user-level settings, where anything an admin locked above is read-only with the lock shown.
 */
import { changePassword, renameMe, signOutEverywhere, type User } from "../api/accounts.js";
import { getLevelSettings, settingsCatalog } from "../api/settings.js";
import { UiError } from "../errors.js";
import { errorBox } from "./common.js";
import { confirmDialog } from "./dialog.js";
import { h, replaceChildren } from "./dom.js";
import { field, input, showError, showSuccess, statusArea, whileBusy } from "./forms.js";
import { settingsTable } from "./settings-table.js";
import { pageHead } from "./shell.js";
import { t } from "../i18n/i18n.js";

export interface MySettingsOptions {
  user: User;
  onRenamed: (user: User) => void;
  onSignedOutEverywhere: () => void;
}

export async function renderMySettingsPage(main: HTMLElement, opts: MySettingsOptions): Promise<void> {
  const head = pageHead(t("shell.mySettings"), t("my.lead"));
  replaceChildren(main, head, h("p", { class: "muted" }, t("common.loading")));
  const level = { kind: "user" as const, id: opts.user.id };
  let table: HTMLElement;
  try {
    const [catalog, settings] = await Promise.all([settingsCatalog(), getLevelSettings(level)]);
    table = settingsTable({ level, catalog, settings });
  } catch (e) {
    table = errorBox(e instanceof UiError ? e : new UiError("INTERNAL"));
  }
  replaceChildren(
    main,
    head,
    h(
      "div",
      { class: "columns wide-left" },
      h("section", { class: "card", "aria-labelledby": "my-meeting-settings" }, h("h2", { id: "my-meeting-settings" }, t("my.meetingSettings")), table),
      h("div", { class: "stack" }, profileCard(opts), passwordCard(), sessionsCard(opts)),
    ),
  );
}

function profileCard(opts: MySettingsOptions): HTMLElement {
  const name = input({ autocomplete: "name", required: true, maxlength: 100, "data-testid": "profile-name" });
  name.value = opts.user.name;
  const save = h("button", { type: "submit", class: "button" }, t("my.saveName"));
  const status = statusArea();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "profile-title", novalidate: true },
    h("h2", { id: "profile-title" }, t("my.profile")),
    h("p", { class: "muted" }, opts.user.email),
    field(t("my.name"), name),
    save,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void whileBusy(save, () => renameMe(name.value.trim()))
      .then((u) => {
        showSuccess(status, t("common.saved"));
        opts.onRenamed(u);
      })
      .catch((e: unknown) => showError(status, e));
  });
  return form;
}

function passwordCard(): HTMLElement {
  const current = input({ type: "password", autocomplete: "current-password", required: true, "data-testid": "password-current" });
  const next = input({ type: "password", autocomplete: "new-password", required: true, minlength: 10, "data-testid": "password-new" });
  const save = h("button", { type: "submit", class: "button" }, t("my.changePassword"));
  const status = statusArea();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "password-title", novalidate: true },
    h("h2", { id: "password-title" }, t("signin.password")),
    field(t("my.currentPassword"), current),
    field(t("my.newPassword"), next, t("my.newPasswordHelp")),
    save,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (next.value.length < 10) {
      showError(status, new UiError("WEAK_PASSWORD"));
      next.focus();
      return;
    }
    void whileBusy(save, () => changePassword(current.value, next.value))
      .then(() => {
        current.value = "";
        next.value = "";
        showSuccess(status, t("my.passwordChanged"));
      })
      .catch((e: unknown) => showError(status, e));
  });
  return form;
}

function sessionsCard(opts: MySettingsOptions): HTMLElement {
  const button = h("button", { type: "button", class: "button danger-outline", "data-testid": "sign-out-everywhere" }, t("my.signOutEverywhere"));
  const status = statusArea();
  button.addEventListener("click", () => {
    void confirmDialog(
      {
        title: t("my.signOutEverywhereTitle"),
        message: t("my.signOutEverywhereMessage"),
        confirmLabel: t("my.signOutEverywhere"),
        danger: true,
        testid: "confirm-sign-out-everywhere",
      },
      button,
    ).then(async (ok) => {
      if (!ok) return;
      try {
        await whileBusy(button, () => signOutEverywhere());
        opts.onSignedOutEverywhere();
      } catch (e) {
        showError(status, e);
      }
    });
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, t("my.sessions")),
    h("p", { class: "muted" }, t("my.sessionsLead")),
    button,
    status,
  );
}
