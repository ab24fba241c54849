// The SUBSCRIBE connection: the relay offers one send-only m-section per remote publication and
// renegotiates (a new offer) whenever subscriptions come or go; the participant answers.
//
// m-section lifecycle: a subscription gets a fresh mid and SSRC; when it ends its track is closed
// and the next offer carries that m-section with port 0 (RFC 8829 §5.2.2). libdatachannel does not
// recycle m-sections, so a long meeting's offer grows by one rejected m-section per ended
// subscription. A permanent inactive audio m-section ("r", first, so it is also the BUNDLE tag)
// keeps the offer valid when no subscription is left: libdatachannel rejects an answer whose
// m-sections are all removed.

import { Audio, type PeerConnection, RtcpNackResponder, type Track, Video } from "node-datachannel";
import { type ConnectionHooks, type ConnectionOptions, errorMessage, RelayConnection } from "./connection.js";
import { RelayError } from "./errors.js";
import type { MediaSource, Publication } from "./publication.js";
import { AUDIO_CODEC, parseSdp, type RelayMediaKind, VIDEO_CODEC } from "./sdp.js";
import { Subscription } from "./subscription.js";

/** One m-section of a subscribe offer, as the client needs it to route frames. */
export interface SubscribeTrackInfo {
  readonly mid: string;
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: RelayMediaKind;
  readonly source: MediaSource;
}

export interface SubscribeOffer {
  readonly sdp: string;
  /** The active m-sections of this offer; m-sections not listed carry nothing. */
  readonly tracks: readonly SubscribeTrackInfo[];
}

export interface SubscribeConnectionInit {
  readonly peerId: string;
  readonly options: ConnectionOptions;
  readonly hooks: ConnectionHooks;
  readonly offer: (offer: SubscribeOffer) => void;
  readonly failed: (err: Error) => void;
}

const PLACEHOLDER_MID = "r";

export class SubscribeConnection extends RelayConnection {
  private readonly init: SubscribeConnectionInit;
  /** Live subscriptions by publication id. */
  private readonly subs = new Map<string, Subscription>();
  /** Tracks of ended subscriptions, closed at the next offer. */
  private readonly endedTracks: Track[] = [];
  private readonly usedSsrcs = new Set<number>();
  private nextMid = 0;
  /** "offering": an offer is being made or awaits its answer. */
  private phase: "stable" | "offering" = "stable";
  private awaitingAnswer = false;
  private scheduled = false;

  constructor(init: SubscribeConnectionInit) {
    super("subscribe", `${init.peerId}/subscribe`, init.options, init.hooks);
    this.init = init;
  }

  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subs;
  }

  /** Starts forwarding `pub` to this peer; the m-section appears in the next offer. */
  subscribe(pub: Publication): Subscription {
    if (this.closed) throw new RelayError("RELAY_CLOSED", "subscribe connection");
    const existing = this.subs.get(pub.id);
    if (existing) return existing;
    const sub = new Subscription({
      publication: pub,
      subscriberId: this.init.peerId,
      mid: `s${this.nextMid++}`,
      ssrc: this.newSsrc(),
      payloadType: pub.kind === "video" ? VIDEO_CODEC.payloadType : AUDIO_CODEC.payloadType,
      onClose: (s) => this.onSubscriptionClosed(s),
    });
    this.subs.set(pub.id, sub);
    this.schedule();
    return sub;
  }

  private onSubscriptionClosed(sub: Subscription): void {
    if (this.subs.get(sub.publication.id) === sub) this.subs.delete(sub.publication.id);
    if (this.closed) return;
    if (sub.track) this.endedTracks.push(sub.track);
    this.schedule();
  }

  private newSsrc(): number {
    for (;;) {
      const ssrc = (Math.random() * 0xfffffffe + 1) >>> 0;
      if (!this.usedSsrcs.has(ssrc)) {
        this.usedSsrcs.add(ssrc);
        return ssrc;
      }
    }
  }

  /** Coalesces changes made in one turn of the event loop into one offer. */
  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.negotiate();
    });
  }

  private negotiate(): void {
    if (this.closed || this.phase !== "stable") return;
    const added = [...this.subs.values()].filter((s) => s.track === undefined);
    if (added.length === 0 && this.endedTracks.length === 0) return;
    if (!this.hasPeerConnection) {
      if (added.length === 0) {
        this.endedTracks.length = 0;
        return;
      }
      let pc: PeerConnection;
      try {
        pc = this.peerConnection();
      } catch (err) {
        // No port left in the range (RELAY_PORTS_EXHAUSTED): this runs in a microtask, so a throw
        // would be uncaught. The subscriptions stay pending; the next change retries.
        this.init.failed(err instanceof Error ? err : new Error(errorMessage(err)));
        return;
      }
      const placeholder = new Audio(PLACEHOLDER_MID, "Inactive");
      placeholder.addOpusCodec(AUDIO_CODEC.payloadType);
      this.adoptTrack(pc.addTrack(placeholder));
    }
    const pc = this.peerConnection();
    for (const track of this.endedTracks.splice(0)) this.closeTrack(track);
    for (const sub of added) {
      const pub = sub.publication;
      const media = pub.kind === "video" ? new Video(sub.mid, "SendOnly") : new Audio(sub.mid, "SendOnly");
      if (media instanceof Video) media.addVP8Codec(VIDEO_CODEC.payloadType);
      else media.addOpusCodec(AUDIO_CODEC.payloadType);
      // msid groups a publisher's tracks into one stream (browsers lip-sync within a stream).
      media.addSSRC(sub.ssrc, token(pub.ownerId), token(pub.ownerId), token(pub.id));
      const track = pc.addTrack(media);
      this.adoptTrack(track, () => sub.trackClosed());
      // Keeps recently sent packets and answers the subscriber's NACKs from them.
      if (pub.kind === "video") track.setMediaHandler(new RtcpNackResponder());
      sub.attach(track);
    }
    this.phase = "offering";
    this.localDescription((p) => p.setLocalDescription("offer")).then(
      (sdp) => {
        if (this.closed) return;
        this.awaitingAnswer = true;
        const tracks: SubscribeTrackInfo[] = [];
        for (const s of this.subs.values()) {
          if (s.track === undefined) continue; // added after this offer was made
          const p = s.publication;
          tracks.push({ mid: s.mid, publicationId: p.id, ownerId: p.ownerId, kind: p.kind, source: p.source });
        }
        // Candidates follow the answer, not the offer (see the DTLS race in connection.ts).
        this.init.offer({ sdp, tracks });
      },
      (err: unknown) => {
        this.phase = "stable";
        if (!this.closed) this.init.failed(err instanceof Error ? err : new Error(errorMessage(err)));
      },
    );
  }

  handleAnswer(sdp: string): void {
    if (this.closed) throw new RelayError("RELAY_CLOSED", "subscribe connection");
    if (!this.awaitingAnswer) throw new RelayError("RELAY_NEGOTIATION_STATE", "no subscribe offer is awaiting an answer");
    const parsed = parseSdp(sdp);
    this.setRemoteDescription(sdp, "answer", parsed.media[0]?.mid);
    this.releaseLocalCandidates();
    this.awaitingAnswer = false;
    this.phase = "stable";
    this.schedule();
  }

  /** Closes every subscription and the native connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closeConnection();
    for (const sub of [...this.subs.values()]) sub.close();
    this.subs.clear();
    this.endedTracks.length = 0;
  }
}

/** An injective, SDP-token-safe rendering of an id (msid and cname values, RFC 8830 §2). */
function token(id: string): string {
  return Buffer.from(id, "utf8").toString("base64url") || "_";
}
