/**
 * The join screen (/m/<id>#pwd=...): display name, camera/microphone preview, device choice,
 * and the passcode when the link has none. Before anything connects it checks that the meeting
 * exists and has not ended, and that this browser can encrypt media frames itself: a browser
 * that cannot is refused here, so it never reaches the server's signaling, let alone the relay.
 */
import type { User } from "../api/accounts.js";
import { getMeeting, type MeetingInfo } from "../api/meetings.js";
import { detectEncodedTransform, type EncodedTransformMode } from "../e2ee/capabilities.js";
import { UiError } from "../errors.js";
import type { LocalMedia } from "../media/local-media.js";
import { brandHeader, encryptionBadge, errorBox, formatMeetingId } from "./common.js";
import { h, icon, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";
import { t, tParts } from "../i18n/i18n.js";

const NAME_KEY = "conclave.displayName";
export const MAX_NAME_LENGTH = 64;

export interface JoinRequest {
  info: MeetingInfo;
  displayName: string;
  passcode: string | undefined;
  mode: EncodedTransformMode;
}

export interface JoinViewOptions {
  meetingId: string;
  passcode: string | undefined;
  media: LocalMedia;
  /** An error from a previous attempt (wrong passcode, meeting full, ...). */
  error?: UiError;
  /** The signed-in user, if any (a session that fails to load counts as none). */
  signedIn?: Promise<User | null>;
  onJoin: (req: JoinRequest) => void;
}

export async function renderJoinView(root: HTMLElement, opts: JoinViewOptions): Promise<void> {
  const main = h("main", { class: "join", id: "main" }, h("p", { class: "muted center" }, t("join.checking")));
  replaceChildren(root, brandHeader(), main);

  const mode = detectEncodedTransform();
  let info: MeetingInfo;
  const signedIn = (opts.signedIn ?? Promise.resolve(null)).catch(() => null);
  try {
    info = await getMeeting(opts.meetingId);
  } catch (e) {
    const err = e instanceof UiError ? e : new UiError("INTERNAL");
    const retry = h("button", { type: "button", class: "button" }, icon(ICONS.refresh), t("common.tryAgain"));
    retry.addEventListener("click", () => void renderJoinView(root, opts));
    replaceChildren(main, h("section", { class: "card narrow" }, h("h1", {}, t("join.cannotJoin")), errorBox(err, retry), h("a", { href: "/", class: "link" }, t("common.startPage"))));
    return;
  }
  if (info.ended) {
    replaceChildren(main, h("section", { class: "card narrow" }, h("h1", {}, t("join.cannotJoin")), errorBox(new UiError("MEETING_ENDED")), h("a", { href: "/", class: "link" }, t("common.startPage"))));
    return;
  }

  // --- preview -------------------------------------------------------------------------------
  const media = opts.media;
  const video = h("video", { class: "preview-video mirror", autoplay: true, playsinline: true, muted: true, "aria-label": t("join.preview") });
  video.muted = true;
  video.srcObject = media.stream;
  const previewOff = h("div", { class: "preview-off" }, icon(ICONS.camOff), h("span", {}, t("join.cameraOff")));
  const micButton = h("button", { type: "button", class: "round-button", "data-testid": "preview-mic" });
  const camButton = h("button", { type: "button", class: "round-button", "data-testid": "preview-camera" });
  const camSelect = h("select", { id: "camera-select", "data-testid": "camera-select" });
  const micSelect = h("select", { id: "microphone-select", "data-testid": "microphone-select" });
  const mediaStatus = h("div", { class: "media-status" });

  const refreshPreview = (): void => {
    micButton.replaceChildren(icon(media.micOn ? ICONS.mic : ICONS.micOff));
    micButton.setAttribute("aria-label", media.micOn ? t("join.muteMic") : t("join.unmuteMic"));
    micButton.setAttribute("aria-pressed", String(!media.micOn));
    micButton.classList.toggle("off", !media.micOn);
    micButton.disabled = media.microphone === null;
    camButton.replaceChildren(icon(media.camOn ? ICONS.cam : ICONS.camOff));
    camButton.setAttribute("aria-label", media.camOn ? t("join.cameraOffAction") : t("join.cameraOnAction"));
    camButton.setAttribute("aria-pressed", String(!media.camOn));
    camButton.classList.toggle("off", !media.camOn);
    camButton.disabled = media.camera === null;
    previewOff.hidden = media.camOn;
  };
  micButton.addEventListener("click", () => {
    media.setMicOn(!media.micOn);
    refreshPreview();
  });
  camButton.addEventListener("click", () => {
    media.setCamOn(!media.camOn);
    refreshPreview();
  });

  const fillDevices = async (): Promise<void> => {
    const d = await media.devices();
    const fill = (select: HTMLSelectElement, list: MediaDeviceInfo[], current: string | null, fallback: string, track: MediaStreamTrack | null): void => {
      const active = current ?? track?.getSettings().deviceId ?? null;
      select.replaceChildren(...list.map((dev, i) => h("option", { value: dev.deviceId, selected: dev.deviceId === active }, dev.label || `${fallback} ${i + 1}`)));
      select.disabled = list.length === 0;
      if (list.length === 0) select.append(h("option", {}, t("devices.none")));
    };
    fill(camSelect, d.cameras, media.cameraId, t("devices.camera"), media.camera);
    fill(micSelect, d.microphones, media.microphoneId, t("devices.microphone"), media.microphone);
  };
  camSelect.addEventListener("change", () => void media.useDevice("video", camSelect.value).then(() => refreshPreview()));
  micSelect.addEventListener("change", () => void media.useDevice("audio", micSelect.value).then(() => refreshPreview()));

  const openDevices = async (): Promise<void> => {
    replaceChildren(mediaStatus);
    if (media.microphone === null && media.camera === null) await media.open();
    if (media.error) {
      const retry = h("button", { type: "button", class: "button" }, icon(ICONS.refresh), t("common.tryAgain"));
      retry.addEventListener("click", () => void openDevices());
      replaceChildren(mediaStatus, errorBox(media.error, retry));
    }
    refreshPreview();
    await fillDevices();
  };

  // --- form ----------------------------------------------------------------------------------
  const nameInput = h("input", {
    id: "display-name",
    type: "text",
    autocomplete: "name",
    maxlength: MAX_NAME_LENGTH,
    required: true,
    "data-testid": "display-name",
  });
  const user = await signedIn;
  nameInput.value = safeGet(NAME_KEY) ?? user?.name ?? "";
  const hosting = user !== null && info.ownerUserId === user.id;
  // The meeting's owner, signed in, is its host and needs no passcode (the server checks who it is).
  const needPasscode = info.passcodeRequired && !hosting && (!opts.passcode || opts.error?.code === "WRONG_PASSCODE");
  const passInput = h("input", { id: "passcode", type: "password", autocomplete: "off", "data-testid": "passcode" });
  passInput.value = opts.passcode ?? "";
  const formStatus = h("div", { class: "form-status", "aria-live": "polite" });
  const joinButton = h("button", { type: "submit", class: "button primary wide", "data-testid": "join-button" }, t("join.submit"));

  const refusal = mode === null ? new UiError("NO_ENCODED_TRANSFORMS") : null;
  const showRefusal = (): void => {
    if (!refusal) return;
    replaceChildren(
      formStatus,
      h(
        "div",
        { "data-testid": "join-refused" },
        errorBox(refusal),
        h(
          "p",
          { class: "help" },
          info.encryption === "e2ee"
            ? t("join.refusedE2ee")
            : t("join.refusedEnhanced"),
        ),
      ),
    );
  };
  if (opts.error) replaceChildren(formStatus, errorBox(opts.error));
  showRefusal();

  const form = h(
    "form",
    { class: "join-form card", "aria-labelledby": "join-heading", novalidate: true },
    h("h1", { id: "join-heading" }, t("join.title")),
    h("p", { class: "meeting-id" }, ...tParts("join.meetingId", { id: h("span", { class: "mono" }, formatMeetingId(info.id)) })),
    encryptionBadge(info.encryption),
    info.postQuantum ? h("span", { class: "badge badge-pq", "data-testid": "join-post-quantum" }, icon(ICONS.lock), t("join.postQuantum")) : null,
    user
      ? h(
          "p",
          { class: "help", "data-testid": "join-signed-in" },
          t("join.signedInAs", { name: user.name }),
          hosting ? ` ${t("join.youHost")}` : "",
        )
      : null,
    h("label", { for: "display-name", class: "field-label" }, t("setup.name")),
    nameInput,
    needPasscode ? h("label", { for: "passcode", class: "field-label" }, t("join.passcode")) : null,
    needPasscode ? passInput : null,
    joinButton,
    formStatus,
    h(
      "p",
      { class: "help" },
      info.encryption === "e2ee"
        ? t("join.helpE2ee")
        : t("join.helpEnhanced"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (refusal || mode === null) {
      showRefusal();
      return;
    }
    const name = nameInput.value.trim().normalize("NFC");
    if (!name || name.length > MAX_NAME_LENGTH || /\p{Cc}|[\u202a-\u202e\u2066-\u2069]/u.test(name)) {
      replaceChildren(formStatus, h("p", { class: "field-error", role: "alert" }, t("join.nameMissing", { max: MAX_NAME_LENGTH })));
      nameInput.focus();
      return;
    }
    const passcode = needPasscode ? passInput.value.trim() : opts.passcode;
    if (needPasscode && !passcode) {
      replaceChildren(formStatus, h("p", { class: "field-error", role: "alert" }, t("join.passcodeMissing")));
      passInput.focus();
      return;
    }
    safeSet(NAME_KEY, name);
    joinButton.disabled = true;
    opts.onJoin({ info, displayName: name, passcode: passcode || undefined, mode });
  });

  const preview = h(
    "section",
    { class: "preview card", "aria-label": t("join.devices") },
    h("div", { class: "preview-frame" }, video, previewOff, h("div", { class: "preview-controls" }, micButton, camButton)),
    mediaStatus,
    h(
      "div",
      { class: "devices" },
      h("div", { class: "field" }, h("label", { for: "camera-select", class: "field-label" }, t("devices.camera")), camSelect),
      h("div", { class: "field" }, h("label", { for: "microphone-select", class: "field-label" }, t("devices.microphone")), micSelect),
    ),
  );
  // A refused browser gets no preview: it will not use the camera here.
  main.classList.toggle("single", refusal !== null);
  replaceChildren(main, refusal === null ? preview : null, form);
  refreshPreview();
  if (!refusal) void openDevices();
  (nameInput.value ? joinButton : nameInput).focus();
}

function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled
  }
}
