/**
 * The meeting screen: video tiles, controls, participant list, the encryption shield and the
 * security code. It renders MeetingController snapshots; tiles are kept by member id so their
 * <video>/<audio> elements keep playing across updates.
 */
import { MLS_SUITES, type MemberIdentity, type MemberInfo } from "@conclave/protocol";
import type { MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import { connectorLabel, connectorMeaning } from "../meeting/shield.js";
import { LocalRecording } from "./local-recording.js";
import { CloudRecordingUi } from "./recording-ui.js";
import { farLegProtection } from "@conclave/protocol";
import type { LocalMedia } from "../media/local-media.js";
import type { RemoteTrack } from "../media/media-connection.js";
import { brandHeader, errorBox, formatMeetingId } from "./common.js";
import { confirmDialog, createPanel, type Panel } from "./dialog.js";
import { manageParticipantDialog } from "./host-controls.js";
import { h, icon, initials, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";

/** A remote member counts as silent (muted, or not talking) after this long without sound. */
const SILENCE_MS = 2500;
const SPEAKING_LEVEL = 0.02;
const LEVEL_POLL_MS = 400;

interface Tile {
  el: HTMLElement;
  video: HTMLVideoElement;
  audio: HTMLAudioElement;
  name: HTMLElement;
  mic: HTMLElement;
  videoTrack: MediaStreamTrack | null;
  audioTrack: MediaStreamTrack | null;
  lastSound: number;
}

export interface MeetingViewOptions {
  meetingId: string;
  displayName: string;
  controller: MeetingController;
  media: LocalMedia;
  onLeft: () => void;
}

export class MeetingView {
  readonly #opts: MeetingViewOptions;
  readonly #grid = h("div", { class: "grid", role: "list", "aria-label": "Participants' video" });
  readonly #tiles = new Map<string, Tile>();
  readonly #screenTiles = new Map<string, { el: HTMLElement; video: HTMLVideoElement; track: MediaStreamTrack }>();
  readonly #selfTile: { el: HTMLElement; video: HTMLVideoElement; mic: HTMLElement; off: HTMLElement };
  readonly #status = h("div", { class: "status-banner", role: "status", "aria-live": "polite", hidden: true });
  readonly #shieldButton: HTMLButtonElement;
  readonly #codeButton: HTMLButtonElement;
  readonly #codePreview = h("span", { class: "code-preview mono" }, "…");
  readonly #codeDot = h("span", { class: "dot", hidden: true });
  readonly #shieldPanel: Panel;
  readonly #codePanel: Panel;
  readonly #codeText = h("p", { class: "security-code mono", "data-testid": "security-code" });
  readonly #codeMeta = h("p", { class: "muted" });
  readonly #codeNotice = h("div", { class: "code-notice", "data-testid": "security-code-notice", role: "status", hidden: true });
  readonly #participantList = h("ul", { class: "participant-list", "data-testid": "participant-list", "aria-label": "Participants" });
  readonly #sidebar: HTMLElement;
  readonly #participantsButton: HTMLButtonElement;
  readonly #participantCount = h("span", { class: "count" }, "1");
  readonly #micButton: HTMLButtonElement;
  readonly #camButton: HTMLButtonElement;
  readonly #screenButton: HTMLButtonElement;
  readonly #toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  readonly #lockedBadge = h("span", { class: "badge badge-locked", "data-testid": "meeting-locked", hidden: true }, icon(ICONS.lock), "Locked");
  /** Cloud recording: indicator, notice, the host's button. */
  readonly #recording: CloudRecordingUi;
  /** Recording on this device (any meeting, the only kind an E2EE meeting allows). */
  readonly #localRecording: LocalRecording;
  readonly #waitingCard = h(
    "section",
    { class: "waiting-card card", "data-testid": "waiting-room", "aria-labelledby": "waiting-title", hidden: true },
    h("h1", { id: "waiting-title" }, "Waiting to be let in"),
    h("p", {}, "The host knows you are here and will let you in."),
    h("p", { class: "muted" }, "Until then this device receives nothing from the meeting: no keys, no media, not even who is in it."),
  );
  readonly #hostControls: HTMLElement;
  readonly #roomSystem: HTMLElement;
  readonly #roomSystemNotice = h("p", { class: "help", "data-testid": "room-system-notice", role: "status", "aria-live": "polite" });
  #lastNoticeAt = 0;
  readonly #lockSwitch: HTMLInputElement;
  readonly #endButton: HTMLButtonElement;
  #knownWaiting = new Set<string>();
  readonly #announce = h("p", { class: "visually-hidden", "aria-live": "polite" });
  #lastShownEpoch: bigint | null = null;
  #levelTimer: ReturnType<typeof setInterval> | null = null;
  #snapshot: MeetingSnapshot;

  constructor(root: HTMLElement, opts: MeetingViewOptions) {
    this.#opts = opts;
    this.#snapshot = opts.controller.snapshot;

    const selfVideo = h("video", { class: "mirror", autoplay: true, playsinline: true, muted: true, "aria-hidden": "true" });
    selfVideo.muted = true;
    selfVideo.srcObject = opts.media.stream;
    const selfMic = h("span", { class: "tile-mic" });
    const selfOff = h("div", { class: "avatar" }, initials(opts.displayName));
    this.#selfTile = {
      el: h(
        "div",
        { class: "tile self", role: "listitem", "data-testid": "self-tile", "aria-label": `${opts.displayName} (you)` },
        selfVideo,
        selfOff,
        h("div", { class: "tile-label" }, selfMic, h("span", { class: "tile-name" }, `${opts.displayName} (you)`)),
      ),
      video: selfVideo,
      mic: selfMic,
      off: selfOff,
    };
    this.#grid.append(this.#selfTile.el);

    // Shield and security code.
    this.#shieldButton = h("button", { type: "button", class: "shield", "data-testid": "encryption-shield", "aria-haspopup": "dialog" });
    this.#shieldPanel = createPanel({ title: "Encryption", testid: "shield-panel" });
    this.#shieldButton.addEventListener("click", () => this.#shieldPanel.open(this.#shieldButton));
    this.#codeButton = h(
      "button",
      { type: "button", class: "code-button", "aria-haspopup": "dialog", "aria-label": "Show the security code", "data-testid": "security-code-button" },
      icon(ICONS.key),
      h("span", { class: "code-button-label" }, "Security code"),
      this.#codePreview,
      this.#codeDot,
    );
    this.#codePanel = createPanel({ title: "Security code", testid: "security-code-panel" });
    this.#codeButton.addEventListener("click", () => {
      this.#codeDot.hidden = true;
      this.#codePanel.open(this.#codeButton);
    });
    replaceChildren(
      this.#codePanel.body,
      this.#codeNotice,
      this.#codeText,
      this.#codeMeta,
      h(
        "div",
        { class: "explain" },
        h("p", {}, h("strong", {}, "Read it aloud. "), "Everyone in the meeting sees a code made from the meeting's current encryption keys. If everyone's code matches, nobody is in the middle: not the server, not anyone else."),
        h("p", {}, "If someone's code is different, their connection is not the same meeting as yours: stop sharing anything sensitive and tell the organiser."),
        h("p", {}, "The code changes every time someone joins or leaves, because the keys change too. Compare it again after each change."),
      ),
    );

    // Controls.
    this.#micButton = h("button", { type: "button", class: "control", "data-testid": "mic-button" });
    this.#micButton.addEventListener("click", () => void opts.controller.setMicOn(!opts.media.micOn));
    this.#camButton = h("button", { type: "button", class: "control", "data-testid": "camera-button" });
    this.#camButton.addEventListener("click", () => void opts.controller.setCamOn(!opts.media.camOn));
    this.#screenButton = h("button", { type: "button", class: "control", "data-testid": "screen-button" });
    this.#screenButton.addEventListener("click", () => void opts.controller.toggleScreenShare());
    this.#participantsButton = h(
      "button",
      { type: "button", class: "control", "aria-controls": "participants", "data-testid": "participants-button" },
      icon(ICONS.users),
      h("span", { class: "control-label" }, "People"),
      this.#participantCount,
    );
    const leave = h("button", { type: "button", class: "control danger", "data-testid": "leave-button" }, icon(ICONS.leave), h("span", { class: "control-label" }, "Leave"));
    leave.addEventListener("click", () => {
      opts.controller.leave();
      this.close();
      opts.onLeft();
    });

    // Host and co-host controls: lock the meeting; the host alone ends it for everyone.
    this.#lockSwitch = h("input", { type: "checkbox", role: "switch", class: "switch", id: "lock-meeting", "data-testid": "lock-meeting", "aria-describedby": "lock-meeting-help" });
    this.#lockSwitch.addEventListener("change", () => opts.controller.lockMeeting(this.#lockSwitch.checked));
    this.#endButton = h("button", { type: "button", class: "button small danger", "data-testid": "end-meeting-button" }, "End meeting for all");
    this.#endButton.addEventListener("click", () => {
      void confirmDialog(
        {
          title: "End the meeting for everyone?",
          message: "Everyone is disconnected at once and the meeting's link stops working. Only the meeting's record is kept.",
          confirmLabel: "End meeting for all",
          danger: true,
          testid: "confirm-end-meeting",
        },
        this.#endButton,
      ).then((ok) => {
        if (ok) opts.controller.endMeeting();
      });
    });
    // Hosts of an Enhanced meeting call a room system (SIP) in; it joins as a visible member.
    const uriInput = h("input", { type: "text", id: "invite-room-system-uri", placeholder: "sip:room@192.0.2.10;transport=tls", autocomplete: "off", spellcheck: "false", "data-testid": "invite-room-system-uri", required: true });
    const nameInput = h("input", { type: "text", id: "invite-room-system-name", placeholder: "Boardroom", maxlength: 64, autocomplete: "off", "data-testid": "invite-room-system-name" });
    const inviteButton = h("button", { type: "submit", class: "button small", "data-testid": "invite-room-system-button" }, "Call room system");
    const inviteForm = h(
      "form",
      { class: "invite-room-system", "data-testid": "invite-room-system", "aria-labelledby": "invite-room-system-title" },
      h("h4", { id: "invite-room-system-title" }, "Invite a room system (SIP)"),
      h("label", { for: "invite-room-system-uri" }, "SIP address"),
      uriInput,
      h("label", { for: "invite-room-system-name" }, "Name shown to everyone (optional)"),
      nameInput,
      inviteButton,
      h("p", { class: "help" }, "It joins as a visible connector; its connection to the device is listed under the encryption shield's exceptions."),
      this.#roomSystemNotice,
    );
    inviteForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const uri = uriInput.value.trim();
      if (!/^sips?:\S+$/.test(uri)) {
        this.#roomSystemNotice.textContent = "Enter a SIP address such as sip:room@192.0.2.10;transport=tls.";
        return;
      }
      const name = nameInput.value.trim();
      opts.controller.inviteRoomSystem(uri, name === "" ? undefined : name);
      this.#roomSystemNotice.textContent = `Calling ${name || uri}…`;
    });
    this.#roomSystem = inviteForm;
    this.#localRecording = new LocalRecording({
      videos: () => [...root.querySelectorAll<HTMLVideoElement>(".tiles video")],
      audio: () => [opts.media.stream, ...[...root.querySelectorAll<HTMLAudioElement>("audio")].map((a) => a.srcObject).filter((s): s is MediaStream => s instanceof MediaStream)],
    });
    this.#recording = new CloudRecordingUi(opts.meetingId);
    this.#hostControls = h(
      "section",
      { class: "host-controls", "aria-labelledby": "host-controls-title", "data-testid": "host-controls", hidden: true },
      h("h3", { id: "host-controls-title" }, "Host controls"),
      h("label", { class: "check switch-row", for: "lock-meeting" }, this.#lockSwitch, h("span", {}, "Lock the meeting")),
      h("p", { class: "help", id: "lock-meeting-help" }, "While it is locked, no one else can join, not even into the waiting room."),
      this.#roomSystem,
      this.#recording.hostSection,
      this.#endButton,
    );

    this.#sidebar = h(
      "aside",
      { class: "sidebar", id: "participants", "aria-labelledby": "participants-title" },
      h("h2", { id: "participants-title" }, "People"),
      this.#hostControls,
      this.#participantList,
      h("p", { class: "help" }, "A lock marks each member that holds the meeting's current keys. Every member is either a person's device or a connector (a server-side bridge such as phone dial-in), and is shown with its kind."),
    );
    const wide = window.matchMedia("(min-width: 1100px)").matches;
    this.#sidebar.hidden = !wide;
    this.#participantsButton.setAttribute("aria-expanded", String(wide));
    this.#participantsButton.addEventListener("click", () => {
      this.#sidebar.hidden = !this.#sidebar.hidden;
      this.#participantsButton.setAttribute("aria-expanded", String(!this.#sidebar.hidden));
    });

    const title = h("div", { class: "meeting-title" }, h("span", { class: "muted" }, "Meeting"), h("span", { class: "mono" }, formatMeetingId(opts.meetingId)));
    replaceChildren(
      root,
      h(
        "div",
        { class: "meeting" },
        brandHeader(title, this.#lockedBadge, this.#recording.badge, h("div", { class: "spacer" }), this.#shieldButton, this.#codeButton),
        this.#status,
        this.#recording.notice,
        h("div", { class: "stage" }, h("main", { class: "tiles", id: "main", "aria-label": "Meeting" }, this.#waitingCard, this.#grid), this.#sidebar),
        h("footer", { class: "controls", "aria-label": "Meeting controls" }, this.#micButton, this.#camButton, this.#screenButton, this.#participantsButton, this.#localRecording.button, leave),
        this.#localRecording.status,
        this.#toasts,
        this.#announce,
        this.#shieldPanel.dialog,
        this.#codePanel.dialog,
      ),
    );
    opts.media.onChange = () => this.#renderControls();
    this.#levelTimer = setInterval(() => void this.#pollAudioLevels(), LEVEL_POLL_MS);
    this.render(this.#snapshot);
  }

  close(): void {
    this.#localRecording.stop();
    if (this.#levelTimer) clearInterval(this.#levelTimer);
    this.#levelTimer = null;
    this.#shieldPanel.close();
    this.#codePanel.close();
    for (const d of document.querySelectorAll<HTMLDialogElement>("dialog[data-meeting-dialog]")) d.close();
    document.querySelector<HTMLDialogElement>('dialog[data-testid="confirm-end-meeting"]')?.close();
    for (const t of this.#tiles.values()) {
      t.video.srcObject = null;
      t.audio.srcObject = null;
    }
  }

  render(s: MeetingSnapshot): void {
    this.#snapshot = s;
    this.#renderStatus(s);
    this.#renderAccess(s);
    this.#renderShield(s);
    this.#recording.render(s);
    this.#renderCode(s);
    this.#renderTiles(s);
    this.#renderParticipants(s);
    this.#renderControls();
  }

  #renderStatus(s: MeetingSnapshot): void {
    let content: Node | string | null = null;
    switch (s.phase) {
      case "connecting":
        content = "Connecting…";
        break;
      case "waiting-room":
        content =
          s.waitingReason === "hostAbsent"
            ? "Waiting for the host to join. You will be let in when they arrive."
            : "Waiting for the host to let you in. You receive no keys and no media until then.";
        break;
      case "waiting":
        content = "Joining the encrypted group… waiting for a member to add you.";
        break;
      case "reconnecting":
        content = "Reconnecting…";
        break;
      case "ended":
        content = h("span", {}, "This meeting has ended. ", h("a", { href: "/", class: "link" }, "Go to the start page"));
        break;
      case "failed":
        content = s.error ? errorBox(s.error) : "The meeting connection failed.";
        break;
      default:
        content = null;
    }
    this.#status.hidden = content === null;
    this.#status.className = `status-banner ${s.phase}`;
    this.#status.setAttribute("data-phase", s.phase);
    replaceChildren(this.#status, content);
  }

  /** The waiting room (for the one waiting), the lock, and the host's controls. */
  #renderAccess(s: MeetingSnapshot): void {
    const waiting = s.phase === "waiting-room";
    this.#waitingCard.hidden = !waiting;
    this.#grid.hidden = waiting;
    this.#lockedBadge.hidden = !s.locked || s.phase !== "in-meeting";
    const hosting = s.role !== "participant" && s.phase === "in-meeting";
    this.#hostControls.hidden = !hosting;
    this.#lockSwitch.checked = s.locked;
    this.#endButton.hidden = s.role !== "host";
    // Room systems: only Enhanced meetings admit connectors.
    this.#roomSystem.hidden = s.encryption !== "enhanced";
    const notice = s.notices.at(-1);
    if (hosting && notice && notice.at > this.#lastNoticeAt) {
      this.#lastNoticeAt = notice.at;
      this.#roomSystemNotice.textContent = notice.message;
      this.#roomSystemNotice.setAttribute("data-code", notice.code);
      this.#toast(notice.message, ICONS.plug);
    }
    // Tell hosts when someone new starts waiting (the People panel may be closed).
    const ids = new Set(s.waitingList.map((w) => w.memberId));
    if (hosting) {
      for (const w of s.waitingList) {
        if (this.#knownWaiting.has(w.memberId)) continue;
        // With the People panel open the entry itself shows; screen readers still hear it.
        if (this.#sidebar.hidden) this.#toast(`${w.displayName} is waiting to join. Open People to let them in.`, ICONS.users);
        else this.#announce.textContent = `${w.displayName} is waiting to join.`;
      }
    }
    this.#knownWaiting = ids;
    this.#participantsButton.classList.toggle("attention", hosting && ids.size > 0);
  }

  #renderShield(s: MeetingSnapshot): void {
    const { state, exceptions, keyHoldingConnectors } = s.shield;
    const b = this.#shieldButton;
    b.setAttribute("data-state", state);
    b.className = `shield shield-${state}`;
    const label = state === "e2ee" ? "End-to-end encrypted" : state === "encrypted" ? "Encrypted" : "Partially encrypted";
    b.setAttribute("aria-label", `${label}. Show encryption details`);
    b.replaceChildren(icon(state === "e2ee" ? ICONS.lock : state === "encrypted" ? ICONS.shieldCheck : ICONS.shieldAlert), h("span", { class: "shield-label" }, label));

    const explain: Node[] = [];
    if (state === "e2ee") {
      explain.push(
        h("p", { class: "panel-lead" }, icon(ICONS.lock), "This meeting is end-to-end encrypted."),
        h("p", {}, "Video, audio and screen shares are encrypted on each participant's device with keys that only the participants' devices hold. The Conclave server relays them but cannot decrypt them, and no server-side connector (recording, phone dial-in, streaming) can join."),
      );
    } else if (state === "encrypted") {
      explain.push(
        h("p", { class: "panel-lead" }, icon(ICONS.shieldCheck), "This meeting is encrypted."),
        h("p", {}, "Media is encrypted on each sender's device and stays encrypted through the server. In a meeting with enhanced encryption, connectors may join (for example a recorder or a phone bridge); each one is a visible member that holds the keys, and any connection that is not encrypted all the way is listed below."),
      );
    } else {
      explain.push(
        h("p", { class: "panel-lead warn" }, icon(ICONS.shieldAlert), "This meeting is partially encrypted."),
        h("p", {}, "Everyone's media is encrypted up to the connectors listed below. Beyond them, these connections are not encrypted end to end, so what is said there can be heard outside the meeting's encryption."),
      );
    }
    explain.push(h("h3", {}, "Exceptions"));
    explain.push(
      exceptions.length === 0
        ? h("p", { class: "muted", "data-testid": "shield-exceptions-empty" }, "None: every connection in this meeting is encrypted all the way.")
        : h(
            "ul",
            { class: "exceptions", "data-testid": "shield-exceptions" },
            ...exceptions.map((x) =>
              h(
                "li",
                { "data-testid": "shield-exception", "data-member-id": x.memberId, "data-protection": x.protection },
                h("strong", {}, x.displayName),
                h("span", { class: "kind" }, connectorLabel(x.connector)),
                h("span", { class: x.farLegEncrypted ? "protection" : "protection warn", "data-testid": "shield-exception-protection" }, x.protection),
                h("span", { class: "muted", "data-testid": "shield-exception-far-leg" }, x.description),
                h("span", { class: "muted" }, x.reason),
              ),
            ),
          ),
    );
    if (keyHoldingConnectors.length > 0) {
      explain.push(
        h("h3", {}, "Connectors that hold the keys"),
        h(
          "ul",
          { class: "exceptions", "data-testid": "shield-key-holders" },
          ...keyHoldingConnectors.map((c) =>
            h("li", { "data-testid": "shield-key-holder", "data-connector": c.connector }, h("strong", {}, c.displayName), h("span", { class: "kind" }, connectorLabel(c.connector)), h("span", { class: "muted" }, connectorMeaning(c.connector))),
          ),
        ),
      );
    }
    // Which key exchange protects this meeting's keys: the MLS suite of the group this device is in.
    const pq = s.mlsSuite === MLS_SUITES.postQuantum;
    explain.push(
      h("h3", {}, "Key exchange"),
      h(
        "p",
        { "data-testid": "shield-key-exchange", "data-post-quantum": s.mlsSuite === null ? "unknown" : String(pq) },
        s.mlsSuite === null
          ? "Waiting for the meeting's keys…"
          : pq
            ? "Post-quantum: the meeting's keys are agreed with X-Wing (ML-KEM-768 combined with X25519), so a recording of this meeting's traffic stays confidential even against a future quantum computer. Participants still prove who they are with Ed25519 signatures."
            : "X25519 (elliptic curves). Secure today; an attacker who records the traffic could decrypt it with a large future quantum computer. Meetings can use post-quantum key exchange (a setting).",
      ),
    );
    explain.push(
      h("h3", {}, "How it works"),
      h("p", { class: "muted" }, "Keys come from MLS (RFC 9420), run by the participants' devices; every join and leave changes them. Each frame is encrypted with SFrame (RFC 9605) using the sender's own key, in a worker on this device. Compare the security code to confirm nobody is in the middle."),
    );
    replaceChildren(this.#shieldPanel.body, ...explain);
  }

  #renderCode(s: MeetingSnapshot): void {
    const code = s.securityCode;
    this.#codeText.textContent = code ?? "";
    this.#codePreview.textContent = code ? `${code.split(" ").slice(0, 2).join(" ")} …` : "…";
    this.#codeMeta.textContent = code ? `Key epoch ${s.epoch?.toString() ?? "?"} · ${s.members.length} ${s.members.length === 1 ? "member" : "members"} hold the keys` : "Waiting for the meeting's keys…";
    const change = s.lastCodeChange;
    if (change && s.epoch !== null && this.#lastShownEpoch !== null && s.epoch !== this.#lastShownEpoch && change.epoch === s.epoch) {
      const who = [...change.joined.map((n) => `${n} joined`), ...change.left.map((n) => `${n} left`)];
      const text = `The security code changed${who.length ? ` because ${who.join(" and ")}` : ""}. Compare the new code.`;
      this.#codeNotice.hidden = false;
      replaceChildren(this.#codeNotice, icon(ICONS.refresh), text);
      this.#codeDot.hidden = this.#codePanel.dialog.open;
      this.#toast(text);
    }
    if (s.epoch !== null) this.#lastShownEpoch = s.epoch;
  }

  #renderTiles(s: MeetingSnapshot): void {
    const names = memberNames(s);
    // A tile per remote participant in the group (and anyone whose media is arriving).
    const ids = new Set<string>();
    for (const p of s.presence) if (p.memberId !== s.selfId && p.inGroup) ids.add(p.memberId);
    const byOwner = new Map<string, RemoteTrack[]>();
    for (const t of s.remoteTracks) {
      if (t.ownerId === s.selfId) continue;
      ids.add(t.ownerId);
      byOwner.set(t.ownerId, [...(byOwner.get(t.ownerId) ?? []), t]);
    }
    for (const [id, tile] of this.#tiles) {
      if (!ids.has(id)) {
        tile.video.srcObject = null;
        tile.audio.srcObject = null;
        tile.el.remove();
        this.#tiles.delete(id);
      }
    }
    for (const id of ids) {
      const name = names.get(id) ?? "Participant";
      const tile = this.#tiles.get(id) ?? this.#createTile(id, name);
      if (tile.name.textContent !== name) {
        tile.name.textContent = name;
        tile.el.setAttribute("data-participant-name", name);
        tile.el.setAttribute("aria-label", name);
      }
      const tracks = byOwner.get(id) ?? [];
      const v = tracks.find((t) => t.kind === "video" && t.source === "camera")?.track ?? null;
      const a = tracks.find((t) => t.kind === "audio")?.track ?? null;
      if (tile.videoTrack !== v) {
        tile.videoTrack = v;
        tile.video.srcObject = v ? new MediaStream([v]) : null;
        tile.el.classList.toggle("no-video", v === null);
      }
      if (tile.audioTrack !== a) {
        tile.audioTrack = a;
        tile.audio.srcObject = a ? new MediaStream([a]) : null;
      }
    }
    // Screen shares get their own, larger tiles.
    const screens = new Map(s.remoteTracks.filter((t) => t.source === "screen" && t.kind === "video").map((t) => [t.ownerId, t.track]));
    for (const [id, st] of this.#screenTiles) {
      if (screens.get(id) !== st.track) {
        st.video.srcObject = null;
        st.el.remove();
        this.#screenTiles.delete(id);
      }
    }
    for (const [id, track] of screens) {
      if (this.#screenTiles.has(id)) continue;
      const video = h("video", { autoplay: true, playsinline: true, muted: true, "aria-hidden": "true" });
      video.muted = true;
      video.srcObject = new MediaStream([track]);
      const name = names.get(id) ?? "Participant";
      const el = h("div", { class: "tile screen", role: "listitem", "data-testid": "screen-tile", "data-participant-name": name, "aria-label": `${name}'s screen` }, video, h("div", { class: "tile-label" }, icon(ICONS.screen), h("span", { class: "tile-name" }, `${name}'s screen`)));
      this.#grid.prepend(el);
      this.#screenTiles.set(id, { el, video, track });
    }
    const count = this.#grid.children.length;
    this.#grid.className = `grid count-${Math.min(count, 9)}`;
  }

  #createTile(id: string, name: string): Tile {
    const video = h("video", { autoplay: true, playsinline: true, muted: true, "aria-hidden": "true" });
    video.muted = true;
    const audio = h("audio", { autoplay: true });
    const mic = h("span", { class: "tile-mic", hidden: true }, icon(ICONS.micOff));
    mic.setAttribute("title", "Muted or silent");
    mic.setAttribute("role", "img");
    mic.setAttribute("aria-label", "Muted or silent");
    const nameEl = h("span", { class: "tile-name" }, name);
    const el = h(
      "div",
      { class: "tile no-video", role: "listitem", "data-testid": "video-tile", "data-participant-name": name, "data-member-id": id, "aria-label": name },
      video,
      h("div", { class: "avatar" }, initials(name)),
      h("div", { class: "tile-label" }, mic, nameEl),
      audio,
    );
    this.#grid.append(el);
    const tile: Tile = { el, video, audio, name: nameEl, mic, videoTrack: null, audioTrack: null, lastSound: Date.now() };
    this.#tiles.set(id, tile);
    return tile;
  }

  #renderParticipants(s: MeetingSnapshot): void {
    const inGroup = new Map<string, MemberIdentity>(s.members.map((m) => [m.memberId, m]));
    const rows: HTMLElement[] = [];
    const self = s.selfId;
    const ordered = [...s.members].sort((a, b) => (a.memberId === self ? -1 : b.memberId === self ? 1 : a.displayName.localeCompare(b.displayName)));
    const roles = new Map(s.presence.map((p) => [p.memberId, p.role]));
    const hosting = s.role !== "participant" && s.phase === "in-meeting";
    for (const m of ordered) {
      const role = roles.get(m.memberId);
      // Hosts and co-hosts manage everyone but themselves and the host.
      const manage = hosting && m.memberId !== self && role !== undefined && role !== "host" ? this.#manageButton(m.memberId, m.displayName, role) : null;
      rows.push(participantRow(m.displayName, m, m.memberId === self, "in", this.#opts.media, role, manage));
    }
    const waiting = s.presence.filter((p) => !inGroup.has(p.memberId));
    for (const p of waiting) rows.push(participantRow(p.displayName, presenceIdentity(p), p.memberId === self, "waiting", this.#opts.media, p.role, null));
    if (s.phase === "waiting-room") rows.splice(0, rows.length, h("li", { class: "muted" }, "You see who is here once the host lets you in."));
    if (rows.length === 0) rows.push(h("li", { class: "muted" }, "Joining…"));
    // Hosts and co-hosts: the waiting room.
    if (hosting && s.waitingList.length > 0) {
      rows.push(h("li", { class: "list-heading", "data-testid": "waiting-heading" }, `Waiting to join (${s.waitingList.length})`));
      for (const w of s.waitingList) {
        const admit = h("button", { type: "button", class: "button small primary", "aria-label": `Admit ${w.displayName}`, "data-testid": "admit-button", "data-focus-key": `admit:${w.memberId}` }, "Admit");
        admit.addEventListener("click", () => this.#opts.controller.admit(w.memberId));
        const deny = h("button", { type: "button", class: "button small", "aria-label": `Deny ${w.displayName}`, "data-testid": "deny-button", "data-focus-key": `deny:${w.memberId}` }, "Deny");
        deny.addEventListener("click", () => this.#opts.controller.deny(w.memberId));
        rows.push(
          h(
            "li",
            { class: "participant waiting", "data-member-id": w.memberId, "data-testid": "waiting-entry", "data-participant-name": w.displayName },
            h("span", { class: "avatar small person" }, initials(w.displayName)),
            h("span", { class: "participant-main" }, h("span", { class: "participant-name" }, w.displayName), h("span", { class: "participant-meta" }, "Waiting: no keys, no media")),
            h("span", { class: "participant-actions" }, admit, deny),
          ),
        );
      }
    }
    // The list is rebuilt on every change: keep keyboard focus on the same control.
    const focused = this.#participantList.contains(document.activeElement) ? document.activeElement?.getAttribute("data-focus-key") : null;
    replaceChildren(this.#participantList, ...rows);
    if (focused) this.#participantList.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    this.#participantCount.textContent = String(Math.max(1, s.members.length));
    this.#participantsButton.setAttribute("aria-label", `People (${Math.max(1, s.members.length)})${hosting && s.waitingList.length > 0 ? `, ${s.waitingList.length} waiting` : ""}`);
  }

  #manageButton(memberId: string, name: string, role: "host" | "cohost" | "participant"): HTMLButtonElement {
    const b = h("button", { type: "button", class: "button small", "aria-label": `Manage ${name}`, "aria-haspopup": "dialog", "data-testid": "manage-participant", "data-focus-key": `manage:${memberId}` }, "Manage");
    b.addEventListener("click", () => {
      manageParticipantDialog({
        name,
        role,
        canChangeRole: true,
        opener: b,
        onRole: (next) => this.#opts.controller.setRole(memberId, next),
        onRemove: (allowRejoin) => {
          this.#opts.controller.remove(memberId, allowRejoin);
          this.#toast(allowRejoin ? `${name} was removed and may join again. The meeting's keys changed.` : `${name} was removed and may not join again. The meeting's keys changed.`, ICONS.users);
        },
      });
    });
    return b;
  }

  #renderControls(): void {
    const m = this.#opts.media;
    setControl(this.#micButton, m.micOn ? ICONS.mic : ICONS.micOff, m.micOn ? "Mute" : "Unmute", !m.micOn, m.microphone === null);
    setControl(this.#camButton, m.camOn ? ICONS.cam : ICONS.camOff, m.camOn ? "Stop video" : "Start video", !m.camOn, m.camera === null);
    const sharing = this.#opts.controller.screenSharing;
    setControl(this.#screenButton, ICONS.screen, sharing ? "Stop sharing" : "Share screen", false, typeof navigator.mediaDevices?.getDisplayMedia !== "function");
    this.#screenButton.classList.toggle("active", sharing);
    this.#selfTile.mic.replaceChildren(m.micOn ? "" : icon(ICONS.micOff));
    this.#selfTile.mic.hidden = m.micOn;
    this.#selfTile.el.classList.toggle("no-video", !m.camOn);
  }

  /** Remote mute indicators: the level of each remote audio track after decryption and decoding. */
  async #pollAudioLevels(): Promise<void> {
    const pc = this.#opts.controller.subscribePeerConnection;
    if (!pc) return;
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    const levelByMid = new Map<string, number>();
    report.forEach((stat: { type?: string; kind?: string; mid?: string; audioLevel?: number }) => {
      if (stat.type === "inbound-rtp" && stat.kind === "audio" && stat.mid !== undefined) levelByMid.set(stat.mid, stat.audioLevel ?? 0);
    });
    const now = Date.now();
    for (const t of this.#snapshot.remoteTracks) {
      if (t.kind !== "audio") continue;
      const tile = this.#tiles.get(t.ownerId);
      const level = levelByMid.get(t.mid);
      if (!tile || level === undefined) continue;
      if (level > SPEAKING_LEVEL) tile.lastSound = now;
      tile.el.classList.toggle("speaking", level > SPEAKING_LEVEL);
      tile.mic.hidden = now - tile.lastSound < SILENCE_MS;
    }
  }

  #toast(text: string, paths: readonly string[] = ICONS.key): void {
    const t = h("div", { class: "toast" }, icon(paths), text);
    this.#toasts.append(t);
    while (this.#toasts.children.length > 3) this.#toasts.firstElementChild?.remove();
    setTimeout(() => t.remove(), 6000);
  }
}

function memberNames(s: MeetingSnapshot): Map<string, string> {
  const names = new Map<string, string>();
  for (const p of s.presence) names.set(p.memberId, p.displayName);
  // The group's own credentials win over what the server reports.
  for (const m of s.members) names.set(m.memberId, m.displayName);
  return names;
}

function presenceIdentity(p: MemberInfo): MemberIdentity {
  return p.kind.kind === "connector"
    ? { kind: "connector", connector: p.kind.connector, memberId: p.memberId, displayName: p.displayName }
    : { kind: "person", memberId: p.memberId, displayName: p.displayName };
}

function participantRow(name: string, m: MemberIdentity, self: boolean, state: "in" | "waiting", media: LocalMedia, role: string | undefined, manage: HTMLElement | null): HTMLElement {
  // A connector shows its kind and, from its own credential, how its far leg is protected. While
  // it is still joining (known from the server's presence only, no credential in the group yet)
  // its protection is not known, so none is claimed.
  const showsProtection = m.kind === "connector" && (m.farLeg !== undefined || (state === "in" && (m.connector === "sip" || m.connector === "pstn")));
  const kind = m.kind === "connector" ? `Connector · ${connectorLabel(m.connector)}${showsProtection ? ` · ${farLegProtection(m.farLeg)}` : ""}` : "Person";
  return h(
    "li",
    { class: `participant ${state}`, "data-member-id": m.memberId, "data-kind": m.kind },
    h("span", { class: `avatar small ${m.kind}` }, m.kind === "connector" ? icon(ICONS.plug) : initials(name)),
    h(
      "span",
      { class: "participant-main" },
      h("span", { class: "participant-name" }, name, self ? h("span", { class: "muted" }, " (you)") : null),
      h(
        "span",
        { class: "participant-meta" },
        h("span", { class: "kind-label", "data-testid": "member-kind" }, kind),
        role === "host" ? " · Host" : role === "cohost" ? " · Co-host" : null,
        state === "waiting" ? h("span", { class: "muted" }, " · joining…") : null,
      ),
    ),
    self && !media.micOn ? h("span", { class: "participant-icon", role: "img", "aria-label": "Your microphone is muted" }, icon(ICONS.micOff)) : null,
    state === "in" ? h("span", { class: "participant-icon ok", role: "img", "aria-label": "Holds the current keys" }, icon(ICONS.lock)) : null,
    manage,
  );
}

function setControl(b: HTMLButtonElement, paths: readonly string[], label: string, off: boolean, disabled: boolean): void {
  b.replaceChildren(icon(paths), h("span", { class: "control-label" }, label));
  b.classList.toggle("off", off);
  b.disabled = disabled;
}
