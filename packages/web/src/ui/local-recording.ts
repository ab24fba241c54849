/**
 * Local recording: a participant records what they see and hear on their own device, so an
 * end-to-end encrypted meeting (which admits no server-side recorder) can still be recorded,
 * and nothing of it reaches the server. The meeting's video tiles are drawn onto a canvas
 * (a grid, 1280x720 at 15 frames/s) and every audio stream the page plays, plus this device's
 * microphone, is mixed with WebAudio; MediaRecorder encodes both (VP8 + Opus in WebM) into
 * memory, and stopping saves the file to the device through a download. Starting and stopping
 * are announced to everyone (`localRecording` application messages, through the controller);
 * LocalRecordingNotice shows the others' announcements.
 */
import type { LocalRecorder } from "@conclave/client";
import { t, tParts } from "../i18n/i18n.js";
import { h } from "./dom.js";

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 15;

export interface LocalRecordingSources {
  /** The video elements on screen (remote tiles and this device's own). */
  videos(): HTMLVideoElement[];
  /** Audio to record: what the page plays, and this device's microphone. */
  audio(): MediaStream[];
}

export class LocalRecording {
  readonly button = h("button", { type: "button", class: "button small", "data-testid": "local-recording-button", "data-recording": "false" }, t("localRecording.button"));
  readonly status = h("p", { class: "help", "data-testid": "local-recording-status", role: "status", "aria-live": "polite" });
  readonly #sources: LocalRecordingSources;
  readonly #onChange: (recording: boolean) => void;
  #recorder: MediaRecorder | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #audio: AudioContext | null = null;

  constructor(sources: LocalRecordingSources, onChange: (recording: boolean) => void = () => undefined) {
    this.#sources = sources;
    this.#onChange = onChange;
    this.button.addEventListener("click", () => {
      if (this.recording) this.stop();
      else this.start();
    });
  }

  get recording(): boolean {
    return this.#recorder !== null;
  }

  start(): void {
    if (this.#recorder) return;
    const canvas = h("canvas", { width: WIDTH, height: HEIGHT });
    const g = canvas.getContext("2d");
    if (!g) {
      this.status.textContent = t("localRecording.cannot");
      return;
    }
    const draw = (): void => {
      g.fillStyle = "#000";
      g.fillRect(0, 0, WIDTH, HEIGHT);
      const videos = this.#sources.videos().filter((v) => v.readyState >= 2 && v.videoWidth > 0);
      const cols = Math.ceil(Math.sqrt(videos.length));
      const rows = Math.ceil(videos.length / Math.max(cols, 1));
      videos.forEach((v, i) => {
        const w = WIDTH / cols;
        const hgt = HEIGHT / rows;
        const scale = Math.min(w / v.videoWidth, hgt / v.videoHeight);
        const dw = v.videoWidth * scale;
        const dh = v.videoHeight * scale;
        g.drawImage(v, (i % cols) * w + (w - dw) / 2, Math.floor(i / cols) * hgt + (hgt - dh) / 2, dw, dh);
      });
    };
    draw();
    this.#timer = setInterval(draw, 1000 / FPS);
    const stream = canvas.captureStream(FPS);
    const ctx = new AudioContext();
    this.#audio = ctx;
    const mix = ctx.createMediaStreamDestination();
    for (const s of this.#sources.audio()) {
      if (s.getAudioTracks().length > 0) ctx.createMediaStreamSource(s).connect(mix);
    }
    for (const t of mix.stream.getAudioTracks()) stream.addTrack(t);
    const chunks: Blob[] = [];
    const recorder = new MediaRecorder(stream, { mimeType: "video/webm;codecs=vp8,opus" });
    recorder.ondataavailable = (e) => {
      if (e.data.size > 0) chunks.push(e.data);
    };
    const startedAt = new Date();
    recorder.onstop = () => {
      const blob = new Blob(chunks, { type: "video/webm" });
      const name = `conclave-local-${startedAt.toISOString().replace(/[:.]/g, "-")}.webm`;
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: name, "data-testid": "local-recording-file" }, name);
      this.status.replaceChildren(...tParts("localRecording.saved", { file: link }));
      // Saving is the browser's download: the file never leaves the device.
      link.click();
    };
    recorder.start(1000);
    this.#recorder = recorder;
    this.button.textContent = t("localRecording.stop");
    this.button.setAttribute("data-recording", "true");
    this.status.textContent = t("localRecording.recording");
    this.#onChange(true);
  }

  stop(): void {
    const r = this.#recorder;
    if (!r) return;
    this.#recorder = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    r.stop();
    void this.#audio?.close();
    this.#audio = null;
    this.button.textContent = t("localRecording.button");
    this.button.setAttribute("data-recording", "false");
    this.#onChange(false);
  }
}

/**
 * What everyone sees of the others' local recordings: a notice naming who records, and a tag on
 * their row in the people list. From their own end-to-end encrypted announcements.
 */
export class LocalRecordingNotice {
  readonly notice = h("p", { class: "recording-notice", "data-testid": "local-recording-notice", role: "status", hidden: true });

  render(recorders: readonly LocalRecorder[], selfId: string | null, inMeeting: boolean, people: HTMLElement): void {
    const others = inMeeting ? recorders.filter((r) => r.memberId !== selfId) : [];
    this.notice.hidden = others.length === 0;
    const names = others.map((r) => r.displayName).join(", ");
    this.notice.textContent = others.length === 0 ? "" : t(others.length === 1 ? "localRecording.notice.one" : "localRecording.notice.other", { names });
    if (!inMeeting) return;
    for (const r of recorders) {
      const main = people.querySelector(`li[data-member-id="${CSS.escape(r.memberId)}"] .participant-meta`);
      main?.append(
        " · ",
        h("span", { class: "tag tag-recording", "data-testid": "participant-local-recording", title: t("localRecording.tagLabel", { name: r.displayName }), "aria-label": t("localRecording.tagLabel", { name: r.displayName }) }, t("localRecording.tag")),
      );
    }
  }
}
