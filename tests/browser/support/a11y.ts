/**
 * Keyboard and naming audit, run inside the page over every interactive element a person can
 * currently reach (visible, enabled, not inert behind a modal dialog):
 * - it is keyboard-focusable: Tab reaches it (for radio groups: Tab reaches the group);
 * - it has an accessible name: aria-labelledby, aria-label, a <label>, its text, or a title.
 * Returns one line per problem (empty when all is well).
 */
import type { Page } from "playwright-core";

const SELECTOR = 'button, input:not([type="hidden"]), select, textarea, a[href], [role="button"], [tabindex]:not([tabindex="-1"])';

export async function auditControls(page: Page): Promise<string[]> {
  // Tag the candidates, then walk the page with Tab and note which ones receive focus.
  const count = await page.evaluate((selector) => {
    const modal = document.querySelector("dialog[open]");
    const scope: ParentNode = modal ?? document;
    let n = 0;
    for (const el of document.querySelectorAll<HTMLElement>("[data-a11y-id]")) el.removeAttribute("data-a11y-id");
    for (const el of scope.querySelectorAll<HTMLElement>(selector)) {
      // checkVisibility also rules out content that is not rendered, such as a closed <details>.
      const visible = el.getClientRects().length > 0 && el.checkVisibility({ visibilityProperty: true });
      if (!visible || (el as HTMLButtonElement).disabled) continue;
      el.setAttribute("data-a11y-id", String(n++));
    }
    (document.activeElement as HTMLElement | null)?.blur();
    return n;
  }, SELECTOR);
  const reached = new Set<string>();
  const radioGroupsReached = new Set<string>();
  for (let i = 0; i < count * 2 + 10; i++) {
    await page.keyboard.press("Tab");
    const info = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return { id: el?.getAttribute("data-a11y-id") ?? null, radio: el instanceof HTMLInputElement && el.type === "radio" ? el.name : null };
    });
    if (info.id !== null) reached.add(info.id);
    if (info.radio) radioGroupsReached.add(info.radio);
  }
  return page.evaluate(
    ({ reachedIds, radios }) => {
      const problems: string[] = [];
      const describe = (el: HTMLElement): string => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.getAttribute("data-testid") ? `[data-testid=${el.getAttribute("data-testid")}]` : ""}`;
      const nameOf = (el: HTMLElement): string => {
        const by = el.getAttribute("aria-labelledby");
        if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ").trim();
        const aria = el.getAttribute("aria-label");
        if (aria && aria.trim()) return aria.trim();
        const labels = (el as HTMLInputElement).labels;
        if (labels && labels.length > 0) return [...labels].map((l) => l.textContent ?? "").join(" ").trim();
        if (!(el instanceof HTMLInputElement) && !(el instanceof HTMLSelectElement) && el.textContent?.trim()) return el.textContent.trim();
        return el.getAttribute("title")?.trim() ?? "";
      };
      for (const el of document.querySelectorAll<HTMLElement>("[data-a11y-id]")) {
        const id = el.getAttribute("data-a11y-id")!;
        const isRadio = el instanceof HTMLInputElement && el.type === "radio";
        if (!reachedIds.includes(id) && !(isRadio && radios.includes((el as HTMLInputElement).name))) problems.push(`${describe(el)} is not reachable with Tab`);
        if (!nameOf(el)) problems.push(`${describe(el)} has no accessible name`);
        el.removeAttribute("data-a11y-id");
      }
      return problems;
    },
    { reachedIds: [...reached], radios: [...radioGroupsReached] },
  );
}
