/**
 * One person's presence in one meeting, across reconnects: the MLS session (MeetingSession),
 * the media connections, the E2EE worker, and what the UI shows (phase, members, shield,
 * security code). A WebSocket that closes without a leave or a fatal error is a network blip:
 * the controller backs off and joins again as a NEW member with a new key package (session
 * state is never persisted), keeping the camera and microphone open.
 */
import {
  Collaboration,
  MeetingMediaState,
  MeetingSession,
  PERMANENT_REFUSALS,
  fetchFileTransport,
  reconnectDelayMs,
  type BreakoutView,
  type ChatEntry,
  type MediaState,
  type PollView,
  type RaisedHand,
  type Reaction,
  type LocalRecorder,
} from "@conclave/client";
import type { Caption } from "@conclave/client";
import { MLS_SUITES, NO_MEETING_FEATURES, createWebCryptoSFrameCrypto, type MeetingFeatures, type MemberIdentity, type MemberInfo, type MlsSuiteName } from "@conclave/protocol";
import { getMeeting, type Encryption } from "../api/meetings.js";
import type { EncodedTransformMode } from "../e2ee/capabilities.js";
import { EMPTY_STATS } from "../e2ee/e2ee-worker-client.js";
import type { WorkerStats } from "../e2ee/messages.js";
import { UiError, uiErrorFromCode } from "../errors.js";
import type { LocalMedia } from "../media/local-media.js";
import { MediaConnection, type RemoteTrack } from "../media/media-connection.js";
import { deviceToken } from "../media/device-token.js";
import { withHostNames } from "./host-names.js";
import { computeShield, type Shield } from "./shield.js";
import { BrowserSignalingChannel } from "./signaling-channel.js";

export type MeetingPhase = "connecting" | "waiting-room" | "waiting" | "in-meeting" | "reconnecting" | "left" | "ended" | "failed";

/** A change of security code, and who caused it (by comparing the MLS member lists). */
export interface CodeChange {
  epoch: bigint;
  joined: string[];
  left: string[];
}

export interface MeetingSnapshot {
  phase: MeetingPhase;
  error: UiError | null;
  encryption: Encryption;
  selfId: string | null;
  epoch: bigint | null;
  securityCode: string | null;
  /** The MLS group's members (who holds this epoch's keys). */
  members: MemberIdentity[];
  /** Everyone connected as the server reports it, including people still joining (inGroup false). */
  presence: MemberInfo[];
  shield: Shield;
  /** The MLS cipher suite of the group this participant holds keys for (null before it has any). */
  mlsSuite: MlsSuiteName | null;
  remoteTracks: RemoteTrack[];
  lastCodeChange: CodeChange | null;
  /** Reconnect attempts since the connection was last good. */
  reconnectAttempt: number;
  /** Why this participant is not let in yet (phase "waiting-room"). */
  waitingReason: "waitingRoom" | "hostAbsent" | null;
  role: "host" | "cohost" | "participant";
  /** Hosts and co-hosts: who waits to be let in. */
  waitingList: { memberId: string; displayName: string }[];
  /** A host locked the meeting: no one else can join. */
  locked: boolean;
  /** Hosts: the latest news about room systems (refused and why, ringing, joined...). */
  notices: { code: string; message: string; at: number }[];
  /** Others' microphone, camera and screen state, as they announced it (end-to-end encrypted). */
  remoteMedia: ReadonlyMap<string, MediaState>;
  /** Who a host spotlights for everyone (empty: nobody). */
  spotlight: readonly string[];
  /** The meeting's feature settings (chat, private chat, reactions, polls, breakout rooms, files). */
  features: MeetingFeatures;
  /** The breakout room this participant is in (null: the main meeting). */
  room: string | null;
  /** Chat this participant sent and received, oldest first (end-to-end encrypted). */
  chat: readonly ChatEntry[];
  /** Raised hands in the order they went up. */
  hands: RaisedHand[];
  polls: PollView[];
  breakout: BreakoutView;
  /** Who records on their own device (this participant too), as they announced it. */
  localRecorders: LocalRecorder[];
}

/** The stable code of anything thrown (ProtocolError, ClientError), for the error list. */
function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "CLIENT_INTERNAL";
}

const NO_BREAKOUT: BreakoutView = { open: false, rooms: [], endsAt: null, room: null };

/** A host's request to this participant, for the view to show. */
export interface HostRequest {
  fromName: string;
  action: "mute" | "askUnmute";
}

export interface MeetingControllerOptions {
  meetingId: string;
  passcode: string | undefined;
  displayName: string;
  encryption: Encryption;
  /** The meeting's MLS group uses the X-Wing post-quantum suite (from its public facts). */
  postQuantum: boolean;
  mode: EncodedTransformMode;
  media: LocalMedia;
}

export class MeetingController {
  readonly #opts: MeetingControllerOptions;
  #session: MeetingSession | null = null;
  #mediaState: MeetingMediaState | null = null;
  /** Chat, reactions and hands, polls and breakout rooms of the current connection. */
  #collab: Collaboration | null = null;
  /** Whether this participant records on its device (outlives connections). */
  #localRecording = false;
  #channel: BrowserSignalingChannel | null = null;
  #media: MediaConnection | null = null;
  #phase: MeetingPhase = "connecting";
  #error: UiError | null = null;
  #attempt = 0;
  #everJoined = false;
  #leaving = false;
  #restart = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastMembers: MemberIdentity[] | null = null;
  #lastCodeChange: CodeChange | null = null;
  #statsBase: WorkerStats = EMPTY_STATS;
  #screenSharing = false;
  #waitingReason: "waitingRoom" | "hostAbsent" | null = null;
  #notices: { code: string; message: string; at: number }[] = [];
  /** Codes of recent non-fatal errors (codes only: messages may quote details). */
  readonly recentErrors: string[] = [];
  onChange: ((s: MeetingSnapshot) => void) | null = null;
  /** A host asked this participant to mute (done) or to unmute (only the person can). */
  onHostRequest: ((r: HostRequest) => void) | null = null;
  /** Someone reacted (this participant too): the view shows it on their tile for a few seconds. */
  onReaction: ((r: { memberId: string; fromName: string; emoji: Reaction; self: boolean }) => void) | null = null;
  /** A chat message arrived or was sent. */
  onChat: ((entry: ChatEntry) => void) | null = null;
  /** A host's message to every breakout room. */
  onBroadcast: ((b: { fromName: string; text: string }) => void) | null = null;
  /** A host lowered this participant's hand. */
  onHandLowered: ((byName: string) => void) | null = null;
  /** A live caption from the meeting's transcription connector (collaboration/captions.ts checks the sender). */
  onCaption: ((c: Caption) => void) | null = null;

  constructor(opts: MeetingControllerOptions) {
    this.#opts = opts;
  }

  get snapshot(): MeetingSnapshot {
    const s = this.#session;
    const members = s ? withHostNames(s.groupMembers.map((m) => m.identity), s.presence) : [];
    return {
      phase: this.#phase,
      error: this.#error,
      encryption: this.#opts.encryption,
      selfId: s?.memberId ?? null,
      epoch: s?.epoch ?? null,
      securityCode: s?.securityCode ?? null,
      members,
      presence: s?.presence ?? [],
      // The group's own policy extension, once in the group; the meeting's announced type before.
      shield: computeShield(s?.groupEncryption ?? this.#opts.encryption, members),
      mlsSuite: s !== null && s.epoch !== null ? s.mlsSuite : null,
      remoteTracks: this.#media?.remoteTracks ?? [],
      lastCodeChange: this.#lastCodeChange,
      reconnectAttempt: this.#attempt,
      waitingReason: this.#waitingReason,
      role: s?.role ?? "participant",
      waitingList: s?.waitingList ?? [],
      locked: s?.locked ?? false,
      notices: this.#notices,
      remoteMedia: this.#mediaState?.remote ?? new Map(),
      spotlight: this.#mediaState?.spotlight ?? [],
      features: s?.features ?? NO_MEETING_FEATURES,
      room: s?.room ?? null,
      chat: this.#collab?.chat.entries ?? [],
      hands: this.#collab?.reactions.raisedHands ?? [],
      polls: this.#collab?.polls.polls ?? [],
      breakout: this.#collab?.breakout.state ?? NO_BREAKOUT,
      localRecorders: this.#collab?.localRecordings.recorders ?? [],
    };
  }

  // ---- chat, reactions, hands, polls, breakout rooms (end-to-end encrypted) ----------------

  /** Chat to everyone in this participant's group (the main meeting or its breakout room). */
  sendChat(text: string): Promise<ChatEntry> {
    return this.#require().chat.send(text);
  }

  /** A private message: only `memberId` can read it. */
  sendPrivateChat(memberId: string, text: string): Promise<ChatEntry> {
    return this.#require().chat.sendPrivate(memberId, text);
  }

  /** Shares a file (encrypted here, uploaded as ciphertext), to everyone or privately. */
  async shareFile(file: File, to?: string): Promise<ChatEntry> {
    const data = new Uint8Array(await file.arrayBuffer());
    return this.#require().chat.shareFile(data, { name: file.name || "file", mediaType: file.type, ...(to !== undefined ? { to } : {}) });
  }

  /** Downloads and decrypts a shared file on this device. */
  async downloadFile(entryId: string): Promise<Blob> {
    const collab = this.#require();
    const entry = collab.chat.entries.find((e) => e.id === entryId);
    const bytes = await collab.chat.download(entryId);
    return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: entry?.file?.mediaType || "application/octet-stream" });
  }

  /** The chat as text, to save on this device. */
  chatTranscript(): string {
    return this.#collab?.chat.transcript() ?? "";
  }

  react(emoji: Reaction): Promise<void> {
    return this.#require().reactions.react(emoji);
  }

  setHand(raised: boolean): Promise<void> {
    const r = this.#require().reactions;
    return raised ? r.raiseHand() : r.lowerHand();
  }

  get handRaised(): boolean {
    return this.#collab?.reactions.handRaised ?? false;
  }

  /** Hosts and co-hosts: lower someone's hand, for everyone. */
  lowerHandOf(memberId: string): Promise<void> {
    return this.#require().reactions.lowerHandOf(memberId);
  }

  launchPoll(spec: { question: string; options: string[]; multiple: boolean; anonymous: boolean }): Promise<PollView> {
    return this.#require().polls.launch(spec);
  }

  votePoll(pollId: string, choices: number[]): Promise<void> {
    return this.#require().polls.vote(pollId, choices);
  }

  endPoll(pollId: string): Promise<void> {
    return this.#require().polls.end(pollId);
  }

  sharePollResults(pollId: string): Promise<void> {
    return this.#require().polls.share(pollId);
  }

  /** Hosts and co-hosts: open breakout rooms (names travel encrypted; the server gets ids). */
  openBreakout(rooms: { name: string; members: string[] }[], durationSec?: number): Promise<void> {
    return this.#require().breakout.openRooms(rooms, durationSec !== undefined ? { durationSec } : {});
  }

  closeBreakout(): void {
    this.#collab?.breakout.closeRooms();
  }

  broadcastToRooms(text: string): Promise<void> {
    return this.#require().breakout.broadcast(text);
  }

  visitRoom(roomId: string): Promise<void> {
    return this.#require().breakout.visit(roomId);
  }

  returnToMain(): Promise<void> {
    return this.#require().breakout.returnToMain();
  }

  /**
   * This participant records on its device (or stopped): everyone is told, and told again after
   * a reconnection or when people join while it records.
   */
  setLocalRecording(recording: boolean): void {
    this.#localRecording = recording;
    this.#collab?.localRecordings.setRecording(recording).catch((e: unknown) => this.#noteError(errorCode(e)));
  }

  #require(): Collaboration {
    const c = this.#collab;
    if (!c || this.#phase !== "in-meeting") throw new UiError("NOT_CONNECTED");
    return c;
  }

  /** Frame counters from the E2EE worker (for the diagnostics panel and tests). */
  get stats(): WorkerStats {
    return this.#media?.e2ee.stats ?? this.#statsBase;
  }

  get subscribePeerConnection(): RTCPeerConnection | null {
    return this.#media?.subscribePeerConnection ?? null;
  }

  get screenSharing(): boolean {
    return this.#screenSharing;
  }

  start(): void {
    void this.#connect();
  }

  /** Leaves for good: tells the server, forgets every key, stops capture. */
  leave(): void {
    this.#leaving = true;
    this.#clearTimer();
    this.#session?.leave();
    this.#teardownMedia();
    this.#opts.media.stop();
    this.#setPhase("left");
  }

  /** Hosts and co-hosts: let a waiting participant in, or turn them away. */
  admit(memberId: string): void {
    this.#hostAction((s) => s.admit(memberId));
  }

  deny(memberId: string): void {
    this.#hostAction((s) => s.deny(memberId));
  }

  /** Hosts and co-hosts: remove someone (the group rekeys at once); banned unless allowRejoin. */
  remove(memberId: string, allowRejoin: boolean): void {
    this.#hostAction((s) => s.remove(memberId, allowRejoin));
  }

  setRole(memberId: string, role: "cohost" | "participant"): void {
    this.#hostAction((s) => s.setRole(memberId, role));
  }

  /** Hosts and co-hosts: name a phone or room system for everyone. */
  renameMember(memberId: string, displayName: string): void {
    this.#hostAction((s) => s.renameMember(memberId, displayName));
  }

  lockMeeting(locked: boolean): void {
    this.#hostAction((s) => s.lockMeeting(locked));
  }

  /** Hosts of an Enhanced meeting: call a room system in by SIP URI (it joins as a visible member). */
  inviteRoomSystem(uri: string, displayName?: string): void {
    this.#hostAction((s) => s.inviteRoomSystem(uri, displayName));
  }

  /** The host only: ends the meeting for everyone (the server keeps only its record). */
  endMeeting(): void {
    this.#hostAction((s) => s.endMeeting());
  }

  /** Hosts and co-hosts: ask someone to mute (their app mutes) or to unmute (they decide). */
  requestMute(memberId: string, action: "mute" | "askUnmute"): void {
    this.#mediaState?.request(memberId, action);
  }

  /** Hosts and co-hosts: spotlight members for everyone (empty list: end it). */
  setSpotlight(memberIds: string[]): void {
    this.#mediaState?.setSpotlight(memberIds);
    this.#emit();
  }

  /** Sends a host control; the server refuses it (NOT_HOST) if this member may not. */
  #hostAction(act: (session: MeetingSession) => void): void {
    const s = this.#session;
    if (!s) return;
    try {
      act(s);
    } catch {
      this.recentErrors.push("NOT_CONNECTED"); // the connection just closed; the UI follows
    }
  }

  /** Simulates a network blip (drops the signaling connection). For tests and diagnostics. */
  dropConnection(): void {
    this.#channel?.close(4000, "dropped");
  }

  async setMicOn(on: boolean): Promise<void> {
    this.#opts.media.setMicOn(on);
    this.#announceMediaState();
    this.#emit();
  }

  async setCamOn(on: boolean): Promise<void> {
    this.#opts.media.setCamOn(on);
    this.#announceMediaState();
    this.#emit();
  }

  /**
   * Switches to another camera or microphone mid-meeting: the new track replaces the old one in
   * the same sender (still behind the encrypt transform), so nothing is renegotiated.
   */
  async replaceDevice(kind: "audio" | "video", deviceId: string): Promise<boolean> {
    const track = await this.#opts.media.useDevice(kind, deviceId);
    if (!track) {
      this.recentErrors.push("DEVICE_SWITCH_FAILED");
      this.#emit();
      return false;
    }
    const media = this.#media;
    if (media) {
      // Someone who joined without this kind of device has no sender for it yet: publish it.
      if (media.hasSender(kind === "audio" ? "microphone" : "camera")) await media.replaceTrack(kind === "audio" ? "microphone" : "camera", track);
      else await media.addSource(kind === "audio" ? "microphone" : "camera", track, this.#opts.media.stream).catch(() => this.#restartConnection());
    }
    this.#announceMediaState();
    this.#emit();
    return true;
  }

  /**
   * The camera or microphone changed outside a control (a device opened late, or went away):
   * tell the others if that changes what they see. Sends nothing when nothing changed.
   */
  syncMediaState(): void {
    this.#publishLateDevices();
    this.#announceMediaState();
  }

  /**
   * Someone who pressed Join before the camera and microphone had opened (a slow permission
   * prompt or device) joined without senders for them: once a device opens, publish it (a
   * renegotiation, with the encrypt transform attached like any sender). Nothing happens for a
   * source that already has a sender, or before the media connection exists (its first publish
   * takes whatever devices are open then).
   */
  #publishLateDevices(): void {
    const media = this.#media;
    if (!media) return;
    const lm = this.#opts.media;
    for (const [source, track] of [["microphone", lm.microphone], ["camera", lm.camera]] as const) {
      if (track && !media.hasSender(source)) void media.addSource(source, track, lm.stream).catch(() => this.#restartConnection());
    }
  }

  #localMediaState(): MediaState {
    const m = this.#opts.media;
    return { mic: m.micOn, camera: m.camOn, screen: this.#screenSharing };
  }

  #announceMediaState(): void {
    this.#mediaState?.setLocal(this.#localMediaState());
  }

  /** Starts or stops sharing a screen. A failed renegotiation restarts the connection. */
  async toggleScreenShare(): Promise<void> {
    const media = this.#media;
    if (!media) return;
    try {
      if (this.#screenSharing) {
        this.#screenSharing = false;
        this.#opts.media.stopScreen();
        this.#announceMediaState();
        this.#emit();
        await media.stopScreenShare();
      } else {
        const track = await this.#opts.media.startScreen();
        if (!track) return; // the person cancelled the picker
        this.#screenSharing = true;
        this.#announceMediaState();
        this.#emit();
        track.addEventListener("ended", () => {
          if (this.#screenSharing) void this.toggleScreenShare();
        });
        await media.startScreenShare(track, new MediaStream([track]));
      }
    } catch {
      this.recentErrors.push("SCREEN_SHARE_FAILED");
      this.#restartConnection();
    }
    this.#emit();
  }

  async #connect(): Promise<void> {
    if (this.#leaving) return;
    this.#setPhase(this.#everJoined ? "reconnecting" : "connecting");
    let channel: BrowserSignalingChannel;
    try {
      channel = await BrowserSignalingChannel.connect();
    } catch {
      if (this.#everJoined) this.#scheduleReconnect();
      else this.#fail(new UiError("SERVER_UNREACHABLE"));
      return;
    }
    if (this.#leaving) {
      channel.close(1000, "left");
      return;
    }
    const o = this.#opts;
    const session = new MeetingSession({
      meetingId: o.meetingId,
      displayName: o.displayName,
      sframeCrypto: createWebCryptoSFrameCrypto(),
      ...(o.passcode ? { passcode: o.passcode } : {}),
      deviceToken: deviceToken(),
      suite: o.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default,
    });
    this.#session = session;
    this.#channel = channel;
    this.#lastMembers = null;
    // Mute, camera and screen state travel end to end encrypted; a new one per connection.
    this.#mediaState?.close();
    const mediaState = new MeetingMediaState(session, this.#localMediaState());
    this.#mediaState = mediaState;
    mediaState.on("remote", () => this.#emit());
    mediaState.on("spotlight", () => this.#emit());
    mediaState.on("error", (e) => this.#noteError(e.code));
    mediaState.on("hostRequest", (r) => {
      if (r.action === "mute" && this.#opts.media.micOn) void this.setMicOn(false);
      this.onHostRequest?.({ fromName: r.fromName, action: r.action });
    });
    this.#collab?.close();
    const collab = new Collaboration(session, { files: fetchFileTransport(location.origin) });
    this.#collab = collab;
    collab.chat.on("message", (entry) => {
      this.onChat?.(entry);
      this.#emit();
    });
    collab.reactions.on("reaction", (r) => this.onReaction?.({ memberId: r.from, fromName: r.fromName, emoji: r.emoji, self: r.from === session.memberId }));
    collab.reactions.on("hands", () => this.#emit());
    collab.reactions.on("handLowered", (l) => this.onHandLowered?.(l.byName));
    collab.polls.on("poll", () => this.#emit());
    collab.breakout.on("state", () => this.#emit());
    collab.breakout.on("broadcast", (b) => this.onBroadcast?.({ fromName: b.fromName, text: b.text }));
    collab.localRecordings.on("recorders", () => this.#emit());
    // Still recording from the last connection: announced by the first epoch of this one.
    if (this.#localRecording) collab.localRecordings.setRecording(true).catch((e: unknown) => this.#noteError(errorCode(e)));
    collab.captions.on("caption", (c) => this.onCaption?.(c));
    collab.captions.on("error", (e) => this.#noteError(e.code));
    for (const emitter of [collab.chat, collab.reactions, collab.polls, collab.breakout, collab.localRecordings] as const) {
      (emitter as unknown as { on(e: "error", l: (e: { code: string }) => void): void }).on("error", (e) => this.#noteError(e.code));
    }
    // Another group (a breakout room, or back): another relay room, so new media connections,
    // made when the first epoch there arrives; the code there is another one.
    session.on("room", () => {
      if (this.#session !== session) return;
      this.#teardownMedia();
      this.#lastMembers = null;
      this.#lastCodeChange = null;
      this.#emit();
    });
    session.on("features", () => this.#emit());
    session.on("joined", () => {
      this.#waitingReason = null;
      if (this.#session === session) this.#setPhase("waiting");
    });
    session.on("waiting", ({ reason }) => {
      this.#waitingReason = reason;
      if (this.#session === session) this.#setPhase("waiting-room");
    });
    session.on("waitingList", () => this.#emit());
    session.on("meetingState", () => this.#emit());
    session.on("notice", (n) => {
      this.#notices = [...this.#notices, { ...n, at: Date.now() }].slice(-5);
      this.#emit();
    });
    session.on("presence", () => this.#emit());
    session.on("epoch", (e) => void this.#onEpoch(session, e.members.map((m) => m.identity), e.rewound));
    // Out of the MLS group (it could not follow a commit): the server closed this member's media;
    // it starts again, with new connections, at the next epoch.
    session.on("groupLost", () => {
      if (this.#session === session) this.#teardownMedia();
    });
    session.on("publishAnswer", ({ sdp }) => this.#media?.handlePublishAnswer(sdp));
    session.on("subscribeOffer", ({ sdp, tracks }) => {
      this.#media?.handleSubscribeOffer(sdp, tracks).catch(() => this.#restartConnection());
    });
    session.on("ice", ({ pc, candidate, mid }) => void this.#media?.addRemoteCandidate(pc, candidate, mid));
    session.on("error", (e) => {
      this.#noteError(e.code);
      // A refused room-system invitation is news for the host, with the server's reason.
      if (!e.fatal && ["SIP_DISABLED", "CONNECTOR_NOT_ALLOWED", "BAD_REQUEST"].includes(e.code)) {
        this.#notices = [...this.#notices, { code: e.code, message: e.message, at: Date.now() }].slice(-5);
        this.#emit();
      }
    });
    session.on("closed", () => this.#onClosed(session, channel));
    try {
      await session.join(channel);
    } catch {
      channel.close(1000, "join failed");
    }
  }

  #noteError(code: string): void {
    this.recentErrors.push(code);
    if (this.recentErrors.length > 20) this.recentErrors.shift();
  }

  async #onEpoch(session: MeetingSession, members: MemberIdentity[], rewound = false): Promise<void> {
    if (this.#session !== session) return;
    const first = this.#media === null;
    if (first) {
      this.#media = new MediaConnection(session, this.#opts.mode, {
        remoteTracks: () => this.#emit(),
        failed: () => this.#restartConnection(),
      });
    }
    const media = this.#media!;
    // The worker's key ring follows every epoch; the secret never leaves this device.
    const secret = await session.exportMediaEpochSecret();
    if (secret && this.#media === media) media.e2ee.setEpoch({ ...secret, rewind: rewound });
    if (first && this.#media === media) {
      const lm = this.#opts.media;
      media.startPublishing({ microphone: lm.microphone, camera: lm.camera }, lm.stream).catch(() => this.#restartConnection());
    }
    // The state announced to newcomers is the current one, even if a device opened after joining.
    this.#announceMediaState();
    const previous = this.#lastMembers;
    this.#lastMembers = members;
    if (previous) {
      const before = new Set(previous.map((m) => m.memberId));
      const after = new Set(members.map((m) => m.memberId));
      this.#lastCodeChange = {
        epoch: session.epoch ?? 0n,
        joined: members.filter((m) => !before.has(m.memberId)).map((m) => m.displayName),
        left: previous.filter((m) => !after.has(m.memberId)).map((m) => m.displayName),
      };
    }
    this.#everJoined = true;
    this.#attempt = 0;
    this.#setPhase("in-meeting");
  }

  #onClosed(session: MeetingSession, channel: BrowserSignalingChannel): void {
    if (this.#session !== session) return;
    this.#teardownMedia();
    this.#session = null;
    this.#channel = null;
    if (this.#leaving) return;
    const fatal = channel.fatalError;
    if (this.#restart) {
      this.#restart = false;
      this.#scheduleReconnect();
      return;
    }
    if (fatal && PERMANENT_REFUSALS.has(fatal.code)) {
      if (fatal.code === "MEETING_ENDED") this.#end();
      else this.#fail(uiErrorFromCode(fatal.code));
      return;
    }
    // A blip, a server restart, or the meeting ending around us (channel.meetingEnded): try
    // again, checking the meeting's state first so that an ended meeting is shown as ended.
    if (channel.meetingEnded) {
      this.#setPhase("reconnecting");
      void this.#checkAndReconnect();
      return;
    }
    this.#scheduleReconnect();
  }

  /** Drops the current connection and joins again (media failed, or a negotiation broke). */
  #restartConnection(): void {
    if (this.#leaving || !this.#session) return;
    this.#restart = true;
    this.#channel?.close(4000, "restart");
  }

  #scheduleReconnect(): void {
    if (this.#leaving) return;
    const delay = reconnectDelayMs(this.#attempt);
    this.#attempt += 1;
    this.#setPhase("reconnecting");
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#checkAndReconnect();
    }, delay);
  }

  async #checkAndReconnect(): Promise<void> {
    try {
      const info = await getMeeting(this.#opts.meetingId);
      if (info.ended) {
        this.#end();
        return;
      }
    } catch (e) {
      if (e instanceof UiError && e.code === "MEETING_NOT_FOUND") {
        this.#fail(e);
        return;
      }
      this.#scheduleReconnect(); // still unreachable
      return;
    }
    await this.#connect();
  }

  #teardownMedia(): void {
    if (this.#media) this.#statsBase = this.#media.e2ee.stats;
    this.#media?.close();
    this.#media = null;
    this.#screenSharing = false;
    this.#opts.media.stopScreen();
  }

  #end(): void {
    this.#teardownMedia();
    this.#opts.media.stop();
    this.#setPhase("ended");
  }

  #fail(error: UiError): void {
    this.#error = error;
    this.#teardownMedia();
    this.#setPhase("failed");
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #setPhase(phase: MeetingPhase): void {
    this.#phase = phase;
    this.#emit();
  }

  #emit(): void {
    this.onChange?.(this.snapshot);
  }
}
