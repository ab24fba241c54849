/**
 * Meetings, for every signed-in user: schedule one (the link with its passcode is shown once,
 * right after), and the list of one's meetings with join, copy link, edit, new passcode and
 * delete. Admins see every meeting on the admin portal's Meetings tab, through the same list.
 */
import type { User } from "../api/accounts.js";
import { dialInBox } from "./dial-in.js";
import { deleteMeeting, listMeetings, resetPasscode, type CreatedMeeting, type MeetingDetails } from "../api/meetings.js";
import { effectiveSettings } from "../api/settings.js";
import { encryptionBadge, errorBox, formatMeetingId } from "./common.js";
import { confirmDialog, createPanel } from "./dialog.js";
import { h, icon, replaceChildren } from "./dom.js";
import { copyField, showError, statusArea, whileBusy } from "./forms.js";
import { ICONS } from "./icons.js";
import type { Effective } from "../schedule-rules.js";
import { scheduleForm } from "./schedule-form.js";
import { pageHead } from "./shell.js";
import { UiError } from "../errors.js";
import { t, tParts } from "../i18n/i18n.js";

export async function renderMeetingsPage(main: HTMLElement, user: User): Promise<void> {
  replaceChildren(main, pageHead(t("shell.meetings")), h("p", { class: "muted" }, t("common.loading")));
  let effective: Effective;
  let meetings: MeetingDetails[];
  try {
    [effective, meetings] = await Promise.all([effectiveSettings(), listMeetings()]);
  } catch (e) {
    replaceChildren(main, pageHead(t("shell.meetings")), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }
  const listBox = h("section", { class: "card", "aria-labelledby": "my-meetings-title" });
  const createdBox = h("div", { class: "created-slot", "aria-live": "polite" });
  const formCard = h("section", { class: "card", "aria-labelledby": "schedule-title" });

  const refreshList = async (): Promise<void> => {
    try {
      meetings = await listMeetings();
    } catch (e) {
      showError(listBox, e);
      return;
    }
    renderList();
  };
  const renderList = (): void => {
    const mine = meetings.filter((m) => m.ownerUserId === user.id);
    replaceChildren(
      listBox,
      h("h2", { id: "my-meetings-title" }, t("meetings.yours")),
      meetingList(mine, { effective, onChanged: () => void refreshList() }),
    );
  };
  const renderForm = (): void => {
    const form = scheduleForm({
      effective,
      onCreated: (created) => {
        replaceChildren(createdBox, createdMeetingBox(created));
        createdBox.querySelector<HTMLElement>("[data-testid=created-link]")?.focus();
        renderForm();
        void refreshList();
      },
    });
    replaceChildren(formCard, h("h2", { id: "schedule-title" }, t("meetings.schedule")), createdBox, form);
  };
  renderForm();
  renderList();
  replaceChildren(
    main,
    pageHead(t("shell.meetings"), t("meetings.lead")),
    h("div", { class: "columns" }, formCard, listBox),
  );
}

/** Shown once after creating: the link with the passcode, which the server will not show again. */
function createdMeetingBox(created: CreatedMeeting): HTMLElement {
  const url = new URL(created.url);
  return h(
    "div",
    { class: "created", "data-testid": "meeting-created" },
    h("p", { class: "success" }, icon(ICONS.shieldCheck), created.encryption === "e2ee" ? ` ${t("meetings.scheduledE2ee")}` : ` ${t("meetings.scheduledEnhanced")}`),
    copyField(created.passcode ? t("meetings.joinLinkWithPasscode") : t("meetings.joinLink"), created.url, "created-link"),
    created.passcode
      ? h("p", { class: "help" }, ...tParts("meetings.passcodeOnce", { passcode: h("strong", { class: "mono", "data-testid": "created-passcode" }, created.passcode) }))
      : null,
    dialInBox(created.dialIn),
    h("div", { class: "row" }, h("a", { class: "button primary", href: url.pathname + url.hash, "data-testid": "created-join" }, t("start.joinNow"))),
  );
}

export interface MeetingListOptions {
  effective: Effective | null;
  /** Owner names (admin view); absent: the list is one person's own. */
  owners?: Map<string, string>;
  onChanged: () => void;
}

export function meetingList(meetings: MeetingDetails[], opts: MeetingListOptions): HTMLElement {
  if (meetings.length === 0) return h("p", { class: "muted", "data-testid": "no-meetings" }, t("meetings.none"));
  return h("ul", { class: "item-list", "data-testid": "meeting-list" }, ...meetings.map((m) => meetingItem(m, opts)));
}

function when(m: MeetingDetails): string {
  const parts: string[] = [];
  if (m.startAt) parts.push(new Date(m.startAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
  else parts.push(t("meetings.anyTime"));
  if (m.durationMin) parts.push(t("meetings.minutes", { minutes: m.durationMin }));
  return parts.join(" · ");
}

function meetingItem(m: MeetingDetails, opts: MeetingListOptions): HTMLElement {
  const title = m.topic ?? t("meetings.noTopic");
  const status = statusArea();
  const tags = [
    m.ended ? h("span", { class: "tag warn" }, t("meetings.ended")) : null,
    m.passcodeRequired ? h("span", { class: "tag" }, t("meetings.passcode")) : h("span", { class: "tag" }, t("meetings.noPasscode")),
    m.waitingRoom ? h("span", { class: "tag" }, t("meetings.waitingRoom")) : null,
    m.joinBeforeHost ? h("span", { class: "tag" }, t("meetings.joinBeforeHost")) : null,
  ];
  const actions: HTMLElement[] = [];
  if (!m.ended) {
    const join = h("a", { class: "button small primary", href: `/m/${m.id}`, "aria-label": t("meetings.joinLabel", { title }), "data-testid": "meeting-join" }, t("meetings.join"));
    const copy = h("button", { type: "button", class: "button small", "aria-label": t("meetings.copyLabel", { title }), "data-testid": "meeting-copy" }, icon(ICONS.copy), t("start.copyLink"));
    copy.addEventListener("click", () => {
      navigator.clipboard
        .writeText(m.url)
        .then(() => replaceChildren(status, h("p", { class: "muted" }, t("meetings.copied", { url: m.url }))))
        .catch(() => replaceChildren(status, h("p", { class: "muted" }, t("meetings.link", { url: m.url }))));
    });
    actions.push(join, copy);
    if (opts.effective) {
      const effective = opts.effective;
      const edit = h("button", { type: "button", class: "button small", "aria-label": t("meetings.editLabel", { title }), "data-testid": "meeting-edit" }, t("meetings.edit"));
      edit.addEventListener("click", () => openEditDialog(m, effective, edit, opts.onChanged));
      actions.push(edit);
    }
    const reset = h("button", { type: "button", class: "button small", "aria-label": t("meetings.newPasscodeLabel", { title }), "data-testid": "meeting-reset-passcode" }, t("meetings.newPasscode"));
    reset.addEventListener("click", () => {
      void confirmDialog(
        { title: t("meetings.newPasscodeTitle"), message: t("meetings.newPasscodeMessage"), confirmLabel: t("meetings.newPasscodeConfirm"), testid: "confirm-passcode" },
        reset,
      ).then(async (ok) => {
        if (!ok) return;
        try {
          const fresh = await whileBusy(reset, () => resetPasscode(m.id));
          replaceChildren(
            status,
            h(
              "div",
              { class: "created", "data-testid": "new-passcode" },
              copyField(t("meetings.newLink"), fresh.url, "new-passcode-link"),
              h("p", { class: "help" }, ...tParts("meetings.passcodeIs", { passcode: h("strong", { class: "mono" }, fresh.passcode) })),
              dialInBox(fresh.dialIn),
            ),
          );
          status.querySelector<HTMLElement>("input")?.focus();
        } catch (e) {
          showError(status, e);
        }
      });
    });
    actions.push(reset);
  }
  const del = h("button", { type: "button", class: "button small danger-outline", "aria-label": t("meetings.deleteLabel", { title }), "data-testid": "meeting-delete" }, t("common.delete"));
  del.addEventListener("click", () => {
    void confirmDialog({ title: t("meetings.deleteTitle"), message: t("meetings.deleteMessage", { title }), confirmLabel: t("meetings.deleteConfirm"), danger: true, testid: "confirm-delete-meeting" }, del).then(async (ok) => {
      if (!ok) return;
      try {
        await whileBusy(del, () => deleteMeeting(m.id));
        opts.onChanged();
      } catch (e) {
        showError(status, e);
      }
    });
  });
  actions.push(del);
  const owner = opts.owners ? (m.ownerUserId ? (opts.owners.get(m.ownerUserId) ?? t("meetings.deletedUser")) : t("meetings.adminToken")) : null;
  return h(
    "li",
    { class: "item", "data-testid": "meeting-item", "data-meeting-id": m.id, "data-topic": m.topic ?? "" },
    h(
      "div",
      { class: "item-main" },
      h("p", { class: "item-title" }, title),
      h("p", { class: "item-meta" }, when(m), " · ", h("span", { class: "mono" }, formatMeetingId(m.id)), owner ? ` · ${t("meetings.owner", { owner })}` : null),
      h("div", { class: "tags" }, encryptionBadge(m.encryption), ...tags),
    ),
    h("div", { class: "item-actions" }, ...actions),
    status,
  );
}

function openEditDialog(m: MeetingDetails, effective: Effective, opener: HTMLElement, onChanged: () => void): void {
  const panel = createPanel({ title: t("meetings.editTitle", { topic: m.topic ?? t("meetings.meetingWord") }), testid: "edit-meeting-dialog" });
  panel.body.append(
    scheduleForm({
      effective,
      meeting: m,
      onSaved: () => {
        panel.close();
        onChanged();
      },
    }),
  );
  document.body.append(panel.dialog);
  panel.dialog.addEventListener("close", () => panel.dialog.remove());
  panel.open(opener, panel.body.querySelector<HTMLElement>("input"));
}
