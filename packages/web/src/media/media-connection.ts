/**
 * The browser's two WebRTC connections to the relay (docs/architecture.md, "Media"):
 *
 * - PUBLISH: we offer send-only transceivers (audio "microphone", video "camera", and a video
 *   "screen" while sharing), VP8/Opus only (all the relay forwards), each sender behind the
 *   encrypt transform. Adding or removing the screen share renegotiates.
 * - SUBSCRIBE: the relay offers one send-only m-section per remote publication and renegotiates
 *   as they come and go; we answer, with every receiver behind the decrypt transform.
 *
 * Signaling goes through the MeetingSession (publishOffer / subscribeAnswer / ice). Trickled
 * candidates that arrive before their description are held.
 */
import type { MeetingSession } from "@conclave/client";
import type { TrackInfo } from "@conclave/protocol";
import { E2eeWorkerClient } from "../e2ee/e2ee-worker-client.js";
import type { EncodedTransformMode } from "../e2ee/capabilities.js";

/** How long a media connection may take to connect before it counts as failed. */
const CONNECT_TIMEOUT_MS = 15_000;

export type Source = "microphone" | "camera" | "screen";

export interface RemoteTrack {
  mid: string;
  ownerId: string;
  kind: "audio" | "video";
  source: Source;
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
}

export interface MediaConnectionEvents {
  /** The set of live remote tracks changed. */
  remoteTracks(tracks: RemoteTrack[]): void;
  /** A connection failed for good (ICE failed). */
  failed(which: "publish" | "subscribe"): void;
}

type PcName = "publish" | "subscribe";

const PUBLISH_ANSWER_TIMEOUT_MS = 20_000;

interface Side {
  pc: RTCPeerConnection;
  pendingCandidates: RTCIceCandidateInit[];
}

export class MediaConnection {
  readonly e2ee: E2eeWorkerClient;
  readonly #session: MeetingSession;
  readonly #mode: EncodedTransformMode;
  readonly #events: MediaConnectionEvents;
  #publish: Side | null = null;
  #subscribe: Side | null = null;
  readonly #transceivers = new Map<Source, RTCRtpTransceiver>();
  /** Serialises publish negotiations (an offer waits for the previous answer). */
  #publishQueue: Promise<void> = Promise.resolve();
  #awaitingAnswer: ((sdp: string) => void) | null = null;
  #subscribeQueue: Promise<void> = Promise.resolve();
  /** mid -> what the relay said it carries, from the latest subscribe offer. */
  #offeredTracks = new Map<string, TrackInfo>();
  #remote = new Map<string, RemoteTrack>();
  #closed = false;

  constructor(session: MeetingSession, mode: EncodedTransformMode, events: MediaConnectionEvents) {
    this.#session = session;
    this.#mode = mode;
    this.#events = events;
    this.e2ee = new E2eeWorkerClient(mode);
  }

  get remoteTracks(): RemoteTrack[] {
    return [...this.#remote.values()];
  }

  get subscribePeerConnection(): RTCPeerConnection | null {
    return this.#subscribe?.pc ?? null;
  }

  get publishPeerConnection(): RTCPeerConnection | null {
    return this.#publish?.pc ?? null;
  }

  /**
   * Starts publishing the microphone and camera this device has (someone who joined without
   * them publishes nothing and still receives everyone else).
   */
  startPublishing(tracks: { microphone: MediaStreamTrack | null; camera: MediaStreamTrack | null }, stream: MediaStream): Promise<void> {
    if (!tracks.microphone && !tracks.camera) return Promise.resolve();
    return this.#negotiatePublish(() => {
      const side = this.#ensurePublish();
      // A device that opened late may have been added already (addSource): never twice.
      if (tracks.microphone && !this.#transceivers.has("microphone")) this.#addTransceiver(side.pc, "microphone", "audio", tracks.microphone, stream);
      if (tracks.camera && !this.#transceivers.has("camera")) this.#addTransceiver(side.pc, "camera", "video", tracks.camera, stream);
    });
  }

  /** Whether a source is being published (it has a sender). */
  hasSender(source: Source): boolean {
    return this.#transceivers.has(source);
  }

  /** Starts publishing a source this device did not have when it joined (renegotiates). */
  addSource(source: "microphone" | "camera", track: MediaStreamTrack, stream: MediaStream): Promise<void> {
    if (this.#transceivers.has(source)) return Promise.resolve();
    return this.#negotiatePublish(() => {
      if (this.#transceivers.has(source)) return;
      this.#addTransceiver(this.#ensurePublish().pc, source, source === "microphone" ? "audio" : "video", track, stream);
    });
  }

  /** Replaces what a published source sends (e.g. another camera), without renegotiating. */
  async replaceTrack(source: Source, track: MediaStreamTrack | null): Promise<void> {
    const t = this.#transceivers.get(source);
    if (t) await t.sender.replaceTrack(track);
  }

  /** Starts sending a screen share (renegotiates). */
  startScreenShare(track: MediaStreamTrack, stream: MediaStream): Promise<void> {
    return this.#negotiatePublish(() => {
      const side = this.#ensurePublish();
      const existing = this.#transceivers.get("screen");
      if (existing) {
        void existing.sender.replaceTrack(track);
        existing.direction = "sendonly";
      } else {
        this.#addTransceiver(side.pc, "screen", "video", track, stream);
      }
    });
  }

  /** Stops the screen share: the m-section goes inactive, so the relay ends that publication. */
  stopScreenShare(): Promise<void> {
    return this.#negotiatePublish(() => {
      const t = this.#transceivers.get("screen");
      if (!t) return;
      void t.sender.replaceTrack(null);
      t.direction = "inactive";
    });
  }

  /** The relay's answer to our latest publish offer. */
  handlePublishAnswer(sdp: string): void {
    const waiting = this.#awaitingAnswer;
    this.#awaitingAnswer = null;
    waiting?.(sdp);
  }

  /** A (re)offer from the relay for the subscribe connection. */
  handleSubscribeOffer(sdp: string, tracks: TrackInfo[]): Promise<void> {
    const run = this.#subscribeQueue.then(async () => {
      if (this.#closed) return;
      const side = this.#ensureSubscribe();
      this.#offeredTracks = new Map(tracks.map((t) => [t.mid, t]));
      await side.pc.setRemoteDescription({ type: "offer", sdp });
      await this.#flushCandidates(side);
      const answer = await side.pc.createAnswer();
      await side.pc.setLocalDescription(answer);
      if (this.#closed) return;
      this.#session.sendMedia({ type: "subscribeAnswer", sdp: side.pc.localDescription?.sdp ?? answer.sdp ?? "" });
      this.#syncRemoteTracks(side.pc);
    });
    this.#subscribeQueue = run.catch(() => {});
    return run;
  }

  /** A trickled candidate from the relay. */
  async addRemoteCandidate(pc: PcName, candidate: string, mid: string): Promise<void> {
    const side = pc === "publish" ? this.#publish : this.#subscribe;
    const init: RTCIceCandidateInit = { candidate, sdpMid: mid };
    if (!side || !side.pc.remoteDescription) {
      // Held until the description it belongs to is applied.
      (side ?? (pc === "subscribe" ? this.#ensureSubscribe() : null))?.pendingCandidates.push(init);
      return;
    }
    await side.pc.addIceCandidate(init).catch(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#awaitingAnswer = null;
    this.#publish?.pc.close();
    this.#subscribe?.pc.close();
    this.#publish = null;
    this.#subscribe = null;
    this.#remote.clear();
    this.e2ee.close();
  }

  #addTransceiver(pc: RTCPeerConnection, source: Source, kind: "audio" | "video", track: MediaStreamTrack | null, stream: MediaStream): void {
    const t = pc.addTransceiver(track ?? kind, { direction: "sendonly", streams: [stream] });
    preferRelayCodec(t, kind);
    this.e2ee.attachSender(t.sender, kind);
    this.#transceivers.set(source, t);
  }

  #negotiatePublish(change: () => void): Promise<void> {
    const run = this.#publishQueue.then(async () => {
      if (this.#closed) return;
      change();
      const side = this.#ensurePublish();
      const offer = await side.pc.createOffer();
      await side.pc.setLocalDescription(offer);
      if (this.#closed) return;
      const tracks: { mid: string; kind: "audio" | "video"; source: Source }[] = [];
      for (const [source, t] of this.#transceivers) {
        if (t.mid !== null) tracks.push({ mid: t.mid, kind: source === "microphone" ? "audio" : "video", source });
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answer = new Promise<string>((resolve, reject) => {
        this.#awaitingAnswer = resolve;
        // The relay refuses an offer with an error message, not an answer: do not wait forever.
        timer = setTimeout(() => reject(new Error("the relay did not answer the publish offer")), PUBLISH_ANSWER_TIMEOUT_MS);
      });
      this.#session.sendMedia({ type: "publishOffer", sdp: side.pc.localDescription?.sdp ?? offer.sdp ?? "", tracks });
      const sdp = await answer.finally(() => clearTimeout(timer));
      if (this.#closed) return;
      const inactive = new Set([...this.#transceivers.values()].filter((t) => t.direction === "inactive" && t.mid !== null).map((t) => t.mid as string));
      await side.pc.setRemoteDescription({ type: "answer", sdp: answerInactive(sdp, inactive) });
      await this.#flushCandidates(side);
    });
    this.#publishQueue = run.catch(() => {});
    return run;
  }

  #ensurePublish(): Side {
    if (this.#publish) return this.#publish;
    const side = this.#newSide("publish");
    this.#publish = side;
    return side;
  }

  #ensureSubscribe(): Side {
    if (this.#subscribe) return this.#subscribe;
    const side = this.#newSide("subscribe");
    // Every receiver gets its decrypt transform before any frame can reach the decoder.
    side.pc.ontrack = (event) => {
      const kind = event.track.kind === "audio" ? "audio" : "video";
      this.e2ee.attachReceiver(event.receiver, kind);
    };
    this.#subscribe = side;
    return side;
  }

  #newSide(name: PcName): Side {
    // TURN servers the server handed us on admission (short-lived credentials), if it has any.
    const iceServers = this.#session.iceServers.map((s) => ({ urls: [...s.urls], username: s.username, credential: s.credential }));
    const pc = new RTCPeerConnection({ ...E2eeWorkerClient.peerConnectionConfig(this.#mode), iceServers });
    const side: Side = { pc, pendingCandidates: [] };
    pc.onicecandidate = (event) => {
      const c = event.candidate;
      if (!c || !c.candidate || this.#closed) return;
      this.#session.sendMedia({ type: "ice", pc: name, candidate: c.candidate, mid: c.sdpMid ?? "" });
    };
    // A publish connection (it always carries our tracks) that never gets up — e.g. a DTLS
    // handshake that stalls — is as broken as one that failed: after CONNECT_TIMEOUT_MS the meeting
    // restarts its connection instead of sitting silent. (A subscribe connection may legitimately
    // carry nothing yet, so it is left to its own "failed" state.)
    const watchdog = name !== "publish" ? undefined : setTimeout(() => {
      if (!this.#closed && pc.connectionState !== "connected" && pc.connectionState !== "closed") this.#events.failed(name);
    }, CONNECT_TIMEOUT_MS);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" || pc.connectionState === "closed") clearTimeout(watchdog);
      if (pc.connectionState === "failed" && !this.#closed) {
        clearTimeout(watchdog);
        this.#events.failed(name);
      }
    };
    return side;
  }

  async #flushCandidates(side: Side): Promise<void> {
    for (const c of side.pendingCandidates.splice(0)) await side.pc.addIceCandidate(c).catch(() => {});
  }

  #syncRemoteTracks(pc: RTCPeerConnection): void {
    const next = new Map<string, RemoteTrack>();
    for (const t of pc.getTransceivers()) {
      const mid = t.mid;
      if (mid === null) continue;
      const info = this.#offeredTracks.get(mid);
      if (!info || t.currentDirection === "stopped" || t.currentDirection === "inactive") continue;
      // Ensure a transform even if ontrack did not fire for this receiver (defence in depth).
      this.e2ee.attachReceiver(t.receiver, info.kind);
      next.set(mid, { mid, ownerId: info.ownerId, kind: info.kind, source: info.source, track: t.receiver.track, receiver: t.receiver });
    }
    this.#remote = next;
    this.#events.remoteTracks(this.remoteTracks);
  }
}

/** Restricts a transceiver to the codec the relay forwards (VP8 PT 96, Opus PT 111). */
function preferRelayCodec(t: RTCRtpTransceiver, kind: "audio" | "video"): void {
  const wanted = kind === "video" ? "video/vp8" : "audio/opus";
  // setCodecPreferences checks against the receiver's capabilities (WebRTC §5.4).
  const caps = RTCRtpReceiver.getCapabilities(kind) ?? RTCRtpSender.getCapabilities(kind);
  if (!caps || typeof t.setCodecPreferences !== "function") return;
  const codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() === wanted);
  if (codecs.length > 0) t.setCodecPreferences(codecs);
}

/**
 * The relay (libdatachannel) answers an inactive m-section with "recvonly", which browsers reject
 * as an incompatible direction (RFC 8829 §5.3.1: an answer to "inactive" must be "inactive"). The
 * relay does stop receiving on such an m-section, so the answer is aligned with what it does.
 */
export function answerInactive(sdp: string, mids: ReadonlySet<string>): string {
  if (mids.size === 0) return sdp;
  const lines = sdp.split("\r\n");
  let start = -1;
  const fix = (from: number, to: number): void => {
    if (from < 0) return;
    const mid = lines.slice(from, to).find((l) => l.startsWith("a=mid:"))?.slice(6);
    if (mid === undefined || !mids.has(mid)) return;
    for (let i = from; i < to; i++) if (/^a=(sendrecv|sendonly|recvonly)$/.test(lines[i]!)) lines[i] = "a=inactive";
  };
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith("m=")) {
      fix(start, i);
      start = i;
    }
  }
  fix(start, lines.length);
  return lines.join("\r\n");
}
