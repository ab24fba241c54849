/**
 * Live streaming on the meeting screen: the LIVE indicator everyone sees while a streaming
 * connector is in the MLS group (from the group's own credentials, with the destination and
 * whether its leg is TLS or unencrypted), and the host's small form to start (URL + stream key +
 * layout: active speaker or grid) and stop the stream. The key field is a password field and is cleared once sent.
 */
import { startStream, stopStream } from "../api/streams.js";
import { UiError } from "../errors.js";
import type { MeetingSnapshot } from "../meeting/meeting-controller.js";
import { h } from "./dom.js";
import { t } from "../i18n/i18n.js";

export class StreamingUi {
  readonly badge = h("span", { class: "badge badge-live", "data-testid": "stream-indicator", role: "status", hidden: true }, t("streaming.badge"));
  readonly #url = h("input", { type: "url", id: "stream-url", placeholder: "rtmps://live.example.com/app", autocomplete: "off", "data-testid": "stream-url" }) as HTMLInputElement;
  readonly #key = h("input", { type: "password", id: "stream-key", autocomplete: "off", "data-testid": "stream-key" }) as HTMLInputElement;
  readonly #layout = h(
    "select",
    { id: "stream-layout", "data-testid": "stream-layout" },
    h("option", { value: "speaker", selected: true }, t("streaming.layoutSpeaker")),
    h("option", { value: "grid" }, t("streaming.layoutGrid")),
  ) as HTMLSelectElement;
  readonly #start = h("button", { type: "submit", class: "button small", "data-testid": "stream-start" }, t("streaming.start"));
  readonly #stop = h("button", { type: "button", class: "button small", "data-testid": "stream-stop", hidden: true }, t("streaming.stop"));
  readonly #help = h("p", { class: "help", "data-testid": "stream-status", role: "status", "aria-live": "polite" });
  readonly #form = h(
    "form",
    { class: "stream-form" },
    h("label", { for: "stream-url" }, t("streaming.url")),
    this.#url,
    h("label", { for: "stream-key" }, t("streaming.key")),
    this.#key,
    h("label", { for: "stream-layout" }, t("streaming.layout")),
    this.#layout,
    this.#start,
  );
  /** For the host controls: start or stop the meeting's live stream. */
  readonly hostSection = h("div", { class: "live-streaming", hidden: true }, h("h4", {}, t("streaming.title")), this.#form, this.#stop, this.#help);

  constructor(meetingId: string) {
    this.#form.addEventListener("submit", (e) => {
      e.preventDefault();
      const key = this.#key.value;
      this.#start.disabled = true;
      this.#help.textContent = t("streaming.connecting");
      void startStream(meetingId, this.#url.value.trim(), key, this.#layout.value === "grid" ? "grid" : "speaker")
        .then(
          (s) => {
            this.#key.value = "";
            this.#help.textContent = t(s.tls ? "streaming.liveTls" : "streaming.livePlain", { destination: s.destination });
          },
          (err: unknown) => {
            this.#help.textContent = err instanceof UiError ? `${err.message}${err.detail ? ` (${err.detail})` : ""}` : t("streaming.startFailed");
          },
        )
        .finally(() => {
          this.#start.disabled = false;
        });
    });
    this.#stop.addEventListener("click", () => {
      this.#stop.disabled = true;
      this.#help.textContent = t("streaming.stopping");
      void stopStream(meetingId)
        .then(
          () => {
            this.#help.textContent = t("streaming.ended");
          },
          (err: unknown) => {
            this.#help.textContent = err instanceof UiError ? err.message : t("streaming.stopFailed");
          },
        )
        .finally(() => {
          this.#stop.disabled = false;
        });
    });
  }

  render(s: MeetingSnapshot): void {
    const live = s.phase === "in-meeting" ? s.shield.exceptions.find((x) => x.connector === "streaming") : undefined;
    this.badge.hidden = live === undefined;
    this.badge.title = live ? t(live.protection === "TLS" ? "streaming.badgeTls" : "streaming.badgePlain", { name: live.displayName }) : "";
    const hosting = s.role !== "participant" && s.phase === "in-meeting" && s.encryption === "enhanced";
    this.hostSection.hidden = !hosting;
    this.#form.hidden = live !== undefined;
    this.#stop.hidden = live === undefined;
  }
}
