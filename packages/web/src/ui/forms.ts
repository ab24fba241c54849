/**
 * Form pieces the account screens share: labelled fields, a status area that announces results,
 * a busy button while a request runs, a read-only link with a copy button, and safe localStorage.
 */
import { UiError } from "../errors.js";
import { errorBox } from "./common.js";
import { h, icon, replaceChildren, uid, type Attrs, type Child } from "./dom.js";
import { ICONS } from "./icons.js";
import { t } from "../i18n/i18n.js";

/** A label above its control, and optional help the control is described by. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement, help?: Child): HTMLElement {
  if (!control.id) control.id = uid("field");
  const helpEl = help ? h("p", { class: "help", id: uid("help") }, help) : null;
  if (helpEl) control.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id, class: "field-label" }, label), control, helpEl);
}

export function input(attrs: Attrs): HTMLInputElement {
  return h("input", { type: "text", ...attrs });
}

/** A checkbox with its label on the same line. */
export function checkbox(label: Child, attrs: Attrs = {}, help?: Child | Child[]): { row: HTMLElement; input: HTMLInputElement } {
  const box = h("input", { type: "checkbox", ...attrs });
  const helpEl = help ? h("span", { class: "help block", id: uid("help") }, ...(Array.isArray(help) ? help : [help])) : null;
  if (helpEl) box.setAttribute("aria-describedby", helpEl.id);
  return { row: h("div", { class: "check-field" }, h("label", { class: "check" }, box, h("span", {}, label)), helpEl), input: box };
}

/** Where a form says how its request went (announced politely; errors are alerts themselves). */
export function statusArea(testid?: string): HTMLDivElement {
  return h("div", { class: "form-status", "aria-live": "polite", ...(testid ? { "data-testid": testid } : {}) });
}

export function showError(status: HTMLElement, e: unknown): UiError {
  const err = e instanceof UiError ? e : new UiError("INTERNAL");
  replaceChildren(status, errorBox(err));
  return err;
}

export function showSuccess(status: HTMLElement, text: string): void {
  replaceChildren(status, h("p", { class: "success", role: "status" }, text));
}

/** Disables `button` while `work` runs; the result (or error) is the caller's. */
export async function whileBusy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A read-only text field holding a link, with a Copy button that says whether it worked. */
export function copyField(label: string, value: string, testid: string): HTMLElement {
  const id = uid("copy");
  const text = h("input", { id, type: "text", readonly: true, "data-testid": testid, spellcheck: "false" });
  text.value = value;
  const said = h("span", { class: "muted", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "button", "aria-label": t("forms.copyLabel", { label }) }, icon(ICONS.copy), t("common.copy"));
  copy.addEventListener("click", () => {
    text.select();
    navigator.clipboard
      .writeText(value)
      .then(() => (said.textContent = t("forms.copied")))
      .catch(() => (said.textContent = t("forms.copyByHand")));
  });
  return h("div", { class: "copy-field" }, h("label", { for: id, class: "field-label" }, label), h("div", { class: "row" }, text, copy), said);
}

export function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: nothing is remembered
  }
}

export function safeRemove(key: string): void {
  try {
    localStorage.removeItem(key);
  } catch {
    // storage disabled
  }
}
