/**
 * Recordings: the signed-in user's cloud recordings (every recording for admins), each playable
 * in the page (the server decrypts on the fly and answers range requests, so the player seeks),
 * downloadable, and deletable (crypto-shredding: the recording's key is destroyed).
 */
import { deleteRecording, listRecordings, type Recording } from "../api/recordings.js";
import { errorBox, formatMeetingId } from "./common.js";
import { confirmDialog } from "./dialog.js";
import { h, replaceChildren } from "./dom.js";
import { showError } from "./forms.js";
import { pageHead } from "./shell.js";
import { UiError } from "../errors.js";
import { t, type MessageKey } from "../i18n/i18n.js";

const STATUS: Record<Recording["status"], MessageKey> = {
  starting: "recordings.status.starting",
  recording: "recordings.status.recording",
  finalizing: "recordings.status.finalizing",
  ready: "recordings.status.ready",
  failed: "recordings.status.failed",
};

export async function renderRecordingsPage(main: HTMLElement): Promise<void> {
  const head = pageHead(t("shell.recordings"), t("recordings.lead"));
  replaceChildren(main, head, h("p", { class: "muted" }, t("common.loading")));
  let list: Recording[];
  try {
    list = await listRecordings();
  } catch (e) {
    replaceChildren(main, head, errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
    return;
  }
  const box = h("section", { class: "card", "data-testid": "recordings" });
  const render = (): void => {
    if (list.length === 0) {
      replaceChildren(box, h("p", { class: "muted", "data-testid": "recordings-empty" }, t("recordings.empty")));
      return;
    }
    replaceChildren(box, h("ul", { class: "recordings" }, ...list.map((r) => item(r, () => {
      list = list.filter((x) => x.id !== r.id);
      render();
    }))));
  };
  render();
  replaceChildren(main, head, box);
}

function item(r: Recording, onDeleted: () => void): HTMLElement {
  const file = r.files.find((f) => f.name === "recording.webm");
  const audio = r.files.find((f) => f.name === "audio.webm");
  const captions = r.files.find((f) => f.name === "captions.vtt");
  const when = new Date(r.startedAt ?? r.createdAt).toLocaleString();
  const duration = r.durationMs === null ? "" : ` · ${formatDuration(r.durationMs)}`;
  const del = h("button", { type: "button", class: "button small danger", "data-testid": "recording-delete" }, t("common.delete"));
  const li = h(
    "li",
    { class: "recording", "data-testid": "recording-item", "data-recording-id": r.id, "data-status": r.status },
    h("h3", {}, t("recordings.meeting", { id: formatMeetingId(r.meetingId) })),
    h("p", { class: "muted" }, `${when}${duration} · ${r.recovered ? t("recordings.recovered", { status: t(STATUS[r.status]) }) : t(STATUS[r.status])}`),
    file
      ? h(
          "video",
          { controls: true, preload: "metadata", src: file.url, "data-testid": "recording-player", class: "recording-player" },
          // Live captions saved with the recording (same origin, same authorisation).
          captions ? h("track", { kind: "captions", src: captions.url, srclang: "en", label: t("captions.title"), default: true }) : null,
        )
      : null,
    h(
      "div",
      { class: "row" },
      file ? h("a", { class: "button small", href: `${file.url}?download=1`, download: "", "data-testid": "recording-download" }, t("recordings.download")) : null,
      audio ? h("a", { class: "button small", href: `${audio.url}?download=1`, download: "", "data-testid": "recording-download-audio" }, t("recordings.downloadAudio")) : null,
      captions ? h("a", { class: "button small", href: `${captions.url}?download=1`, download: "", "data-testid": "recording-download-captions" }, t("recordings.downloadCaptions")) : null,
      del,
    ),
  );
  del.addEventListener("click", () => {
    void confirmDialog(
      {
        title: t("recordings.deleteTitle"),
        message: t("recordings.deleteMessage"),
        confirmLabel: t("recordings.deleteConfirm"),
        danger: true,
        testid: "confirm-delete-recording",
      },
      del,
    ).then(async (ok) => {
      if (!ok) return;
      try {
        await deleteRecording(r.id);
        onDeleted();
      } catch (e) {
        showError(li, e);
      }
    });
  });
  return li;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
