/**
 * Keyboard shortcuts in the meeting, and the help dialog that lists them (opened with "?" or from
 * the More panel). Single keys without modifiers, as in Jitsi Meet; they never fire while someone
 * types in a field or a dialog is open, so they cannot eat a letter of a name or a passcode.
 */
import { t, type MessageKey } from "../i18n/i18n.js";
import { createPanel, type Panel } from "./dialog.js";
import { h, replaceChildren } from "./dom.js";

export type ShortcutAction = "mic" | "camera" | "screen" | "layout" | "people" | "leave" | "help";

/** The key (as KeyboardEvent.key, lower-cased) for each action, and how the help shows it. */
export const SHORTCUTS: readonly { action: ShortcutAction; key: string; label: string; description: MessageKey }[] = [
  { action: "mic", key: "m", label: "M", description: "shortcuts.mic" },
  { action: "camera", key: "v", label: "V", description: "shortcuts.camera" },
  { action: "screen", key: "s", label: "S", description: "shortcuts.screen" },
  { action: "layout", key: "g", label: "G", description: "shortcuts.layout" },
  { action: "people", key: "p", label: "P", description: "shortcuts.people" },
  { action: "leave", key: "l", label: "L", description: "shortcuts.leave" },
  { action: "help", key: "?", label: "?", description: "shortcuts.help" },
];

/** Listens for the shortcuts until the returned function is called. */
export function installShortcuts(run: (action: ShortcutAction) => void): () => void {
  const onKey = (event: KeyboardEvent): void => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target as HTMLElement | null;
    if (target?.closest("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]")) return;
    const key = event.key.toLowerCase();
    const shortcut = SHORTCUTS.find((s) => s.key === key);
    if (!shortcut) return;
    event.preventDefault();
    run(shortcut.action);
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}

/** The help dialog listing every shortcut. */
export function shortcutsPanel(): Panel {
  const panel = createPanel({ title: t("shortcuts.title"), testid: "shortcuts-dialog" });
  replaceChildren(
    panel.body,
    h("p", { class: "muted" }, t("shortcuts.intro")),
    h(
      "dl",
      { class: "shortcut-list" },
      ...SHORTCUTS.flatMap((s) => [h("dt", {}, h("kbd", {}, s.label)), h("dd", {}, t(s.description))]),
    ),
  );
  return panel;
}
