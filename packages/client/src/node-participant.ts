/**
 * A Node participant: joins a meeting exactly as a browser does — MLS member, WebRTC publish and
 * subscribe connections to the relay, SFrame on every frame — and sends synthetic VP8 video and
 * Opus audio. `conclave bot` is a thin CLI over this class; tests use it directly.
 *
 * Frames are protected with the member's current media key right before they are packetized, and
 * received frames are unprotected right after they are reassembled. The relay in between only
 * ever sees the protected form.
 */
import { MLS_SUITES, isProtocolError, type MediaCodec, type MlsSuiteName, type TrackInfo } from "@conclave/protocol";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { MeetingSession, type EpochEvent, type MeetingSessionOptions } from "./meeting-session.js";
import { TypedEmitter } from "./events.js";
import type { ClientErrorCode } from "./errors.js";
import { connectNodeSignaling, fetchMeetingInfo, type NodeSignalingOptions } from "./node-signaling.js";
import { NodeMediaTransport, type LocalTrack } from "./media/index.js";
import { SyntheticMedia } from "./synthetic/synthetic-media.js";

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
  /** A decrypted remote frame. */
  frame: { ownerId: string; kind: "audio" | "video"; source: "microphone" | "camera" | "screen"; frame: Uint8Array; epoch: bigint; keyframe: boolean };
  /** The relay asked for a key frame of our video (external media: ask the far side). */
  keyframeRequest: Record<string, never>;
  error: { code: string; message: string; fatal: boolean };
  closed: { code: number; reason: string };
}

type RemoteSource = "microphone" | "camera" | "screen";

/** How long a frame for the next epoch waits for our commit to be processed. */
const FUTURE_EPOCH_HOLD_MS = 1000;
const MAX_HELD_FRAMES = 200;

export class NodeParticipant extends TypedEmitter<NodeParticipantEvents> {
  readonly session: MeetingSession;
  readonly #opts: NodeParticipantOptions;
  readonly #link: MeetingLink;
  #transport: NodeMediaTransport | null = null;
  #media: SyntheticMedia | null = null;
  #tracks: { audio?: LocalTrack; video?: LocalTrack } = {};
  #mediaStarted = false;
  /** The media start in progress: a transport is closed only once its offer is made. */
  #starting: Promise<void> | null = null;
  #held: { codec: MediaCodec; data: Uint8Array; ownerId: string; kind: "audio" | "video"; source: RemoteSource; at: number }[] = [];
  #closed = false;
  readonly #stats = { framesSent: 0, framesDecrypted: 0, decryptFailures: 0, framesSkipped: 0 };
  readonly #perSender = new Map<string, number>();
  readonly #bySender = new Map<string, { audio: number; video: number }>();

  constructor(opts: NodeParticipantOptions) {
    super();
    this.#opts = opts;
    this.#link = typeof opts.link === "string" ? parseMeetingLink(opts.link) : opts.link;
    const passcode = opts.passcode ?? this.#link.passcode;
    this.session = new MeetingSession({
      meetingId: this.#link.meetingId,
      displayName: opts.displayName,
      sframeCrypto: createNodeSFrameCrypto(),
      ...(opts.kind ? { kind: opts.kind } : {}),
      ...(opts.connectorTicket ? { connectorTicket: opts.connectorTicket } : {}),
      ...(passcode ? { passcode } : {}),
      ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
      ...(opts.media === false ? { media: false } : {}),
    });
    this.session.on("joined", (j) => this.emit("joined", { memberId: j.memberId }));
    this.session.on("waiting", (w) => this.emit("waiting", w));
    this.session.on("epoch", (e) => this.#onEpoch(e));
    // Out of the group: the server closed our media peer. A new one comes with the next epoch.
    this.session.on("groupLost", () => this.#stopMedia());
    this.session.on("error", (e) => this.emit("error", e));
    this.session.on("closed", (c) => {
      this.#teardown();
      this.emit("closed", c);
    });
    this.session.on("publishAnswer", ({ sdp }) => void this.#transport?.applyPublishAnswer(sdp).catch((e: unknown) => this.#fail("MEDIA_FAILED", e)));
    this.session.on("subscribeOffer", ({ sdp, tracks }) => void this.#answerSubscribe(sdp, tracks));
    this.session.on("ice", ({ pc, candidate, mid }) => void this.#transport?.addRemoteCandidate(pc, candidate, mid).catch(() => {}));
  }

  get memberId(): string {
    return this.session.memberId;
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
    const track = kind === "audio" ? this.#tracks.audio : this.#tracks.video;
    return this.#send(kind === "audio" ? "opus" : "vp8", track, frame, rtpTimestamp, kind === "video" ? keyframe : false);
  }

  /** Asks the relay for a key frame of a member's camera (e.g. on an active-speaker switch). */
  requestKeyframe(memberId: string): void {
    const transport = this.#transport;
    if (!transport) return;
    for (const [publicationId, remote] of transport.remoteTracks) {
      if (remote.info.ownerId === memberId && remote.info.kind === "video" && remote.info.source === "camera") transport.requestKeyframe(publicationId);
    }
  }

  /** Connects and sends the join request; resolves once the request is on its way. */
  async join(): Promise<void> {
    const suite = this.#opts.suite ?? (await this.#meetingSuite());
    const channel = await connectNodeSignaling(this.#link.signalingUrl, this.#opts);
    await this.session.join(channel, { suite });
  }

  async #meetingSuite(): Promise<MlsSuiteName> {
    const info = await fetchMeetingInfo(this.#link.signalingUrl, this.#link.meetingId, this.#opts);
    return info.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default;
  }

  /** Leaves the meeting and releases every resource. */
  leave(): void {
    this.session.leave();
    this.#teardown();
  }

  #onEpoch(e: EpochEvent): void {
    if (!this.#mediaStarted && this.#opts.media !== false) {
      this.#mediaStarted = true;
      const starting = this.#startMedia()
        .catch((err: unknown) => this.#fail("MEDIA_FAILED", err))
        .finally(() => {
          if (this.#starting === starting) this.#starting = null;
        });
      this.#starting = starting;
    }
    this.emit("epoch", e);
    // Frames that arrived for this epoch before we processed its commit can be read now.
    const held = this.#held;
    this.#held = [];
    for (const h of held) void this.#receive(h.codec, h.data, h.ownerId, h.kind, h.source, h.at);
  }

  /** Stops sending and receiving until the next epoch (after a rejoin) starts media again. */
  #stopMedia(): void {
    this.#mediaStarted = false;
    this.#media?.stop();
    this.#media = null;
    this.#tracks = {};
    this.#closeTransport();
    this.#held = [];
  }

  /**
   * Closes the current transport, after its publish offer if one is being made: closing a WebRTC
   * connection in the middle of ICE gathering can leave its sockets behind.
   */
  #closeTransport(): void {
    const transport = this.#transport;
    this.#transport = null;
    if (!transport) return;
    if (this.#starting) void this.#starting.then(() => transport.close());
    else void transport.close();
  }

  async #startMedia(): Promise<void> {
    if (this.#closed || this.#transport) return;
    const transport = new NodeMediaTransport({ ...(this.#opts.iceAddress ? { iceAddress: this.#opts.iceAddress } : {}) });
    this.#transport = transport;
    transport.on("localCandidate", (c) => {
      if (!this.#closed) this.session.sendMedia({ type: "ice", pc: c.pc, candidate: c.candidate, mid: c.mid });
    });
    transport.on("frame", (f) => void this.#receive(f.kind === "audio" ? "opus" : "vp8", f.frame, f.ownerId, f.kind, f.source, Date.now()));
    transport.on("keyframeRequest", () => {
      this.#media?.requestKeyframe();
      if (this.#opts.externalMedia) this.emit("keyframeRequest", {});
    });
    const external = this.#opts.externalMedia;
    if (external) {
      this.#tracks = {
        ...(external.audio ? { audio: transport.publish("audio", "microphone") } : {}),
        ...(external.video ? { video: transport.publish("video", "camera") } : {}),
      };
    } else if (this.#opts.sendMedia !== false) {
      this.#tracks = { audio: transport.publish("audio", "microphone"), video: transport.publish("video", "camera") };
    }
    // Nothing to publish (receive only): the relay still offers the subscribe connection.
    if (!this.#tracks.audio && !this.#tracks.video) return;
    const offer = await transport.createPublishOffer();
    if (this.#closed || this.#transport !== transport) return; // stopped meanwhile (group lost)
    this.session.sendMedia({
      type: "publishOffer",
      sdp: offer,
      tracks: transport.publishTracks.map((t) => ({ mid: t.mid, kind: t.kind, source: t.source })),
    });
    if (this.#opts.sendMedia !== false && !external) {
      this.#media = SyntheticMedia.load();
      this.#media.start({
        audio: (f) => void this.#send("opus", this.#tracks.audio, f.data, f.rtpTimestamp, false),
        video: (f) => void this.#send("vp8", this.#tracks.video, f.data, f.rtpTimestamp, f.keyframe),
      });
    }
  }

  async #send(codec: MediaCodec, track: LocalTrack | undefined, frame: Uint8Array, rtpTimestamp: number, keyframe: boolean): Promise<boolean> {
    if (!track || this.#closed || this.session.epoch === null) return false;
    try {
      const protectedFrame = await this.session.protect(codec, frame);
      // false until the publish connection is up: those frames never left, so they are not counted.
      if (this.#closed || track.closed) return false;
      if (track.sendFrame(protectedFrame, { rtpTimestamp, keyframe })) {
        this.#stats.framesSent += 1;
        return true;
      }
      return false;
    } catch (e) {
      if (!this.#closed) this.#fail("SEND_FAILED", e, false);
      return false;
    }
  }

  async #receive(codec: MediaCodec, data: Uint8Array, ownerId: string, kind: "audio" | "video", source: RemoteSource, at: number): Promise<void> {
    if (this.#closed) return;
    try {
      const out = await this.session.unprotect(codec, data);
      this.#stats.framesDecrypted += 1;
      const sender = this.session.memberAtLeaf(out.senderIndex)?.memberId ?? ownerId;
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
      const rel = this.session.keys.frameEpoch(codec, data);
      if (rel === "next" && Date.now() - at < FUTURE_EPOCH_HOLD_MS && this.#held.length < MAX_HELD_FRAMES) {
        this.#held.push({ codec, data, ownerId, kind, source, at });
      } else if (rel === "beforeFirst") {
        this.#stats.framesSkipped += 1;
      } else {
        this.#stats.decryptFailures += 1;
      }
    }
  }

  async #answerSubscribe(sdp: string, tracks: TrackInfo[]): Promise<void> {
    const transport = this.#transport;
    if (!transport) return;
    try {
      const answer = await transport.handleSubscribeOffer(sdp, tracks);
      if (!this.#closed) this.session.sendMedia({ type: "subscribeAnswer", sdp: answer });
    } catch (e) {
      this.#fail("MEDIA_FAILED", e);
    }
  }

  #fail(code: ClientErrorCode, e: unknown, fatal = false): void {
    this.emit("error", { code, message: e instanceof Error ? e.message : String(e), fatal });
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#media?.stop();
    this.#media = null;
    this.#closeTransport();
    this.#held = [];
  }
}
