// One incoming track and its fan-out. The publisher's RTP arrives on a native track; for each
// subscriber the relay rewrites SSRC and payload type in the header and sends the packet on that
// subscriber's track. Payload bytes pass through untouched: they are SFrame ciphertext.

import { EventEmitter } from "node:events";
import type { Track } from "node-datachannel";
import { RelayError } from "./errors.js";
import {
  buildPli,
  buildRemb,
  extractSenderReport,
  isRtcp,
  readUint32,
  ReceptionStats,
  rtpPayloadBounds,
  senderReportMiddleNtp,
} from "./rtp.js";
import type { RelayMediaKind } from "./sdp.js";
import type { Subscription } from "./subscription.js";

export type MediaSource = "microphone" | "camera" | "screen";

/** Test and audit hook: sees every forwarded RTP payload (ciphertext) once per incoming packet. */
export interface TapPacket {
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: RelayMediaKind;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly marker: boolean;
  /** A copy of the RTP payload (header, extensions and padding removed). */
  readonly payload: Uint8Array;
  /** How many subscribers the packet was forwarded to. */
  readonly forwardedTo: number;
}

export type RelayTap = (packet: TapPacket) => void;

/** Shared by a room and its publications so that setTap reaches every forwarding path. */
export interface TapSlot {
  fn: RelayTap | null;
}

/** The plain-data view of a publication, safe to put on the wire. */
export interface PublicationInfo {
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: RelayMediaKind;
  readonly source: MediaSource;
}

export interface PublicationStats {
  packetsIn: number;
  bytesIn: number;
  packetsDropped: number;
  packetsOut: number;
  keyframeRequests: number;
}

export interface PublicationInit {
  readonly id: string;
  readonly ownerId: string;
  readonly mid: string;
  readonly kind: RelayMediaKind;
  readonly source: MediaSource;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly tap: TapSlot;
  readonly keyframeRequestIntervalMs: number;
  readonly maxVideoBitrate: number;
}

export type PublicationEvents = { close: [] };

export class Publication extends EventEmitter<PublicationEvents> {
  readonly id: string;
  readonly ownerId: string;
  readonly mid: string;
  readonly kind: RelayMediaKind;
  readonly source: MediaSource;
  /** The publisher's SSRC for this track. */
  readonly ssrc: number;
  readonly stats: PublicationStats = {
    packetsIn: 0,
    bytesIn: 0,
    packetsDropped: 0,
    packetsOut: 0,
    keyframeRequests: 0,
  };
  private readonly payloadType: number;
  private readonly tap: TapSlot;
  private readonly keyframeInterval: number;
  private readonly maxVideoBitrate: number;
  private readonly subs = new Map<string, Subscription>();
  /** The same subscriptions as an array: the per-packet loop iterates it. */
  private targets: Subscription[] = [];
  private track: Track | undefined;
  private trackOpen = false;
  /** The SSRC the relay's own RTCP towards the publisher is sent from. */
  private readonly rtcpSsrc = (Math.random() * 0xfffffffe + 1) >>> 0;
  private readonly reception = new ReceptionStats();
  private keyframeWanted = false;
  private lastKeyframeRequest = -Infinity;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private _closed = false;

  constructor(init: PublicationInit) {
    super();
    this.id = init.id;
    this.ownerId = init.ownerId;
    this.mid = init.mid;
    this.kind = init.kind;
    this.source = init.source;
    this.ssrc = init.ssrc;
    this.payloadType = init.payloadType;
    this.tap = init.tap;
    this.keyframeInterval = init.keyframeRequestIntervalMs;
    this.maxVideoBitrate = init.maxVideoBitrate;
  }

  get closed(): boolean {
    return this._closed;
  }

  get info(): PublicationInfo {
    return { publicationId: this.id, ownerId: this.ownerId, kind: this.kind, source: this.source };
  }

  /** Subscriptions by subscriber peer id. */
  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subs;
  }

  /** Connects the native track the publisher's packets arrive on. */
  attachTrack(track: Track, open: boolean): void {
    if (this._closed) return;
    this.track = track;
    this.trackOpen = open;
    track.onMessage((packet) => this.onPacket(packet));
    if (open) this.onTrackOpen();
  }

  /** Called by the publish connection when the native track opens (DTLS-SRTP is up). */
  onTrackOpen(): void {
    if (this._closed || !this.track) return;
    this.trackOpen = true;
    this.sendRemb();
    if (this.keyframeWanted) this.sendKeyframeRequest();
  }

  /**
   * Asks the publisher for a keyframe (RTCP PLI, RFC 4585 §6.3.1). Requests closer together than
   * the configured interval are merged into one sent at the end of the interval, never dropped:
   * a subscriber whose request was merged still gets a keyframe after its own request.
   */
  requestKeyframe(): void {
    if (this._closed || this.kind !== "video") return;
    if (!this.track || !this.trackOpen) {
      this.keyframeWanted = true;
      return;
    }
    if (this.keyframeTimer) return;
    const wait = this.lastKeyframeRequest + this.keyframeInterval - performance.now();
    if (wait <= 0) {
      this.sendKeyframeRequest();
      return;
    }
    this.keyframeTimer = setTimeout(() => {
      this.keyframeTimer = undefined;
      this.sendKeyframeRequest();
    }, wait);
    this.keyframeTimer.unref();
  }

  private sendKeyframeRequest(): void {
    if (this._closed || !this.track) return;
    this.keyframeWanted = false;
    this.lastKeyframeRequest = performance.now();
    this.stats.keyframeRequests++;
    this.sendRtcp(buildPli(this.rtcpSsrc, this.ssrc));
  }

  /**
   * REMB towards a video publisher: the relay does no bandwidth estimation of its own, so it caps
   * the publisher at a configured rate (browsers honour REMB as an upper bound). Sent when the
   * track opens and with every receiver report, so a lost one is soon replaced.
   */
  private sendRemb(): void {
    if (this.kind === "video") this.sendRtcp(buildRemb(this.rtcpSsrc, this.maxVideoBitrate, this.ssrc));
  }

  private sendRtcp(packet: Buffer): void {
    if (!this.track || !this.trackOpen) return;
    try {
      this.track.sendMessageBinary(packet);
    } catch {
      // track destroyed: the publication closes with it
    }
  }

  /** @internal Called by Subscription. */
  addSubscription(sub: Subscription): void {
    if (this._closed) throw new RelayError("RELAY_CLOSED", `publication ${this.id}`);
    this.subs.set(sub.subscriberId, sub);
    this.targets = [...this.subs.values()];
  }

  /** @internal Called by Subscription.close(). */
  removeSubscription(sub: Subscription): void {
    if (this.subs.get(sub.subscriberId) !== sub) return;
    this.subs.delete(sub.subscriberId);
    this.targets = [...this.subs.values()];
  }

  private onPacket(packet: Buffer): void {
    if (this._closed) return;
    if (isRtcp(packet)) {
      const report = extractSenderReport(packet);
      if (!report) return;
      // Sender reports carry the RTP/NTP clock mapping subscribers need for lip sync.
      const sr = Buffer.from(report.buffer, report.byteOffset, report.byteLength);
      for (const sub of this.targets) sub.forwardSenderReport(sr);
      // Answer each SR at once (so DLSR is ~0) with loss statistics for the publisher's
      // congestion control, and refresh the REMB cap.
      this.sendRtcp(this.reception.receiverReport(this.rtcpSsrc, this.ssrc, senderReportMiddleNtp(report), 0));
      this.sendRemb();
      return;
    }
    this.stats.packetsIn++;
    this.stats.bytesIn += packet.length;
    // Header checks only: version 2, the negotiated payload type, the signalled SSRC.
    if (
      packet.length < 12 ||
      (packet[0] as number) >> 6 !== 2 ||
      ((packet[1] as number) & 0x7f) !== this.payloadType ||
      readUint32(packet, 8) !== this.ssrc
    ) {
      this.stats.packetsDropped++;
      return;
    }
    this.reception.update(((packet[2] as number) << 8) | (packet[3] as number));
    const targets = this.targets;
    const tap = this.tap.fn;
    if (tap !== null) this.tapPacket(tap, packet, targets.length);
    // Each send copies the packet into the native layer, so one buffer is rewritten in place
    // for each subscriber in turn.
    for (let i = 0; i < targets.length; i++) {
      if ((targets[i] as Subscription).forward(packet)) this.stats.packetsOut++;
    }
  }

  private tapPacket(tap: RelayTap, packet: Buffer, forwardedTo: number): void {
    const bounds = rtpPayloadBounds(packet);
    if (!bounds) return;
    tap({
      publicationId: this.id,
      ownerId: this.ownerId,
      kind: this.kind,
      sequenceNumber: ((packet[2] as number) << 8) | (packet[3] as number),
      timestamp: readUint32(packet, 4),
      marker: ((packet[1] as number) & 0x80) !== 0,
      payload: new Uint8Array(packet.subarray(bounds.start, bounds.end)),
      forwardedTo,
    });
  }

  /** Stops forwarding and closes every subscription to this publication. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    if (this.keyframeTimer) clearTimeout(this.keyframeTimer);
    this.keyframeTimer = undefined;
    // The native track belongs to the publish connection, which may reuse it for a later
    // publication on the same m-section; only the forwarding stops here.
    this.track = undefined;
    for (const sub of [...this.subs.values()]) sub.close();
    this.subs.clear();
    this.targets = [];
    this.emit("close");
  }
}
