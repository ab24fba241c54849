/**
 * The settings of one level (account, a group, a user) as a list of rows: each setting's value
 * control and, at account and group level, a Lock toggle that forces the value on every level
 * below. A setting locked above this level is read-only here, with a lock icon and who locked
 * it. Changes are saved at once; a refusal (409 SETTING_LOCKED when a lock arrived meanwhile)
 * is shown in the row, and the level is read again so the row shows the lock.
 */
import { getLevelSettings, patchLevelSettings, type CatalogEntry, type LevelSettings, type SettingPatch, type SettingsLevel, type SettingValue, type SettingView } from "../api/settings.js";
import { UiError } from "../errors.js";
import { errorBox } from "./common.js";
import { h, icon, replaceChildren, uid } from "./dom.js";
import { ICONS } from "./icons.js";
import { hasMessage, t, type MessageKey } from "../i18n/i18n.js";

export interface SettingsTableOptions {
  level: SettingsLevel;
  catalog: CatalogEntry[];
  /** The level's settings as first loaded. */
  settings: LevelSettings;
}

const ENUM_LABELS: Record<string, MessageKey> = { e2ee: "common.e2ee", enhanced: "common.enhanced" };

/** "Locked by your account admin" / "Locked by your group admin". */
export function lockedAboveText(lockedAt: "account" | "group" | undefined): string {
  return lockedAt === "group" ? t("lock.byGroup") : t("lock.byAccount");
}

/** A setting's words: the catalogue's translation when it has one, else the server's (English). */
function settingText(entry: CatalogEntry, part: "label" | "description"): string {
  const key = `setting.${entry.key}.${part}`;
  return hasMessage(key) ? t(key) : entry[part];
}

function sourceText(view: SettingView, level: SettingsLevel["kind"]): string {
  if (view.value !== null && !(view.lockedAt !== undefined && view.lockedAt !== level)) return t("settings.setHere");
  switch (view.source) {
    case "default":
      return t("settings.default");
    case "account":
      return level === "account" ? t("settings.setHere") : t("settings.fromAccount");
    case "group":
      return level === "group" ? t("settings.setHere") : t("settings.fromGroup");
    case "user":
      return t("settings.fromUser");
  }
}

export function settingsTable(opts: SettingsTableOptions): HTMLElement {
  const lockable = opts.level.kind !== "user";
  const list = h("ul", { class: "settings-list", "data-testid": "settings-list", "data-level": opts.level.kind });
  const announce = h("p", { class: "visually-hidden", "aria-live": "polite" });
  let settings = opts.settings;
  /** The row whose change is on its way, and what it said afterwards (kept across re-renders). */
  const notes = new Map<string, Node>();

  const save = async (key: string, patch: SettingPatch, focusTestid: string): Promise<void> => {
    notes.set(key, h("p", { class: "muted" }, t("settings.saving")));
    render();
    try {
      settings = await patchLevelSettings(opts.level, patch);
      notes.set(key, h("p", { class: "success", "data-testid": "setting-saved" }, t("common.saved")));
      const saved = opts.catalog.find((c) => c.key === key);
      announce.textContent = t("settings.savedAnnounce", { label: saved ? settingText(saved, "label") : key });
    } catch (e) {
      const err = e instanceof UiError ? e : new UiError("INTERNAL");
      notes.set(key, errorBox(err));
      // A lock may have arrived meanwhile: show the level as it is now.
      try {
        settings = await getLevelSettings(opts.level);
      } catch {
        // keep what we had; the error box says what happened
      }
    }
    render();
    list.querySelector<HTMLElement>(`[data-setting-key="${key}"] [data-testid="${focusTestid}"]:not(:disabled)`)?.focus();
  };

  const row = (entry: CatalogEntry): HTMLElement | null => {
    const view = settings[entry.key];
    if (!view) return null;
    const key = entry.key;
    const labelId = uid("setting");
    const descId = uid("setting-desc");
    const noteId = uid("setting-note");
    const lockedAbove = !view.writable;
    const effective = view.effective;

    let control: HTMLInputElement | HTMLSelectElement;
    if (entry.type === "boolean") {
      const box = h("input", { type: "checkbox", role: "switch", class: "switch", "aria-labelledby": labelId, "aria-describedby": descId, "data-testid": "setting-value" });
      box.checked = effective === true;
      box.addEventListener("change", () => void save(key, { [key]: { value: box.checked } }, "setting-value"));
      control = box;
    } else {
      const select = h(
        "select",
        { "aria-labelledby": labelId, "aria-describedby": descId, "data-testid": "setting-value" },
        ...(entry.values ?? []).map((v) => h("option", { value: v, selected: v === effective }, ENUM_LABELS[v] ? t(ENUM_LABELS[v]) : v)),
      );
      select.addEventListener("change", () => void save(key, { [key]: { value: select.value } }, "setting-value"));
      control = select;
    }
    control.disabled = lockedAbove;
    // Read-only rows say why, to screen readers too.
    if (lockedAbove) control.setAttribute("aria-describedby", `${descId} ${noteId}`);

    let lockButton: HTMLButtonElement | null = null;
    if (lockable) {
      const lockedHere = view.locked;
      const label = settingText(entry, "label");
      lockButton = h(
        "button",
        {
          type: "button",
          class: `lock-toggle${lockedHere ? " on" : ""}`,
          "aria-pressed": String(lockedHere),
          "aria-label": opts.level.kind === "account" ? t("settings.lockAccount", { label }) : t("settings.lockGroup", { label }),
          "data-testid": "setting-lock",
          disabled: lockedAbove,
        },
        icon(ICONS.lock),
        lockedHere ? t("settings.locked") : t("settings.lock"),
      );
      lockButton.addEventListener("click", () => {
        // Locking forces the value shown here (not the built-in default) on the levels below.
        const patch: SettingPatch = lockedHere ? { [key]: { locked: false } } : { [key]: { value: effective as SettingValue, locked: true } };
        void save(key, patch, "setting-lock");
      });
    }
    let reset: HTMLButtonElement | null = null;
    if (view.value !== null && !lockedAbove && !view.locked) {
      reset = h("button", { type: "button", class: "button small", "aria-label": t("settings.resetLabel", { label: settingText(entry, "label") }), "data-testid": "setting-reset" }, t("settings.reset"));
      reset.addEventListener("click", () => void save(key, { [key]: { value: null } }, "setting-value"));
    }
    const note = notes.get(key) ?? null;
    return h(
      "li",
      {
        class: `setting-row${lockedAbove ? " locked-above" : ""}`,
        "data-testid": "setting-row",
        "data-setting-key": key,
        "data-writable": String(!lockedAbove),
        "data-locked": String(view.locked),
      },
      h(
        "div",
        { class: "setting-text" },
        h("span", { class: "setting-label", id: labelId }, settingText(entry, "label")),
        h("span", { class: "setting-desc", id: descId }, settingText(entry, "description")),
        entry.needsServerSideMember ? h("span", { class: "setting-note", "data-testid": "e2ee-unavailable" }, icon(ICONS.shieldAlert), t("settings.e2eeUnavailable")) : null,
        lockedAbove
          ? h("span", { class: "locked-note", id: noteId, "data-testid": "setting-locked-note" }, icon(ICONS.lock), lockedAboveText(view.lockedAt))
          : h("span", { class: "setting-source" }, sourceText(view, opts.level.kind)),
      ),
      h("div", { class: "setting-controls" }, control, lockButton, reset),
      note ? h("div", { class: "setting-status", "data-testid": "setting-status" }, note) : null,
    );
  };

  const render = (): void => {
    // A setting whose feature is not built yet is not offered (it would change nothing).
    replaceChildren(list, ...opts.catalog.filter((entry) => !entry.notBuilt).map(row));
  };
  render();
  return h("div", { class: "settings-table" }, list, announce);
}
