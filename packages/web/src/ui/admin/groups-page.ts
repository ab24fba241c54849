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

export async function renderAdminGroupsPage(main: HTMLElement): Promise<void> {
  const head = pageHead("Admin");
  replaceChildren(main, head, adminTabs("groups"), h("p", { class: "muted" }, "Loading…"));
  let groups: Group[];
  try {
    groups = await listGroups();
  } catch (e) {
    replaceChildren(main, head, adminTabs("groups"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }
  const name = input({ maxlength: 100, required: true, autocomplete: "off", "data-testid": "group-name" });
  const create = h("button", { type: "submit", class: "button primary", "data-testid": "group-create" }, "Create group");
  const status = statusArea("group-create-status");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-group-title", novalidate: true },
    h("h2", { id: "new-group-title" }, "New group"),
    h("p", { class: "muted" }, "Groups let you give a team its own settings and locks."),
    field("Name", name),
    create,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      replaceChildren(status, h("p", { class: "field-error", role: "alert" }, "Enter the group's name."));
      name.focus();
      return;
    }
    void whileBusy(create, () => createGroup(name.value.trim()))
      .then((g) => (location.hash = `#/admin/groups/${encodeURIComponent(g.id)}`))
      .catch((e: unknown) => showError(status, e));
  });
  const list =
    groups.length === 0
      ? h("p", { class: "muted" }, "No groups yet.")
      : h(
          "ul",
          { class: "item-list", "data-testid": "group-list" },
          ...groups.map((g) =>
            h(
              "li",
              { class: "item", "data-testid": "group-item", "data-group-name": g.name },
              h("div", { class: "item-main" }, h("p", { class: "item-title" }, g.name), h("p", { class: "item-meta" }, `${g.memberCount} ${g.memberCount === 1 ? "member" : "members"}`)),
              h(
                "div",
                { class: "item-actions" },
                h("a", { class: "button small", href: `#/admin/groups/${encodeURIComponent(g.id)}`, "aria-label": `Manage ${g.name}` }, "Manage"),
                h("a", { class: "button small", href: levelHash({ kind: "group", id: g.id }), "aria-label": `Settings of ${g.name}` }, "Settings"),
              ),
            ),
          ),
        );
  replaceChildren(
    main,
    head,
    adminTabs("groups"),
    h("div", { class: "columns" }, h("section", { class: "card", "aria-labelledby": "groups-title" }, h("h2", { id: "groups-title" }, "Groups"), list), form),
  );
}

export async function renderAdminGroupPage(main: HTMLElement, groupId: string): Promise<void> {
  const head = pageHead("Admin");
  replaceChildren(main, head, adminTabs("groups"), h("p", { class: "muted" }, "Loading…"));
  let group: Group;
  let members: User[];
  let users: User[];
  try {
    [{ group, members }, users] = await Promise.all([getGroup(groupId), listUsers()]);
  } catch (e) {
    replaceChildren(main, head, adminTabs("groups"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")), h("a", { href: "#/admin/groups", class: "link" }, "All groups"));
    return;
  }
  const reload = (): void => void renderAdminGroupPage(main, groupId);

  // Rename.
  const name = input({ maxlength: 100, required: true, autocomplete: "off", "data-testid": "group-rename-input" });
  name.value = group.name;
  const rename = h("button", { type: "submit", class: "button", "data-testid": "group-rename" }, "Rename");
  const renameStatus = statusArea();
  const renameForm = h("form", { class: "card", novalidate: true, "aria-labelledby": "rename-title" }, h("h2", { id: "rename-title" }, "Rename"), field("Name", name), rename, renameStatus);
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void whileBusy(rename, () => renameGroup(group.id, name.value.trim()))
      .then((g) => {
        group = g;
        showSuccess(renameStatus, "Renamed.");
        title.textContent = `Group: ${g.name}`;
      })
      .catch((e: unknown) => showError(renameStatus, e));
  });

  // Members.
  const memberItem = (u: User): HTMLElement => {
    const st = statusArea();
    const remove = h("button", { type: "button", class: "button small", "aria-label": `Remove ${u.name} from ${group.name}`, "data-testid": "group-member-remove" }, "Remove");
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
    ...outside.map((u) => h("option", { value: u.id }, `${u.name} (${u.email})${u.groupId ? " · in another group" : ""}`)),
  );
  const add = h("button", { type: "submit", class: "button primary", "data-testid": "group-add", disabled: outside.length === 0 }, "Add to group");
  const addStatus = statusArea();
  const addForm = h("form", { class: "inline-form", novalidate: true, "aria-label": "Add a member" }, field("Add a member", candidate, "Someone in another group moves to this one."), add, addStatus);
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!candidate.value) return;
    void whileBusy(add, () => addGroupMember(group.id, candidate.value))
      .then(reload)
      .catch((e: unknown) => showError(addStatus, e));
  });

  const del = h("button", { type: "button", class: "button danger-outline", "data-testid": "group-delete" }, "Delete group");
  const delStatus = statusArea();
  del.addEventListener("click", () => {
    void confirmDialog(
      { title: `Delete ${group.name}?`, message: "Its members stay, without a group; its settings and locks are deleted.", confirmLabel: "Delete group", danger: true, testid: "confirm-delete-group" },
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

  const title = h("h2", { id: "group-title" }, `Group: ${group.name}`);
  replaceChildren(
    main,
    head,
    adminTabs("groups"),
    h("p", {}, h("a", { href: "#/admin/groups", class: "link" }, "← All groups")),
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "card", "aria-labelledby": "group-title", "data-testid": "group-detail" },
        title,
        members.length === 0 ? h("p", { class: "muted" }, "No members yet.") : h("ul", { class: "item-list", "data-testid": "group-members" }, ...members.map(memberItem)),
        addForm,
      ),
      h(
        "div",
        { class: "stack" },
        renameForm,
        h(
          "section",
          { class: "card", "aria-labelledby": "group-more" },
          h("h2", { id: "group-more" }, "Settings and removal"),
          h("p", {}, h("a", { class: "button", href: levelHash({ kind: "group", id: group.id }), "data-testid": "group-settings-link" }, "Open the group's settings")),
          del,
          delStatus,
        ),
      ),
    ),
  );
}
