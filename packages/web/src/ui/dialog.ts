/**
 * Modal panels on the native <dialog>: showModal() traps focus and closes on Escape; this adds
 * a labelled title, a close button, initial focus on the panel's first control and focus
 * returning to whatever opened it.
 */
import { h, icon, uid, type Child } from "./dom.js";
import { ICONS } from "./icons.js";

export interface Panel {
  dialog: HTMLDialogElement;
  body: HTMLDivElement;
  open(opener?: HTMLElement | null): void;
  close(): void;
}

export function createPanel(opts: { title: string; testid: string; description?: Child }): Panel {
  const titleId = uid("dlg-title");
  const body = h("div", { class: "dialog-body" });
  const closeButton = h("button", { type: "button", class: "icon-button dialog-close", "aria-label": "Close" }, icon(ICONS.close));
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
    opener?.focus();
    opener = null;
  });
  return {
    dialog,
    body,
    open(from) {
      opener = from ?? (document.activeElement instanceof HTMLElement ? document.activeElement : null);
      if (!dialog.open) dialog.showModal();
      closeButton.focus();
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}
