/**
 * The form that schedules a meeting or edits one. Every choice stays within the person's
 * effective settings: a choice an admin has locked is shown disabled, with who locked it, and a
 * turned-off E2EE is not offered. The server checks the same rules (docs/api.md "Meetings
 * within settings"); this form only keeps people from asking for what would be refused.
 */
import { scheduleMeeting, updateMeeting, type CreatedMeeting, type Encryption, type MeetingDetails, type MeetingOptions } from "../api/meetings.js";
import { encryptionChoices, lockReason, toLocalInput, type Effective } from "../schedule-rules.js";
import { h, icon, uid } from "./dom.js";
import { checkbox, field, input, showError, statusArea, whileBusy } from "./forms.js";
import { ICONS } from "./icons.js";
import { t } from "../i18n/i18n.js";

export interface ScheduleFormOptions {
  effective: Effective;
  /** The meeting being edited; absent: a new one. */
  meeting?: MeetingDetails;
  onCreated?: (created: CreatedMeeting) => void;
  onSaved?: (meeting: MeetingDetails) => void;
}

export function scheduleForm(opts: ScheduleFormOptions): HTMLFormElement {
  const m = opts.meeting;
  const eff = opts.effective;
  const editing = m !== undefined;
  const topic = input({ maxlength: 200, autocomplete: "off", "data-testid": "meeting-topic", placeholder: t("schedule.topicPlaceholder") });
  topic.value = m?.topic ?? "";
  const start = input({ type: "datetime-local", "data-testid": "meeting-start" });
  start.value = toLocalInput(m?.startAt ?? null);
  const duration = input({ type: "number", min: 1, max: 1440, step: 1, inputmode: "numeric", "data-testid": "meeting-duration" });
  duration.value = String(m?.durationMin ?? 60);

  // Encryption: radios, with the ones the settings rule out disabled and explained.
  const { allowed, preferred } = encryptionChoices(eff);
  const current: Encryption = m?.encryption ?? preferred;
  const group = uid("enc");
  const radio = (value: Encryption, title: string, text: string, paths: readonly string[]): HTMLElement => {
    const reason = allowed[value];
    const r = h("input", { type: "radio", name: group, value, "data-testid": `schedule-encryption-${value}`, disabled: reason !== null && current !== value });
    r.checked = current === value;
    const reasonEl = reason ? h("span", { class: "lock-reason", "data-testid": "lock-reason" }, icon(ICONS.lock), reason) : null;
    return h(
      "label",
      { class: `choice${reason ? " unavailable" : ""}` },
      r,
      h("span", { class: "choice-body" }, h("span", { class: "choice-title" }, icon(paths), title), h("span", { class: "choice-text" }, text), reasonEl),
    );
  };
  const encryption = h(
    "fieldset",
    { class: "choices", "data-testid": "schedule-encryption" },
    h("legend", {}, t("start.encryption")),
    radio("e2ee", t("common.e2ee"), t("schedule.e2eeText"), ICONS.shieldLock),
    radio("enhanced", t("common.enhanced"), t("schedule.enhancedText"), ICONS.shieldCheck),
  );

  const lockable = (key: string, label: string, help: string, testid: string, initial: boolean | undefined): { row: HTMLElement; input: HTMLInputElement } => {
    const s = eff[key];
    const reason = lockReason(s);
    const c = checkbox(label, { "data-testid": testid, disabled: reason !== null }, reason ? [icon(ICONS.lock), ` ${reason}. `, help] : help);
    c.input.checked = reason !== null ? s?.value === true : (initial ?? s?.value === true);
    if (reason) c.row.classList.add("locked");
    return c;
  };
  const passcodeSetting = eff.passcodeRequired;
  const passcodeLockedOn = passcodeSetting?.locked === true && passcodeSetting.value === true;
  const passcode = editing
    ? null
    : (() => {
        const c = checkbox(
          t("schedule.requirePasscode"),
          { "data-testid": "meeting-passcode", disabled: passcodeLockedOn },
          passcodeLockedOn ? [icon(ICONS.lock), ` ${t("schedule.passcodeLocked", { reason: lockReason(passcodeSetting) ?? "" })} `, t("schedule.passcodeHelp")] : t("schedule.passcodeHelp"),
        );
        c.input.checked = passcodeLockedOn || passcodeSetting?.value !== false;
        if (passcodeLockedOn) c.row.classList.add("locked");
        return c;
      })();
  const waitingRoom = lockable("waitingRoom", t("meetings.waitingRoom"), t("schedule.waitingRoomHelp"), "meeting-waiting-room", m?.waitingRoom);
  const joinBeforeHost = lockable("joinBeforeHost", t("meetings.joinBeforeHost"), t("schedule.joinBeforeHostHelp"), "meeting-join-before-host", m?.joinBeforeHost);
  // Chosen once: a meeting's MLS suite cannot change, so editing shows it without offering it.
  const postQuantum = editing ? null : lockable("postQuantumKeyExchange", t("schedule.postQuantum"), t("schedule.postQuantumHelp"), "meeting-post-quantum", undefined);

  const submit = h("button", { type: "submit", class: "button primary", "data-testid": "schedule-submit" }, editing ? t("schedule.save") : t("schedule.submit"));
  const status = statusArea("schedule-status");
  const form = h(
    "form",
    { class: "schedule-form", "data-testid": editing ? "edit-meeting-form" : "schedule-form", novalidate: true, "aria-label": editing ? t("schedule.editLabel") : t("meetings.schedule") },
    field(t("schedule.topic"), topic),
    h("div", { class: "two" }, field(t("schedule.starts"), start, t("schedule.startsHelp")), field(t("schedule.duration"), duration)),
    encryption,
    passcode?.row ?? null,
    waitingRoom.row,
    joinBeforeHost.row,
    postQuantum?.row ?? null,
    m ? h("p", { class: "help", "data-testid": "meeting-post-quantum-fixed" }, m.postQuantum ? t("schedule.postQuantumFixed") : t("schedule.classicalFixed")) : null,
    h("div", { class: "row" }, submit),
    status,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = Number(duration.value);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      status.replaceChildren(h("p", { class: "field-error", role: "alert" }, t("schedule.durationInvalid")));
      duration.focus();
      return;
    }
    let startAt: string | null = null;
    if (start.value) {
      const d = new Date(start.value);
      if (Number.isNaN(d.getTime())) {
        status.replaceChildren(h("p", { class: "field-error", role: "alert" }, t("schedule.startInvalid")));
        start.focus();
        return;
      }
      startAt = d.toISOString();
    }
    const chosen = (form.querySelector<HTMLInputElement>(`input[name="${group}"]:checked`)?.value ?? preferred) as Encryption;
    const wanted: MeetingOptions = {
      topic: topic.value.trim() || null,
      startAt,
      durationMin: minutes,
      encryption: chosen,
      ...(waitingRoom.input.disabled ? {} : { waitingRoom: waitingRoom.input.checked }),
      ...(joinBeforeHost.input.disabled ? {} : { joinBeforeHost: joinBeforeHost.input.checked }),
    };
    if (!m) {
      const created = {
        ...wanted,
        ...(passcode && !passcode.input.disabled ? { passcode: passcode.input.checked } : {}),
        ...(postQuantum && !postQuantum.input.disabled ? { postQuantum: postQuantum.input.checked } : {}),
      };
      void whileBusy(submit, () => scheduleMeeting(created))
        .then((created) => opts.onCreated?.(created))
        .catch((e: unknown) => showError(status, e));
      return;
    }
    // An edit sends only what changed: the server checks only the options an edit changes.
    const changes: MeetingOptions = {};
    if (wanted.topic !== m.topic) changes.topic = wanted.topic ?? null;
    if (toLocalInput(wanted.startAt ?? null) !== toLocalInput(m.startAt)) changes.startAt = wanted.startAt ?? null;
    if (wanted.durationMin !== m.durationMin) changes.durationMin = wanted.durationMin ?? null;
    if (wanted.encryption !== m.encryption) changes.encryption = chosen;
    if (wanted.waitingRoom !== undefined && wanted.waitingRoom !== m.waitingRoom) changes.waitingRoom = wanted.waitingRoom;
    if (wanted.joinBeforeHost !== undefined && wanted.joinBeforeHost !== m.joinBeforeHost) changes.joinBeforeHost = wanted.joinBeforeHost;
    void whileBusy(submit, () => updateMeeting(m.id, changes))
      .then((saved) => opts.onSaved?.(saved))
      .catch((e: unknown) => showError(status, e));
  });
  return form;
}
