/**
 * What a host or co-host can do to one participant, in a modal panel opened from the People
 * list: make or unmake a co-host, rename a phone or room system (people keep their own names),
 * and remove them from the meeting (the group rekeys at once), choosing whether they may join
 * again. The panel itself is the confirmation for removal.
 */
import { createPanel } from "./dialog.js";
import { append, h } from "./dom.js";
import { checkbox, field, input } from "./forms.js";
import { t } from "../i18n/i18n.js";

export interface ManageParticipantOptions {
  name: string;
  role: "host" | "cohost" | "participant";
  canChangeRole: boolean;
  opener: HTMLElement;
  onRole: (role: "cohost" | "participant") => void;
  onRemove: (allowRejoin: boolean) => void;
  /** Only for a phone or room system: give it a name everyone sees. */
  onRename?: (displayName: string) => void;
}

export function manageParticipantDialog(opts: ManageParticipantOptions): void {
  const panel = createPanel({ title: opts.name, testid: "manage-participant-dialog" });
  panel.dialog.setAttribute("data-meeting-dialog", "");
  const isCohost = opts.role === "cohost";
  const roleButton = h("button", { type: "button", class: "button", "data-testid": "cohost-toggle" }, isCohost ? t("manage.cohostOff") : t("manage.cohostOn"));
  roleButton.addEventListener("click", () => {
    opts.onRole(isCohost ? "participant" : "cohost");
    panel.close();
  });
  const allow = checkbox(t("manage.allowRejoin", { name: opts.name }), { "data-testid": "allow-rejoin" }, t("manage.allowRejoinHelp"));
  const remove = h("button", { type: "button", class: "button danger", "data-testid": "remove-participant" }, t("manage.remove", { name: opts.name }));
  remove.addEventListener("click", () => {
    opts.onRemove(allow.input.checked);
    panel.close();
  });
  let renameForm: HTMLFormElement | null = null;
  if (opts.onRename) {
    const onRename = opts.onRename;
    const nameInput = input({ value: opts.name, maxlength: 64, required: true, autocomplete: "off", spellcheck: "false", "data-testid": "rename-input" });
    renameForm = h("form", { class: "rename-form", "data-testid": "rename-form" }, field(t("manage.renameLabel"), nameInput, t("manage.renameHelp")), h("div", { class: "row end" }, h("button", { type: "submit", class: "button", "data-testid": "rename-button" }, t("manage.rename"))));
    renameForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const name = nameInput.value.trim();
      if (name.length === 0) return;
      onRename(name);
      panel.close();
    });
  }
  append(panel.body, [
    h("p", { class: "muted" }, isCohost ? t("manage.roleCohost") : t("manage.roleParticipant")),
    opts.canChangeRole ? h("div", { class: "row" }, roleButton) : null,
    renameForm,
    h("h3", {}, t("manage.removeTitle")),
    h("p", {}, t("manage.removeText", { name: opts.name })),
    allow.row,
    h("div", { class: "row end" }, remove),
  ]);
  document.body.append(panel.dialog);
  panel.dialog.addEventListener("close", () => panel.dialog.remove());
  panel.open(opts.opener, roleButton);
}
