/**
 * A participant's side of a meeting: MLS membership, media keys and signaling.
 *
 * Isomorphic: the browser app and Node participants (`conclave bot`) both use it. It speaks the
 * signaling protocol (packages/protocol/src/signaling) over any text channel, keeps the MLS group
 * session, and drives the media key ring so `protect`/`unprotect` always use the current epoch's
 * per-sender keys. Media transport (WebRTC) is separate; it calls `protect`/`unprotect` per frame.
 *
 * Incoming signaling is processed strictly in order, one message at a time, because MLS state
 * transitions are asynchronous and must not interleave.
 */
import {
  DEFAULT_MLS_SUITE,
  MAX_APP_MESSAGE_BYTES,
  SEALED_ONLY_TYPES,
  decodeSealedPayload,
  disabledFeature,
  encodeSealedPayload,
  MediaKeyRing,
  MlsSession,
  SFRAME_MLS_EXPORTER_LABEL,
  ProtocolError,
  createKeyPackage,
  decodeAppMessage,
  encodeAppMessage,
  encodeMessage,
  fromBase64,
  isProtocolError,
  parseServerMessage,
  NO_MEETING_FEATURES,
  peekMessage,
  securityCodeFromAuthenticator,
  toBase64,
  type AppMessage,
  type BreakoutRoomInfo,
  type ClientMessage,
  type MeetingFeatures,
  type ConnectorKind,
  type FarLeg,
  type MeetingEncryption,
  type IceServerInfo,
  type MediaCodec,
  type MemberIdentity,
  type MemberInfo,
  type MlsKeyPackageSecret,
  type MlsSuiteName,
  type ServerMessage,
  type SFrameCrypto,
  type TrackInfo,
  type UnprotectedFrame,
} from "@conclave/protocol";
import { TypedEmitter } from "./events.js";
import { CLIENT_ERRORS, type ClientErrorCode } from "./errors.js";

/** A connected text channel to the server (a WebSocket in browsers, `ws` in Node). */
export interface SignalingChannel {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  onMessage(handler: (text: string) => void): void;
  onClose(handler: (code: number, reason: string) => void): void;
}

export interface MeetingSessionOptions {
  meetingId: string;
  passcode?: string;
  displayName: string;
  /** What kind of member this is; a connector also declares its far leg (shown in the shield's exceptions). */
  kind?: { kind: "person" } | { kind: "connector"; connector: ConnectorKind; farLeg?: FarLeg };
  sframeCrypto: SFrameCrypto;
  /** A connector's single-use join ticket from the server (it replaces the passcode). */
  connectorTicket?: string;
  /** Grace period for the previous epoch's media keys (ms, <= 1000). */
  graceMs?: number;
  /**
   * This device's ban token (a random string kept by the browser profile or the bot instance):
   * a host's ban refuses this device rather than everyone behind its network address.
   */
  deviceToken?: string;
  /**
   * How long the server may stay silent before the connection counts as dead (a network that
   * vanished without closing the socket): the session pings every third of it and closes itself
   * (`closed` with code 4000) when nothing at all came back. Default 30 000 ms; 0 turns it off.
   */
  livenessMs?: number;
  /** false: signaling and MLS only; the server opens no media connections for this member. */
  media?: boolean;
  /**
   * The meeting's MLS cipher suite (its `postQuantum` flag in GET /api/meetings/:id): the key
   * package must be for it or the server refuses the join (MLS_SUITE_MISMATCH). Default: suite 1.
   */
  suite?: MlsSuiteName;
  /**
   * Audit and test hook: on a payload sealed to another member (which a server should never
   * deliver here), try to open it with this member's own leaf key anyway before refusing it, so
   * a test can show a third member cannot decrypt it (the error is then the one opening gave,
   * MLS_MESSAGE_REJECTED, instead of APP_MESSAGE_NOT_FOR_YOU). Off by default.
   */
  probeSealedToOthers?: boolean;
}

const DEFAULT_LIVENESS_MS = 30_000;

export interface EpochEvent {
  epoch: bigint;
  /**
   * True when the group went back to this epoch (the delivery service voided the commit that
   * followed it): media keys return to this epoch's.
   */
  rewound: boolean;
  securityCode: string;
  /** Identities of every MLS member, from the group's own credentials. */
  members: { leafIndex: number; identity: MemberIdentity }[];
  /** The meeting's encryption as the group's own policy extension states it. */
  encryption: MeetingEncryption;
  /** Member ids in this epoch that were not in this member's previous one (everyone else at first). */
  added: string[];
}

/** A decrypted, authenticated application message (docs/protocol.md §6.1). */
export interface AppMessageEvent {
  /** The sender, as MLS authenticated it (its leaf's credential). */
  from: string;
  fromName: string;
  epoch: bigint;
  message: AppMessage;
  /** True when it was sealed to this member alone (private chat, a vote): no other member can read it. */
  sealed: boolean;
}

/** Where the breakout rooms stand, as the server reports it (signaling `breakoutState`). */
export interface BreakoutStateEvent {
  open: boolean;
  rooms: BreakoutRoomInfo[];
  endsAt: number | null;
  /** The room this member is in (null: the main meeting). */
  room: string | null;
}

/** Refusals of a moveRoom: the move is off, this member stays in its group. */
const MOVE_REFUSALS = new Set(["MOVE_NOT_ALLOWED", "ROOM_NOT_FOUND", "BAD_KEY_PACKAGE", "FEATURE_DISABLED", "NOT_ADMITTED"]);

export interface MeetingSessionEvents extends Record<string, unknown> {
  joined: { memberId: string; encryption: "e2ee" | "enhanced"; members: MemberInfo[] };
  /** Not let in yet: a host must admit you (waiting room) or arrive (no join before host). */
  waiting: { reason: "waitingRoom" | "hostAbsent" };
  /** Hosts and co-hosts: who is waiting to be let in. */
  waitingList: { memberId: string; displayName: string }[];
  meetingState: { locked: boolean };
  /** Hosts: news about the meeting (a room system refused, ringing, joined...). */
  notice: { code: string; message: string };
  epoch: EpochEvent;
  /**
   * This member dropped out of the MLS group (it could not follow a commit or a Welcome) and waits
   * to be added again; its media connection is gone on the server side and must be restarted once
   * the next `epoch` event arrives.
   */
  groupLost: { reason: string };
  presence: MemberInfo[];
  /** Media signaling for the transport layer. */
  publishAnswer: { sdp: string };
  subscribeOffer: { sdp: string; tracks: TrackInfo[] };
  ice: { pc: "publish" | "subscribe"; candidate: string; mid: string };
  /** An end-to-end encrypted application message from another member. */
  appMessage: AppMessageEvent;
  /** The meeting's feature settings (chat, polls, …) as the server says them; enforced on both sides. */
  features: MeetingFeatures;
  /** This member moved to another group of the meeting: a breakout room, or back to the main meeting (null). */
  room: { roomId: string | null };
  breakoutState: BreakoutStateEvent;
  /** A host's broadcast to every breakout room: still encrypted and signed (see breakout-broadcast.ts). */
  breakoutBroadcast: { from: string; message: Uint8Array };
  /** Server-reported or local errors. Fatal ones end the session. */
  error: { code: string; message: string; fatal: boolean };
  closed: { code: number; reason: string };
}

type SessionState = "idle" | "joining" | "waiting" | "waitingForGroup" | "inGroup" | "closed";

/** How long a close waits for the messages that arrived before it to be handled. */
const CLOSE_DRAIN_MS = 1000;

export class MeetingSession extends TypedEmitter<MeetingSessionEvents> {
  readonly memberId: string;
  readonly identity: MemberIdentity;
  readonly keys: MediaKeyRing;
  #opts: MeetingSessionOptions;
  #channel: SignalingChannel | null = null;
  #state: SessionState = "idle";
  #mls: MlsSession | null = null;
  #keyPackageSecret: MlsKeyPackageSecret | null = null;
  /** The epoch of this member's commit awaiting the delivery service's verdict. */
  #pendingEpoch: bigint | null = null;
  /**
   * The epoch of a commit this member could not apply (it reported commitFailed), and the key
   * package it sent to be added again if the others could: kept until the verdict.
   */
  #failed: { epoch: bigint; secret: MlsKeyPackageSecret } | null = null;
  /** Members the server announced as out of the group (rejoining): commits may remove them. */
  readonly #leftGroup = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #presence = new Map<string, MemberInfo>();
  #waitingList: { memberId: string; displayName: string }[] = [];
  #locked = false;
  #encryption: "e2ee" | "enhanced" = "e2ee";
  #lastHeard = 0;
  #liveness: ReturnType<typeof setInterval> | null = null;
  #pingNonce = 0;
  /** Member ids of the previous epoch this member saw (to tell who is new). */
  #lastEpochMembers: Set<string> | null = null;
  #iceServers: readonly IceServerInfo[] = [];
  #features: MeetingFeatures = { ...NO_MEETING_FEATURES };
  /** The breakout room this member's group belongs to (null: the main meeting). */
  #room: string | null = null;
  #fileToken: string | null = null;
  /** A move to another room asked for, with the key package it sent for the group there. */
  #pendingMove: { roomId: string | null; secret: MlsKeyPackageSecret } | null = null;

  constructor(opts: MeetingSessionOptions) {
    super();
    this.#opts = opts;
    this.memberId = randomMemberId();
    this.identity = opts.kind?.kind === "connector"
      ? {
          kind: "connector",
          connector: opts.kind.connector,
          memberId: this.memberId,
          displayName: opts.displayName,
          ...(opts.kind.farLeg ? { farLeg: opts.kind.farLeg } : {}),
        }
      : { kind: "person", memberId: this.memberId, displayName: opts.displayName };
    this.keys = MediaKeyRing.create({ crypto: opts.sframeCrypto, ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}) });
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The meeting's encryption as the server announced it (the group's own is in `groupEncryption`). */
  /** TURN servers (with short-lived credentials) the server gave on admission; empty without TURN. */
  get iceServers(): readonly IceServerInfo[] {
    return this.#iceServers;
  }

  get encryption(): "e2ee" | "enhanced" {
    return this.#encryption;
  }

  get meetingId(): string {
    return this.#opts.meetingId;
  }

  /** The meeting's feature settings (all off until the server has said). */
  get features(): MeetingFeatures {
    return { ...this.#features };
  }

  /** The breakout room this member is in (null: the main meeting). */
  get room(): string | null {
    return this.#room;
  }

  /** This member's token for the meeting's encrypted-file routes (null before it is let in). */
  get fileToken(): string | null {
    return this.#fileToken;
  }

  /** The MLS cipher suite of the meeting's groups. */
  get suite(): MlsSuiteName {
    return this.#mls?.suite ?? DEFAULT_MLS_SUITE;
  }

  /** The meeting's encryption as the MLS group itself states it (its policy extension), once in the group. */
  get groupEncryption(): MeetingEncryption | null {
    return this.#mls?.encryption ?? null;
  }

  get epoch(): bigint | null {
    return this.#mls?.epoch ?? null;
  }

  /** The MLS cipher suite of this member's group (X-Wing in post-quantum meetings). */
  get mlsSuite(): MlsSuiteName {
    return this.#mls?.suite ?? this.#opts.suite ?? DEFAULT_MLS_SUITE;
  }

  get securityCode(): string | null {
    return this.#mls ? securityCodeFromAuthenticator(this.#mls.epochAuthenticator) : null;
  }

  /** The MLS group's members (the security-relevant list), or [] before joining the group. */
  get groupMembers(): { leafIndex: number; identity: MemberIdentity }[] {
    return this.#mls?.members() ?? [];
  }

  /** Everyone connected to the meeting as the server sees it (including people still joining). */
  get presence(): MemberInfo[] {
    return [...this.#presence.values()];
  }

  /**
   * Sends the join request over a connected channel. `options.suite` overrides the constructor's
   * (for callers that learn the meeting's suite only now).
   */
  async join(channel: SignalingChannel, options: { suite?: MlsSuiteName } = {}): Promise<void> {
    if (this.#state !== "idle") throw new Error(`cannot join in state ${this.#state}`);
    if (options.suite !== undefined) this.#opts = { ...this.#opts, suite: options.suite };
    this.#channel = channel;
    this.#state = "joining";
    this.#lastHeard = Date.now();
    channel.onMessage((text) => {
      this.#lastHeard = Date.now();
      this.#enqueue(text);
    });
    channel.onClose((code, reason) => this.#onClosed(code, reason));
    const kp = await createKeyPackage(this.identity, this.#suiteOption());
    this.#keyPackageSecret = kp.secret;
    this.#send({
      type: "join",
      version: 1,
      meetingId: this.#opts.meetingId,
      memberId: this.memberId,
      displayName: this.#opts.displayName,
      keyPackage: toBase64(kp.keyPackage),
      ...(this.#opts.passcode ? { passcode: this.#opts.passcode } : {}),
      ...(this.#opts.connectorTicket ? { connectorTicket: this.#opts.connectorTicket } : {}),
      ...(this.#opts.deviceToken ? { deviceToken: this.#opts.deviceToken } : {}),
      ...(this.#opts.media === false ? { media: false } : {}),
    });
    this.#startLiveness();
  }

  /** Pings the server and closes a connection from which nothing has come back for livenessMs. */
  #startLiveness(): void {
    const limit = this.#opts.livenessMs ?? DEFAULT_LIVENESS_MS;
    if (limit <= 0 || this.#state === "closed") return;
    this.#liveness = setInterval(() => {
      if (this.#state === "closed") return;
      if (Date.now() - this.#lastHeard > limit) {
        this.#close(4000, "the server went silent");
        return;
      }
      try {
        this.#send({ type: "ping", nonce: ++this.#pingNonce });
      } catch {
        // the channel is going away; its close event follows
      }
    }, Math.max(100, Math.floor(limit / 3)));
    // A session waiting for its server does not by itself keep a Node process alive.
    (this.#liveness as { unref?: () => void }).unref?.();
  }

  /**
   * Sends an end-to-end encrypted application message: an MLS PrivateMessage of the current
   * epoch, to the whole group or only to the members in `to` (the server routes it; any member
   * of the epoch could read it). Rejects when this member holds no keys yet, or the message is
   * invalid or too large (APP_MESSAGE_MALFORMED, APP_MESSAGE_TOO_LARGE).
   */
  async sendAppMessage(message: AppMessage, to?: string[]): Promise<void> {
    if (SEALED_ONLY_TYPES.has(message.type)) throw new ProtocolError("APP_MESSAGE_NOT_SEALED", `send a ${message.type} with sendSealed`);
    this.#checkFeature(message);
    const payload = encodeAppMessage(message);
    const mls = this.#mls;
    if (!mls || this.#state !== "inGroup") throw new ProtocolError("INVALID_ARGUMENT", "not in the group yet: no keys to encrypt with");
    const sealed = await mls.encryptApplicationMessage(payload);
    if (sealed.length > MAX_APP_MESSAGE_BYTES) throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${sealed.length} bytes encrypted`);
    if (to !== undefined && to.length === 0) return;
    this.#send({ type: "appMessage", message: toBase64(sealed), ...(to ? { to } : {}) });
  }

  /**
   * Sends `data` as it is, as the application data of an MLS PrivateMessage of the current
   * epoch: no encoding, no checks. For conformance tests and scripted hostile members (a member
   * can always send any bytes under its own keys; receivers decode strictly and refuse what is
   * wrong). Apps use sendAppMessage and sendSealed.
   */
  async sendApplicationBytes(data: Uint8Array, to?: string[]): Promise<void> {
    const mls = this.#mls;
    if (!mls || this.#state !== "inGroup") throw new ProtocolError("INVALID_ARGUMENT", "not in the group yet: no keys to encrypt with");
    const sealed = await mls.encryptApplicationMessage(data);
    this.#send({ type: "appMessage", message: toBase64(sealed), ...(to ? { to } : {}) });
  }

  /**
   * Sends a message that only `memberId` can read (private chat, a poll vote): sealed to the HPKE
   * key of its leaf in this epoch (RFC 9420 §5.1.3) inside an MLS PrivateMessage, and routed to it
   * alone. Other members could decrypt the PrivateMessage if the server handed it to them, but
   * not what is sealed in it.
   */
  async sendSealed(memberId: string, message: AppMessage): Promise<void> {
    if (!SEALED_ONLY_TYPES.has(message.type)) throw new ProtocolError("APP_MESSAGE_MALFORMED", `a ${message.type} message is not sealed`);
    this.#checkFeature(message);
    const payload = encodeSealedPayload(message);
    const mls = this.#mls;
    if (!mls || this.#state !== "inGroup") throw new ProtocolError("INVALID_ARGUMENT", "not in the group yet: no keys to encrypt with");
    const leaf = mls.members().find((m) => m.identity.memberId === memberId)?.leafIndex;
    if (leaf === undefined) throw new ProtocolError("MLS_UNKNOWN_MEMBER", "that member is not in this group");
    const sealed = await mls.sealApplicationMessage(leaf, payload, (s) =>
      encodeAppMessage({ v: 1, type: "sealed", to: memberId, toLeaf: s.toLeaf, enc: toBase64(s.enc), ct: toBase64(s.ct) }),
    );
    if (sealed.length > MAX_APP_MESSAGE_BYTES) throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${sealed.length} bytes encrypted`);
    this.#send({ type: "appMessage", message: toBase64(sealed), to: [memberId] });
  }

  /**
   * Moves to another group of the meeting: a breakout room, or back to the main meeting (null).
   * Sends a fresh key package for the group there; this member keeps its current group until the
   * server confirms (`room` event), then leaves it (its keys are erased) and joins the other.
   */
  moveTo(roomId: string | null): Promise<void> {
    return this.#local(async () => {
      if (this.#state !== "inGroup" && this.#state !== "waitingForGroup") throw new ProtocolError("INVALID_ARGUMENT", `cannot move in state ${this.#state}`);
      if (roomId === this.#room && this.#pendingMove === null) return;
      const kp = await createKeyPackage(this.identity);
      this.#pendingMove = { roomId, secret: kp.secret };
      this.#send({ type: "moveRoom", roomId, keyPackage: toBase64(kp.keyPackage) });
    });
  }

  /**
   * Enhanced meetings whose settings save chat (features.chatHistory): hands a copy of a group
   * chat message this member sent to the server, in clear over TLS, to be kept sealed under the
   * KMS. Does nothing in any other meeting (in E2EE meetings the server never gets chat text).
   */
  archiveChat(id: string, text: string): void {
    if (this.#encryption !== "enhanced" || !this.#features.chatHistory) return;
    this.#send({ type: "chatArchive", id, text });
  }

  /** Host or co-host: open breakout rooms with these assignments (or change them). */
  openBreakout(rooms: { roomId: string; members: string[] }[], durationSec?: number): void {
    this.#send({ type: "breakoutOpen", rooms, ...(durationSec !== undefined ? { durationSec } : {}) });
  }

  /** Host or co-host: close the breakout rooms (everyone comes back). */
  closeBreakout(): void {
    this.#send({ type: "breakoutClose" });
  }

  /** Host or co-host: relay an encrypted, signed broadcast to every room. */
  sendBreakoutBroadcast(message: Uint8Array): void {
    this.#send({ type: "breakoutBroadcast", message: toBase64(message) });
  }

  #checkFeature(message: AppMessage): void {
    const off = disabledFeature(message.type, this.#features);
    if (off !== null) throw new ProtocolError("FEATURE_DISABLED", `${off} is off in this meeting`);
  }

  /** Runs a local operation in order with incoming messages (MLS state must not interleave). */
  #local<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Encrypts an encoded frame with this member's current media key. */
  protect(codec: MediaCodec, frame: Uint8Array): Promise<Uint8Array> {
    return this.keys.protect(codec, frame);
  }

  /** Decrypts a received frame; rejects with a ProtocolError when it cannot. */
  unprotect(codec: MediaCodec, data: Uint8Array): Promise<UnprotectedFrame> {
    return this.keys.unprotect(codec, data);
  }

  /**
   * The current epoch's SFrame base_key (RFC 9605 §5.2), for a media key ring in another
   * thread of this device (the browser's encoded-transform worker). It must never leave the device.
   */
  async exportMediaEpochSecret(): Promise<{ epoch: bigint; ownLeafIndex: number; secret: Uint8Array } | null> {
    const mls = this.#mls;
    if (!mls) return null;
    const epoch = mls.epoch;
    const secret = await mls.exportSecret(SFRAME_MLS_EXPORTER_LABEL, new Uint8Array(0), this.keys.suite.Nk);
    if (this.#mls !== mls || mls.epoch !== epoch) return null; // moved on meanwhile; a newer epoch event follows
    return { epoch, ownLeafIndex: mls.ownLeafIndex, secret };
  }

  /** The member identity behind an MLS leaf index (who sent a frame). */
  memberAtLeaf(leafIndex: number): MemberIdentity | undefined {
    return this.#mls?.members().find((m) => m.leafIndex === leafIndex)?.identity;
  }

  /** Hosts and co-hosts: the people waiting to be let in. */
  get waitingList(): { memberId: string; displayName: string }[] {
    return this.#waitingList;
  }

  get locked(): boolean {
    return this.#locked;
  }

  /** This member's role as the server reports it. */
  get role(): "host" | "cohost" | "participant" {
    return this.#presence.get(this.memberId)?.role ?? "participant";
  }

  /** Host controls (the server refuses them with NOT_HOST for participants). */
  admit(memberId: string): void {
    this.#send({ type: "admit", memberId });
  }

  deny(memberId: string): void {
    this.#send({ type: "deny", memberId });
  }

  /** Removes a participant: the group rekeys at once; it may not rejoin unless allowRejoin. */
  remove(memberId: string, allowRejoin = false): void {
    this.#send({ type: "remove", memberId, allowRejoin });
  }

  lockMeeting(locked: boolean): void {
    this.#send({ type: "lockMeeting", locked });
  }

  endMeeting(): void {
    this.#send({ type: "endMeeting" });
  }

  setRole(memberId: string, role: "cohost" | "participant"): void {
    this.#send({ type: "setRole", memberId, role });
  }

  /** Host or co-host: name a phone or room system member for everyone (people keep their own names). */
  renameMember(memberId: string, displayName: string): void {
    this.#send({ type: "renameMember", memberId, displayName });
  }

  /** Host or co-host of an Enhanced meeting: call a room system in by SIP URI. */
  inviteRoomSystem(uri: string, displayName?: string): void {
    this.#send({ type: "inviteRoomSystem", uri, ...(displayName ? { displayName } : {}) });
  }

  /** Sends a media-signaling message (publish offer, subscribe answer, ICE). */
  sendMedia(msg: Extract<ClientMessage, { type: "publishOffer" | "subscribeAnswer" | "ice" }>): void {
    this.#send(msg);
  }

  /** Leaves the meeting: tells the server, forgets every key, closes the channel. */
  leave(): void {
    if (this.#state === "closed") return;
    try {
      this.#send({ type: "leave" });
    } catch {
      // the channel may already be gone; leaving must still succeed locally
    }
    this.#close(1000, "left");
  }

  #send(msg: ClientMessage): void {
    if (!this.#channel || this.#state === "closed") throw new ProtocolError("INVALID_ARGUMENT", "session is not connected");
    this.#channel.send(encodeMessage(msg));
  }

  #enqueue(text: string): void {
    this.#queue = this.#queue.then(() => this.#handle(text)).catch((e: unknown) => {
      const code: string = isProtocolError(e) ? e.code : ("CLIENT_INTERNAL" satisfies ClientErrorCode);
      this.emit("error", { code, message: e instanceof Error ? e.message : String(e), fatal: false });
    });
  }

  async #handle(text: string): Promise<void> {
    if (this.#state === "closed") return;
    const msg: ServerMessage = parseServerMessage(text);
    switch (msg.type) {
      case "joined": {
        // A second `joined` is the server confirming a move to another room: leave the group we
        // were in (erasing its keys) and wait for the one there, with the key package we sent.
        const move = this.#pendingMove;
        if (move !== null) {
          this.#pendingMove = null;
          await this.#mls?.close();
          this.#mls = null;
          this.#pendingEpoch = null;
          this.#lastEpochMembers = null;
          this.keys.clear();
          this.#presence.clear();
          this.#keyPackageSecret = move.secret;
        }
        this.#encryption = msg.encryption;
        this.#iceServers = msg.iceServers ?? this.#iceServers;
        this.#fileToken = msg.fileToken ?? this.#fileToken;
        this.#room = msg.room ?? null;
        this.#state = "waitingForGroup";
        for (const m of msg.members) this.#presence.set(m.memberId, m);
        if (move !== null) this.emit("room", { roomId: this.#room });
        this.emit("joined", { memberId: msg.memberId, encryption: msg.encryption, members: msg.members });
        this.emit("presence", this.presence);
        return;
      }
      case "createGroup": {
        this.#mls = await MlsSession.create(fromBase64(msg.groupId), this.identity, { acceptMember: this.#policy, encryption: this.#encryption, ...this.#suiteOption() });
        this.#keyPackageSecret = null;
        // The public GroupInfo lets the delivery service check every later commit.
        const groupInfo = await this.#mls.publicGroupInfo();
        this.#send({ type: "groupCreated", groupId: msg.groupId, groupInfo: toBase64(groupInfo) });
        await this.#enterEpoch();
        return;
      }
      case "welcome": {
        if (this.#failed) {
          // Added again after a commit this member could not apply (the verdict went the other
          // way): the Welcome is for the key package it sent with its report.
          this.#keyPackageSecret = this.#failed.secret;
          this.#failed = null;
          if (this.#mls) await this.#dropGroup("added again after a failed commit");
        }
        if (!this.#keyPackageSecret) throw new ProtocolError("MLS_WELCOME_REJECTED", "no key package is waiting for a Welcome");
        try {
          this.#mls = await MlsSession.joinFromWelcome(
            fromBase64(msg.welcome),
            this.#keyPackageSecret,
            {
              acceptMember: this.#policy,
              expectedEncryption: this.#encryption,
              ...(msg.ratchetTree ? { ratchetTree: fromBase64(msg.ratchetTree) } : {}),
            },
          );
        } catch (e) {
          await this.#recover(e);
          return;
        }
        this.#keyPackageSecret = null;
        this.#send({ type: "welcomeProcessed", epoch: this.#mls.epoch.toString(), transcriptHash: toBase64(this.#mls.transcriptHash) });
        await this.#enterEpoch();
        return;
      }
      case "commitRequest":
        await this.#commitRequested(msg);
        return;
      case "commitAccepted": {
        if (!this.#mls || this.#pendingEpoch !== BigInt(msg.epoch)) return;
        this.#pendingEpoch = null;
        await this.#mls.applyPendingCommit();
        this.#send({ type: "commitAck", epoch: msg.epoch, transcriptHash: toBase64(this.#mls.transcriptHash) });
        await this.#enterEpoch();
        return;
      }
      case "epochConfirmed": {
        const failed = this.#failed;
        if (failed && BigInt(msg.epoch) === failed.epoch + 1n) {
          // The others applied the commit this member could not: it is out of the group and is
          // added again with the key package it sent along with its report.
          this.#failed = null;
          await this.#dropGroup(`the others applied the commit for epoch ${failed.epoch}`);
          this.#keyPackageSecret = failed.secret;
          return;
        }
        if (this.#mls && this.#mls.epoch === BigInt(msg.epoch)) await this.#mls.confirmEpoch();
        return;
      }
      case "rollback":
        await this.#rollback(BigInt(msg.epoch));
        return;
      case "commitRejected":
        if (this.#mls && this.#pendingEpoch === BigInt(msg.epoch)) {
          this.#pendingEpoch = null;
          await this.#mls.discardPendingCommit();
        }
        return;
      case "commit": {
        const mls = this.#mls;
        if (!mls || this.#failed) return;
        // A commit for an epoch this member has already left behind (a late or replayed delivery)
        // changes nothing: reporting it would make a member that is in step look broken.
        if (BigInt(msg.epoch) < mls.epoch) return;
        // Someone else's commit won this epoch: processMessage drops ours (if any).
        if (this.#pendingEpoch === BigInt(msg.epoch)) this.#pendingEpoch = null;
        const bytes = fromBase64(msg.commit);
        const refusal = this.#unannounced(bytes);
        if (refusal !== null) {
          await this.#reportFailure(BigInt(msg.epoch), refusal);
          return;
        }
        let result;
        try {
          result = await mls.processMessage(bytes);
        } catch (e) {
          await this.#reportFailure(BigInt(msg.epoch), isProtocolError(e) ? e.code : "error");
          return;
        }
        if (result.kind === "removed") {
          this.emit("error", { code: "REMOVED", message: CLIENT_ERRORS.REMOVED, fatal: true });
          this.#close(1000, "removed");
          return;
        }
        if (result.kind === "commit") this.#send({ type: "commitAck", epoch: msg.epoch, transcriptHash: toBase64(mls.transcriptHash) });
        await this.#enterEpoch();
        return;
      }
      case "memberJoined":
      case "memberUpdated": {
        const before = this.#presence.get(msg.member.memberId);
        if (msg.member.inGroup) this.#leftGroup.delete(msg.member.memberId);
        else if (before?.inGroup) this.#leftGroup.add(msg.member.memberId);
        this.#presence.set(msg.member.memberId, msg.member);
        this.emit("presence", this.presence);
        return;
      }
      case "memberLeft":
        this.#presence.delete(msg.memberId);
        this.#leftGroup.delete(msg.memberId);
        this.emit("presence", this.presence);
        return;
      case "publishAnswer":
        this.emit("publishAnswer", { sdp: msg.sdp });
        return;
      case "subscribeOffer":
        this.emit("subscribeOffer", { sdp: msg.sdp, tracks: msg.tracks });
        return;
      case "ice":
        this.emit("ice", { pc: msg.pc, candidate: msg.candidate, mid: msg.mid });
        return;
      case "appMessage":
        await this.#receiveAppMessage(msg.from, msg.message);
        return;
      case "pong":
        return;
      case "waiting":
        this.#state = "waiting";
        this.emit("waiting", { reason: msg.reason });
        return;
      case "waitingList":
        this.#waitingList = msg.entries;
        this.emit("waitingList", msg.entries);
        return;
      case "meetingState": {
        this.#locked = msg.locked;
        const changed = disabledFeatureChange(this.#features, msg.features);
        this.#features = { ...msg.features };
        this.emit("meetingState", { locked: msg.locked });
        if (changed) this.emit("features", this.features);
        return;
      }
      case "breakoutState":
        this.emit("breakoutState", { open: msg.open, rooms: msg.rooms, endsAt: msg.endsAt, room: msg.room });
        return;
      case "breakoutBroadcast":
        this.emit("breakoutBroadcast", { from: msg.from, message: fromBase64(msg.message) });
        return;
      case "notice":
        this.emit("notice", { code: msg.code, message: msg.message });
        return;
      case "meetingEnded":
        this.emit("error", { code: "MEETING_ENDED", message: "The host ended the meeting.", fatal: true });
        this.#close(1000, "meeting ended");
        return;
      case "error":
        if (this.#pendingMove !== null && !msg.fatal && MOVE_REFUSALS.has(msg.code)) this.#pendingMove = null;
        this.emit("error", { code: msg.code, message: msg.message, fatal: msg.fatal });
        if (msg.fatal) this.#close(1000, msg.code);
        return;
      default: {
        const never: never = msg;
        throw new ProtocolError("MESSAGE_MALFORMED", `unhandled ${(never as { type: string }).type}`);
      }
    }
  }

  async #commitRequested(msg: Extract<ServerMessage, { type: "commitRequest" }>): Promise<void> {
    const mls = this.#mls;
    if (!mls || BigInt(msg.epoch) !== mls.epoch) return; // stale request; a fresh one will follow
    const byMember = new Map(mls.members().map((m) => [m.identity.memberId, m.leafIndex]));
    const remove: number[] = [];
    const removed: string[] = [];
    for (const id of msg.remove) {
      const leaf = byMember.get(id);
      if (leaf !== undefined && leaf !== mls.ownLeafIndex) {
        remove.push(leaf);
        removed.push(id);
      }
    }
    const add = msg.add.map((a) => fromBase64(a.keyPackage));
    const added = msg.add.map((a) => a.memberId);
    if (add.length === 0 && remove.length === 0) return;
    if (this.#pendingEpoch !== null) return; // a commit of ours is already in flight
    let result;
    try {
      result = await mls.commit({ add, remove });
    } catch (e) {
      // A bad key package (or one refused by the membership policy) must not stall the group:
      // find which joiners cannot be added and tell the delivery service, which drops them.
      const bad: string[] = [];
      for (const [i, kp] of add.entries()) {
        try {
          await mls.commit({ add: [kp] });
        } catch {
          bad.push(added[i]!);
        } finally {
          await mls.discardPendingCommit();
        }
      }
      if (bad.length > 0) this.#send({ type: "badKeyPackages", epoch: mls.epoch.toString(), memberIds: bad });
      else this.emit("error", { code: isProtocolError(e) ? e.code : "MLS_COMMIT_REJECTED", message: "Could not build the requested commit.", fatal: false });
      return;
    }
    this.#pendingEpoch = result.epoch;
    this.#send({
      type: "commit",
      epoch: result.epoch.toString(),
      commit: toBase64(result.commit),
      ...(result.welcome ? { welcome: toBase64(result.welcome) } : {}),
      added,
      removed,
    });
  }

  /**
   * An application message relayed by the server: only MLS application data of this group is
   * processed (a handshake message smuggled in here would otherwise change the group), the sender
   * the server names must be the one MLS authenticates, and the payload must decode strictly.
   */
  async #receiveAppMessage(claimedFrom: string, text: string): Promise<void> {
    const mls = this.#mls;
    if (!mls) return; // not in the group yet (or between groups): nothing to decrypt it with
    const bytes = fromBase64(text);
    if (bytes.length > MAX_APP_MESSAGE_BYTES) throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${bytes.length} bytes`);
    const framing = peekMessage(bytes);
    if (framing.wireFormat !== "private" || framing.contentType !== "application") {
      throw new ProtocolError("MLS_BAD_MESSAGE", "an application message must be a PrivateMessage with application content");
    }
    const result = await mls.processMessage(bytes);
    if (result.kind !== "application") throw new ProtocolError("MLS_BAD_MESSAGE", "not application data");
    if (result.sender.identity.memberId !== claimedFrom) throw new ProtocolError("APP_MESSAGE_SENDER_MISMATCH");
    let message = decodeAppMessage(result.data);
    result.data.fill(0);
    const sealed = message.type === "sealed";
    if (message.type === "sealed") {
      // Sealed to one member: only that member's leaf key opens it, bound to the authenticated sender.
      if (message.to !== this.memberId) {
        if (this.#opts.probeSealedToOthers) {
          const opened = await mls.openSealed({ epoch: result.epoch, toLeaf: message.toLeaf, enc: fromBase64(message.enc), ct: fromBase64(message.ct) }, result.sender.leafIndex);
          opened.fill(0);
          throw new ProtocolError("APP_MESSAGE_NOT_FOR_YOU", "sealed to another member, yet it opened with this member's key");
        }
        throw new ProtocolError("APP_MESSAGE_NOT_FOR_YOU");
      }
      const inner = await mls.openSealed(
        { epoch: result.epoch, toLeaf: message.toLeaf, enc: fromBase64(message.enc), ct: fromBase64(message.ct) },
        result.sender.leafIndex,
      );
      message = decodeSealedPayload(inner);
      inner.fill(0);
    } else if (SEALED_ONLY_TYPES.has(message.type)) {
      throw new ProtocolError("APP_MESSAGE_NOT_SEALED", message.type);
    }
    // The meeting's settings govern what members accept, whatever a sender's app let through.
    this.#checkFeature(message);
    this.emit("appMessage", {
      from: claimedFrom,
      fromName: result.sender.identity.displayName,
      epoch: result.epoch,
      message,
      sealed,
    });
  }

  /**
   * Member-side check of a commit from another member (docs/protocol.md §6): it may remove only
   * members the server announced as gone (left, removed by a host, or out of the group to be
   * added again), and add only people the server announced as joining. Returns why it is
   * refused, or null. The server checks the same; this holds even against a server that does not.
   */
  #unannounced(commit: Uint8Array): string | null {
    let peeked;
    try {
      peeked = peekMessage(commit);
    } catch {
      return null; // processMessage gives the precise failure
    }
    if (peeked.wireFormat !== "public" || !peeked.commit) return null;
    if (peeked.commit.proposalRefs > 0) return "it includes proposals by reference";
    const byLeaf = new Map(this.groupMembers.map((m) => [m.leafIndex, m.identity.memberId]));
    for (const leaf of peeked.commit.removed) {
      const id = byLeaf.get(leaf);
      if (id === undefined) continue; // an empty leaf: processMessage refuses it
      if (this.#presence.has(id) && !this.#leftGroup.has(id)) return "it removes a member the server did not announce as gone";
    }
    for (const identity of peeked.commit.added) {
      const p = this.#presence.get(identity.memberId);
      if (!p || p.inGroup || p.displayName !== identity.displayName) return "it adds someone the server did not announce as joining";
    }
    return null;
  }

  /**
   * This member could not apply (or refused) the commit for `epoch`: it keeps its state at
   * `epoch` and reports, with a fresh key package for the case where the others could apply it.
   * The delivery service's verdict follows: `rollback` (the commit is void) or `epochConfirmed`.
   */
  async #reportFailure(epoch: bigint, reason: string): Promise<void> {
    this.emit("error", { code: "MLS_COMMIT_REJECTED", message: `Could not apply a commit (${reason}); reported to the server.`, fatal: false });
    const kp = await createKeyPackage(this.identity, this.#suiteOption());
    this.#failed = { epoch, secret: kp.secret };
    this.#send({ type: "commitFailed", epoch: epoch.toString(), reason: reason.slice(0, 200), keyPackage: toBase64(kp.keyPackage) });
  }

  /** The delivery service voided the commit for `epoch`: return to it, or rejoin if we cannot. */
  async #rollback(epoch: bigint): Promise<void> {
    const mls = this.#mls;
    this.#failed = null;
    if (!mls) return; // not in the group: a Welcome (or a rejoin) is on its way
    if (mls.epoch === epoch) {
      // We never applied it (we could not, or had not yet): nothing to undo.
      if (this.#pendingEpoch !== null) {
        this.#pendingEpoch = null;
        await mls.discardPendingCommit();
      }
      return;
    }
    if (mls.epoch === epoch + 1n && mls.canRevert) {
      await mls.revertEpoch();
      try {
        this.keys.rewind(mls);
      } catch (e) {
        await this.#recover(e);
        return;
      }
      this.#state = "inGroup";
      const members = mls.members();
      // Members the voided commit added are gone again; nobody is newly added by going back.
      this.#lastEpochMembers = new Set(members.map((m) => m.identity.memberId));
      this.emit("epoch", {
        epoch: mls.epoch,
        rewound: true,
        securityCode: securityCodeFromAuthenticator(mls.epochAuthenticator),
        members,
        encryption: mls.encryption,
        added: [],
      });
      return;
    }
    // Joined through the voided commit's Welcome (nothing to return to): be added again.
    await this.#recover(new ProtocolError("MLS_CANNOT_REVERT", `the group went back to epoch ${epoch}`));
  }

  /** Leaves the MLS group locally (keys wiped); the server re-adds this member. */
  async #dropGroup(reason: string): Promise<void> {
    await this.#mls?.close();
    this.#mls = null;
    this.#pendingEpoch = null;
    this.#failed = null;
    this.#lastEpochMembers = null;
    this.keys.clear();
    this.#state = "waitingForGroup";
    this.emit("groupLost", { reason });
  }

  /** After an MLS failure the member leaves the group and asks to be added again. */
  async #recover(e: unknown): Promise<void> {
    this.emit("error", {
      code: isProtocolError(e) ? e.code : "MLS_COMMIT_REJECTED",
      message: "Could not follow the group's keys; rejoining with a fresh key package.",
      fatal: false,
    });
    await this.#dropGroup(isProtocolError(e) ? e.code : "error");
    const kp = await createKeyPackage(this.identity, this.#suiteOption());
    this.#keyPackageSecret = kp.secret;
    this.#send({ type: "groupFailure", reason: isProtocolError(e) ? e.code : "error", keyPackage: toBase64(kp.keyPackage) });
  }

  #suiteOption(): { suite?: MlsSuiteName } {
    return this.#opts.suite !== undefined ? { suite: this.#opts.suite } : {};
  }

  /**
   * Who this member accepts into its MLS group. In an E2EE meeting no server-side member
   * (connector) may hold keys; the check runs on every credential this member validates.
   */
  readonly #policy = (identity: MemberIdentity): boolean => this.#encryption !== "e2ee" || identity.kind === "person";

  async #enterEpoch(): Promise<void> {
    const mls = this.#mls!;
    await this.keys.advance(mls);
    this.#state = "inGroup";
    const members = mls.members();
    const ids = members.map((m) => m.identity.memberId);
    const before = this.#lastEpochMembers;
    this.#lastEpochMembers = new Set(ids);
    this.emit("epoch", {
      epoch: mls.epoch,
      rewound: false,
      securityCode: securityCodeFromAuthenticator(mls.epochAuthenticator),
      members,
      encryption: mls.encryption,
      added: ids.filter((id) => id !== this.memberId && !before?.has(id)),
    });
  }

  #onClosed(code: number, reason: string): void {
    // What arrived before the close is handled first: the server's last words (a host's
    // REMOVED_BY_HOST, say) can wait in the queue behind a commit being processed, and the close
    // must not overtake them. At most a second: a close is never held up for long.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = this.#queue.then(
      () => undefined,
      () => undefined,
    );
    const capped = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MS)));
    void Promise.race([drained, capped]).then(() => {
      clearTimeout(timer);
      this.#close(code, reason);
    });
  }

  #close(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#pendingMove = null;
    this.#fileToken = null;
    if (this.#liveness) clearInterval(this.#liveness);
    this.#liveness = null;
    this.keys.clear();
    void this.#mls?.close();
    this.#mls = null;
    this.#pendingEpoch = null;
    this.#failed = null;
    try {
      this.#channel?.close(code, reason);
    } catch {
      // already closed
    }
    this.emit("closed", { code, reason });
  }
}

/** Whether any feature changed between two sets. */
function disabledFeatureChange(a: MeetingFeatures, b: MeetingFeatures): boolean {
  return (Object.keys(b) as (keyof MeetingFeatures)[]).some((k) => a[k] !== b[k]);
}

function randomMemberId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return "m" + toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
