/**
 * Admin portal, Groups: create groups, and per group rename it, add and remove members, open its
 * settings, or delete it (its members stay, without a group). A user is in at most one group:
 * adding someone moves them out of any other.
 */
import { addGroupMember, createGroup, deleteGroup, getGroup, listGroups, listUsers, removeGroupMember, renameGroup, type Group, type User } from "../../api/accounts.js";
import { UiError } from "../../errors.js";
import { errorBox } from "../common.js";
import { confirmDialog } from "../dialog.js";
import { h, replaceChildren } from "../dom.js";
import { field, input, showError, showSuccess, statusArea, whileBusy } from "../forms.js";
import { adminTabs, pageHead } from "../shell.js";
import { levelHash } from "./settings-page.js";
import { t, tn } from "../../i18n/i18n.js";

export async function renderAdminGroupsPage(main: HTMLElement): Promise<void> {
  const head = pageHead(t("shell.admin"));
  replaceChildren(main, head, adminTabs("groups"), h("p", { class: "muted" }, t("common.loading")));
  let groups: Group[];
  try {
    groups = await listGroups();
  } catch (e) {
    replaceChildren(main, head, adminTabs("groups"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }
  const name = input({ maxlength: 100, required: true, autocomplete: "off", "data-testid": "group-name" });
  const create = h("button", { type: "submit", class: "button primary", "data-testid": "group-create" }, t("groups.create"));
  const status = statusArea("group-create-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-group-title", novalidate: true },
    h("h2", { id: "new-group-title" }, t("groups.new")),
    h("p", { class: "muted" }, t("groups.lead")),
    field(t("my.name"), name),
    create,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, t("groups.nameMissing")));
      name.focus();
      return;
    }
    void whileBusy(create, () => createGroup(name.value.trim()))
      .then((g) => (location.hash = `#/admin/groups/${encodeURIComponent(g.id)}`))
      .catch((e: unknown) => showError(status, e));
  });
  const list =
    groups.length === 0
      ? h("p", { class: "muted" }, t("groups.none"))
      : h(
          "ul",
          { class: "item-list", "data-testid": "group-list" },
          ...groups.map((g) =>
            h(
              "li",
              { class: "item", "data-testid": "group-item", "data-group-name": g.name },
              h("div", { class: "item-main" }, h("p", { class: "item-title" }, g.name), h("p", { class: "item-meta" }, tn("code.members", g.memberCount))),
              h(
                "div",
                { class: "item-actions" },
                h("a", { class: "button small", href: `#/admin/groups/${encodeURIComponent(g.id)}`, "aria-label": t("people.manageLabel", { name: g.name }) }, t("people.manage")),
                h("a", { class: "button small", href: levelHash({ kind: "group", id: g.id }), "aria-label": t("groups.settingsOf", { name: g.name }) }, t("admin.tabSettings")),
              ),
            ),
          ),
        );
  replaceChildren(
    main,
    head,
    adminTabs("groups"),
    h("div", { class: "columns" }, h("section", { class: "card", "aria-labelledby": "groups-title" }, h("h2", { id: "groups-title" }, t("admin.tabGroups")), list), form),
  );
}

export async function renderAdminGroupPage(main: HTMLElement, groupId: string): Promise<void> {
  const head = pageHead(t("shell.admin"));
  replaceChildren(main, head, adminTabs("groups"), h("p", { class: "muted" }, t("common.loading")));
  let group: Group;
  let members: User[];
  let users: User[];
  try {
    [{ group, members }, users] = await Promise.all([getGroup(groupId), listUsers()]);
  } catch (e) {
    replaceChildren(main, head, adminTabs("groups"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")), h("a", { href: "#/admin/groups", class: "link" }, t("groups.all")));
    return;
  }
  const reload = (): void => void renderAdminGroupPage(main, groupId);

  // Rename.
  const name = input({ maxlength: 100, required: true, autocomplete: "off", "data-testid": "group-rename-input" });
  name.value = group.name;
  const rename = h("button", { type: "submit", class: "button", "data-testid": "group-rename" }, t("groups.rename"));
  const renameStatus = statusArea();
  const renameForm = h("form", { class: "card", novalidate: true, "aria-labelledby": "rename-title" }, h("h2", { id: "rename-title" }, t("groups.rename")), field(t("my.name"), name), rename, renameStatus);
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void whileBusy(rename, () => renameGroup(group.id, name.value.trim()))
      .then((g) => {
        group = g;
        showSuccess(renameStatus, t("groups.renamed"));
        title.textContent = t("groups.title", { name: g.name });
      })
      .catch((e: unknown) => showError(renameStatus, e));
  });

  // Members.
  const memberItem = (u: User): HTMLElement => {
    const st = statusArea();
    const remove = h("button", { type: "button", class: "button small", "aria-label": t("groups.removeMemberLabel", { name: u.name, group: group.name }), "data-testid": "group-member-remove" }, t("groups.removeMember"));
    remove.addEventListener("click", () => {
      void whileBusy(remove, () => removeGroupMember(group.id, u.id))
        .then(reload)
        .catch((e: unknown) => showError(st, e));
    });
    return h(
      "li",
      { class: "item", "data-testid": "group-member", "data-email": u.email },
      h("div", { class: "item-main" }, h("p", { class: "item-title" }, u.name), h("p", { class: "item-meta" }, u.email)),
      h("div", { class: "item-actions" }, remove),
      st,
    );
  };
  const outside = users.filter((u) => u.groupId !== group.id);
  const candidate = h(
    "select",
    { "data-testid": "group-add-user" },
    ...outside.map((u) => h("option", { value: u.id }, u.groupId ? t("groups.candidateElsewhere", { name: u.name, email: u.email }) : t("groups.candidate", { name: u.name, email: u.email }))),
  );
  const add = h("button", { type: "submit", class: "button primary", "data-testid": "group-add", disabled: outside.length === 0 }, t("groups.add"));
  const addStatus = statusArea();
  const addForm = h("form", { class: "inline-form", novalidate: true, "aria-label": t("groups.addMember") }, field(t("groups.addMember"), candidate, t("groups.addMemberHelp")), add, addStatus);
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!candidate.value) return;
    void whileBusy(add, () => addGroupMember(group.id, candidate.value))
      .then(reload)
      .catch((e: unknown) => showError(addStatus, e));
  });

  const del = h("button", { type: "button", class: "button danger-outline", "data-testid": "group-delete" }, t("groups.delete"));
  const delStatus = statusArea();
  del.addEventListener("click", () => {
    void confirmDialog(
      { title: t("groups.deleteTitle", { name: group.name }), message: t("groups.deleteMessage"), confirmLabel: t("groups.delete"), danger: true, testid: "confirm-delete-group" },
      del,
    ).then(async (ok) => {
      if (!ok) return;
      try {
        await deleteGroup(group.id);
        location.hash = "#/admin/groups";
      } catch (e) {
        showError(delStatus, e);
      }
    });
  });

  const title = h("h2", { id: "group-title" }, t("groups.title", { name: group.name }));
  replaceChildren(
    main,
    head,
    adminTabs("groups"),
    h("p", {}, h("a", { href: "#/admin/groups", class: "link" }, t("groups.all"))),
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "card", "aria-labelledby": "group-title", "data-testid": "group-detail" },
        title,
        members.length === 0 ? h("p", { class: "muted" }, t("groups.noMembers")) : h("ul", { class: "item-list", "data-testid": "group-members" }, ...members.map(memberItem)),
        addForm,
      ),
      h(
        "div",
        { class: "stack" },
        renameForm,
        h(
          "section",
          { class: "card", "aria-labelledby": "group-more" },
          h("h2", { id: "group-more" }, t("groups.more")),
          h("p", {}, h("a", { class: "button", href: levelHash({ kind: "group", id: group.id }), "data-testid": "group-settings-link" }, t("groups.openSettings"))),
          del,
          delStatus,
        ),
      ),
    ),
  );
}
