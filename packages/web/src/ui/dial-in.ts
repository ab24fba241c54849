/**
 * Phone dial-in in an invitation: the numbers the server's SIP trunks answer (config
 * `dialInNumbers`) and the meeting's 8-digit phone passcode. The server includes them only where
 * the passcode itself is shown (creating a meeting, a new passcode), only when dial-in is
 * configured, the meeting's `phoneDialIn` setting allows it and the meeting is not E2EE (which
 * refuses phones); so this shows them whenever they are there.
 */
import type { DialIn } from "../api/meetings.js";
import { t } from "../i18n/i18n.js";
import { h } from "./dom.js";

export function dialInBox(dialIn: DialIn | undefined): HTMLElement | null {
  if (!dialIn || dialIn.numbers.length === 0) return null;
  return h(
    "div",
    { class: "dial-in", "data-testid": "dial-in" },
    h("p", { class: "field-label" }, t("dialIn.title")),
    h("ul", { class: "dial-in-numbers", "data-testid": "dial-in-numbers", "aria-label": t("dialIn.numbers") }, ...dialIn.numbers.map((n) => h("li", { class: "mono" }, h("a", { href: `tel:${n.replace(/[^+0-9]/g, "")}` }, n)))),
    dialIn.phonePasscode
      ? h("p", { class: "help" }, t("dialIn.passcode"), " ", h("strong", { class: "mono", "data-testid": "phone-passcode" }, dialIn.phonePasscode), " ", t("dialIn.passcodeHelp"))
      : h("p", { class: "help" }, t("dialIn.noPasscode")),
  );
}
