// A track this participant publishes: whole encoded frames in, RTP out.

import { randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { RtpHeader, RtpPacket, type RTCRtpTransceiver } from "werift";
import { OPUS_PAYLOAD_TYPE, VP8_PAYLOAD_TYPE } from "./codecs.js";
import { MediaError } from "./errors.js";
import { packetizeOpus } from "./opus.js";
import { isVp8Keyframe, packetizeVp8 } from "./vp8.js";

export type MediaKind = "audio" | "video";
export type MediaSource = "microphone" | "camera" | "screen";

export interface SendFrameOptions {
  /** Absolute RTP timestamp of this frame (mod 2^32). Overrides timestampIncrement. */
  readonly rtpTimestamp?: number;
  /**
   * Clock ticks since the previous frame (default: 960 for audio = 20 ms at 48 kHz, 3000 for video
   * = 1/30 s at 90 kHz). Ignored for the first frame, which starts at a random timestamp.
   */
  readonly timestampIncrement?: number;
  /**
   * Video only, optional: asserts whether this is a keyframe. Receivers (browsers included) read
   * keyframe-ness from the frame's clear VP8 tag, so a frame whose tag disagrees is refused.
   */
  readonly keyframe?: boolean;
}

export type LocalTrackEvents = {
  /** The relay asked for a keyframe (RTCP PLI): send one soon. */
  keyframeRequest: [];
  close: [];
};

/** @internal What a local track needs from its transport. */
export interface LocalTrackHost {
  readonly maxVideoPayloadSize: number;
  publishConnected(): boolean;
  trackClosed(track: LocalTrack): void;
}

const DEFAULT_INCREMENT: Record<MediaKind, number> = { audio: 960, video: 3000 };

export class LocalTrack extends EventEmitter<LocalTrackEvents> {
  readonly id: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  private readonly host: LocalTrackHost;
  private transceiver: RTCRtpTransceiver | undefined;
  private unsubscribePli: (() => void) | undefined;
  private sequenceNumber = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 0x100000000);
  private pictureId = randomInt(0, 0x8000);
  private started = false;
  private _closed = false;
  /** Frames handed to the transport, and RTP packets made from them. */
  readonly stats = { frames: 0, packets: 0, bytes: 0, keyframeRequests: 0 };

  /** @internal Use NodeMediaTransport.publish. */
  constructor(id: string, kind: MediaKind, source: MediaSource, host: LocalTrackHost) {
    super();
    this.id = id;
    this.kind = kind;
    this.source = source;
    this.host = host;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** The m-section carrying this track, once a publish offer has been created. */
  get mid(): string | undefined {
    return this.transceiver?.mid ?? undefined;
  }

  /** @internal */
  get boundTransceiver(): RTCRtpTransceiver | undefined {
    return this.transceiver;
  }

  /** @internal Binds the werift transceiver made for this track. */
  bind(transceiver: RTCRtpTransceiver): void {
    this.transceiver = transceiver;
    const { unSubscribe } = transceiver.sender.onPictureLossIndication.subscribe(() => {
      if (this._closed) return;
      this.stats.keyframeRequests++;
      this.emit("keyframeRequest");
    });
    this.unsubscribePli = unSubscribe;
  }

  /**
   * Packetizes one whole encoded frame into RTP and sends it. Returns false (and sends nothing)
   * while the publish connection is not connected. Throws MEDIA_BAD_FRAME for an empty or
   * oversized frame, or a video frame whose keyframe option disagrees with its VP8 tag.
   */
  sendFrame(frame: Uint8Array, options: SendFrameOptions = {}): boolean {
    if (this._closed) throw new MediaError("MEDIA_CLOSED", `local track ${this.id}`);
    if (!(frame instanceof Uint8Array) || frame.length === 0) {
      throw new MediaError("MEDIA_BAD_FRAME", "frame must be a non-empty Uint8Array");
    }
    const timestamp = this.nextTimestamp(options);
    let payloads: Uint8Array[];
    let payloadType: number;
    if (this.kind === "video") {
      if (options.keyframe !== undefined && options.keyframe !== isVp8Keyframe(frame)) {
        throw new MediaError(
          "MEDIA_BAD_FRAME",
          `keyframe=${options.keyframe} disagrees with the VP8 frame tag (bit 0 of the first byte is 0 for keyframes)`,
        );
      }
      this.pictureId = (this.pictureId + 1) & 0x7fff;
      payloads = packetizeVp8(frame, this.pictureId, this.host.maxVideoPayloadSize);
      payloadType = VP8_PAYLOAD_TYPE;
    } else {
      payloads = [packetizeOpus(frame)];
      payloadType = OPUS_PAYLOAD_TYPE;
    }
    // The timestamp advances even when the frame is not sent, so that media time stays true.
    this.timestamp = timestamp;
    this.started = true;
    const sender = this.transceiver?.sender;
    if (!sender || !this.host.publishConnected()) return false;
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i] as Uint8Array;
      const header = new RtpHeader({
        payloadType,
        sequenceNumber: this.sequenceNumber,
        timestamp,
        // RFC 7741 §4.1: marker on the last packet of a video frame. RFC 7587 §4.1: for Opus it
        // marks the first packet of a talkspurt; frames here are independent, so it stays clear.
        marker: this.kind === "video" && i === payloads.length - 1,
        ssrc: sender.ssrc,
      });
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      const packet = new RtpPacket(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      // Sending fails only once the connection is torn down; the frame is then simply lost.
      sender.sendRtp(packet).catch(() => undefined);
      this.stats.packets++;
      this.stats.bytes += payload.length;
    }
    this.stats.frames++;
    return true;
  }

  private nextTimestamp(options: SendFrameOptions): number {
    if (options.rtpTimestamp !== undefined) {
      const t = options.rtpTimestamp;
      if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) {
        throw new MediaError("MEDIA_BAD_ARGUMENT", "rtpTimestamp must be an integer in 0..2^32-1");
      }
      return t;
    }
    if (!this.started) return this.timestamp;
    const inc = options.timestampIncrement ?? DEFAULT_INCREMENT[this.kind];
    if (!Number.isInteger(inc) || inc < 0 || inc >= 0x80000000) {
      throw new MediaError("MEDIA_BAD_ARGUMENT", "timestampIncrement must be an integer in 0..2^31-1");
    }
    return (this.timestamp + inc) >>> 0;
  }

  /**
   * Stops publishing: the m-section goes inactive at the next publish offer, which ends the
   * publication at the relay. Idempotent.
   */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.unsubscribePli?.();
    this.unsubscribePli = undefined;
    if (this.transceiver && !this.transceiver.stopped) this.transceiver.setDirection("inactive");
    this.host.trackClosed(this);
    this.emit("close");
  }
}
