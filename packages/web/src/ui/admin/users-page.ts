/**
 * Admin portal, Users: everyone with an account (change role, disable, delete), invitations
 * (invite: the link is shown once; pending ones can be withdrawn).
 *
 * Only the owner grants or takes away the admin role and manages admins; admins manage members.
 * The page offers only what the signed-in person may do; the server checks it again.
 */
import { deleteUser, invitationLink, invite, listGroups, listInvitations, listUsers, updateUser, withdrawInvitation, type Group, type Invitation, type User } from "../../api/accounts.js";
import { UiError } from "../../errors.js";
import { errorBox } from "../common.js";
import { confirmDialog } from "../dialog.js";
import { h, replaceChildren } from "../dom.js";
import { copyField, field, input, showError, statusArea, whileBusy } from "../forms.js";
import { adminTabs, pageHead } from "../shell.js";
import { t, type MessageKey } from "../../i18n/i18n.js";

const ROLE = { owner: "role.owner", admin: "role.admin", member: "role.member" } as const satisfies Record<string, MessageKey>;

export async function renderAdminUsersPage(main: HTMLElement, me: User): Promise<void> {
  const head = pageHead(t("shell.admin"));
  replaceChildren(main, head, adminTabs("users"), h("p", { class: "muted" }, t("common.loading")));
  let users: User[];
  let groups: Group[];
  let invitations: Invitation[];
  try {
    [users, groups, invitations] = await Promise.all([listUsers(), listGroups(), listInvitations()]);
  } catch (e) {
    replaceChildren(main, head, adminTabs("users"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }
  const reload = (): void => void renderAdminUsersPage(main, me);
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  const canManage = (u: User): boolean => u.id !== me.id && u.role !== "owner" && (me.role === "owner" || u.role === "member");

  const userItem = (u: User): HTMLElement => {
    const status = statusArea();
    const controls: HTMLElement[] = [];
    if (canManage(u)) {
      if (me.role === "owner") {
        const role = h(
          "select",
          { "aria-label": t("users.roleOf", { name: u.name }), "data-testid": "user-role" },
          h("option", { value: "member", selected: u.role === "member" }, t("role.member")),
          h("option", { value: "admin", selected: u.role === "admin" }, t("role.admin")),
        );
        role.addEventListener("change", () => {
          updateUser(u.id, { role: role.value as "admin" | "member" })
            .then(reload)
            .catch((e: unknown) => showError(status, e));
        });
        controls.push(role);
      }
      const toggle = h("button", { type: "button", class: "button small", "aria-label": u.disabled ? t("users.enableLabel", { name: u.name }) : t("users.disableLabel", { name: u.name }), "data-testid": "user-disable" }, u.disabled ? t("users.enable") : t("users.disable"));
      toggle.addEventListener("click", () => {
        void whileBusy(toggle, () => updateUser(u.id, { disabled: !u.disabled }))
          .then(reload)
          .catch((e: unknown) => showError(status, e));
      });
      const del = h("button", { type: "button", class: "button small danger-outline", "aria-label": t("users.deleteLabel", { name: u.name }), "data-testid": "user-delete" }, t("common.delete"));
      del.addEventListener("click", () => {
        void confirmDialog(
          { title: t("users.deleteTitle", { name: u.name }), message: t("users.deleteMessage"), confirmLabel: t("users.deleteConfirm"), danger: true, testid: "confirm-delete-user" },
          del,
        ).then(async (ok) => {
          if (!ok) return;
          try {
            await deleteUser(u.id);
            reload();
          } catch (e) {
            showError(status, e);
          }
        });
      });
      controls.push(toggle, del);
    }
    return h(
      "li",
      { class: "item", "data-testid": "user-item", "data-email": u.email },
      h(
        "div",
        { class: "item-main" },
        h("p", { class: "item-title" }, u.name, u.id === me.id ? h("span", { class: "muted" }, ` ${t("people.you")}`) : null),
        h("p", { class: "item-meta" }, u.email),
        h(
          "div",
          { class: "tags" },
          h("span", { class: "tag" }, t(ROLE[u.role])),
          u.groupId ? h("span", { class: "tag" }, t("groups.title", { name: groupName.get(u.groupId) ?? "?" })) : null,
          u.disabled ? h("span", { class: "tag warn" }, t("users.disabled")) : null,
        ),
      ),
      h("div", { class: "item-actions" }, ...controls),
      status,
    );
  };

  // Invite.
  const email = input({ type: "email", autocomplete: "off", required: true, spellcheck: "false", "data-testid": "invite-email" });
  const role = h("select", { "data-testid": "invite-role" }, h("option", { value: "member" }, t("role.member")), me.role === "owner" ? h("option", { value: "admin" }, t("role.admin")) : null);
  const group = h("select", { "data-testid": "invite-group" }, h("option", { value: "" }, t("users.noGroup")), ...groups.map((g) => h("option", { value: g.id }, g.name)));
  const send = h("button", { type: "submit", class: "button primary", "data-testid": "invite-submit" }, t("users.invite"));
  const inviteStatus = statusArea("invite-status");
  const inviteForm = h(
    "form",
    { class: "card", "aria-labelledby": "invite-title", novalidate: true },
    h("h2", { id: "invite-title" }, t("users.inviteTitle")),
    h("p", { class: "muted" }, t("users.inviteLead")),
    field(t("signin.email"), email),
    h("div", { class: "two" }, field(t("users.role"), role), field(t("users.group"), group)),
    send,
    inviteStatus,
  );
  inviteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!email.value.trim()) {
      replaceChildren(inviteStatus, h("p", { class: "field-error", role: "alert" }, t("users.emailMissing")));
      email.focus();
      return;
    }
    void whileBusy(send, () => invite(email.value.trim(), role.value as "admin" | "member", group.value || null))
      .then((created) => {
        email.value = "";
        replaceChildren(
          inviteStatus,
          h(
            "div",
            { class: "created", "data-testid": "invitation-created" },
            h("p", { class: "success" }, t("users.invited", { email: created.invitation.email })),
            copyField(t("users.inviteLink"), invitationLink(created.token), "invitation-link"),
          ),
        );
        inviteStatus.querySelector<HTMLElement>("input")?.focus();
        void listInvitations().then((list) => replaceChildren(pendingBox, pendingList(list)));
      })
      .catch((e: unknown) => showError(inviteStatus, e));
  });

  const pendingList = (list: Invitation[]): HTMLElement =>
    list.length === 0
      ? h("p", { class: "muted" }, t("users.noPending"))
      : h(
          "ul",
          { class: "item-list", "data-testid": "invitation-list" },
          ...list.map((inv) => {
            const st = statusArea();
            const withdraw = h("button", { type: "button", class: "button small", "aria-label": t("users.withdrawLabel", { email: inv.email }) }, t("users.withdraw"));
            withdraw.addEventListener("click", () => {
              void whileBusy(withdraw, () => withdrawInvitation(inv.id))
                .then(reload)
                .catch((e: unknown) => showError(st, e));
            });
            return h(
              "li",
              { class: "item", "data-testid": "invitation-item" },
              h(
                "div",
                { class: "item-main" },
                h("p", { class: "item-title" }, inv.email),
                h("p", { class: "item-meta" }, `${t(ROLE[inv.role])}${inv.groupId ? ` · ${groupName.get(inv.groupId) ?? "?"}` : ""} · ${t("users.expires", { date: new Date(inv.expiresAt).toLocaleDateString() })}`),
              ),
              h("div", { class: "item-actions" }, withdraw),
              st,
            );
          }),
        );
  const pendingBox = h("div", {}, pendingList(invitations));

  replaceChildren(
    main,
    head,
    adminTabs("users"),
    h(
      "div",
      { class: "columns" },
      h("section", { class: "card", "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, t("users.title", { count: users.length })), h("ul", { class: "item-list", "data-testid": "user-list" }, ...users.map(userItem))),
      h("div", { class: "stack" }, inviteForm, h("section", { class: "card", "aria-labelledby": "pending-title" }, h("h2", { id: "pending-title" }, t("users.pending")), pendingBox)),
    ),
  );
}
