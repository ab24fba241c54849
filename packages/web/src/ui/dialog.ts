/**
 * Modal panels on the native <dialog>: showModal() traps focus and closes on Escape; this adds
 * a labelled title, a close button, initial focus on the panel's first control and focus
 * returning to whatever opened it.
 */
import { h, icon, uid, type Child } from "./dom.js";
import { ICONS } from "./icons.js";
import { t } from "../i18n/i18n.js";

export interface Panel {
  dialog: HTMLDialogElement;
  body: HTMLDivElement;
  /** Opens the panel; focus goes to `focus` (default: the close button) and returns to `opener`. */
  open(opener?: HTMLElement | null, focus?: HTMLElement | null): void;
  close(): void;
}

export function createPanel(opts: { title: string; testid: string; description?: Child }): Panel {
  const titleId = uid("dlg-title");
  const body = h("div", { class: "dialog-body" });
  const closeButton = h("button", { type: "button", class: "icon-button dialog-close", "aria-label": t("common.close") }, icon(ICONS.close));
  const dialog = h(
    "dialog",
    { class: "panel", "aria-labelledby": titleId, "data-testid": opts.testid },
    h("div", { class: "dialog-head" }, h("h2", { id: titleId }, opts.title), closeButton),
    body,
  );
  let opener: HTMLElement | null = null;
  closeButton.addEventListener("click", () => dialog.close());
  // A click on the backdrop (outside the panel's box) closes it too.
  dialog.addEventListener("click", (event) => {
    if (event.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    const e = event as MouseEvent;
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
  });
  dialog.addEventListener("close", () => {
    // A list re-rendered while the panel was open has replaced its opener: focus its successor.
    const key = opener?.getAttribute("data-focus-key");
    const target = opener?.isConnected || !key ? opener : document.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
    target?.focus();
    opener = null;
  });
  return {
    dialog,
    body,
    open(from, focus) {
      opener = from ?? (document.activeElement instanceof HTMLElement ? document.activeElement : null);
      if (!dialog.open) dialog.showModal();
      (focus ?? closeButton).focus();
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}

export interface ConfirmOptions {
  title: string;
  message: Child;
  confirmLabel: string;
  danger?: boolean;
  testid: string;
  /** Extra content between the message and the buttons (e.g. a checkbox). */
  extra?: Child;
}

/**
 * Asks a yes/no question in a modal panel. Resolves true when confirmed; Cancel, Escape, the
 * close button and the backdrop all resolve false. Focus starts on Cancel, the safe choice.
 */
export function confirmDialog(opts: ConfirmOptions, opener?: HTMLElement | null): Promise<boolean> {
  const panel = createPanel({ title: opts.title, testid: opts.testid });
  const cancel = h("button", { type: "button", class: "button", "data-testid": "confirm-cancel" }, t("common.cancel"));
  const ok = h("button", { type: "button", class: `button ${opts.danger ? "danger" : "primary"}`, "data-testid": "confirm-ok" }, opts.confirmLabel);
  panel.body.append(h("p", {}, opts.message), ...(opts.extra ? [h("div", {}, opts.extra)] : []), h("div", { class: "row end" }, cancel, ok));
  document.body.append(panel.dialog);
  return new Promise((resolve) => {
    let answer = false;
    cancel.addEventListener("click", () => panel.close());
    ok.addEventListener("click", () => {
      answer = true;
      panel.close();
    });
    panel.dialog.addEventListener("close", () => {
      panel.dialog.remove();
      resolve(answer);
    });
    panel.open(opener ?? null, cancel);
  });
}
