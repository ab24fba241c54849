// The PUBLISH connection: the participant offers send-only tracks, the relay answers. Each
// sending m-section becomes a Publication.

import type { Track } from "node-datachannel";
import { type ConnectionHooks, type ConnectionOptions, RelayConnection } from "./connection.js";
import { RelayError } from "./errors.js";
import { type MediaSource, Publication, type TapSlot } from "./publication.js";
import { parseSdp, type PublishSection, restrictPublishOffer } from "./sdp.js";

/** Which source an m-section of a publish offer carries; defaults: audio microphone, video camera. */
export interface PublishTrackInfo {
  readonly mid: string;
  readonly source: MediaSource;
}

export interface PublishConnectionInit {
  readonly peerId: string;
  readonly options: ConnectionOptions;
  readonly hooks: ConnectionHooks;
  readonly tap: TapSlot;
  readonly keyframeRequestIntervalMs: number;
  readonly maxVideoBitrate: number;
  readonly newPublicationId: () => string;
  readonly published: (pub: Publication) => void;
}

const SOURCES: ReadonlySet<string> = new Set(["microphone", "camera", "screen"]);

export class PublishConnection extends RelayConnection {
  private readonly init: PublishConnectionInit;
  /** Live publications by mid. */
  private readonly byMid = new Map<string, Publication>();
  /** Native tracks by mid; they outlive publications (an m-section can be re-enabled). */
  private readonly tracks = new Map<string, { track: Track; open: boolean }>();
  private negotiating = false;

  constructor(init: PublishConnectionInit) {
    super("publish", `${init.peerId}/publish`, init.options, init.hooks);
    this.init = init;
  }

  get publications(): IterableIterator<Publication> {
    return this.byMid.values();
  }

  async handleOffer(sdp: string, tracks: readonly PublishTrackInfo[]): Promise<string> {
    if (this.closed) throw new RelayError("RELAY_CLOSED", "publish connection");
    if (this.negotiating) throw new RelayError("RELAY_NEGOTIATION_STATE", "a publish offer is already being handled");
    const restricted = restrictPublishOffer(parseSdp(sdp));
    const sources = resolveSources(restricted.sections, tracks);
    this.negotiating = true;
    try {
      this.setRemoteDescription(restricted.sdp, "offer", restricted.sections[0]?.mid);
      const answer = await this.localDescription((pc) => pc.setLocalDescription("answer"));
      if (this.closed) throw new RelayError("RELAY_CLOSED", "publish connection");
      this.syncPublications(restricted.sections, sources);
      this.releaseLocalCandidates();
      return answer;
    } finally {
      this.negotiating = false;
    }
  }

  protected override onRemoteTrack(track: Track): void {
    const mid = track.mid();
    const entry = { track, open: false };
    this.adoptTrack(track, () => {
      entry.open = false;
    });
    // No libdatachannel RtcpReceivingSession here: it addresses PLI and REMB to the last SSRC it
    // saw in any RTCP (an RR's sender SSRC will do) and swallows the publisher's SRs, which
    // subscribers need. The publication sends its own PLI, REMB and RR.
    track.onOpen(() => {
      entry.open = true;
      this.byMid.get(mid)?.onTrackOpen();
    });
    this.tracks.set(mid, entry);
    this.byMid.get(mid)?.attachTrack(track, false);
  }

  private syncPublications(sections: readonly PublishSection[], sources: ReadonlyMap<string, MediaSource>): void {
    const seen = new Set<string>();
    for (const s of sections) {
      seen.add(s.mid);
      const existing = this.byMid.get(s.mid);
      if (existing && (!s.sending || existing.ssrc !== s.ssrc)) existing.close();
      if (!s.sending || (existing && !existing.closed)) continue;
      const pub = new Publication({
        id: this.init.newPublicationId(),
        ownerId: this.init.peerId,
        mid: s.mid,
        kind: s.kind,
        source: sources.get(s.mid) ?? (s.kind === "audio" ? "microphone" : "camera"),
        ssrc: s.ssrc as number,
        payloadType: s.payloadType as number,
        tap: this.init.tap,
        keyframeRequestIntervalMs: this.init.keyframeRequestIntervalMs,
        maxVideoBitrate: this.init.maxVideoBitrate,
      });
      this.byMid.set(s.mid, pub);
      pub.once("close", () => {
        if (this.byMid.get(s.mid) === pub) this.byMid.delete(s.mid);
      });
      const native = this.tracks.get(s.mid);
      if (native) pub.attachTrack(native.track, native.open);
      this.init.published(pub);
    }
    for (const [mid, pub] of this.byMid) if (!seen.has(mid)) pub.close();
  }

  /** Closes every publication and the native connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    for (const pub of [...this.byMid.values()]) pub.close();
    this.byMid.clear();
    this.tracks.clear();
    this.closeConnection();
  }
}

function resolveSources(
  sections: readonly PublishSection[],
  tracks: readonly PublishTrackInfo[],
): Map<string, MediaSource> {
  if (!Array.isArray(tracks)) throw new RelayError("RELAY_BAD_ARGUMENT", "tracks must be an array");
  const out = new Map<string, MediaSource>();
  for (const t of tracks) {
    if (typeof t !== "object" || t === null || typeof t.mid !== "string" || !SOURCES.has(t.source)) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "each track needs a mid and a source (microphone, camera, screen)");
    }
    const section = sections.find((s) => s.mid === t.mid);
    if (!section) throw new RelayError("RELAY_BAD_ARGUMENT", `track mid ${JSON.stringify(t.mid)} is not in the offer`);
    if ((t.source === "microphone" && section.kind !== "audio") || (t.source === "camera" && section.kind !== "video")) {
      throw new RelayError("RELAY_BAD_ARGUMENT", `source ${t.source} cannot be ${section.kind}`);
    }
    out.set(t.mid, t.source);
  }
  return out;
}
