// A track received from the relay: RTP in, whole frames out.

import { OPUS_PAYLOAD_TYPE, VP8_PAYLOAD_TYPE } from "./codecs.js";
import type { MediaKind, MediaSource } from "./local-track.js";
import { Vp8Depacketizer } from "./vp8.js";

/** One m-section of a subscribe offer, as the relay describes it. */
export interface SubscribeTrackInfo {
  readonly mid: string;
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
}

export interface ReceivedFrame {
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  /** The frame exactly as the sender handed it to sendFrame (still SFrame ciphertext). */
  readonly frame: Uint8Array;
  readonly rtpTimestamp: number;
  /** Video only: the frame's VP8 tag says keyframe. */
  readonly keyframe?: boolean;
}

export interface RtpIn {
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly marker: boolean;
  readonly ssrc: number;
  readonly payload: Uint8Array;
}

export interface RemoteTrackStats {
  packets: number;
  frames: number;
  framesLost: number;
  packetsIgnored: number;
}

export class RemoteTrack {
  readonly info: SubscribeTrackInfo;
  readonly stats: RemoteTrackStats = { packets: 0, frames: 0, framesLost: 0, packetsIgnored: 0 };
  /** The SSRC the relay sends this track on (learned from the first packet). */
  ssrc: number | undefined;
  /**
   * Video: no keyframe since the track started or since frames were lost, so what arrives cannot
   * be decoded yet. The transport keeps asking for a keyframe while this holds.
   */
  needsKeyframe: boolean;
  private readonly depacketizer: Vp8Depacketizer | undefined;
  private readonly payloadType: number;

  constructor(info: SubscribeTrackInfo) {
    this.info = info;
    this.depacketizer = info.kind === "video" ? new Vp8Depacketizer() : undefined;
    this.payloadType = info.kind === "video" ? VP8_PAYLOAD_TYPE : OPUS_PAYLOAD_TYPE;
    this.needsKeyframe = info.kind === "video";
  }

  /** Feeds one RTP packet; returns the frames it completes and how many frames were lost. */
  receive(rtp: RtpIn): { frames: ReceivedFrame[]; lost: number } {
    if (rtp.payloadType !== this.payloadType || rtp.payload.length === 0) {
      this.stats.packetsIgnored++;
      return { frames: [], lost: 0 };
    }
    this.stats.packets++;
    this.ssrc = rtp.ssrc;
    const { publicationId, ownerId, kind, source } = this.info;
    if (!this.depacketizer) {
      this.stats.frames++;
      return {
        frames: [{ publicationId, ownerId, kind, source, frame: rtp.payload, rtpTimestamp: rtp.timestamp }],
        lost: 0,
      };
    }
    const result = this.depacketizer.push(rtp);
    this.stats.frames += result.frames.length;
    this.stats.framesLost += result.lost;
    if (result.lost > 0) this.needsKeyframe = true;
    for (const f of result.frames) if (f.keyframe) this.needsKeyframe = false;
    return {
      frames: result.frames.map((f) => ({
        publicationId,
        ownerId,
        kind,
        source,
        frame: f.data,
        rtpTimestamp: f.timestamp,
        keyframe: f.keyframe,
      })),
      lost: result.lost,
    };
  }
}
