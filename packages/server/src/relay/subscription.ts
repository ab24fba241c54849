// One subscriber's copy of one publication: an m-section of the subscriber's subscribe
// connection, with its own SSRC and the relay's fixed payload type.

import type { Track } from "node-datachannel";
import type { Publication } from "./publication.js";
import { rtcpRequestsKeyframe, writeUint32 } from "./rtp.js";

export interface SubscriptionInit {
  readonly publication: Publication;
  readonly subscriberId: string;
  readonly mid: string;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly onClose: (sub: Subscription) => void;
}

export class Subscription {
  readonly publication: Publication;
  readonly subscriberId: string;
  /** The m-section of the subscriber's subscribe connection. */
  readonly mid: string;
  /** The SSRC the subscriber sees (rewritten per subscriber). */
  readonly ssrc: number;
  readonly payloadType: number;
  private readonly onClose: (sub: Subscription) => void;
  private _track: Track | undefined;
  private open = false;
  private _closed = false;

  constructor(init: SubscriptionInit) {
    this.publication = init.publication;
    this.subscriberId = init.subscriberId;
    this.mid = init.mid;
    this.ssrc = init.ssrc;
    this.payloadType = init.payloadType;
    this.onClose = init.onClose;
    init.publication.addSubscription(this);
  }

  get closed(): boolean {
    return this._closed;
  }

  /** @internal The native track once the subscribe connection has added it. */
  get track(): Track | undefined {
    return this._track;
  }

  /** @internal Wires the native track; called by the subscribe connection during negotiation. */
  attach(track: Track): void {
    this._track = track;
    track.onOpen(() => {
      if (this._closed) return;
      this.open = true;
      // PLI on subscribe: a new subscriber can decode nothing until the next keyframe.
      this.publication.requestKeyframe();
    });
    track.onMessage((packet) => {
      // Only RTCP arrives on a send-only track: receiver reports, NACK (answered natively by the
      // NACK responder in the track's handler chain), PLI/FIR (relayed to the publisher).
      if (!this._closed && rtcpRequestsKeyframe(packet)) this.publication.requestKeyframe();
    });
  }

  /** @internal Native onClosed for this subscription's track. */
  trackClosed(): void {
    this.open = false;
  }

  /** Forwards one RTP packet; rewrites SSRC and payload type in place. Returns false if not sent. */
  forward(packet: Buffer): boolean {
    if (!this.open) return false;
    packet[1] = ((packet[1] as number) & 0x80) | this.payloadType;
    writeUint32(packet, 8, this.ssrc);
    try {
      return (this._track as Track).sendMessageBinary(packet);
    } catch {
      this.open = false;
      return false;
    }
  }

  /** Forwards a publisher's sender report, restamped with this subscription's SSRC. */
  forwardSenderReport(sr: Buffer): void {
    if (!this.open) return;
    writeUint32(sr, 4, this.ssrc);
    try {
      (this._track as Track).sendMessageBinary(sr);
    } catch {
      this.open = false;
    }
  }

  /** Stops forwarding; the subscribe connection removes the m-section at its next offer. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.open = false;
    this.publication.removeSubscription(this);
    this.onClose(this);
  }
}
