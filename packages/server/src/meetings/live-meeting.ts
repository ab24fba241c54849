/**
 * A meeting while people are in it: its participants, its MLS delivery service and its media room.
 *
 * Owner tree: MeetingRegistry -> LiveMeeting -> Participant (-> media peer). close() is
 * idempotent and cascades. Nothing here can read media or derive group secrets: the delivery
 * service sees MLS framing only, the media room forwards SFrame ciphertext.
 *
 * Waiting participants (joined, not yet added to the MLS group) get presence and their own state
 * only: no Welcome until a commit adds them, and no media peer until they are full group members.
 */
import {
  checkKeyPackage,
  isProtocolError,
  MLS_SUITES,
  peekMessage,
  encodeMessage,
  toBase64,
  fromBase64,
  type ClientMessage,
  type MemberIdentity,
  type MeetingRole,
  type MemberInfo,
  type ServerMessage,
  type TrackInfo,
  type MeetingFeatures,
} from "@conclave/protocol";
import { DEFAULT_JOIN_BATCH_MS, DeliveryService, type DeliveryEvent, type DeliveryOutput } from "./delivery-service.js";
import { AppMessageGate } from "./app-message-gate.js";
import { DEFAULT_MEETING_FEATURES } from "@conclave/protocol";
import type { Meeting } from "../storage/meetings.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { ServerMetrics } from "../observability/server-metrics.js";
import type { IceServerInfo } from "@conclave/protocol";

/** How the meeting talks to one participant's connection. */
export interface ParticipantConnection {
  send(msg: ServerMessage): void;
  /**
   * Sends a message already serialised (UTF-8 JSON text, `encodeFrame`): a commit or Welcome fanned
   * out to many members is encoded once and the same bytes go to every connection.
   */
  sendFrame(frame: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** A server message as the UTF-8 JSON text frame it travels in (serialised once for a fan-out). */
export function encodeFrame(msg: ServerMessage): Uint8Array {
  return Buffer.from(encodeMessage(msg), "utf8");
}

/** The media seam: a room in the relay, one peer per full group member. */
export interface MediaRoom {
  addPeer(memberId: string, events: MediaPeerEvents): MediaPeer;
  close(): void;
}

export interface MediaPeerEvents {
  subscribeOffer(sdp: string, tracks: TrackInfo[]): void;
  localCandidate(pc: "publish" | "subscribe", candidate: string, mid: string): void;
}

export interface PublishedTrack {
  mid: string;
  kind: "audio" | "video";
  source: "microphone" | "camera" | "screen";
}

export interface MediaPeer {
  handlePublishOffer(sdp: string, tracks: PublishedTrack[]): Promise<string>;
  handleSubscribeAnswer(sdp: string): Promise<void>;
  addIceCandidate(pc: "publish" | "subscribe", candidate: string, mid: string): Promise<void>;
  close(): void;
}

interface Participant {
  identity: MemberIdentity;
  connection: ParticipantConnection;
  role: MeetingRole;
  /** Who this is beyond the meeting (account, else device token hash, else address): for bans. */
  banKey: string;
  inGroup: boolean;
  media: MediaPeer | null;
  /**
   * The first epoch of the group this participant holds keys for (undefined: none yet).
   * Application messages of earlier epochs are not relayed to it: it could not read them, and a
   * message never reaches someone who joined after it was sent.
   */
  sinceEpoch: bigint | undefined;
  /** false: signaling and MLS only (`conclave bot --no-media`); no relay peer is attached. */
  wantsMedia: boolean;
  /** The name a host gave this phone or room system (`renameMember`); its credential's name otherwise. */
  label?: string;
}

interface Waiting {
  identity: MemberIdentity;
  keyPackage: Uint8Array;
  connection: ParticipantConnection;
  role: MeetingRole;
  banKey: string;
  wantsMedia?: boolean;
  reason: "waitingRoom" | "hostAbsent";
}

/** How a meeting admits people: from its scheduled settings (issue: waiting room, join before host). */
export interface MeetingPolicy {
  waitingRoom: boolean;
  joinBeforeHost: boolean;
}

/** The default for meetings created through the admin API (automation): no waiting room. */
export const OPEN_POLICY: MeetingPolicy = { waitingRoom: false, joinBeforeHost: true };

export interface JoinRequest {
  identity: MemberIdentity;
  keyPackage: Uint8Array;
  connection: ParticipantConnection;
  role: MeetingRole;
  banKey: string;
  /**
   * Already let into the meeting (moving between its main room and breakout rooms): no waiting
   * room, lock or ban check here — the meeting checked when it first let the participant in.
   */
  admitted?: boolean;
  /** Connectors a host asked for (a room system it called) skip the waiting room. */
  invitedByHost?: boolean;
  /** false: the member asked for signaling and MLS only. Absent means true. */
  wantsMedia?: boolean;
}

/** A participant as the meeting holds it (for moves between rooms). */
export interface ParticipantInfo {
  identity: MemberIdentity;
  connection: ParticipantConnection;
  role: MeetingRole;
  banKey: string;
  /** false: signaling and MLS only (`conclave bot --no-media`); kept across breakout room moves. */
  wantsMedia: boolean;
}

export type HostControlMessage = Extract<ClientMessage, { type: "admit" | "deny" | "remove" | "lockMeeting" | "endMeeting" | "setRole" | "renameMember" | "inviteRoomSystem" }>;

export type JoinResult = { ok: true; state: "joined" | "waiting" } | { ok: false; code: "MEETING_LOCKED" | "BANNED" | "MEMBER_ID_TAKEN" };

export interface LiveMeetingOptions {
  meeting: Meeting;
  policy?: MeetingPolicy;
  media?: MediaRoom;
  /** The host ended the meeting: record it (the registry marks it ended in storage). */
  onEnded?: () => void;
  commitTimeoutMs?: number;
  /** The join batching window of the delivery service (default DEFAULT_JOIN_BATCH_MS). */
  joinBatchMs?: number;
  /** How long members have to acknowledge a commit before the vote is decided (see DeliveryService). */
  ackTimeoutMs?: number;
  /** The security log, bound to this meeting (refused and voided commits, expulsions, host removals). */
  security?: Logger;
  /** Called when the last participant leaves, so the registry can drop the meeting. */
  onEmpty?: () => void;
  /** Report of non-fatal internal problems (never contains secrets). */
  onWarning?: (message: string) => void;
  /** Commit counts and latencies, rekey time after a leave. */
  metrics?: ServerMetrics;
  /** TURN servers with fresh credentials for a participant being admitted (none: no TURN). */
  iceServersFor?: (memberId: string) => IceServerInfo[];
  /** Set for a breakout room: its id (in its MLS group id and in `joined.room`). */
  roomId?: string;
  /** The meeting's effective feature settings, sent to every member in `meetingState`. */
  features?: MeetingFeatures;
  /** The participant's token for the meeting's encrypted-file routes (sent in `joined`). */
  fileTokenFor?: (memberId: string) => string | undefined;
  /** Whether a host or co-host is in another room of this meeting (a breakout room). */
  hostElsewhere?: () => boolean;
  /** Someone was admitted or left (the participant log, sealed at rest: storage/participant-log.ts). */
  onParticipant?: (event: ParticipantLogEvent) => void;
  /** Connector services (the SIP gateway), when the server runs them. */
  connectors?: MeetingConnectors;
}

/** What a meeting asks of the server's connector services. */
export interface MeetingConnectors {
  /** Calls a room system into the meeting; progress comes back through notifyHosts. */
  inviteRoomSystem(meetingId: string, uri: string, displayName: string | undefined): { ok: true; inviteId?: string } | { ok: false; code: "SIP_DISABLED" | "CONNECTOR_NOT_ALLOWED" | "BAD_REQUEST"; detail?: string };
  /** Phone dial-in details for an invitation (numbers, phone passcode); undefined without dial-in. */
  dialIn?(meetingId: string): { numbers: string[]; phonePasscode: string | null } | undefined;
}

/** What the participant log records of a member joining or leaving. */
export interface ParticipantLogEvent {
  readonly event: "joined" | "left";
  readonly memberId: string;
  readonly displayName: string;
  /** "person", or the connector's kind. */
  readonly kind: string;
  readonly reason?: "left" | "disconnected" | "removed";
}

export function logIdentity(identity: MemberIdentity): { memberId: string; displayName: string; kind: string } {
  return { memberId: identity.memberId, displayName: identity.displayName, kind: identity.kind === "person" ? "person" : identity.connector };
}

export const MAX_PARTICIPANTS = 1000;

export class LiveMeeting {
  readonly meeting: Meeting;
  readonly #participants = new Map<string, Participant>();
  /** People who asked to join and were not let in yet: no keys, no media, no member list. */
  readonly #waiting = new Map<string, Waiting>();
  /** Ban keys of removed participants who may not rejoin. */
  readonly #banned = new Set<string>();
  readonly #policy: MeetingPolicy;
  #locked = false;
  readonly #ds: DeliveryService;
  readonly #media: MediaRoom | undefined;
  readonly #opts: LiveMeetingOptions;
  /** Size, framing and rate checks for encrypted application messages (relayed unread). */
  readonly #appMessages = new AppMessageGate();
  #features: MeetingFeatures;
  #closed = false;
  /** Commits and Welcomes serialised once for all their recipients, by the service's bytes. */
  readonly #fanout = new WeakMap<Uint8Array, Uint8Array>();
  /** For metrics: when the delivery service first asked for a commit at each epoch. */
  readonly #commitRequestedAt = new Map<bigint, number>();
  /** For metrics: when each member still to be removed from the group left. */
  readonly #leftAt = new Map<string, number>();

  constructor(opts: LiveMeetingOptions) {
    this.meeting = opts.meeting;
    this.#opts = opts;
    this.#media = opts.media;
    this.#policy = opts.policy ?? OPEN_POLICY;
    this.#features = { ...(opts.features ?? DEFAULT_MEETING_FEATURES) };
    this.#ds = new DeliveryService({
      // Each breakout room is a group of its own: another group id, another epoch, other keys.
      groupIdBase: new TextEncoder().encode(opts.roomId === undefined ? `conclave:${opts.meeting.id}` : `conclave:${opts.meeting.id}/room:${opts.roomId}`),
      // Commits are checked against the meeting's suite (post-quantum meetings: X-Wing).
      suite: opts.meeting.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default,
      emit: (out) => this.#deliver(out),
      ...(opts.security ? { onEvent: (e: DeliveryEvent) => logDeliveryEvent(opts.security!, e) } : {}),
      ...(opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: opts.commitTimeoutMs } : {}),
      ...(opts.ackTimeoutMs !== undefined ? { ackTimeoutMs: opts.ackTimeoutMs } : {}),
      joinBatchMs: opts.joinBatchMs ?? DEFAULT_JOIN_BATCH_MS,
    });
  }

  /** Everyone connected: participants and waiting people. */
  get size(): number {
    return this.#participants.size + this.#waiting.size;
  }

  get locked(): boolean {
    return this.#locked;
  }

  /** The MLS epoch the delivery service has ordered up to (for tests and the audit). */
  get epoch(): bigint {
    return this.#ds.epoch;
  }

  has(memberId: string): boolean {
    return this.#participants.has(memberId) || this.#waiting.has(memberId);
  }

  /** The breakout room this is (undefined: the main meeting). */
  get roomId(): string | undefined {
    return this.#opts.roomId;
  }

  /** The meeting's effective feature settings as its members were told. */
  get features(): MeetingFeatures {
    return { ...this.#features };
  }

  /** New effective feature settings (an admin changed them): every member is told at once. */
  setFeatures(features: MeetingFeatures): void {
    if (this.#closed || sameFeatures(features, this.#features)) return;
    this.#features = { ...features };
    this.#broadcast({ type: "meetingState", locked: this.#locked, features: this.features });
  }

  /** Ids of the participants let in (not the waiting ones), in arrival order. */
  get participantIds(): string[] {
    return [...this.#participants.keys()];
  }

  /** A participant let in (for moving it to another room of the meeting); undefined otherwise. */
  participant(memberId: string): ParticipantInfo | undefined {
    const p = this.#participants.get(memberId);
    return p && { identity: p.identity, connection: p.connection, role: p.role, banKey: p.banKey, wantsMedia: p.wantsMedia };
  }

  /** Whether this participant holds the group's keys (a full member of its MLS group). */
  isGroupMember(memberId: string): boolean {
    return this.#ds.isMember(memberId);
  }

  /** Whether a host or co-host is here. */
  get hasHost(): boolean {
    return this.#hostPresent();
  }

  /** A host elsewhere in the meeting changed this participant's role. */
  updateRole(memberId: string, role: "cohost" | "participant"): boolean {
    const target = this.#participants.get(memberId);
    if (!target || target.role === "host") return false;
    target.role = role;
    this.#broadcast({ type: "memberUpdated", member: info(target) });
    if (role === "cohost") this.#sendWaitingList();
    return true;
  }

  /**
   * A host renames a phone or room system here (for everyone, as presence): people keep the names
   * of their credentials, which the members check themselves.
   */
  rename(memberId: string, displayName: string): "MEMBER_NOT_FOUND" | "RENAME_NOT_ALLOWED" | null {
    const target = this.#participants.get(memberId);
    if (!target) return "MEMBER_NOT_FOUND";
    if (target.identity.kind !== "connector" || (target.identity.connector !== "pstn" && target.identity.connector !== "sip")) return "RENAME_NOT_ALLOWED";
    target.label = displayName;
    this.#broadcast({ type: "memberUpdated", member: info(target) });
    return null;
  }

  /** Refuses this ban key from now on (a host in another room removed someone without rejoin). */
  ban(banKey: string): void {
    this.#banned.add(banKey);
  }

  /** Sends a message to every participant let in here (not the waiting ones). */
  sendToAll(msg: ServerMessage): void {
    this.#broadcast(msg);
  }

  /**
   * A validated join request (the registry checked passcode, key package and identity). Hosts go
   * straight in; others wait in the waiting room, or until a host arrives when the meeting does
   * not allow joining before the host.
   */
  join(req: JoinRequest): JoinResult {
    if (this.#closed) throw new Error("meeting is closed");
    const isHost = req.role !== "participant";
    if (this.has(req.identity.memberId)) return { ok: false, code: "MEMBER_ID_TAKEN" };
    if (req.admitted) {
      this.#admit(req);
      return { ok: true, state: "joined" };
    }
    if (!isHost && this.#banned.has(req.banKey)) return { ok: false, code: "BANNED" };
    if (!isHost && this.#locked) return { ok: false, code: "MEETING_LOCKED" };
    const reason = isHost || req.invitedByHost ? null : this.#policy.waitingRoom ? "waitingRoom" : !this.#policy.joinBeforeHost && !this.#hostPresent() ? "hostAbsent" : null;
    if (reason) {
      this.#waiting.set(req.identity.memberId, { ...req, reason });
      // Only its own waiting state: nothing about the meeting, its members or its keys.
      req.connection.send({ type: "waiting", meetingId: this.meeting.id, reason });
      this.#sendWaitingList();
      return { ok: true, state: "waiting" };
    }
    this.#admit(req);
    if (isHost) this.#admitHostAbsent();
    return { ok: true, state: "joined" };
  }

  /** Handles one validated message from a joined participant. */
  async handle(memberId: string, msg: ClientMessage): Promise<void> {
    const p = this.#participants.get(memberId);
    if (!p) return;
    switch (msg.type) {
      case "join":
        p.connection.send({ type: "error", code: "ALREADY_JOINED", message: errorMessage("ALREADY_JOINED"), fatal: false });
        return;
      case "groupCreated": {
        const r = await this.#ds.groupCreated(memberId, fromBase64(msg.groupId), fromBase64(msg.groupInfo));
        if (!r.ok && this.#participants.get(memberId) === p) {
          p.connection.send({ type: "error", code: "GROUP_REJECTED", message: errorMessage("GROUP_REJECTED", r.reason), fatal: false });
        }
        return;
      }
      case "commit":
        // The server refuses too: no commit may add a connector to an end-to-end encrypted
        // meeting (members refuse it anyway: the group's policy extension). The delivery service
        // refuses it like any bad commit: a strike against its author, a security-log line, and
        // the next member asked at once.
        await this.#ds.commit(memberId, {
          ...(this.meeting.encryption === "e2ee" && addsConnector(msg.commit) ? { refusal: "an end-to-end encrypted meeting admits no connector" } : {}),
          epoch: BigInt(msg.epoch),
          commit: fromBase64(msg.commit),
          ...(msg.welcome ? { welcome: fromBase64(msg.welcome) } : {}),
          added: msg.added,
          removed: msg.removed,
        });
        return;
      case "welcomeProcessed":
        // A Welcome voided by a rollback meanwhile is not an error: a new one follows.
        this.#ds.welcomeProcessed(memberId, BigInt(msg.epoch), fromBase64(msg.transcriptHash));
        return;
      case "commitAck":
        this.#ds.ack(memberId, BigInt(msg.epoch), fromBase64(msg.transcriptHash));
        return;
      case "commitFailed": {
        this.#opts.metrics?.memberRecoveries.inc({ reason: "commitFailed" });
        const kp = await this.#rejoinKeyPackage(p, msg.keyPackage);
        if (kp) this.#ds.failed(memberId, BigInt(msg.epoch), kp);
        return;
      }
      case "badKeyPackages":
        for (const id of this.#ds.rejectKeyPackages(memberId, msg.memberIds)) {
          const joiner = this.#participants.get(id);
          if (!joiner) continue;
          this.#participants.delete(id);
          this.#broadcast({ type: "memberLeft", memberId: id, reason: "removed" });
          joiner.connection.send({ type: "error", code: "BAD_KEY_PACKAGE", message: errorMessage("BAD_KEY_PACKAGE", "the group could not add it"), fatal: true });
          joiner.connection.close(4403, "BAD_KEY_PACKAGE");
        }
        return;
      case "groupFailure": {
        // The client's last-resort recovery (rejoin with a fresh key package): counted, since the
        // protocol should not need it (docs/performance.md).
        this.#opts.metrics?.memberRecoveries.inc({ reason: "groupFailure" });
        const kp = await this.#rejoinKeyPackage(p, msg.keyPackage);
        if (kp) this.#ds.rejoin(memberId, kp);
        return;
      }
      case "publishOffer": {
        const media = this.#requireMedia(p);
        if (!media) return;
        const sdp = await media.handlePublishOffer(msg.sdp, msg.tracks);
        if (p.media === media) p.connection.send({ type: "publishAnswer", sdp });
        return;
      }
      case "subscribeAnswer": {
        const media = this.#requireMedia(p);
        if (media) await media.handleSubscribeAnswer(msg.sdp);
        return;
      }
      case "ice": {
        const media = this.#requireMedia(p);
        if (media) await media.addIceCandidate(msg.pc, msg.candidate, msg.mid);
        return;
      }
      case "leave":
        this.leave(memberId, "left");
        p.connection.close(1000, "left");
        return;
      case "ping":
        p.connection.send({ type: "pong", nonce: msg.nonce });
        return;
      case "appMessage":
        this.#relayAppMessage(p, msg);
        return;
      case "admit":
      case "deny":
      case "remove":
      case "lockMeeting":
      case "endMeeting":
      case "setRole":
      case "renameMember":
      case "inviteRoomSystem":
        this.#hostControl(p, msg);
        return;
      case "moveRoom":
      case "breakoutOpen":
      case "breakoutClose":
      case "breakoutBroadcast":
      case "chatArchive":
        // The meeting's rooms (breakout-rooms.ts) handle these before they get here.
        p.connection.send({ type: "error", code: "REQUEST_FAILED", message: errorMessage("REQUEST_FAILED", "breakout rooms are not available here"), fatal: false });
        return;
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${(never as { type: string }).type}`);
      }
    }
  }

  /**
   * A fresh key package a member sends to be added again: it must verify and name the member
   * exactly as it joined (else anyone could re-enter the group as someone else). A bad one ends
   * the member's participation.
   */
  async #rejoinKeyPackage(p: Participant, b64: string): Promise<Uint8Array | null> {
    const bytes = fromBase64(b64);
    let why: string | null = null;
    try {
      const checked = await checkKeyPackage(bytes);
      const id = p.identity;
      const got = checked.identity;
      const same = got.kind === id.kind && got.memberId === id.memberId && got.displayName === id.displayName && (got.kind !== "connector" || (id.kind === "connector" && got.connector === id.connector));
      if (checked.suite !== (this.meeting.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default)) why = "it uses another MLS cipher suite";
      else if (!same) why = "its credential names someone else";
    } catch (e) {
      why = isProtocolError(e) ? e.code : "unreadable";
    }
    if (why === null) return bytes;
    if (this.#participants.get(p.identity.memberId) !== p) return null;
    this.leave(p.identity.memberId, "removed");
    p.connection.send({ type: "error", code: "BAD_KEY_PACKAGE", message: errorMessage("BAD_KEY_PACKAGE", why), fatal: true });
    p.connection.close(4403, "BAD_KEY_PACKAGE");
    return null;
  }

  /**
   * A participant left or its connection dropped (or it moved to another room of the meeting):
   * the others rekey without it.
   */
  leave(memberId: string, reason: "left" | "disconnected" | "removed" | "moved"): void {
    if (this.#waiting.delete(memberId)) {
      this.#sendWaitingList();
      if (this.size === 0) this.#opts.onEmpty?.();
      return;
    }
    const p = this.#participants.get(memberId);
    if (!p) return;
    this.#participants.delete(memberId);
    p.media?.close();
    p.media = null;
    if (p.inGroup && this.#opts.metrics) this.#leftAt.set(memberId, performance.now());
    this.#ds.leave(memberId);
    // A move between rooms of the meeting is not leaving it (breakout-rooms.ts logs who really leaves).
    if (reason !== "moved") this.#opts.onParticipant?.({ event: "left", ...logIdentity(p.identity), reason });
    this.#broadcast({ type: "memberLeft", memberId, reason });
    if (p.role !== "participant" && !this.#hostPresent()) this.#sendWaitingList();
    if (this.size === 0) this.#opts.onEmpty?.();
  }

  /** A waiting participant's own message before it is let in: only leave and ping are possible. */
  handleWaiting(memberId: string, msg: ClientMessage): void {
    const w = this.#waiting.get(memberId);
    if (!w) return;
    if (msg.type === "leave") {
      this.leave(memberId, "left");
      w.connection.close(1000, "left");
    } else if (msg.type === "ping") {
      w.connection.send({ type: "pong", nonce: msg.nonce });
    } else {
      w.connection.send({ type: "error", code: "NOT_ADMITTED", message: errorMessage("NOT_ADMITTED"), fatal: false });
    }
  }

  isWaiting(memberId: string): boolean {
    return this.#waiting.has(memberId);
  }

  #admit(req: JoinRequest): void {
    const { identity, connection } = req;
    const p: Participant = { identity, connection, role: req.role, banKey: req.banKey, inGroup: false, media: null, sinceEpoch: undefined, wantsMedia: req.wantsMedia !== false };
    this.#participants.set(identity.memberId, p);
    // TURN credentials only now, on admission: a waiting participant gets none.
    const iceServers = this.#opts.iceServersFor?.(identity.memberId) ?? [];
    const fileToken = this.#opts.fileTokenFor?.(identity.memberId);
    connection.send({
      type: "joined",
      memberId: identity.memberId,
      meetingId: this.meeting.id,
      encryption: this.meeting.encryption,
      mlsSuite: this.meeting.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default,
      members: [...this.#participants.values()].map(info),
      ...(iceServers.length > 0 ? { iceServers } : {}),
      ...(this.#opts.roomId !== undefined ? { room: this.#opts.roomId } : {}),
      ...(fileToken !== undefined ? { fileToken } : {}),
    });
    connection.send({ type: "meetingState", locked: this.#locked, features: this.features });
    if (p.role !== "participant") this.#sendWaitingList();
    this.#broadcast({ type: "memberJoined", member: info(p) }, identity.memberId);
    if (!req.admitted) this.#opts.onParticipant?.({ event: "joined", ...logIdentity(identity) });
    this.#ds.join(identity.memberId, identity, req.keyPackage);
  }

  /** A host arrived: people waiting only for a host come in. */
  #admitHostAbsent(): void {
    for (const [id, w] of [...this.#waiting]) {
      if (w.reason !== "hostAbsent") continue;
      this.#waiting.delete(id);
      this.#admit(w);
    }
    this.#sendWaitingList();
  }

  #hostPresent(): boolean {
    for (const p of this.#participants.values()) if (p.role === "host" || p.role === "cohost") return true;
    return this.#opts.hostElsewhere?.() ?? false;
  }

  #sendWaitingList(): void {
    const entries = [...this.#waiting.values()].map((w) => ({ memberId: w.identity.memberId, displayName: w.identity.displayName }));
    for (const p of this.#participants.values()) {
      if (p.role !== "participant") p.connection.send({ type: "waitingList", entries });
    }
  }

  /**
   * A host control from a participant of this meeting who may be in one of its breakout rooms
   * (its role and connection there): admitting, denying, locking and ending are meeting-wide.
   */
  control(issuer: Pick<ParticipantInfo, "role" | "connection" | "identity">, msg: HostControlMessage): void {
    if (this.#closed) return;
    this.#hostControl(issuer, msg);
  }

  /** Tells the hosts and co-hosts present something about the meeting (e.g. a refused room system). */
  notifyHosts(code: string, message: string): void {
    for (const p of this.#participants.values()) {
      if (p.role !== "participant") p.connection.send({ type: "notice", code, message: message.slice(0, 500) });
    }
  }

  #hostControl(p: Pick<ParticipantInfo, "role" | "connection" | "identity">, msg: HostControlMessage): void {
    const refuse = (code: "NOT_HOST" | "MEMBER_NOT_FOUND" | "RENAME_NOT_ALLOWED") => p.connection.send({ type: "error", code, message: errorMessage(code), fatal: false });
    if (p.role === "participant" || (msg.type === "endMeeting" && p.role !== "host")) return refuse("NOT_HOST");
    switch (msg.type) {
      case "admit": {
        const w = this.#waiting.get(msg.memberId);
        if (!w) return refuse("MEMBER_NOT_FOUND");
        this.#waiting.delete(msg.memberId);
        this.#admit(w);
        this.#sendWaitingList();
        return;
      }
      case "deny": {
        const w = this.#waiting.get(msg.memberId);
        if (!w) return refuse("MEMBER_NOT_FOUND");
        this.#waiting.delete(msg.memberId);
        w.connection.send({ type: "error", code: "NOT_ADMITTED", message: errorMessage("NOT_ADMITTED", "the host did not let you in"), fatal: true });
        w.connection.close(4403, "NOT_ADMITTED");
        this.#sendWaitingList();
        if (this.size === 0) this.#opts.onEmpty?.();
        return;
      }
      case "remove": {
        const target = this.#participants.get(msg.memberId);
        if (!target) {
          const w = this.#waiting.get(msg.memberId);
          if (!w) return refuse("MEMBER_NOT_FOUND");
          if (!msg.allowRejoin) this.#banned.add(w.banKey);
          this.#waiting.delete(msg.memberId);
          w.connection.send({ type: "error", code: "REMOVED_BY_HOST", message: errorMessage("REMOVED_BY_HOST"), fatal: true });
          w.connection.close(4403, "REMOVED_BY_HOST");
          this.#sendWaitingList();
          return;
        }
        if (target.role === "host" && p.role !== "host") return refuse("NOT_HOST");
        if (!msg.allowRejoin) this.#banned.add(target.banKey);
        this.#opts.security?.warn("participant removed by a host", undefined, {
          event: "host_removed",
          memberId: target.identity.memberId,
          by: p.identity.memberId,
          allowRejoin: msg.allowRejoin === true,
        });
        // Leave first (the others rekey without it at once), then tell it why.
        this.leave(target.identity.memberId, "removed");
        target.connection.send({ type: "error", code: "REMOVED_BY_HOST", message: errorMessage("REMOVED_BY_HOST"), fatal: true });
        target.connection.close(4403, "REMOVED_BY_HOST");
        return;
      }
      case "lockMeeting":
        this.#locked = msg.locked;
        this.#broadcast({ type: "meetingState", locked: this.#locked, features: this.features });
        return;
      case "endMeeting":
        this.#opts.onEnded?.();
        this.close("ended by the host", true);
        return;
      case "setRole": {
        const target = this.#participants.get(msg.memberId);
        if (!target) return refuse("MEMBER_NOT_FOUND");
        if (target.role === "host") return refuse("NOT_HOST");
        target.role = msg.role;
        this.#broadcast({ type: "memberUpdated", member: info(target) });
        if (target.role === "cohost") this.#sendWaitingList();
        return;
      }
      case "renameMember": {
        const refused = this.rename(msg.memberId, msg.displayName);
        if (refused) refuse(refused);
        return;
      }
      case "inviteRoomSystem": {
        const r = this.meeting.encryption === "e2ee"
          ? ({ ok: false, code: "CONNECTOR_NOT_ALLOWED" } as const)
          : (this.#opts.connectors?.inviteRoomSystem(this.meeting.id, msg.uri, msg.displayName) ?? ({ ok: false, code: "SIP_DISABLED" } as const));
        if (!r.ok) p.connection.send({ type: "error", code: r.code, message: errorMessage(r.code, "detail" in r ? r.detail : undefined), fatal: false });
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unhandled host control ${(never as { type: string }).type}`);
      }
    }
  }

  /**
   * Ends the meeting for everyone. Only a host's ending is announced as `meetingEnded`; a server
   * shutting down just closes the connections (1001), so participants reconnect when it is back.
   */
  close(reason = "meeting closed", endedByHost = false): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#participants.values(), ...this.#waiting.values()]) {
      if ("media" in p) p.media?.close();
      if (endedByHost) p.connection.send({ type: "meetingEnded" });
      p.connection.close(1001, reason);
    }
    this.#participants.clear();
    this.#waiting.clear();
    this.#banned.clear();
    this.#ds.close();
    this.#media?.close();
  }

  /**
   * Relays an encrypted application message, unread, to the group (or to the members in `to`).
   * Only full group members may send; everyone admitted receives (a joiner whose Welcome is on
   * its way can read messages of its first epoch once it has processed it). Waiting people never do.
   */
  #relayAppMessage(p: Participant, msg: Extract<ClientMessage, { type: "appMessage" }>): void {
    const from = p.identity.memberId;
    if (!this.#ds.isMember(from)) {
      p.connection.send({ type: "error", code: "NOT_IN_GROUP", message: errorMessage("NOT_IN_GROUP"), fatal: false });
      return;
    }
    const verdict = this.#appMessages.check(from, fromBase64(msg.message), { groupId: this.#ds.groupId, epoch: this.#ds.epoch });
    if (!verdict.ok) {
      p.connection.send({ type: "error", code: verdict.code, message: errorMessage(verdict.code, verdict.detail), fatal: false });
      return;
    }
    const out: ServerMessage = { type: "appMessage", from, message: msg.message };
    // Only to members who hold keys of the message's epoch: a joiner added after it never gets it.
    const canRead = (q: Participant | undefined): q is Participant => q !== undefined && q.sinceEpoch !== undefined && q.sinceEpoch <= verdict.epoch;
    if (msg.to === undefined) {
      for (const [id, q] of this.#participants) if (id !== from && canRead(q)) q.connection.send(out);
      return;
    }
    for (const id of new Set(msg.to)) {
      const q = this.#participants.get(id);
      if (id !== from && canRead(q)) q.connection.send(out);
    }
  }

  #requireMedia(p: Participant): MediaPeer | null {
    if (p.media) return p.media;
    p.connection.send({
      type: "error",
      code: "NOT_IN_GROUP",
      message: this.#media ? errorMessage("NOT_IN_GROUP") : errorMessage("NOT_IN_GROUP", "this server runs without a media relay"),
      fatal: false,
    });
    return null;
  }

  #deliver(out: DeliveryOutput): void {
    const p = this.#participants.get(out.to);
    if (!p) return;
    const send = (m: ServerMessage) => p.connection.send(m);
    switch (out.type) {
      case "create":
        send({ type: "createGroup", groupId: toBase64(out.groupId) });
        return;
      case "commitRequest":
        if (!this.#commitRequestedAt.has(out.epoch)) this.#commitRequestedAt.set(out.epoch, performance.now());
        send({
          type: "commitRequest",
          epoch: out.epoch.toString(),
          add: out.add.map((a) => ({ memberId: a.memberId, keyPackage: toBase64(a.keyPackage) })),
          remove: out.remove,
        });
        return;
      case "commit":
        // The same commit goes to every member: encoded once (base64 and JSON), sent as bytes.
        p.connection.sendFrame(this.#encodedOnce(out.commit, () => ({ type: "commit", epoch: out.epoch.toString(), commit: toBase64(out.commit), from: out.from })));
        return;
      case "commitAccepted":
        this.#recordAccepted(out.epoch, out.removed);
        send({ type: "commitAccepted", epoch: out.epoch.toString() });
        return;
      case "commitRejected":
        this.#opts.metrics?.commits.inc({ result: "rejected" });
        send({ type: "commitRejected", epoch: out.epoch.toString(), reason: out.reason });
        return;
      case "welcome":
        p.sinceEpoch = out.epoch;
        p.connection.sendFrame(this.#encodedOnce(out.welcome, () => ({ type: "welcome", epoch: out.epoch.toString(), welcome: toBase64(out.welcome) })));
        return;
      case "epochConfirmed":
        send({ type: "epochConfirmed", epoch: out.epoch.toString() });
        return;
      case "rollback":
        send({ type: "rollback", epoch: out.epoch.toString(), reason: out.reason });
        return;
      case "expel": {
        // Banned from this meeting: whoever breaks the group's commits does not get back in.
        if (out.code === "BAD_COMMIT") this.#banned.add(p.banKey);
        this.leave(out.to, "removed");
        send({ type: "error", code: out.code, message: errorMessage(out.code, out.reason), fatal: true });
        p.connection.close(4403, out.code);
        return;
      }
      case "inGroup":
        p.inGroup = true;
        p.sinceEpoch ??= this.#ds.epoch; // the founder, at epoch 0
        this.#attachMedia(p);
        this.#broadcast({ type: "memberUpdated", member: info(p) });
        return;
      case "leftGroup":
        p.inGroup = false;
        p.sinceEpoch = undefined;
        p.media?.close();
        p.media = null;
        this.#broadcast({ type: "memberUpdated", member: info(p) });
        return;
      default: {
        const never: never = out;
        throw new Error(`unhandled output ${(never as { type: string }).type}`);
      }
    }
  }

  /**
   * The serialised message for a commit or Welcome that the delivery service fans out: built on
   * the first member's delivery, reused for the others (the service hands every member the same
   * bytes object).
   */
  #encodedOnce(key: Uint8Array, build: () => ServerMessage): Uint8Array {
    let frame = this.#fanout.get(key);
    if (!frame) {
      frame = encodeFrame(build());
      this.#fanout.set(key, frame);
    }
    return frame;
  }

  #recordAccepted(epoch: bigint, removed: readonly string[]): void {
    const m = this.#opts.metrics;
    if (!m) return;
    const now = performance.now();
    m.commits.inc({ result: "accepted" });
    const requested = this.#commitRequestedAt.get(epoch);
    if (requested !== undefined) m.commitLatency.observe((now - requested) / 1000);
    for (const e of this.#commitRequestedAt.keys()) if (e <= epoch) this.#commitRequestedAt.delete(e);
    for (const id of removed) {
      const left = this.#leftAt.get(id);
      if (left === undefined) continue;
      this.#leftAt.delete(id);
      m.rekeyAfterLeave.observe((now - left) / 1000);
    }
  }

  #attachMedia(p: Participant): void {
    if (!this.#media || p.media || !p.wantsMedia) return;
    p.media = this.#media.addPeer(p.identity.memberId, {
      subscribeOffer: (sdp, tracks) => p.connection.send({ type: "subscribeOffer", sdp, tracks }),
      localCandidate: (pc, candidate, mid) => p.connection.send({ type: "ice", pc, candidate, mid }),
    });
  }

  #broadcast(msg: ServerMessage, except?: string): void {
    for (const [id, p] of this.#participants) if (id !== except) p.connection.send(msg);
  }
}

function sameFeatures(a: MeetingFeatures, b: MeetingFeatures): boolean {
  return (Object.keys(a) as (keyof MeetingFeatures)[]).every((k) => a[k] === b[k]);
}

/** Whether a commit (PublicMessage) visibly adds a connector credential. */
function addsConnector(commitB64: string): boolean {
  try {
    const m = peekMessage(fromBase64(commitB64));
    return m.wireFormat === "public" && m.commit !== undefined && m.commit.added.some((id) => id.kind === "connector");
  } catch {
    return false; // undecodable: the delivery service rejects it
  }
}

function info(p: Participant): MemberInfo {
  const kind = p.identity.kind === "connector" ? { kind: "connector" as const, connector: p.identity.connector } : { kind: "person" as const };
  return { memberId: p.identity.memberId, displayName: p.label ?? p.identity.displayName, kind, inGroup: p.inGroup, role: p.role };
}

/** One security-log line per delivery-service decision (docs/operations.md, "Security log"). */
function logDeliveryEvent(log: Logger, e: DeliveryEvent): void {
  switch (e.event) {
    case "commitRefused":
      log.warn("commit refused by the delivery service", undefined, { event: "commit_refused", memberId: e.memberId, epoch: e.epoch, reason: e.detail });
      return;
    case "commitVoided":
      log.warn("commit voided: most members could not apply it", undefined, { event: "commit_voided", memberId: e.memberId, epoch: e.epoch, failures: e.failures, acks: e.acks });
      return;
    case "commitFailuresOutvoted":
      log.warn("commit stands; members that could not apply it are added again", undefined, { event: "commit_failures_outvoted", memberId: e.memberId, epoch: e.epoch, reporters: e.reporters });
      return;
    case "memberExpelled":
      log.warn("member expelled from the meeting", undefined, { event: "member_expelled", memberId: e.memberId, code: e.code, reason: e.detail });
      return;
    case "groupInfoRefused":
      log.warn("founder's group refused", undefined, { event: "group_info_refused", memberId: e.memberId, reason: e.detail });
      return;
    default: {
      const never: never = e;
      throw new Error(`unhandled event ${(never as { event: string }).event}`);
    }
  }
}
