/**
 * The meeting screen: the tiles (ui/meeting-stage.ts), the controls, the participant list, the
 * encryption shield and the security code, devices, and keyboard shortcuts. It renders
 * MeetingController snapshots; tiles are kept by member id so their <video>/<audio> elements keep
 * playing across updates.
 */
import { MLS_SUITES, type MemberIdentity, type MemberInfo } from "@conclave/protocol";
import type { HostRequest, MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import { renamable } from "../meeting/host-names.js";
import { connectorLabel, connectorMeaning, exceptionDescription, exceptionReason, farLegProtectionLabel, protectionLabel } from "../meeting/shield.js";
import { noticeText } from "../meeting/notices.js";
import { LocalRecording, LocalRecordingNotice } from "./local-recording.js";
import { CloudRecordingUi } from "./recording-ui.js";
import { StreamingUi } from "./streaming-ui.js";
import { CaptionsUi } from "./captions-ui.js";
import type { LocalMedia } from "../media/local-media.js";
import { t, tn } from "../i18n/i18n.js";
import { brandHeader, errorBox, formatMeetingId } from "./common.js";
import { confirmDialog, createPanel, type Panel } from "./dialog.js";
import { manageParticipantDialog } from "./host-controls.js";
import { h, icon, initials, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";
import { MeetingStage } from "./meeting-stage.js";
import { installShortcuts, shortcutsPanel, type ShortcutAction } from "./shortcuts.js";
import { REACTIONS, type ChatEntry } from "@conclave/client";
import { ChatPanel } from "./chat-panel.js";
import { PollsPanel } from "./polls-panel.js";
import { BreakoutPanel } from "./breakout-panel.js";

/** An example SIP address (the invite form's placeholder and its hint). */
const SIP_EXAMPLE = "sip:room@192.0.2.10;transport=tls";

/** The side panels; one is open at a time. */
type Side = "people" | "chat" | "polls" | "breakout";

export interface MeetingViewOptions {
  meetingId: string;
  displayName: string;
  controller: MeetingController;
  media: LocalMedia;
  onLeft: () => void;
}

export class MeetingView {
  readonly #opts: MeetingViewOptions;
  readonly #stage: MeetingStage;
  readonly #status = h("div", { class: "status-banner", role: "status", "aria-live": "polite", hidden: true });
  readonly #shieldButton: HTMLButtonElement;
  readonly #codeButton: HTMLButtonElement;
  readonly #codePreview = h("span", { class: "code-preview mono" }, "…");
  readonly #codeDot = h("span", { class: "dot", hidden: true });
  readonly #shieldPanel: Panel;
  readonly #codePanel: Panel;
  readonly #morePanel: Panel;
  readonly #shortcutsPanel: Panel;
  readonly #codeText = h("p", { class: "security-code mono", "data-testid": "security-code" });
  readonly #codeMeta = h("p", { class: "muted" });
  readonly #codeNotice = h("div", { class: "code-notice", "data-testid": "security-code-notice", role: "status", hidden: true });
  readonly #participantList = h("ul", { class: "participant-list", "data-testid": "participant-list", "aria-label": t("people.listLabel") });
  readonly #sidebar: HTMLElement;
  readonly #participantsButton: HTMLButtonElement;
  readonly #participantCount = h("span", { class: "count" }, "1");
  readonly #micButton: HTMLButtonElement;
  readonly #camButton: HTMLButtonElement;
  readonly #screenButton: HTMLButtonElement;
  readonly #layoutButton: HTMLButtonElement;
  readonly #moreButton: HTMLButtonElement;
  readonly #leaveButton: HTMLButtonElement;
  readonly #toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  readonly #lockedBadge = h("span", { class: "badge badge-locked", "data-testid": "meeting-locked", hidden: true }, icon(ICONS.lock), t("meeting.locked"));
  /** Cloud recording: indicator, notice, the host's button. */
  readonly #recording: CloudRecordingUi;
  readonly #streaming: StreamingUi;
  /** Live captions and the host's transcription control. */
  readonly #captions: CaptionsUi;
  /** Recording on this device (any meeting, the only kind an E2EE meeting allows). */
  readonly #localRecording: LocalRecording;
  /** Who else records on their device: the notice and the people list's tags. */
  readonly #localRecordingNotice = new LocalRecordingNotice();
  readonly #waitingCard = h(
    "section",
    { class: "waiting-card card", "data-testid": "waiting-room", "aria-labelledby": "waiting-title", hidden: true },
    h("h1", { id: "waiting-title" }, t("waiting.title")),
    h("p", {}, t("waiting.text")),
    h("p", { class: "muted" }, t("waiting.nothing")),
  );
  readonly #hostControls: HTMLElement;
  readonly #roomSystem: HTMLElement;
  readonly #roomSystemNotice = h("p", { class: "help", "data-testid": "room-system-notice", role: "status", "aria-live": "polite" });
  #lastNoticeAt = 0;
  readonly #lockSwitch: HTMLInputElement;
  readonly #endButton: HTMLButtonElement;
  readonly #camSelect = h("select", { id: "meeting-camera-select", "data-testid": "meeting-camera-select" });
  readonly #micSelect = h("select", { id: "meeting-microphone-select", "data-testid": "meeting-microphone-select" });
  readonly #speakerSelect = h("select", { id: "speaker-select", "data-testid": "speaker-select" });
  readonly #deviceStatus = h("div", { class: "form-status", "aria-live": "polite" });
  #knownWaiting = new Set<string>();
  readonly #announce = h("p", { class: "visually-hidden", "aria-live": "polite" });
  #lastShownEpoch: bigint | null = null;
  #snapshot: MeetingSnapshot;
  readonly #removeShortcuts: () => void;
  readonly #chat: ChatPanel;
  readonly #polls: PollsPanel;
  readonly #breakout: BreakoutPanel;
  readonly #chatButton: HTMLButtonElement;
  readonly #chatUnread = h("span", { class: "count", "data-testid": "chat-unread", hidden: true }, "0");
  #unread = 0;
  readonly #reactButton: HTMLButtonElement;
  readonly #reactionsPanel: Panel;
  readonly #handButton: HTMLButtonElement;
  readonly #pollsButton: HTMLButtonElement;
  readonly #breakoutButton: HTMLButtonElement;
  readonly #handsQueue = h("section", { class: "hands-queue", "data-testid": "hands-queue", "aria-labelledby": "hands-title", hidden: true });
  #side: Side | null = null;
  #moreTools!: { chat: HTMLButtonElement; react: HTMLButtonElement; hand: HTMLButtonElement; polls: HTMLButtonElement; breakout: HTMLButtonElement };
  #pollCount = 0;

  constructor(root: HTMLElement, opts: MeetingViewOptions) {
    this.#opts = opts;
    this.#snapshot = opts.controller.snapshot;
    this.#stage = new MeetingStage({ controller: opts.controller, media: opts.media, displayName: opts.displayName, toast: (text) => this.#toast(text, ICONS.screen) });

    // Shield and security code.
    this.#shieldButton = h("button", { type: "button", class: "shield", "data-testid": "encryption-shield", "aria-haspopup": "dialog" });
    this.#shieldPanel = createPanel({ title: t("shield.title"), testid: "shield-panel" });
    this.#shieldButton.addEventListener("click", () => this.#shieldPanel.open(this.#shieldButton));
    this.#codeButton = h(
      "button",
      { type: "button", class: "code-button", "aria-haspopup": "dialog", "aria-label": t("code.show"), "data-testid": "security-code-button" },
      icon(ICONS.key),
      h("span", { class: "code-button-label" }, t("code.title")),
      this.#codePreview,
      this.#codeDot,
    );
    this.#codePanel = createPanel({ title: t("code.title"), testid: "security-code-panel" });
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
        h("p", {}, h("strong", {}, t("code.readAloud")), " ", t("code.explain1")),
        h("p", {}, t("code.explain2")),
        h("p", {}, t("code.explain3")),
      ),
    );

    // Controls.
    this.#micButton = h("button", { type: "button", class: "control", "data-testid": "mic-button", "aria-keyshortcuts": "M" });
    this.#micButton.addEventListener("click", () => this.#run("mic"));
    this.#camButton = h("button", { type: "button", class: "control", "data-testid": "camera-button", "aria-keyshortcuts": "V" });
    this.#camButton.addEventListener("click", () => this.#run("camera"));
    this.#screenButton = h("button", { type: "button", class: "control", "data-testid": "screen-button", "aria-keyshortcuts": "S" });
    this.#screenButton.addEventListener("click", () => this.#run("screen"));
    this.#layoutButton = h("button", { type: "button", class: "control", "data-testid": "layout-button", "aria-keyshortcuts": "G" });
    this.#layoutButton.addEventListener("click", () => this.#run("layout"));
    this.#participantsButton = h(
      "button",
      { type: "button", class: "control", "aria-controls": "participants", "data-testid": "participants-button", "aria-keyshortcuts": "P" },
      icon(ICONS.users),
      h("span", { class: "control-label" }, t("controls.people")),
      this.#participantCount,
    );
    this.#participantsButton.addEventListener("click", () => this.#run("people"));
    this.#moreButton = h("button", { type: "button", class: "control", "data-testid": "more-button", "aria-haspopup": "dialog" }, icon(ICONS.more), h("span", { class: "control-label" }, t("controls.more")));
    this.#leaveButton = h("button", { type: "button", class: "control danger", "data-testid": "leave-button", "aria-keyshortcuts": "L" }, icon(ICONS.leave), h("span", { class: "control-label" }, t("controls.leave")));
    this.#leaveButton.addEventListener("click", () => this.#leave());

    // Chat, reactions and a raised hand, polls, breakout rooms (all end-to-end encrypted).
    this.#chat = new ChatPanel(opts.controller, () => this.#openSide(null));
    this.#polls = new PollsPanel(opts.controller, () => this.#openSide(null));
    this.#breakout = new BreakoutPanel(opts.controller, () => this.#openSide(null));
    this.#chatButton = h("button", { type: "button", class: "control secondary", "aria-controls": "chat", "data-testid": "chat-button" }, icon(ICONS.chat), h("span", { class: "control-label" }, t("controls.chat")), this.#chatUnread);
    this.#chatButton.addEventListener("click", () => this.#toggleSide("chat"));
    this.#pollsButton = h("button", { type: "button", class: "control secondary", "aria-controls": "polls", "data-testid": "polls-button" }, icon(ICONS.poll), h("span", { class: "control-label" }, t("controls.polls")));
    this.#pollsButton.addEventListener("click", () => this.#toggleSide("polls"));
    this.#breakoutButton = h("button", { type: "button", class: "control secondary", "aria-controls": "breakout", "data-testid": "breakout-button", hidden: true }, icon(ICONS.door), h("span", { class: "control-label" }, t("controls.breakout")));
    this.#breakoutButton.addEventListener("click", () => this.#toggleSide("breakout"));
    this.#reactionsPanel = createPanel({ title: t("reactions.title"), testid: "reactions-panel" });
    replaceChildren(
      this.#reactionsPanel.body,
      h(
        "div",
        { class: "reaction-picker", role: "group", "aria-label": t("reactions.pick") },
        ...REACTIONS.map((emoji) => {
          const b = h("button", { type: "button", class: "reaction-button", "data-testid": "reaction-button", "data-emoji": emoji, "aria-label": t("reactions.send", { emoji }) }, emoji);
          b.addEventListener("click", () => {
            this.#reactionsPanel.close();
            opts.controller.react(emoji).catch(() => this.#toast(t("reactions.failed")));
          });
          return b;
        }),
      ),
      h("p", { class: "help" }, t("reactions.help")),
    );
    this.#reactButton = h("button", { type: "button", class: "control secondary", "data-testid": "reactions-button", "aria-haspopup": "dialog" }, icon(ICONS.smile), h("span", { class: "control-label" }, t("controls.react")));
    this.#reactButton.addEventListener("click", () => this.#reactionsPanel.open(this.#reactButton));
    this.#handButton = h("button", { type: "button", class: "control secondary", "data-testid": "raise-hand-button" });
    this.#handButton.addEventListener("click", () => {
      opts.controller.setHand(!opts.controller.handRaised).catch(() => this.#toast(t("hands.failed")));
    });

    // More: devices (camera, microphone, speaker) and the shortcuts.
    this.#shortcutsPanel = shortcutsPanel();
    this.#morePanel = createPanel({ title: t("more.title"), testid: "more-panel" });
    const shortcutsButton = h("button", { type: "button", class: "button", "data-testid": "shortcuts-button", "aria-haspopup": "dialog" }, icon(ICONS.keyboard), t("more.shortcuts"));
    shortcutsButton.addEventListener("click", () => {
      this.#morePanel.close();
      this.#shortcutsPanel.open(this.#moreButton);
    });
    this.#camSelect.addEventListener("change", () => void this.#switchDevice("video", this.#camSelect.value));
    this.#micSelect.addEventListener("change", () => void this.#switchDevice("audio", this.#micSelect.value));
    this.#speakerSelect.addEventListener("change", () => void this.#switchSpeaker(this.#speakerSelect.value));
    // On phones the bar keeps only the essentials: these tools are here too.
    const tool = (testid: string, paths: readonly string[], label: string, act: () => void): HTMLButtonElement => {
      const b = h("button", { type: "button", class: "button", "data-testid": testid }, icon(paths), label);
      b.addEventListener("click", () => {
        this.#morePanel.close();
        act();
      });
      return b;
    };
    this.#moreTools = {
      chat: tool("more-chat", ICONS.chat, t("controls.chat"), () => this.#openSide("chat")),
      react: tool("more-reactions", ICONS.smile, t("controls.react"), () => this.#reactionsPanel.open(this.#moreButton)),
      hand: tool("more-raise-hand", ICONS.hand, t("controls.raiseHand"), () => void opts.controller.setHand(!opts.controller.handRaised).catch(() => this.#toast(t("hands.failed")))),
      polls: tool("more-polls", ICONS.poll, t("controls.polls"), () => this.#openSide("polls")),
      breakout: tool("more-breakout", ICONS.door, t("controls.breakout"), () => this.#openSide("breakout")),
    };
    replaceChildren(
      this.#morePanel.body,
      h("div", { class: "row more-tools" }, this.#moreTools.chat, this.#moreTools.react, this.#moreTools.hand, this.#moreTools.polls, this.#moreTools.breakout),
      h("h3", {}, t("more.devices")),
      h(
        "div",
        { class: "device-fields" },
        h("div", { class: "field" }, h("label", { for: "meeting-camera-select", class: "field-label" }, t("devices.camera")), this.#camSelect),
        h("div", { class: "field" }, h("label", { for: "meeting-microphone-select", class: "field-label" }, t("devices.microphone")), this.#micSelect),
        h("div", { class: "field" }, h("label", { for: "speaker-select", class: "field-label" }, t("devices.speaker")), this.#speakerSelect),
      ),
      this.#deviceStatus,
      h("p", { class: "help" }, t("more.devicesHelp")),
      h("h3", {}, t("more.keyboard")),
      h("div", { class: "row" }, shortcutsButton),
    );
    this.#moreButton.addEventListener("click", () => {
      void this.#fillDevices();
      this.#morePanel.open(this.#moreButton);
    });

    // Host and co-host controls: lock the meeting; the host alone ends it for everyone.
    this.#lockSwitch = h("input", { type: "checkbox", role: "switch", class: "switch", id: "lock-meeting", "data-testid": "lock-meeting", "aria-describedby": "lock-meeting-help" });
    this.#lockSwitch.addEventListener("change", () => opts.controller.lockMeeting(this.#lockSwitch.checked));
    this.#endButton = h("button", { type: "button", class: "button small danger", "data-testid": "end-meeting-button" }, t("host.endForAll"));
    this.#endButton.addEventListener("click", () => {
      void confirmDialog(
        {
          title: t("host.endTitle"),
          message: t("host.endMessage"),
          confirmLabel: t("host.endForAll"),
          danger: true,
          testid: "confirm-end-meeting",
        },
        this.#endButton,
      ).then((ok) => {
        if (ok) opts.controller.endMeeting();
      });
    });
    // Hosts of an Enhanced meeting call a room system (SIP) in; it joins as a visible member.
    const uriInput = h("input", { type: "text", id: "invite-room-system-uri", placeholder: SIP_EXAMPLE, autocomplete: "off", spellcheck: "false", "data-testid": "invite-room-system-uri", required: true });
    const nameInput = h("input", { type: "text", id: "invite-room-system-name", placeholder: t("roomSystem.namePlaceholder"), maxlength: 64, autocomplete: "off", "data-testid": "invite-room-system-name" });
    const inviteButton = h("button", { type: "submit", class: "button small", "data-testid": "invite-room-system-button" }, t("roomSystem.call"));
    const inviteForm = h(
      "form",
      { class: "invite-room-system", "data-testid": "invite-room-system", "aria-labelledby": "invite-room-system-title" },
      h("h4", { id: "invite-room-system-title" }, t("roomSystem.title")),
      h("label", { for: "invite-room-system-uri" }, t("roomSystem.address")),
      uriInput,
      h("label", { for: "invite-room-system-name" }, t("roomSystem.name")),
      nameInput,
      inviteButton,
      h("p", { class: "help" }, t("roomSystem.help")),
      this.#roomSystemNotice,
    );
    inviteForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const uri = uriInput.value.trim();
      if (!/^sips?:\S+$/.test(uri)) {
        this.#roomSystemNotice.textContent = t("roomSystem.invalid", { example: SIP_EXAMPLE });
        return;
      }
      const name = nameInput.value.trim();
      opts.controller.inviteRoomSystem(uri, name === "" ? undefined : name);
      this.#roomSystemNotice.textContent = t("roomSystem.calling", { name: name || uri });
    });
    this.#roomSystem = inviteForm;
    this.#localRecording = new LocalRecording({
      videos: () => [...root.querySelectorAll<HTMLVideoElement>(".tiles video")],
      audio: () => [opts.media.stream, ...[...root.querySelectorAll<HTMLAudioElement>("audio")].map((a) => a.srcObject).filter((s): s is MediaStream => s instanceof MediaStream)],
    }, (recording) => opts.controller.setLocalRecording(recording));
    this.#recording = new CloudRecordingUi(opts.meetingId);
    this.#streaming = new StreamingUi(opts.meetingId);
    this.#captions = new CaptionsUi(opts.meetingId);
    this.#hostControls = h(
      "section",
      { class: "host-controls", "aria-labelledby": "host-controls-title", "data-testid": "host-controls", hidden: true },
      h("h3", { id: "host-controls-title" }, t("host.title")),
      h("label", { class: "check switch-row", for: "lock-meeting" }, this.#lockSwitch, h("span", {}, t("host.lock"))),
      h("p", { class: "help", id: "lock-meeting-help" }, t("host.lockHelp")),
      this.#roomSystem,
      this.#recording.hostSection,
      this.#streaming.hostSection,
      this.#captions.hostSection,
      this.#endButton,
    );

    const closeSidebar = h("button", { type: "button", class: "icon-button sidebar-close", "aria-label": t("people.close"), "data-testid": "participants-close" }, icon(ICONS.close));
    closeSidebar.addEventListener("click", () => this.#setSidebar(false));
    this.#sidebar = h(
      "aside",
      { class: "sidebar", id: "participants", "aria-labelledby": "participants-title", "data-testid": "side-panel" },
      h("div", { class: "sidebar-head" }, h("h2", { id: "participants-title" }, t("people.title")), closeSidebar),
      this.#hostControls,
      // Recording on this device: in the People panel, so the control bar stays thumb-sized on phones.
      h("section", { class: "local-recording", "aria-label": t("localRecording.button") }, this.#localRecording.button, this.#localRecording.status),
      this.#handsQueue,
      this.#participantList,
      h("p", { class: "help" }, t("people.help")),
    );
    this.#setSidebar(window.matchMedia("(min-width: 1100px)").matches);

    const title = h("div", { class: "meeting-title" }, h("span", { class: "muted" }, t("meeting.meeting")), h("span", { class: "mono" }, formatMeetingId(opts.meetingId)));
    replaceChildren(
      root,
      h(
        "div",
        { class: "meeting" },
        brandHeader(title, this.#lockedBadge, this.#recording.badge, this.#streaming.badge, h("div", { class: "spacer" }), this.#shieldButton, this.#codeButton),
        this.#status,
        this.#recording.notice,
        this.#localRecordingNotice.notice,
        this.#breakout.banner,
        h(
          "div",
          { class: "stage" },
          h("main", { class: "tiles", id: "main", "aria-label": t("meeting.main") }, this.#waitingCard, this.#stage.grid, this.#stage.pager),
          this.#sidebar,
          this.#chat.element,
          this.#polls.element,
          this.#breakout.element,
        ),
        this.#captions.captions,
        h(
          "footer",
          { class: "controls", "aria-label": t("controls.label"), "data-testid": "control-bar" },
          this.#micButton,
          this.#camButton,
          this.#screenButton,
          this.#layoutButton,
          this.#participantsButton,
          this.#chatButton,
          this.#reactButton,
          this.#handButton,
          this.#pollsButton,
          this.#breakoutButton,
          this.#moreButton,
          this.#leaveButton,
        ),
        this.#toasts,
        this.#announce,
        this.#shieldPanel.dialog,
        this.#codePanel.dialog,
        this.#morePanel.dialog,
        this.#shortcutsPanel.dialog,
        this.#reactionsPanel.dialog,
      ),
    );
    opts.media.onChange = () => {
      opts.controller.syncMediaState();
      this.#renderControls();
      this.#stage.render(this.#snapshot);
    };
    opts.controller.onHostRequest = (r) => this.#hostRequest(r);
    opts.controller.onReaction = (r) => this.#stage.showReaction(r.self ? null : r.memberId, r.emoji);
    opts.controller.onChat = (entry) => this.#onChat(entry);
    opts.controller.onBroadcast = (b) => {
      const toast = this.#toast(t("breakout.broadcastFrom", { name: b.fromName, text: b.text }), ICONS.door, undefined, 15_000);
      toast.setAttribute("data-testid", "breakout-broadcast-toast");
    };
    opts.controller.onHandLowered = (byName) => this.#toast(t("hands.loweredBy", { name: byName }), ICONS.hand);
    opts.controller.onCaption = (c) => this.#captions.add(c);
    this.#removeShortcuts = installShortcuts((action) => this.#run(action));
    this.render(this.#snapshot);
  }

  close(): void {
    this.#localRecording.stop();
    this.#removeShortcuts();
    this.#stage.close();
    this.#opts.controller.onHostRequest = null;
    this.#opts.controller.onReaction = null;
    this.#opts.controller.onChat = null;
    this.#opts.controller.onBroadcast = null;
    this.#opts.controller.onHandLowered = null;
    this.#opts.controller.onCaption = null;
    for (const p of [this.#shieldPanel, this.#codePanel, this.#morePanel, this.#shortcutsPanel, this.#reactionsPanel]) p.close();
    for (const d of document.querySelectorAll<HTMLDialogElement>("dialog[data-meeting-dialog]")) d.close();
    document.querySelector<HTMLDialogElement>('dialog[data-testid="confirm-end-meeting"]')?.close();
    document.querySelector<HTMLDialogElement>('dialog[data-testid="confirm-leave"]')?.close();
  }

  render(s: MeetingSnapshot): void {
    this.#snapshot = s;
    this.#renderStatus(s);
    this.#renderAccess(s);
    this.#renderShield(s);
    this.#recording.render(s);
    this.#streaming.render(s);
    this.#captions.render(s);
    this.#renderCode(s);
    this.#stage.render(s);
    this.#renderParticipants(s);
    this.#localRecordingNotice.render(s.localRecorders, s.selfId, s.phase === "in-meeting", this.#participantList);
    this.#renderControls();
    this.#renderCollaboration(s);
  }

  /** Chat, reactions, hands, polls and breakout rooms: what the meeting's settings allow. */
  #renderCollaboration(s: MeetingSnapshot): void {
    const f = s.features;
    const inMeeting = s.phase === "in-meeting";
    const hosting = s.role !== "participant" && inMeeting;
    // A feature the settings turn off is not offered (its panel closes).
    this.#chatButton.hidden = !(f.inMeetingChat || f.privateChat);
    this.#reactButton.hidden = !f.reactions;
    this.#pollsButton.hidden = !f.polling;
    // Hosts keep the breakout panel while they move between rooms (a visit is a leave and a
    // join: the phase passes through "waiting" until the room's group takes them in).
    this.#breakoutButton.hidden = !f.breakoutRooms || s.role === "participant";
    for (const [side, button] of [["chat", this.#chatButton], ["polls", this.#pollsButton], ["breakout", this.#breakoutButton]] as const) {
      button.disabled = !inMeeting;
      if (this.#side === side && button.hidden) this.#openSide(null);
    }
    this.#reactButton.disabled = !inMeeting;
    this.#handButton.disabled = !inMeeting;
    const tools = this.#moreTools;
    tools.chat.hidden = this.#chatButton.hidden;
    tools.react.hidden = this.#reactButton.hidden;
    tools.polls.hidden = this.#pollsButton.hidden;
    tools.breakout.hidden = this.#breakoutButton.hidden;
    for (const b of Object.values(tools)) b.disabled = !inMeeting;
    const raised = this.#opts.controller.handRaised;
    setControl(this.#handButton, ICONS.hand, raised ? t("controls.lowerHand") : t("controls.raiseHand"), false, !inMeeting);
    this.#handButton.classList.toggle("active", raised);
    this.#handButton.setAttribute("aria-pressed", String(raised));
    tools.hand.replaceChildren(icon(ICONS.hand), raised ? t("controls.lowerHand") : t("controls.raiseHand"));
    this.#chat.render(s);
    this.#polls.render(s);
    this.#breakout.render(s);
    this.#stage.setHands(new Set(s.hands.map((x) => x.memberId)));
    // A new poll while the panel is closed: point at it.
    if (s.polls.length > this.#pollCount && this.#side !== "polls" && s.polls.some((p) => !p.mine && p.open && p.myChoices === null)) {
      this.#toast(t("polls.newPoll"), ICONS.poll);
      this.#pollsButton.classList.add("attention");
    }
    this.#pollCount = s.polls.length;
    this.#renderHands(s, hosting);
  }

  /** The raised hands, in the order they went up, for hosts and co-hosts (who can lower them). */
  #renderHands(s: MeetingSnapshot, hosting: boolean): void {
    const others = s.hands.filter((x) => x.memberId !== s.selfId || hosting);
    this.#handsQueue.hidden = !hosting || others.length === 0;
    if (this.#handsQueue.hidden) return;
    const focused = this.#handsQueue.contains(document.activeElement) ? document.activeElement?.getAttribute("data-focus-key") : null;
    replaceChildren(
      this.#handsQueue,
      h("h3", { id: "hands-title" }, icon(ICONS.hand), t("hands.title", { count: others.length })),
      h(
        "ol",
        { class: "hands-list" },
        ...others.map((x) => {
          const lower = h("button", { type: "button", class: "button small", "data-testid": "lower-hand-button", "data-focus-key": `lower:${x.memberId}`, "aria-label": t("hands.lowerLabel", { name: x.displayName }) }, t("hands.lower"));
          lower.addEventListener("click", () => void this.#opts.controller.lowerHandOf(x.memberId).catch(() => this.#toast(t("hands.failed"))));
          return h("li", { class: "hand-entry", "data-testid": "hand-entry", "data-member-id": x.memberId, "data-participant-name": x.displayName }, h("span", {}, x.displayName), lower);
        }),
      ),
    );
    if (focused) this.#handsQueue.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  #onChat(entry: ChatEntry): void {
    if (entry.mine || this.#side === "chat") return;
    this.#unread += 1;
    this.#chatUnread.textContent = String(this.#unread);
    this.#chatUnread.hidden = false;
    this.#announce.textContent = entry.private ? t("chat.newPrivate", { name: entry.fromName }) : t("chat.newFrom", { name: entry.fromName });
  }

  #toggleSide(side: Side): void {
    this.#openSide(this.#side === side ? null : side);
  }

  /** Opens one side panel (closing the others), or none. */
  #openSide(side: Side | null): void {
    this.#side = side;
    this.#sidebar.hidden = side !== "people";
    this.#chat.element.hidden = side !== "chat";
    this.#polls.element.hidden = side !== "polls";
    this.#breakout.element.hidden = side !== "breakout";
    for (const [s, b] of [["people", this.#participantsButton], ["chat", this.#chatButton], ["polls", this.#pollsButton], ["breakout", this.#breakoutButton]] as const) {
      b.setAttribute("aria-expanded", String(side === s));
      b.classList.toggle("active", side === s);
    }
    if (side === "chat") {
      this.#unread = 0;
      this.#chatUnread.hidden = true;
      this.#chat.focus();
    }
    if (side === "polls") {
      this.#pollsButton.classList.remove("attention");
      this.#polls.focus();
    }
    if (side === "breakout") this.#breakout.focus();
  }

  /** What a control button or its keyboard shortcut does. */
  #run(action: ShortcutAction): void {
    const c = this.#opts.controller;
    const m = this.#opts.media;
    switch (action) {
      case "mic":
        if (m.microphone) void c.setMicOn(!m.micOn);
        return;
      case "camera":
        if (m.camera) void c.setCamOn(!m.camOn);
        return;
      case "screen":
        if (!this.#screenButton.disabled) void c.toggleScreenShare();
        return;
      case "layout":
        this.#stage.mode = this.#stage.mode === "gallery" ? "speaker" : "gallery";
        this.#renderControls();
        this.#announce.textContent = this.#stage.mode === "gallery" ? t("controls.galleryOn") : t("controls.speakerOn");
        return;
      case "people":
        this.#setSidebar(this.#sidebar.hidden);
        return;
      case "leave":
        void confirmDialog(
          { title: t("leave.title"), message: t("leave.message"), confirmLabel: t("controls.leave"), danger: true, testid: "confirm-leave" },
          this.#leaveButton,
        ).then((ok) => {
          if (ok) this.#leave();
        });
        return;
      case "help":
        this.#shortcutsPanel.open(document.activeElement instanceof HTMLElement ? document.activeElement : null);
        return;
    }
  }

  #leave(): void {
    this.#opts.controller.leave();
    this.close();
    this.#opts.onLeft();
  }

  #setSidebar(open: boolean): void {
    if (open) this.#openSide("people");
    else if (this.#side === "people" || this.#side === null) this.#openSide(null);
  }

  #renderStatus(s: MeetingSnapshot): void {
    let content: Node | string | null = null;
    switch (s.phase) {
      case "connecting":
        content = t("status.connecting");
        break;
      case "waiting-room":
        content = s.waitingReason === "hostAbsent" ? t("status.hostAbsent") : t("status.waitingRoom");
        break;
      case "waiting":
        content = t("status.joiningGroup");
        break;
      case "reconnecting":
        content = t("status.reconnecting");
        break;
      case "ended":
        content = h("span", {}, t("status.ended"), " ", h("a", { href: "/", class: "link" }, t("common.startPage")));
        break;
      case "failed":
        content = s.error ? errorBox(s.error) : t("status.failed");
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
    this.#stage.grid.hidden = waiting;
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
      const text = noticeText(notice.code, notice.message);
      this.#roomSystemNotice.textContent = text;
      this.#roomSystemNotice.setAttribute("data-code", notice.code);
      this.#toast(text, ICONS.plug);
    }
    // Tell hosts when someone new starts waiting (the People panel may be closed).
    const ids = new Set(s.waitingList.map((w) => w.memberId));
    if (hosting) {
      for (const w of s.waitingList) {
        if (this.#knownWaiting.has(w.memberId)) continue;
        // With the People panel open the entry itself shows; screen readers still hear it.
        if (this.#sidebar.hidden) this.#toast(t("host.waitingToast", { name: w.displayName }), ICONS.users);
        else this.#announce.textContent = t("host.waitingAnnounce", { name: w.displayName });
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
    const label = state === "e2ee" ? t("shield.e2ee") : state === "encrypted" ? t("shield.encrypted") : t("shield.partial");
    b.setAttribute("aria-label", t("shield.buttonLabel", { state: label }));
    b.replaceChildren(icon(state === "e2ee" ? ICONS.lock : state === "encrypted" ? ICONS.shieldCheck : ICONS.shieldAlert), h("span", { class: "shield-label" }, label));

    const explain: Node[] = [];
    if (state === "e2ee") {
      explain.push(h("p", { class: "panel-lead" }, icon(ICONS.lock), t("shield.e2eeLead")), h("p", {}, t("shield.e2eeText")));
    } else if (state === "encrypted") {
      explain.push(h("p", { class: "panel-lead" }, icon(ICONS.shieldCheck), t("shield.encryptedLead")), h("p", {}, t("shield.encryptedText")));
    } else {
      explain.push(h("p", { class: "panel-lead warn" }, icon(ICONS.shieldAlert), t("shield.partialLead")), h("p", {}, t("shield.partialText")));
    }
    explain.push(h("h3", {}, t("shield.exceptions")));
    explain.push(
      exceptions.length === 0
        ? h("p", { class: "muted", "data-testid": "shield-exceptions-empty" }, t("shield.noExceptions"))
        : h(
            "ul",
            { class: "exceptions", "data-testid": "shield-exceptions" },
            ...exceptions.map((x) =>
              h(
                "li",
                { "data-testid": "shield-exception", "data-member-id": x.memberId, "data-protection": x.protection },
                h("strong", {}, x.displayName),
                h("span", { class: "kind" }, connectorLabel(x.connector)),
                h("span", { class: x.farLegEncrypted ? "protection" : "protection warn", "data-testid": "shield-exception-protection" }, protectionLabel(x.protection)),
                h("span", { class: "muted", "data-testid": "shield-exception-far-leg" }, exceptionDescription(x)),
                h("span", { class: "muted" }, exceptionReason(x)),
              ),
            ),
          ),
    );
    if (keyHoldingConnectors.length > 0) {
      explain.push(
        h("h3", {}, t("shield.keyHolders")),
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
      h("h3", {}, t("shield.keyExchange")),
      h(
        "p",
        { "data-testid": "shield-key-exchange", "data-post-quantum": s.mlsSuite === null ? "unknown" : String(pq) },
        s.mlsSuite === null ? t("code.waiting") : pq ? t("shield.keyExchangePq") : t("shield.keyExchangeClassic"),
      ),
    );
    explain.push(h("h3", {}, t("shield.howItWorks")), h("p", { class: "muted" }, t("shield.howText")));
    replaceChildren(this.#shieldPanel.body, ...explain);
  }

  #renderCode(s: MeetingSnapshot): void {
    const code = s.securityCode;
    this.#codeText.textContent = code ?? "";
    this.#codePreview.textContent = code ? `${code.split(" ").slice(0, 2).join(" ")} …` : "…";
    this.#codeMeta.textContent = code ? t("code.meta", { epoch: s.epoch?.toString() ?? "?", members: tn("code.members", s.members.length) }) : t("code.waiting");
    const change = s.lastCodeChange;
    if (change && s.epoch !== null && this.#lastShownEpoch !== null && s.epoch !== this.#lastShownEpoch && change.epoch === s.epoch) {
      // Named when few; counted when many (a dozen names would not fit in a notice).
      const named = change.joined.length + change.left.length <= 2;
      const who = named
        ? [...change.joined.map((n) => t("code.joined", { name: n })), ...change.left.map((n) => t("code.left", { name: n }))]
        : [
            ...(change.joined.length > 0 ? [tn("code.peopleJoined", change.joined.length)] : []),
            ...(change.left.length > 0 ? [tn("code.peopleLeft", change.left.length)] : []),
          ];
      const text = who.length ? t("code.changedBecause", { who: who.join(t("code.and")) }) : t("code.changed");
      this.#codeNotice.hidden = false;
      replaceChildren(this.#codeNotice, icon(ICONS.refresh), text);
      this.#codeDot.hidden = this.#codePanel.dialog.open;
      this.#toast(text);
    }
    if (s.epoch !== null) this.#lastShownEpoch = s.epoch;
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
      const manage = hosting && m.memberId !== self && role !== undefined && role !== "host" ? this.#manageButton(m, role) : null;
      const muted = m.memberId === self ? !this.#opts.media.micOn : s.remoteMedia.get(m.memberId)?.mic === false;
      rows.push(participantRow(m.displayName, m, m.memberId === self, "in", muted, role, manage));
    }
    const waiting = s.presence.filter((p) => !inGroup.has(p.memberId));
    for (const p of waiting) rows.push(participantRow(p.displayName, presenceIdentity(p), p.memberId === self, "waiting", false, p.role, null));
    if (s.phase === "waiting-room") rows.splice(0, rows.length, h("li", { class: "muted" }, t("people.seeOnceIn")));
    if (rows.length === 0) rows.push(h("li", { class: "muted" }, t("people.joining")));
    // Hosts and co-hosts: the waiting room.
    if (hosting && s.waitingList.length > 0) {
      rows.push(h("li", { class: "list-heading", "data-testid": "waiting-heading" }, t("people.waitingHeading", { count: s.waitingList.length })));
      for (const w of s.waitingList) {
        const admit = h("button", { type: "button", class: "button small primary", "aria-label": t("people.admitLabel", { name: w.displayName }), "data-testid": "admit-button", "data-focus-key": `admit:${w.memberId}` }, t("people.admit"));
        admit.addEventListener("click", () => this.#opts.controller.admit(w.memberId));
        const deny = h("button", { type: "button", class: "button small", "aria-label": t("people.denyLabel", { name: w.displayName }), "data-testid": "deny-button", "data-focus-key": `deny:${w.memberId}` }, t("people.deny"));
        deny.addEventListener("click", () => this.#opts.controller.deny(w.memberId));
        rows.push(
          h(
            "li",
            { class: "participant waiting", "data-member-id": w.memberId, "data-testid": "waiting-entry", "data-participant-name": w.displayName },
            h("span", { class: "avatar small person" }, initials(w.displayName)),
            h("span", { class: "participant-main" }, h("span", { class: "participant-name" }, w.displayName), h("span", { class: "participant-meta" }, t("people.waitingMeta"))),
            h("span", { class: "participant-actions" }, admit, deny),
          ),
        );
      }
    }
    // The list is rebuilt on every change: keep keyboard focus on the same control.
    const focused = this.#participantList.contains(document.activeElement) ? document.activeElement?.getAttribute("data-focus-key") : null;
    replaceChildren(this.#participantList, ...rows);
    if (focused) this.#participantList.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    const count = Math.max(1, s.members.length);
    this.#participantCount.textContent = String(count);
    this.#participantsButton.setAttribute(
      "aria-label",
      hosting && s.waitingList.length > 0 ? t("people.buttonLabelWaiting", { count, waiting: s.waitingList.length }) : t("people.buttonLabel", { count }),
    );
  }

  #manageButton(m: MemberIdentity, role: "host" | "cohost" | "participant"): HTMLButtonElement {
    const { memberId, displayName: name } = m;
    const b = h("button", { type: "button", class: "button small", "aria-label": t("people.manageLabel", { name }), "aria-haspopup": "dialog", "data-testid": "manage-participant", "data-focus-key": `manage:${memberId}` }, t("people.manage"));
    b.addEventListener("click", () => {
      manageParticipantDialog({
        name,
        role,
        canChangeRole: true,
        opener: b,
        onRole: (next) => this.#opts.controller.setRole(memberId, next),
        ...(renamable(m) ? { onRename: (next: string) => this.#opts.controller.renameMember(memberId, next) } : {}),
        onRemove: (allowRejoin) => {
          this.#opts.controller.remove(memberId, allowRejoin);
          this.#toast(allowRejoin ? t("host.removedMayReturn", { name }) : t("host.removedBanned", { name }), ICONS.users);
        },
      });
    });
    return b;
  }

  #renderControls(): void {
    const m = this.#opts.media;
    setControl(this.#micButton, m.micOn ? ICONS.mic : ICONS.micOff, m.micOn ? t("controls.mute") : t("controls.unmute"), !m.micOn, m.microphone === null);
    setControl(this.#camButton, m.camOn ? ICONS.cam : ICONS.camOff, m.camOn ? t("controls.stopVideo") : t("controls.startVideo"), !m.camOn, m.camera === null);
    const sharing = this.#opts.controller.screenSharing;
    setControl(this.#screenButton, ICONS.screen, sharing ? t("controls.stopSharing") : t("controls.share"), false, typeof navigator.mediaDevices?.getDisplayMedia !== "function");
    this.#screenButton.classList.toggle("active", sharing);
    const gallery = this.#stage.mode === "gallery";
    setControl(this.#layoutButton, gallery ? ICONS.speakerView : ICONS.grid, gallery ? t("controls.speakerView") : t("controls.galleryView"), false, false);
    this.#layoutButton.setAttribute("data-layout", this.#stage.mode);
  }

  /** Devices to switch to mid-meeting; the current ones selected. */
  async #fillDevices(): Promise<void> {
    const m = this.#opts.media;
    const d = await m.devices();
    const fill = (select: HTMLSelectElement, list: MediaDeviceInfo[], active: string | null, fallback: string): void => {
      select.replaceChildren(...list.map((dev, i) => h("option", { value: dev.deviceId, selected: dev.deviceId === active }, dev.label || `${fallback} ${i + 1}`)));
      select.disabled = list.length === 0;
      if (list.length === 0) select.append(h("option", {}, t("devices.none")));
    };
    fill(this.#camSelect, d.cameras, m.cameraId ?? m.camera?.getSettings().deviceId ?? null, t("devices.camera"));
    fill(this.#micSelect, d.microphones, m.microphoneId ?? m.microphone?.getSettings().deviceId ?? null, t("devices.microphone"));
    fill(this.#speakerSelect, d.speakers, this.#stage.speakerId ?? "default", t("devices.speaker"));
    if (!("setSinkId" in HTMLMediaElement.prototype)) {
      this.#speakerSelect.disabled = true;
      this.#speakerSelect.title = t("devices.noSpeakerChoice");
    }
  }

  async #switchDevice(kind: "audio" | "video", deviceId: string): Promise<void> {
    replaceChildren(this.#deviceStatus);
    const ok = await this.#opts.controller.replaceDevice(kind, deviceId);
    if (!ok && this.#opts.media.error) replaceChildren(this.#deviceStatus, errorBox(this.#opts.media.error));
    else replaceChildren(this.#deviceStatus, h("p", { class: "success" }, kind === "audio" ? t("devices.micSwitched") : t("devices.cameraSwitched")));
    this.#renderControls();
  }

  async #switchSpeaker(deviceId: string): Promise<void> {
    const ok = await this.#stage.setSpeaker(deviceId);
    replaceChildren(this.#deviceStatus, ok ? h("p", { class: "success" }, t("devices.speakerSwitched")) : h("p", { class: "field-error" }, t("devices.speakerFailed")));
  }

  /** A host asked: "mute" already happened; "unmute" is a question only the person answers. */
  #hostRequest(r: HostRequest): void {
    if (r.action === "mute") {
      this.#toast(t("host.mutedYou", { name: r.fromName }), ICONS.micOff);
      return;
    }
    if (this.#opts.media.micOn) return;
    const unmute = h("button", { type: "button", class: "button small primary", "data-testid": "unmute-request-accept" }, t("controls.unmute"));
    const toast = this.#toast(t("host.asksUnmute", { name: r.fromName }), ICONS.mic, unmute, 15_000);
    toast.setAttribute("data-testid", "unmute-request");
    unmute.addEventListener("click", () => {
      void this.#opts.controller.setMicOn(true);
      toast.remove();
    });
  }

  #toast(text: string, paths: readonly string[] = ICONS.key, action?: HTMLElement, ms = 6000): HTMLElement {
    const toast = h("div", { class: "toast" }, icon(paths), h("span", {}, text), action ?? null);
    this.#toasts.append(toast);
    while (this.#toasts.children.length > 2) this.#toasts.firstElementChild?.remove();
    setTimeout(() => toast.remove(), ms);
    return toast;
  }
}

function presenceIdentity(p: MemberInfo): MemberIdentity {
  return p.kind.kind === "connector"
    ? { kind: "connector", connector: p.kind.connector, memberId: p.memberId, displayName: p.displayName }
    : { kind: "person", memberId: p.memberId, displayName: p.displayName };
}

function participantRow(name: string, m: MemberIdentity, self: boolean, state: "in" | "waiting", muted: boolean, role: string | undefined, manage: HTMLElement | null): HTMLElement {
  // A connector shows its kind and, from its own credential, how its far leg is protected. While
  // it is still joining (known from the server's presence only, no credential in the group yet)
  // its protection is not known, so none is claimed.
  const showsProtection = m.kind === "connector" && (m.farLeg !== undefined || (state === "in" && (m.connector === "sip" || m.connector === "pstn")));
  const kind = m.kind === "connector" ? t("people.connectorKind", { kind: `${connectorLabel(m.connector)}${showsProtection ? ` · ${farLegProtectionLabel(m.farLeg)}` : ""}` }) : t("people.person");
  return h(
    "li",
    { class: `participant ${state}`, "data-member-id": m.memberId, "data-kind": m.kind },
    h("span", { class: `avatar small ${m.kind}` }, m.kind === "connector" ? icon(ICONS.plug) : initials(name)),
    h(
      "span",
      { class: "participant-main" },
      h("span", { class: "participant-name" }, name, self ? h("span", { class: "muted" }, ` ${t("people.you")}`) : null),
      h(
        "span",
        { class: "participant-meta" },
        h("span", { class: "kind-label", "data-testid": "member-kind" }, kind),
        role === "host" ? ` · ${t("people.host")}` : role === "cohost" ? ` · ${t("people.cohost")}` : null,
        state === "waiting" ? h("span", { class: "muted" }, ` · ${t("people.joiningMeta")}`) : null,
      ),
    ),
    muted ? h("span", { class: "participant-icon", role: "img", "aria-label": self ? t("people.youMuted") : t("people.muted") }, icon(ICONS.micOff)) : null,
    state === "in" ? h("span", { class: "participant-icon ok", role: "img", "aria-label": t("people.holdsKeys") }, icon(ICONS.lock)) : null,
    manage,
  );
}

function setControl(b: HTMLButtonElement, paths: readonly string[], label: string, off: boolean, disabled: boolean): void {
  b.replaceChildren(icon(paths), h("span", { class: "control-label" }, label));
  b.setAttribute("aria-label", label);
  b.classList.toggle("off", off);
  b.disabled = disabled;
}
