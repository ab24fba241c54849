/**
 * Live captions on the meeting screen, and the host's start/stop control for live transcription.
 *
 * The captions area (data-testid "captions") shows while a transcription connector is in the
 * MLS group (computed from the group's own credentials): the latest lines, each naming its
 * speaker. Caption text is shown as text, never markup. Hosts of Enhanced meetings get the
 * start/stop buttons (data-testid "transcription-start" / "transcription-stop"); E2EE meetings
 * have no transcription (no server-side member may hold their keys).
 */
import type { Caption } from "@conclave/client";
import { startTranscription, stopTranscription } from "../api/transcription.js";
import { UiError } from "../errors.js";
import type { MeetingSnapshot } from "../meeting/meeting-controller.js";
import { h, replaceChildren } from "./dom.js";
import { t } from "../i18n/i18n.js";

/** Caption lines kept on screen. */
const LINES = 3;

export class CaptionsUi {
  readonly captions = h("div", { class: "captions", "data-testid": "captions", role: "log", "aria-live": "polite", "aria-label": t("captions.title"), hidden: true });
  readonly #start = h("button", { type: "button", class: "button small", "data-testid": "transcription-start", hidden: true }, t("captions.start"));
  readonly #stop = h("button", { type: "button", class: "button small", "data-testid": "transcription-stop", hidden: true }, t("captions.stop"));
  readonly #help = h("p", { class: "help", "data-testid": "transcription-control-status", role: "status", "aria-live": "polite" });
  /** For the host controls. */
  readonly hostSection = h("div", { class: "live-transcription" }, h("h4", {}, t("captions.title")), this.#start, this.#stop, this.#help);
  /** Final captions, oldest first, plus the partial one of each speaker. */
  #lines: Caption[] = [];

  constructor(meetingId: string) {
    const run = (starting: boolean) => {
      this.#start.disabled = true;
      this.#stop.disabled = true;
      this.#help.textContent = starting ? t("captions.starting") : t("captions.stopping");
      const op = starting ? startTranscription(meetingId) : stopTranscription(meetingId);
      void op
        .then(
          () => {
            this.#help.textContent = starting ? t("captions.joining") : t("captions.stopped");
          },
          (e: unknown) => {
            this.#help.textContent = e instanceof UiError ? e.message : t("captions.failed");
          },
        )
        .finally(() => {
          this.#start.disabled = false;
          this.#stop.disabled = false;
        });
    };
    this.#start.addEventListener("click", () => run(true));
    this.#stop.addEventListener("click", () => run(false));
  }

  add(c: Caption): void {
    // A partial caption is replaced by the next one of its speaker and sequence.
    this.#lines = this.#lines.filter((l) => l.final || l.speaker !== c.speaker);
    this.#lines.push(c);
    const finals = this.#lines.filter((l) => l.final);
    if (finals.length > LINES) this.#lines = this.#lines.filter((l) => !l.final || finals.indexOf(l) >= finals.length - LINES);
    replaceChildren(
      this.captions,
      ...this.#lines.map((l) =>
        h("p", { class: l.final ? "caption" : "caption partial", "data-speaker": l.speaker }, h("span", { class: "caption-speaker" }, t("captions.speaker", { name: l.speakerName })), h("span", { class: "caption-text" }, l.text)),
      ),
    );
    this.captions.hidden = false;
  }

  render(s: MeetingSnapshot): void {
    const on = s.phase === "in-meeting" && s.shield.keyHoldingConnectors.some((c) => c.connector === "transcription");
    this.captions.hidden = !on || this.#lines.length === 0;
    if (!on && this.#lines.length > 0) {
      this.#lines = [];
      replaceChildren(this.captions);
    }
    const hosting = s.role !== "participant" && s.phase === "in-meeting" && s.encryption === "enhanced";
    this.hostSection.hidden = !hosting;
    this.#start.hidden = !hosting || on;
    this.#stop.hidden = !hosting || !on;
  }
}
