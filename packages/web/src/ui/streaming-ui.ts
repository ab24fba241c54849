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

export class StreamingUi {
  readonly badge = h("span", { class: "badge badge-live", "data-testid": "stream-indicator", role: "status", hidden: true }, "LIVE");
  readonly #url = h("input", { type: "url", id: "stream-url", placeholder: "rtmps://live.example.com/app", autocomplete: "off", "data-testid": "stream-url" }) as HTMLInputElement;
  readonly #key = h("input", { type: "password", id: "stream-key", autocomplete: "off", "data-testid": "stream-key" }) as HTMLInputElement;
  readonly #layout = h(
    "select",
    { id: "stream-layout", "data-testid": "stream-layout" },
    h("option", { value: "speaker", selected: true }, "Active speaker"),
    h("option", { value: "grid" }, "Grid (up to 4 cameras)"),
  ) as HTMLSelectElement;
  readonly #start = h("button", { type: "submit", class: "button small", "data-testid": "stream-start" }, "Start live stream");
  readonly #stop = h("button", { type: "button", class: "button small", "data-testid": "stream-stop", hidden: true }, "Stop live stream");
  readonly #help = h("p", { class: "help", "data-testid": "stream-status", role: "status", "aria-live": "polite" });
  readonly #form = h(
    "form",
    { class: "stream-form" },
    h("label", { for: "stream-url" }, "Stream URL (rtmp:// or rtmps://)"),
    this.#url,
    h("label", { for: "stream-key" }, "Stream key"),
    this.#key,
    h("label", { for: "stream-layout" }, "Layout"),
    this.#layout,
    this.#start,
  );
  /** For the host controls: start or stop the meeting's live stream. */
  readonly hostSection = h("div", { class: "live-streaming", hidden: true }, h("h4", {}, "Live stream"), this.#form, this.#stop, this.#help);

  constructor(meetingId: string) {
    this.#form.addEventListener("submit", (e) => {
      e.preventDefault();
      const key = this.#key.value;
      this.#start.disabled = true;
      this.#help.textContent = "Connecting to the streaming service…";
      void startStream(meetingId, this.#url.value.trim(), key, this.#layout.value === "grid" ? "grid" : "speaker")
        .then(
          (s) => {
            this.#key.value = "";
            this.#help.textContent = `Live to ${s.destination}${s.tls ? " (TLS)" : " (unencrypted beyond the connector)"}.`;
          },
          (err: unknown) => {
            this.#help.textContent = err instanceof UiError ? `${err.message}${err.detail ? ` (${err.detail})` : ""}` : "The stream could not be started.";
          },
        )
        .finally(() => {
          this.#start.disabled = false;
        });
    });
    this.#stop.addEventListener("click", () => {
      this.#stop.disabled = true;
      this.#help.textContent = "Stopping the stream…";
      void stopStream(meetingId)
        .then(
          () => {
            this.#help.textContent = "The stream has ended.";
          },
          (err: unknown) => {
            this.#help.textContent = err instanceof UiError ? err.message : "The stream could not be stopped.";
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
    this.badge.title = live ? `${live.displayName}: ${live.protection === "TLS" ? "TLS to the streaming service" : "unencrypted beyond the connector"}` : "";
    const hosting = s.role !== "participant" && s.phase === "in-meeting" && s.encryption === "enhanced";
    this.hostSection.hidden = !hosting;
    this.#form.hidden = live !== undefined;
    this.#stop.hidden = live === undefined;
  }
}
