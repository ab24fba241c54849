/**
 * A Node participant: joins a meeting exactly as a browser does — MLS member, WebRTC publish and
 * subscribe connections to the relay, SFrame on every frame — and sends synthetic VP8 video and
 * Opus audio. `conclave bot` is a thin CLI over this class; tests use it directly.
 *
 * Frames are protected with the member's current media key right before they are packetized, and
 * received frames are unprotected right after they are reassembled. The relay in between only
 * ever sees the protected form.
 *
 * Like the browser, it outlives its connection: when the signaling connection drops (server
 * restart, network loss) without a leave or a refusal that retrying cannot fix, it joins again as
 * a NEW member (new key package, new media connections; no MLS state is ever persisted), with
 * backoff. It ends for good only when it leaves, or is refused, removed, or the host ends the
 * meeting.
 */
import { MLS_SUITES, isProtocolError, toBase64, type MediaCodec, type MlsSuiteName, type TrackInfo } from "@conclave/protocol";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { MeetingSession, type EpochEvent, type MeetingSessionOptions, type SignalingChannel } from "./meeting-session.js";
import { MeetingMediaState, type MediaState } from "./media-state.js";
import { TypedEmitter } from "./events.js";
import type { ClientErrorCode } from "./errors.js";
import { PERMANENT_REFUSALS, reconnectDelayMs } from "./reconnect-policy.js";
import { connectNodeSignaling, fetchMeetingInfo, type NodeSignalingOptions } from "./node-signaling.js";
import { NodeMediaTransport, type LocalTrack } from "./media/index.js";
import { SyntheticMedia } from "./synthetic/synthetic-media.js";
import { Collaboration, type Caption, type BreakoutView, type ChatEntry, type PollView, type RaisedHand, type Reaction } from "./collaboration/index.js";
import { nodeFileTransport } from "./node-files.js";

export interface MeetingLink {
  /** wss://host:port/ws */
  signalingUrl: string;
  meetingId: string;
  passcode?: string;
}

/** Parses a join link: https://host:port/m/<id>[#pwd=<passcode>] (or ?pwd=). */
export function parseMeetingLink(link: string): MeetingLink {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new Error("the meeting link is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "wss:") throw new Error("the meeting link must use https");
  const m = /^\/m\/([0-9]{6,32})\/?$/.exec(url.pathname);
  if (!m) throw new Error("the meeting link must look like https://host/m/<meeting id>");
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
  const passcode = fragment.get("pwd") ?? url.searchParams.get("pwd") ?? undefined;
  return {
    signalingUrl: `wss://${url.host}/ws`,
    meetingId: m[1]!,
    ...(passcode ? { passcode } : {}),
  };
}

export interface NodeParticipantOptions extends NodeSignalingOptions {
  link: string | MeetingLink;
  displayName: string;
  /** Overrides the passcode in the link. */
  passcode?: string;
  /** Send synthetic audio and video (default true; ignored with externalMedia). */
  sendMedia?: boolean;
  /**
   * Publish frames the caller supplies with `sendFrame` instead of synthetic media (a connector
   * relaying its far side). Which tracks to publish.
   */
  externalMedia?: { audio: boolean; video: boolean };
  /** Person (default) or connector, with its far leg. */
  kind?: MeetingSessionOptions["kind"];
  /** A connector's single-use join ticket from the server (replaces the passcode). */
  connectorTicket?: string;
  /**
   * false: signaling and MLS only, no WebRTC at all (no publish or subscribe connection, nothing
   * sent or received): a member that costs the server and this process almost nothing, so tests
   * and benchmarks can put hundreds in one meeting. Default true.
   */
  media?: boolean;
  /**
   * The meeting's MLS suite. Default: read from the meeting's public facts before joining
   * (GET /api/meetings/:id says whether it is post-quantum).
   */
  suite?: MlsSuiteName;
  graceMs?: number;
  /** Address announced in ICE (default 127.0.0.1 for loopback tests; real deployments set it). */
  iceAddress?: string;
  /**
   * Join again after the connection drops, as the browser does (default true; false with a
   * connectorTicket, which is single-use: the connector's supervisor starts a new call instead).
   */
  reconnect?: boolean;
  /** Server silence after which the connection counts as lost (MeetingSessionOptions.livenessMs). */
  livenessMs?: number;
  /** Audit and test hook (MeetingSessionOptions.probeSealedToOthers). */
  probeSealedToOthers?: boolean;
  /**
   * This participant's ban token (docs/threat-model.md, "Bans"); default: a random one per
   * instance, kept across its reconnects.
   */
  deviceToken?: string;
  /**
   * Wraps each signaling channel before the session uses it: an audit or test hook that can
   * observe what the server sends, or hand the session a message as if the server had sent it.
   */
  channelTap?: (channel: SignalingChannel) => SignalingChannel;
}

export interface ParticipantStats {
  framesSent: number;
  framesDecrypted: number;
  decryptFailures: number;
  /** Frames from epochs this participant never belonged to (sent before it joined): not failures. */
  framesSkipped: number;
  remoteMembers: number;
  epoch: string | null;
  /** Decrypted frames per remote member id. */
  perSender: Record<string, number>;
  /** Decrypted frames per remote member id and kind. */
  bySender: Record<string, { audio: number; video: number }>;
}

export interface NodeParticipantEvents extends Record<string, unknown> {
  joined: { memberId: string };
  /** Not let in yet (waiting room, or no host yet). */
  waiting: { reason: "waitingRoom" | "hostAbsent" };
  epoch: EpochEvent;
  /** The connection dropped; it joins again after `delayMs` (attempt counts from 1). */
  reconnecting: { attempt: number; delayMs: number; reason: string };
  /** Another member's mute / camera / screen state, from its end-to-end encrypted announcement. */
  mediaState: { memberId: string; state: MediaState };
  /** A host asked this participant to mute (it does) or to unmute (it does not: only people unmute). */
  hostRequest: { from: string; action: "mute" | "askUnmute" };
  /** A decrypted remote frame. */
  frame: { ownerId: string; kind: "audio" | "video"; source: RemoteSource; frame: Uint8Array; epoch: bigint; keyframe: boolean };
  /** The relay asked for a key frame of our video (external media: ask the far side). */
  keyframeRequest: Record<string, never>;
  /** A chat message (group or private, text or file) sent or received. */
  chat: ChatEntry;
  reaction: { from: string; fromName: string; emoji: Reaction };
  /** A live caption from the meeting's transcription connector (collaboration/captions.ts). */
  caption: Caption;
  /** The raised hands, in the order they went up. */
  hands: RaisedHand[];
  /** A poll was launched or changed (votes counted, ended, results shared). */
  poll: PollView;
  breakout: BreakoutView;
  /** A host's broadcast to every breakout room. */
  broadcast: { from: string; fromName: string; text: string };
  /** This participant moved to a breakout room (or back to the main meeting: null). */
  room: { roomId: string | null };
  error: { code: string; message: string; fatal: boolean };
  closed: { code: number; reason: string };
}

type RemoteSource = "microphone" | "camera" | "screen";

/** How long a frame for the next epoch waits for our commit to be processed. */
const FUTURE_EPOCH_HOLD_MS = 1000;
const MAX_HELD_FRAMES = 200;

/** One signaling connection's worth of state: a new one per (re)join. */
interface Connection {
  session: MeetingSession;
  state: MeetingMediaState;
  collab: Collaboration;
  transport: NodeMediaTransport | null;
  media: SyntheticMedia | null;
  tracks: { audio?: LocalTrack; video?: LocalTrack };
  mediaStarted: boolean;
  /** The media start in progress: a transport is closed only once its offer is made. */
  starting: Promise<void> | null;
  held: { codec: MediaCodec; data: Uint8Array; ownerId: string; kind: "audio" | "video"; source: RemoteSource; at: number }[];
  /** A synthetic screen share (the same test video, published as source "screen"). */
  screen: { track: LocalTrack; media: SyntheticMedia } | null;
  /** Publish renegotiations, one at a time; `answered` resolves the one awaiting its answer. */
  publishQueue: Promise<void>;
  answered: (() => void) | null;
  /** The fatal error the server sent before closing, if any. */
  fatal: { code: string; message: string } | null;
  closed: boolean;
}

export class NodeParticipant extends TypedEmitter<NodeParticipantEvents> {
  readonly #opts: NodeParticipantOptions;
  readonly #link: MeetingLink;
  readonly #deviceToken: string;
  #conn: Connection;
  /** Whether this participant reached the meeting once (joined or waiting): then drops reconnect. */
  #everJoined = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #micOn: boolean;
  #screenOn = false;
  /** The meeting's MLS suite, looked up once (it does not change between reconnects). */
  #suite: MlsSuiteName | undefined;
  #closed = false;
  readonly #stats = { framesSent: 0, framesDecrypted: 0, decryptFailures: 0, framesSkipped: 0 };
  readonly #perSender = new Map<string, number>();
  readonly #bySender = new Map<string, { audio: number; video: number }>();

  constructor(opts: NodeParticipantOptions) {
    super();
    this.#opts = opts;
    this.#link = typeof opts.link === "string" ? parseMeetingLink(opts.link) : opts.link;
    this.#deviceToken = opts.deviceToken ?? toBase64(globalThis.crypto.getRandomValues(new Uint8Array(24))).replace(/\+/g, "-").replace(/\//g, "_");
    this.#micOn = opts.sendMedia !== false;
    this.#conn = this.#newConnection();
  }

  /** The current connection's meeting session (a new one after each reconnect). */
  get session(): MeetingSession {
    return this.#conn.session;
  }

  get memberId(): string {
    return this.#conn.session.memberId;
  }

  /** The other members' announced mute / camera / screen state, by member id. */
  get remoteMediaStates(): ReadonlyMap<string, MediaState> {
    return this.#conn.state.remote;
  }

  /** Chat, reactions and hands, polls and breakout rooms of the current connection. */
  get collaboration(): Collaboration {
    return this.#conn.collab;
  }

  /** The members a host spotlights (as this participant last heard). */
  get spotlight(): readonly string[] {
    return this.#conn.state.spotlight;
  }

  stats(): ParticipantStats {
    return {
      ...this.#stats,
      remoteMembers: Math.max(0, this.session.groupMembers.length - 1),
      epoch: this.session.epoch?.toString() ?? null,
      perSender: Object.fromEntries(this.#perSender),
      bySender: Object.fromEntries([...this.#bySender].map(([k, v]) => [k, { ...v }])),
    };
  }

  /**
   * External media: protects one encoded frame with this member's current key and sends it.
   * Resolves false when it did not leave (no key yet, connection not up, or no such track).
   */
  async sendFrame(kind: "audio" | "video", frame: Uint8Array, rtpTimestamp: number, keyframe = false): Promise<boolean> {
    const conn = this.#conn;
    const track = kind === "audio" ? conn.tracks.audio : conn.tracks.video;
    return this.#send(conn, kind === "audio" ? "opus" : "vp8", track, frame, rtpTimestamp, kind === "video" ? keyframe : false);
  }

  /** Asks the relay for a key frame of a member's camera (e.g. on an active-speaker switch). */
  requestKeyframe(memberId: string): void {
    const transport = this.#conn.transport;
    if (!transport) return;
    for (const [publicationId, remote] of transport.remoteTracks) {
      if (remote.info.ownerId === memberId && remote.info.kind === "video" && remote.info.source === "camera") transport.requestKeyframe(publicationId);
    }
  }

  /** Connects and sends the join request; resolves once the request is on its way. */
  async join(): Promise<void> {
    await this.#open(this.#conn);
  }

  /** Mutes or unmutes the synthetic microphone (audio frames stop) and tells everyone, encrypted. */
  setMicOn(on: boolean): void {
    this.#micOn = on && this.#opts.sendMedia !== false;
    this.#conn.state.setLocal(this.#localState());
  }

  /**
   * Starts or stops a screen share: the synthetic video again, published as a "screen" source
   * (for tests and demos of layouts). Resolves once the relay has answered the renegotiation.
   */
  async setScreenShare(on: boolean): Promise<void> {
    const conn = this.#conn;
    const run = conn.publishQueue.then(async () => {
      const transport = conn.transport;
      if (!transport || conn.closed) throw new Error("no media connection yet");
      if (on === (conn.screen !== null)) return;
      if (on) {
        const track = transport.publish("video", "screen");
        const media = SyntheticMedia.load();
        conn.screen = { track, media };
        media.start({ audio: () => {}, video: (f) => void this.#send(conn, "vp8", track, f.data, f.rtpTimestamp, f.keyframe) });
      } else if (conn.screen) {
        conn.screen.media.stop();
        conn.screen.track.close();
        conn.screen = null;
      }
      await this.#renegotiate(conn, transport);
    });
    conn.publishQueue = run.catch(() => {});
    await run;
    this.#screenOn = on;
    conn.state.setLocal(this.#localState());
  }

  /** Host or co-host: ask a member to mute (its app mutes) or to unmute (it decides). */
  requestMute(memberId: string, action: "mute" | "askUnmute" = "mute"): void {
    this.#conn.state.request(memberId, action);
  }

  /** Host or co-host: spotlight these members for everyone (empty: none). */
  setSpotlight(memberIds: string[]): void {
    this.#conn.state.setSpotlight(memberIds);
  }

  /** Leaves the meeting and releases every resource. */
  leave(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#conn.session.leave();
    this.#teardown(this.#conn);
  }

  #localState(): MediaState {
    const media = this.#opts.sendMedia !== false;
    return { mic: media && this.#micOn, camera: media, screen: this.#screenOn };
  }

  #newConnection(): Connection {
    const passcode = this.#opts.passcode ?? this.#link.passcode;
    const session = new MeetingSession({
      meetingId: this.#link.meetingId,
      displayName: this.#opts.displayName,
      sframeCrypto: createNodeSFrameCrypto(),
      deviceToken: this.#deviceToken,
      ...(this.#opts.kind ? { kind: this.#opts.kind } : {}),
      ...(this.#opts.connectorTicket ? { connectorTicket: this.#opts.connectorTicket } : {}),
      ...(this.#opts.livenessMs !== undefined ? { livenessMs: this.#opts.livenessMs } : {}),
      ...(this.#opts.probeSealedToOthers ? { probeSealedToOthers: true } : {}),
      ...(passcode ? { passcode } : {}),
      ...(this.#opts.graceMs !== undefined ? { graceMs: this.#opts.graceMs } : {}),
      ...(this.#opts.media === false ? { media: false } : {}),
    });
    const https = `https://${new URL(this.#link.signalingUrl.replace(/^wss:/, "https:")).host}`;
    const files = nodeFileTransport(https, {
      ...(this.#opts.ca ? { ca: this.#opts.ca } : {}),
      ...(this.#opts.fingerprint ? { fingerprint: this.#opts.fingerprint } : {}),
      ...(this.#opts.insecure ? { insecure: true } : {}),
    });
    const conn: Connection = {
      session,
      state: new MeetingMediaState(session, this.#localState()),
      collab: new Collaboration(session, { files }),
      transport: null,
      media: null,
      tracks: {},
      mediaStarted: false,
      starting: null,
      held: [],
      screen: null,
      publishQueue: Promise.resolve(),
      answered: null,
      fatal: null,
      closed: false,
    };
    session.on("joined", (j) => {
      this.#everJoined = true;
      this.emit("joined", { memberId: j.memberId });
    });
    session.on("waiting", (w) => {
      this.#everJoined = true;
      this.emit("waiting", w);
    });
    session.on("epoch", (e) => this.#onEpoch(conn, e));
    // Out of the group: the server closed our media peer. A new one comes with the next epoch.
    session.on("groupLost", () => this.#stopMedia(conn));
    session.on("error", (e) => {
      if (e.fatal) {
        // Reported once we know whether the participant goes on (see #onClosed).
        conn.fatal = { code: e.code, message: e.message };
        return;
      }
      this.emit("error", e);
    });
    session.on("closed", (c) => this.#onClosed(conn, c));
    session.on("publishAnswer", ({ sdp }) => {
      void conn.transport
        ?.applyPublishAnswer(sdp)
        .then(() => {
          const answered = conn.answered;
          conn.answered = null;
          answered?.();
        })
        .catch((e: unknown) => this.#fail("MEDIA_FAILED", e));
    });
    session.on("subscribeOffer", ({ sdp, tracks }) => void this.#answerSubscribe(conn, sdp, tracks));
    session.on("ice", ({ pc, candidate, mid }) => void conn.transport?.addRemoteCandidate(pc, candidate, mid).catch(() => {}));
    conn.state.on("remote", (r) => this.emit("mediaState", r));
    const collab = conn.collab;
    collab.chat.on("message", (m) => this.emit("chat", m));
    collab.reactions.on("reaction", (r) => this.emit("reaction", r));
    collab.reactions.on("hands", (h) => this.emit("hands", h));
    collab.polls.on("poll", (p) => this.emit("poll", p));
    collab.breakout.on("state", (b) => this.emit("breakout", b));
    collab.breakout.on("broadcast", (b) => this.emit("broadcast", b));
    const featureError = (e: { code: string; message: string }) => this.emit("error", { ...e, fatal: false });
    collab.chat.on("error", featureError);
    collab.reactions.on("error", featureError);
    collab.polls.on("error", featureError);
    collab.breakout.on("error", featureError);
    collab.captions.on("caption", (c) => this.emit("caption", c));
    collab.captions.on("error", featureError);
    // Another group (a breakout room, or back): another relay room, so new media connections.
    session.on("room", ({ roomId }) => {
      if (conn !== this.#conn) return;
      this.#stopMedia(conn);
      this.emit("room", { roomId });
    });
    conn.state.on("error", (e) => this.emit("error", { ...e, fatal: false }));
    conn.state.on("hostRequest", ({ from, action }) => {
      this.emit("hostRequest", { from, action });
      if (action === "mute") this.setMicOn(false); // never the other way: only people unmute
    });
    return conn;
  }

  async #open(conn: Connection): Promise<void> {
    const suite = (this.#suite ??= this.#opts.suite ?? (await this.#meetingSuite()));
    const raw = await connectNodeSignaling(this.#link.signalingUrl, this.#opts);
    const channel = this.#opts.channelTap ? this.#opts.channelTap(raw) : raw;
    if (this.#closed || conn !== this.#conn) {
      channel.close(1000, "left");
      return;
    }
    await conn.session.join(channel, { suite });
  }

  async #meetingSuite(): Promise<MlsSuiteName> {
    const info = await fetchMeetingInfo(this.#link.signalingUrl, this.#link.meetingId, this.#opts);
    return info.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default;
  }

  #onClosed(conn: Connection, c: { code: number; reason: string }): void {
    this.#teardown(conn);
    if (conn !== this.#conn || this.#closed) {
      if (conn === this.#conn) this.emit("closed", c);
      return;
    }
    const fatal = conn.fatal;
    const reconnect = (this.#opts.reconnect ?? this.#opts.connectorTicket === undefined) && this.#everJoined && (fatal === null || !PERMANENT_REFUSALS.has(fatal.code));
    if (!reconnect) {
      this.#closed = true;
      if (fatal) this.emit("error", { ...fatal, fatal: true });
      this.emit("closed", c);
      return;
    }
    if (fatal) this.emit("error", { ...fatal, fatal: false });
    this.#scheduleReconnect(fatal?.code ?? (c.reason || `closed (${c.code})`));
  }

  #scheduleReconnect(reason: string): void {
    const delayMs = reconnectDelayMs(this.#attempt);
    this.#attempt += 1;
    this.emit("reconnecting", { attempt: this.#attempt, delayMs, reason });
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closed) return;
      const conn = this.#newConnection();
      this.#conn = conn;
      this.#open(conn).catch((e: unknown) => {
        if (conn !== this.#conn || this.#closed) return;
        this.#teardown(conn);
        this.#scheduleReconnect(e instanceof Error ? e.message : String(e)); // still unreachable
      });
    }, delayMs);
    // A participant waiting to reconnect does not by itself keep the process alive.
    this.#timer.unref?.();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #onEpoch(conn: Connection, e: EpochEvent): void {
    if (conn !== this.#conn) return;
    this.#attempt = 0;
    if (!conn.mediaStarted && this.#opts.media !== false) {
      conn.mediaStarted = true;
      const starting = this.#startMedia(conn)
        .catch((err: unknown) => this.#fail("MEDIA_FAILED", err))
        .finally(() => {
          if (conn.starting === starting) conn.starting = null;
        });
      conn.starting = starting;
    }
    this.emit("epoch", e);
    // Frames that arrived for this epoch before we processed its commit can be read now.
    const held = conn.held;
    conn.held = [];
    for (const h of held) void this.#receive(conn, h.codec, h.data, h.ownerId, h.kind, h.source, h.at);
  }

  /** Stops sending and receiving until the next epoch (after a rejoin) starts media again. */
  #stopMedia(conn: Connection): void {
    conn.mediaStarted = false;
    this.#dropMedia(conn);
  }

  /** Stops the synthetic sources and closes the transport of `conn`. */
  #dropMedia(conn: Connection): void {
    conn.media?.stop();
    conn.media = null;
    conn.tracks = {};
    if (conn.screen) {
      conn.screen.media.stop();
      conn.screen = null;
      // The share ends with the media connection (it is not published again by itself).
      if (conn === this.#conn && this.#screenOn) {
        this.#screenOn = false;
        if (!conn.closed) conn.state.setLocal(this.#localState());
      }
    }
    conn.answered?.();
    conn.answered = null;
    this.#closeTransport(conn);
    conn.held = [];
  }

  /**
   * Closes the transport of `conn`, after its publish offer if one is being made: closing a WebRTC
   * connection in the middle of ICE gathering can leave its sockets behind.
   */
  #closeTransport(conn: Connection): void {
    const transport = conn.transport;
    conn.transport = null;
    if (!transport) return;
    if (conn.starting) void conn.starting.then(() => transport.close());
    else void transport.close();
  }

  async #startMedia(conn: Connection): Promise<void> {
    if (conn.closed || conn.transport) return;
    const transport = new NodeMediaTransport({ ...(this.#opts.iceAddress ? { iceAddress: this.#opts.iceAddress } : {}) });
    conn.transport = transport;
    const session = conn.session;
    transport.on("localCandidate", (c) => {
      if (!conn.closed) session.sendMedia({ type: "ice", pc: c.pc, candidate: c.candidate, mid: c.mid });
    });
    transport.on("frame", (f) => void this.#receive(conn, f.kind === "audio" ? "opus" : "vp8", f.frame, f.ownerId, f.kind, f.source, Date.now()));
    const external = this.#opts.externalMedia;
    transport.on("keyframeRequest", (track) => {
      (track === conn.screen?.track ? conn.screen.media : conn.media)?.requestKeyframe();
      if (external && track !== conn.screen?.track) this.emit("keyframeRequest", {});
    });
    if (external) {
      conn.tracks = {
        ...(external.audio ? { audio: transport.publish("audio", "microphone") } : {}),
        ...(external.video ? { video: transport.publish("video", "camera") } : {}),
      };
    } else if (this.#opts.sendMedia !== false) {
      conn.tracks = { audio: transport.publish("audio", "microphone"), video: transport.publish("video", "camera") };
    }
    // Nothing to publish (receive only): the relay still offers the subscribe connection.
    if (!conn.tracks.audio && !conn.tracks.video) return;
    const first = this.#renegotiate(conn, transport);
    conn.publishQueue = first.catch(() => {});
    await first;
    if (conn.closed || conn.transport !== transport || external) return;
    conn.media = SyntheticMedia.load();
    conn.media.start({
      // Muted: no audio frames at all (like a browser's disabled track, minus the silence).
      audio: (f) => {
        if (this.#micOn) void this.#send(conn, "opus", conn.tracks.audio, f.data, f.rtpTimestamp, false);
      },
      video: (f) => void this.#send(conn, "vp8", conn.tracks.video, f.data, f.rtpTimestamp, f.keyframe),
    });
  }

  /** One publish offer/answer round (the caller serialises them through conn.publishQueue). */
  async #renegotiate(conn: Connection, transport: NodeMediaTransport): Promise<void> {
    const offer = await transport.createPublishOffer();
    if (conn.closed || conn.transport !== transport) return; // stopped meanwhile (group lost, moved rooms)
    const answered = new Promise<void>((resolve) => (conn.answered = resolve));
    conn.session.sendMedia({
      type: "publishOffer",
      sdp: offer,
      tracks: transport.publishTracks.map((t) => ({ mid: t.mid, kind: t.kind, source: t.source })),
    });
    await answered;
  }

  async #send(conn: Connection, codec: MediaCodec, track: LocalTrack | undefined, frame: Uint8Array, rtpTimestamp: number, keyframe: boolean): Promise<boolean> {
    if (!track || conn.closed || conn.session.epoch === null) return false;
    try {
      const protectedFrame = await conn.session.protect(codec, frame);
      // false until the publish connection is up: those frames never left, so they are not counted.
      if (conn.closed || track.closed) return false;
      if (track.sendFrame(protectedFrame, { rtpTimestamp, keyframe })) {
        this.#stats.framesSent += 1;
        return true;
      }
      return false;
    } catch (e) {
      if (!conn.closed) this.#fail("SEND_FAILED", e, false);
      return false;
    }
  }

  async #receive(conn: Connection, codec: MediaCodec, data: Uint8Array, ownerId: string, kind: "audio" | "video", source: RemoteSource, at: number): Promise<void> {
    if (conn.closed) return;
    const session = conn.session;
    try {
      const out = await session.unprotect(codec, data);
      this.#stats.framesDecrypted += 1;
      const sender = session.memberAtLeaf(out.senderIndex)?.memberId ?? ownerId;
      this.#perSender.set(sender, (this.#perSender.get(sender) ?? 0) + 1);
      const counts = this.#bySender.get(sender) ?? { audio: 0, video: 0 };
      counts[kind] += 1;
      this.#bySender.set(sender, counts);
      this.emit("frame", { ownerId: sender, kind, source, frame: out.frame, epoch: out.epoch, keyframe: kind === "video" && (out.frame[0]! & 1) === 0 });
    } catch (e) {
      if (!isProtocolError(e, "SFRAME_UNKNOWN_KID")) {
        this.#stats.decryptFailures += 1;
        return;
      }
      const rel = session.keys.frameEpoch(codec, data);
      if (rel === "next" && Date.now() - at < FUTURE_EPOCH_HOLD_MS && conn.held.length < MAX_HELD_FRAMES) {
        conn.held.push({ codec, data, ownerId, kind, source, at });
      } else if (rel === "beforeFirst") {
        this.#stats.framesSkipped += 1;
      } else {
        this.#stats.decryptFailures += 1;
      }
    }
  }

  async #answerSubscribe(conn: Connection, sdp: string, tracks: TrackInfo[]): Promise<void> {
    const transport = conn.transport;
    if (!transport) return;
    try {
      const answer = await transport.handleSubscribeOffer(sdp, tracks);
      if (!conn.closed) conn.session.sendMedia({ type: "subscribeAnswer", sdp: answer });
    } catch (e) {
      this.#fail("MEDIA_FAILED", e);
    }
  }

  #fail(code: ClientErrorCode, e: unknown, fatal = false): void {
    this.emit("error", { code, message: e instanceof Error ? e.message : String(e), fatal });
  }

  #teardown(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.state.close();
    conn.collab.close();
    this.#dropMedia(conn);
  }
}
