// The Node participant's media transport: a PUBLISH connection it offers (its own tracks) and a
// SUBSCRIBE connection the relay offers (everyone else's tracks), both on werift. The mirror image
// of the relay's RelayPeer; signaling (carrying descriptions and candidates) is the caller's.

import { EventEmitter } from "node:events";
import { type MediaStreamTrack, RTCPeerConnection, type RTCRtpTransceiver, type RtpPacket } from "werift";
import { weriftCodecs } from "./codecs.js";
import { MediaError } from "./errors.js";
import { LocalTrack, type LocalTrackHost, type MediaKind, type MediaSource } from "./local-track.js";
import { type ReceivedFrame, RemoteTrack, type SubscribeTrackInfo } from "./remote-track.js";

export type PcName = "publish" | "subscribe";

export interface NodeMediaTransportOptions {
  /** STUN/TURN servers (default none). */
  readonly iceServers?: readonly { urls: string; username?: string; credential?: string }[];
  /**
   * Address offered as an extra host candidate (default "127.0.0.1", for a relay on this host;
   * deployments set the address the relay can reach this participant on).
   */
  readonly iceAddress?: string;
  readonly icePortRange?: readonly [number, number];
  /** Gather IPv6 candidates (default false). */
  readonly iceUseIpv6?: boolean;
  /** Largest VP8 RTP payload, descriptor included (default 1100 bytes). */
  readonly maxVideoPayloadSize?: number;
  /** Minimum gap between keyframe requests this transport sends for one remote track (default 500 ms). */
  readonly keyframeRequestIntervalMs?: number;
}

export interface PublishTrackInfo {
  readonly mid: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
}

export interface LocalCandidate {
  readonly pc: PcName;
  readonly candidate: string;
  readonly mid: string;
}

export type NodeMediaTransportEvents = {
  localCandidate: [LocalCandidate];
  /** A whole frame of a remote track, byte-identical to what its sender passed to sendFrame. */
  frame: [ReceivedFrame];
  remoteTrack: [SubscribeTrackInfo];
  remoteTrackEnded: [SubscribeTrackInfo];
  /** Incomplete frames of a remote video track were given up (a keyframe request follows). */
  frameLoss: [{ readonly publicationId: string; readonly frames: number }];
  /** The relay asked for a keyframe on one of our video tracks. */
  keyframeRequest: [LocalTrack];
  connectionState: [{ readonly pc: PcName; readonly state: string }];
  close: [];
};

const KINDS: ReadonlySet<string> = new Set(["audio", "video"]);
const SOURCES: ReadonlySet<string> = new Set(["microphone", "camera", "screen"]);

/** Per werift connection: candidates are held until the description they belong to is out. */
interface Side {
  pc: RTCPeerConnection;
  held: LocalCandidate[] | undefined;
  delivered: string;
}

export class NodeMediaTransport extends EventEmitter<NodeMediaTransportEvents> {
  private readonly options: NodeMediaTransportOptions;
  private readonly maxVideoPayloadSize: number;
  private readonly keyframeIntervalMs: number;
  private publishSide: Side | undefined;
  private subscribeSide: Side | undefined;
  private readonly locals = new Map<string, LocalTrack>();
  private readonly remotes = new Map<string, RemoteTrack>();
  private readonly lastKeyframeRequest = new Map<string, number>();
  private publishState: "stable" | "offering" | "have-local-offer" = "stable";
  private publishInfo: readonly PublishTrackInfo[] = [];
  private subscribeBusy = false;
  private trackCounter = 0;
  private readonly releaseTimers = new Set<NodeJS.Immediate>();
  private closing: Promise<void> | undefined;

  constructor(options: NodeMediaTransportOptions = {}) {
    super();
    this.options = options;
    this.maxVideoPayloadSize = options.maxVideoPayloadSize ?? 1100;
    if (!Number.isInteger(this.maxVideoPayloadSize) || this.maxVideoPayloadSize < 64 || this.maxVideoPayloadSize > 1400) {
      throw new MediaError("MEDIA_BAD_ARGUMENT", "maxVideoPayloadSize must be an integer in 64..1400");
    }
    this.keyframeIntervalMs = options.keyframeRequestIntervalMs ?? 500;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Local tracks by id (closed ones are removed). */
  get localTracks(): ReadonlyMap<string, LocalTrack> {
    return this.locals;
  }

  /** Remote tracks by publication id, as of the latest subscribe offer. */
  get remoteTracks(): ReadonlyMap<string, RemoteTrack> {
    const out = new Map<string, RemoteTrack>();
    for (const r of this.remotes.values()) out.set(r.info.publicationId, r);
    return out;
  }

  /**
   * The m-sections of the latest publish offer with their kind and source: what the relay needs
   * (RelayPeer.handlePublishOffer's `tracks`) to tell a screen share from a camera.
   */
  get publishTracks(): readonly PublishTrackInfo[] {
    return this.publishInfo;
  }

  /** werift connection states, for monitoring. */
  get connectionStates(): Readonly<Record<PcName, string>> {
    return {
      publish: this.publishSide?.pc.connectionState ?? "new",
      subscribe: this.subscribeSide?.pc.connectionState ?? "new",
    };
  }

  /**
   * Adds a track to publish. It goes on the wire after the next createPublishOffer /
   * applyPublishAnswer round.
   */
  publish(kind: MediaKind, source: MediaSource): LocalTrack {
    this.assertOpen();
    if (!KINDS.has(kind)) throw new MediaError("MEDIA_BAD_ARGUMENT", 'kind must be "audio" or "video"');
    if (!SOURCES.has(source)) throw new MediaError("MEDIA_BAD_ARGUMENT", "source must be microphone, camera or screen");
    if ((source === "microphone" && kind !== "audio") || (source === "camera" && kind !== "video")) {
      throw new MediaError("MEDIA_BAD_ARGUMENT", `a ${source} track cannot be ${kind}`);
    }
    const host: LocalTrackHost = {
      maxVideoPayloadSize: this.maxVideoPayloadSize,
      publishConnected: () => this.publishSide?.pc.connectionState === "connected",
      trackClosed: (t) => {
        if (this.locals.get(t.id) === t) this.locals.delete(t.id);
      },
    };
    const track = new LocalTrack(`local-${++this.trackCounter}`, kind, source, host);
    track.on("keyframeRequest", () => this.emit("keyframeRequest", track));
    this.locals.set(track.id, track);
    return track;
  }

  /**
   * Creates the publish offer (first time, and again after publish() or LocalTrack.close()).
   * The sources of its m-sections are in `publishTracks`.
   */
  async createPublishOffer(): Promise<string> {
    this.assertOpen();
    if (this.publishState !== "stable") {
      throw new MediaError("MEDIA_NEGOTIATION_STATE", "a publish offer is already outstanding");
    }
    const side = this.publishSide;
    if (!side && this.locals.size === 0) {
      throw new MediaError("MEDIA_NEGOTIATION_STATE", "publish a track before creating a publish offer");
    }
    this.publishState = "offering";
    try {
      const s = side ?? (this.publishSide = this.createSide("publish"));
      for (const t of this.locals.values()) {
        if (!t.boundTransceiver) t.bind(s.pc.addTransceiver(t.kind, { direction: "sendonly" }));
      }
      s.held = [];
      await s.pc.setLocalDescription(await s.pc.createOffer());
      this.assertOpen();
      const sdp = s.pc.localDescription?.sdp;
      if (sdp === undefined) throw new MediaError("MEDIA_NEGOTIATION_STATE", "werift produced no offer");
      const tracks: PublishTrackInfo[] = [];
      for (const t of this.locals.values()) {
        if (t.mid !== undefined) tracks.push({ mid: t.mid, kind: t.kind, source: t.source });
      }
      this.release(s, sdp);
      this.publishState = "have-local-offer";
      this.publishInfo = tracks;
      return sdp;
    } catch (err) {
      if (this.publishState === "offering") this.publishState = "stable";
      throw err;
    }
  }

  async applyPublishAnswer(sdp: string): Promise<void> {
    this.assertOpen();
    const side = this.publishSide;
    if (!side || this.publishState !== "have-local-offer") {
      throw new MediaError("MEDIA_NEGOTIATION_STATE", "no publish offer is awaiting an answer");
    }
    checkSdp(sdp);
    try {
      await side.pc.setRemoteDescription({ type: "answer", sdp });
    } catch (err) {
      throw new MediaError("MEDIA_BAD_SDP", `werift: ${errorMessage(err)}`);
    }
    this.publishState = "stable";
  }

  /**
   * Applies a subscribe offer from the relay and returns the answer. `tracks` maps m-sections to
   * publications; remote tracks missing from it have ended ("remoteTrackEnded").
   */
  async handleSubscribeOffer(sdp: string, tracks: readonly SubscribeTrackInfo[]): Promise<string> {
    this.assertOpen();
    if (this.subscribeBusy) throw new MediaError("MEDIA_NEGOTIATION_STATE", "a subscribe offer is already being handled");
    const mids = checkSdp(sdp);
    const next = validateTrackList(tracks, mids);
    this.subscribeBusy = true;
    try {
      const side = this.subscribeSide ?? (this.subscribeSide = this.createSide("subscribe"));
      for (const [mid, remote] of this.remotes) {
        const info = next.get(mid);
        if (!info || info.publicationId !== remote.info.publicationId) {
          this.remotes.delete(mid);
          this.lastKeyframeRequest.delete(remote.info.publicationId);
          this.emit("remoteTrackEnded", remote.info);
        }
      }
      for (const [mid, info] of next) {
        if (!this.remotes.has(mid)) {
          this.remotes.set(mid, new RemoteTrack(info));
          this.emit("remoteTrack", info);
        }
      }
      side.held = [];
      try {
        await side.pc.setRemoteDescription({ type: "offer", sdp });
      } catch (err) {
        throw new MediaError("MEDIA_BAD_SDP", `werift: ${errorMessage(err)}`);
      }
      await side.pc.setLocalDescription(await side.pc.createAnswer());
      this.assertOpen();
      const answer = side.pc.localDescription?.sdp;
      if (answer === undefined) throw new MediaError("MEDIA_NEGOTIATION_STATE", "werift produced no answer");
      this.release(side, answer);
      return answer;
    } finally {
      this.subscribeBusy = false;
    }
  }

  /** Adds a relay ICE candidate ("candidate:..." or "a=candidate:..."; "" = end of candidates). */
  async addRemoteCandidate(pc: PcName, candidate: string, mid?: string): Promise<void> {
    this.assertOpen();
    if (pc !== "publish" && pc !== "subscribe") throw new MediaError("MEDIA_BAD_ARGUMENT", 'pc must be "publish" or "subscribe"');
    if (typeof candidate !== "string") throw new MediaError("MEDIA_BAD_ARGUMENT", "candidate must be a string");
    const c = candidate.startsWith("a=") ? candidate.slice(2) : candidate;
    if (c === "") return;
    // werift keeps candidates that arrive before the remote description and applies them later.
    const side = pc === "publish" ? (this.publishSide ??= this.createSide("publish")) : (this.subscribeSide ??= this.createSide("subscribe"));
    try {
      await side.pc.addIceCandidate({ candidate: c, sdpMid: mid ?? null });
    } catch (err) {
      throw new MediaError("MEDIA_BAD_ARGUMENT", `candidate rejected: ${errorMessage(err)}`);
    }
  }

  /** Asks the relay for a keyframe of a remote video track (RTCP PLI), rate-limited. */
  requestKeyframe(publicationId: string): void {
    if (this.closed) return;
    const remote = [...this.remotes.values()].find((r) => r.info.publicationId === publicationId);
    if (!remote || remote.info.kind !== "video" || remote.ssrc === undefined) return;
    const now = performance.now();
    if (now - (this.lastKeyframeRequest.get(publicationId) ?? -Infinity) < this.keyframeIntervalMs) return;
    this.lastKeyframeRequest.set(publicationId, now);
    const transceiver = this.subscribeSide?.pc.getTransceivers().find((t) => t.mid === remote.info.mid);
    transceiver?.receiver.sendRtcpPLI(remote.ssrc).catch(() => undefined);
  }

  private createSide(name: PcName): Side {
    const o = this.options;
    const pc = new RTCPeerConnection({
      iceServers: (o.iceServers ?? []).map((s) => ({ ...s })),
      iceAdditionalHostAddresses: [o.iceAddress ?? "127.0.0.1"],
      ...(o.icePortRange ? { icePortRange: [o.icePortRange[0], o.icePortRange[1]] as [number, number] } : {}),
      iceUseIpv6: o.iceUseIpv6 ?? false,
      bundlePolicy: "max-bundle",
      codecs: weriftCodecs(),
      // No header extensions: the relay forwards none, and transport-cc has no one to answer it.
      headerExtensions: { audio: [], video: [] },
    });
    const side: Side = { pc, held: [], delivered: "" };
    pc.onIceCandidate.subscribe((c) => {
      if (!c || this.closed || !c.candidate) return;
      const cand: LocalCandidate = { pc: name, candidate: c.candidate, mid: c.sdpMid ?? "0" };
      if (side.held) side.held.push(cand);
      else if (!side.delivered.includes(cand.candidate)) this.emit("localCandidate", cand);
    });
    pc.connectionStateChange.subscribe((state) => {
      if (!this.closed) this.emit("connectionState", { pc: name, state });
    });
    if (name === "subscribe") {
      pc.onTrack.subscribe((track) => this.wireRemoteTrack(pc, track));
    }
    return side;
  }

  private wireRemoteTrack(pc: RTCPeerConnection, track: MediaStreamTrack): void {
    const transceiver: RTCRtpTransceiver | undefined = pc
      .getTransceivers()
      .find((t) => t.receiver.tracks.includes(track) || t.receiver.track === track);
    const mid = transceiver?.mid;
    if (!mid) return;
    track.onReceiveRtp.subscribe((rtp: RtpPacket) => {
      const remote = this.remotes.get(mid);
      if (!remote || this.closed) return;
      const h = rtp.header;
      const { frames, lost } = remote.receive({
        payloadType: h.payloadType,
        sequenceNumber: h.sequenceNumber,
        timestamp: h.timestamp,
        marker: h.marker,
        ssrc: h.ssrc,
        payload: rtp.payload,
      });
      if (lost > 0) this.emit("frameLoss", { publicationId: remote.info.publicationId, frames: lost });
      // Like a browser's receiver: while a video track has had no keyframe since it started or
      // lost frames, keep asking (rate-limited). A publisher may ignore a request that comes soon
      // after another one (Chromium: within 300 ms), so one request is not enough.
      if (remote.needsKeyframe && (lost > 0 || frames.length > 0)) this.requestKeyframe(remote.info.publicationId);
      for (const f of frames) this.emit("frame", f);
    });
  }

  /** Emits the held candidates not already in `sdp`, after the caller has the description. */
  private release(side: Side, sdp: string): void {
    side.delivered = sdp;
    const timer = setImmediate(() => {
      this.releaseTimers.delete(timer);
      const held = side.held ?? [];
      side.held = undefined;
      if (this.closed) return;
      for (const c of held) if (!sdp.includes(c.candidate)) this.emit("localCandidate", c);
    });
    this.releaseTimers.add(timer);
  }

  private assertOpen(): void {
    if (this.closing) throw new MediaError("MEDIA_CLOSED", "media transport");
  }

  /** Closes every local track and both connections. Idempotent; resolves when werift is done. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    for (const t of [...this.locals.values()]) t.close();
    this.closing = (async () => {
      for (const timer of this.releaseTimers) clearImmediate(timer);
      this.releaseTimers.clear();
      this.remotes.clear();
      await Promise.allSettled([this.publishSide?.pc.close(), this.subscribeSide?.pc.close()]);
      try {
        this.emit("close");
      } finally {
        this.removeAllListeners();
      }
    })();
    return this.closing;
  }
}

/** Light structural check of a description; returns the mids of its non-rejected m-sections. */
function checkSdp(sdp: string): Set<string> {
  if (typeof sdp !== "string" || !sdp.startsWith("v=0")) throw new MediaError("MEDIA_BAD_SDP", "must start with v=0");
  const mids = new Set<string>();
  let rejected = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("m=")) rejected = /^m=\S+ 0 /.test(line);
    else if (line.startsWith("a=mid:") && !rejected) mids.add(line.slice(6));
  }
  return mids;
}

function validateTrackList(tracks: readonly SubscribeTrackInfo[], mids: ReadonlySet<string>): Map<string, SubscribeTrackInfo> {
  if (!Array.isArray(tracks)) throw new MediaError("MEDIA_BAD_ARGUMENT", "tracks must be an array");
  const out = new Map<string, SubscribeTrackInfo>();
  for (const t of tracks) {
    if (
      typeof t !== "object" ||
      t === null ||
      typeof t.mid !== "string" ||
      typeof t.publicationId !== "string" ||
      typeof t.ownerId !== "string" ||
      !KINDS.has(t.kind) ||
      !SOURCES.has(t.source)
    ) {
      throw new MediaError("MEDIA_BAD_ARGUMENT", "each track needs mid, publicationId, ownerId, kind and source");
    }
    if (!mids.has(t.mid)) throw new MediaError("MEDIA_BAD_SDP", `track mid ${JSON.stringify(t.mid)} is not an active m-section of the offer`);
    if (out.has(t.mid)) throw new MediaError("MEDIA_BAD_ARGUMENT", `mid ${JSON.stringify(t.mid)} listed twice`);
    out.set(t.mid, { mid: t.mid, publicationId: t.publicationId, ownerId: t.ownerId, kind: t.kind, source: t.source });
  }
  return out;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
