/**
 * Cloud recording on the meeting screen: the REC indicator and the notice everyone sees (people
 * who join later too) while a recording connector is in the MLS group — computed from the
 * group's own credentials, not from what the server says — and the host's start/stop button.
 */
import { startRecording, stopRecording } from "../api/recordings.js";
import { UiError } from "../errors.js";
import type { MeetingSnapshot } from "../meeting/meeting-controller.js";
import { h } from "./dom.js";
import { t } from "../i18n/i18n.js";

export class CloudRecordingUi {
  readonly badge = h("span", { class: "badge badge-recording", "data-testid": "recording-indicator", role: "status", hidden: true }, h("span", { class: "rec-dot", "aria-hidden": "true" }), t("cloudRecording.badge"));
  readonly notice = h("p", { class: "recording-notice", "data-testid": "recording-notice", role: "status", hidden: true });
  readonly #button = h("button", { type: "button", class: "button small", "data-testid": "recording-button", hidden: true }, t("cloudRecording.start"));
  readonly #help = h("p", { class: "help", "data-testid": "recording-control-status", role: "status", "aria-live": "polite" });
  /** For the host controls: start or stop the meeting's cloud recording. */
  readonly hostSection = h("div", { class: "cloud-recording" }, h("h4", {}, t("cloudRecording.title")), this.#button, this.#help);

  constructor(meetingId: string) {
    this.#button.addEventListener("click", () => {
      const recording = this.#button.getAttribute("data-recording") === "true";
      this.#button.disabled = true;
      this.#help.textContent = recording ? t("cloudRecording.stopping") : t("cloudRecording.starting");
      const op = recording ? stopRecording(meetingId) : startRecording(meetingId);
      void op
        .then(
          (r) => {
            this.#help.textContent = r.status === "ready" ? t("cloudRecording.saved") : t("cloudRecording.joining");
          },
          (e: unknown) => {
            this.#help.textContent = e instanceof UiError ? e.message : recording ? t("cloudRecording.stopFailed") : t("cloudRecording.startFailed");
          },
        )
        .finally(() => {
          this.#button.disabled = false;
        });
    });
  }

  render(s: MeetingSnapshot): void {
    const on = s.phase === "in-meeting" && s.shield.keyHoldingConnectors.some((c) => c.connector === "recording");
    this.badge.hidden = !on;
    this.notice.hidden = !on;
    this.notice.textContent = on ? t("cloudRecording.notice") : "";
    const hosting = s.role !== "participant" && s.phase === "in-meeting" && s.encryption === "enhanced";
    this.hostSection.hidden = !hosting;
    this.#button.hidden = !hosting;
    this.#button.setAttribute("data-recording", String(on));
    this.#button.textContent = on ? t("cloudRecording.stop") : t("cloudRecording.start");
  }
}
