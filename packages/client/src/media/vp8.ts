// VP8 over RTP (RFC 7741): the payload descriptor, the packetizer that splits one encoded frame
// into RTP payloads, and the depacketizer that puts frames back together.
//
// Frames are opaque here. In Conclave they are SFrame ciphertext whose first bytes are the clear
// VP8 frame tag (RFC 6386 §9.1); the only frame byte this module reads is the first one, whose
// bit 0 (the inverse key-frame flag P) tells the receiver a frame is a keyframe, exactly as a
// browser's VP8 depacketizer reads it (RFC 7741 §4.3).

import { MediaError } from "./errors.js";

/** Bytes of the descriptor this packetizer writes: X=1, I=1 with a 15-bit PictureID (RFC 7741 §4.2). */
export const VP8_DESCRIPTOR_LENGTH = 4;

export interface Vp8Descriptor {
  /** N: the frame is not used as a reference. */
  readonly nonReference: boolean;
  /** S: this packet starts a VP8 partition. */
  readonly start: boolean;
  /** PID: the partition index. */
  readonly partitionIndex: number;
  readonly pictureId: number | undefined;
  readonly tl0PicIdx: number | undefined;
  readonly temporalLayer: number | undefined;
  readonly layerSync: boolean | undefined;
  readonly keyIndex: number | undefined;
  /** Bytes the descriptor occupies at the start of the RTP payload. */
  readonly length: number;
}

/** Encodes the 4-byte descriptor this packetizer uses (X=1, I=1, M=1, 15-bit PictureID). */
export function encodeVp8Descriptor(start: boolean, pictureId: number, nonReference = false): Uint8Array {
  if (!Number.isInteger(pictureId) || pictureId < 0 || pictureId > 0x7fff) {
    throw new MediaError("MEDIA_BAD_ARGUMENT", "pictureId must be an integer in 0..32767");
  }
  // RFC 7741 §4.2: |X|R|N|S|R|PID| ; |I|L|T|K|RSV| ; |M|PictureID (15 bits)|
  return Uint8Array.of(
    0x80 | (nonReference ? 0x20 : 0) | (start ? 0x10 : 0),
    0x80,
    0x80 | (pictureId >> 8),
    pictureId & 0xff,
  );
}

/**
 * Decodes a VP8 payload descriptor (RFC 7741 §4.2). Throws MEDIA_BAD_RTP when the descriptor is
 * truncated or leaves no frame bytes. Reserved bits are ignored, as §4.2 requires of receivers.
 */
export function decodeVp8Descriptor(payload: Uint8Array): Vp8Descriptor {
  const need = (n: number): void => {
    if (payload.length < n) throw new MediaError("MEDIA_BAD_RTP", "VP8 payload descriptor is truncated");
  };
  need(1);
  const b0 = payload[0] as number;
  let offset = 1;
  let pictureId: number | undefined;
  let tl0PicIdx: number | undefined;
  let temporalLayer: number | undefined;
  let layerSync: boolean | undefined;
  let keyIndex: number | undefined;
  if (b0 & 0x80) {
    need(2);
    const x = payload[1] as number;
    offset = 2;
    if (x & 0x80) {
      need(offset + 1);
      const p0 = payload[offset] as number;
      if (p0 & 0x80) {
        need(offset + 2);
        pictureId = ((p0 & 0x7f) << 8) | (payload[offset + 1] as number);
        offset += 2;
      } else {
        pictureId = p0 & 0x7f;
        offset += 1;
      }
    }
    if (x & 0x40) {
      need(offset + 1);
      tl0PicIdx = payload[offset] as number;
      offset += 1;
    }
    if (x & 0x30) {
      need(offset + 1);
      const t = payload[offset] as number;
      if (x & 0x20) {
        temporalLayer = t >> 6;
        layerSync = (t & 0x20) !== 0;
      }
      if (x & 0x10) keyIndex = t & 0x1f;
      offset += 1;
    }
  }
  if (payload.length <= offset) throw new MediaError("MEDIA_BAD_RTP", "VP8 payload carries no frame bytes");
  return {
    nonReference: (b0 & 0x20) !== 0,
    start: (b0 & 0x10) !== 0,
    partitionIndex: b0 & 0x07,
    pictureId,
    tl0PicIdx,
    temporalLayer,
    layerSync,
    keyIndex,
    length: offset,
  };
}

/** RFC 6386 §9.1 / RFC 7741 §4.3: P (bit 0 of the first frame byte) is 0 for a keyframe. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length > 0 && ((frame[0] as number) & 0x01) === 0;
}

/**
 * Splits one encoded frame into RTP payloads of at most `maxPayloadSize` bytes (descriptor
 * included), in near-equal parts. The first carries S=1 (start of partition 0); the caller sets
 * the RTP marker bit on the last (RFC 7741 §4.1).
 */
export function packetizeVp8(frame: Uint8Array, pictureId: number, maxPayloadSize: number): Uint8Array[] {
  if (frame.length === 0) throw new MediaError("MEDIA_BAD_FRAME", "empty VP8 frame");
  if (!Number.isInteger(maxPayloadSize) || maxPayloadSize <= VP8_DESCRIPTOR_LENGTH) {
    throw new MediaError("MEDIA_BAD_ARGUMENT", `maxPayloadSize must exceed ${VP8_DESCRIPTOR_LENGTH}`);
  }
  const room = maxPayloadSize - VP8_DESCRIPTOR_LENGTH;
  const count = Math.ceil(frame.length / room);
  const base = Math.floor(frame.length / count);
  const extra = frame.length % count;
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const size = base + (i < extra ? 1 : 0);
    const payload = new Uint8Array(VP8_DESCRIPTOR_LENGTH + size);
    payload.set(encodeVp8Descriptor(i === 0, pictureId));
    payload.set(frame.subarray(offset, offset + size), VP8_DESCRIPTOR_LENGTH);
    offset += size;
    out.push(payload);
  }
  return out;
}

export interface RtpPayloadIn {
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly marker: boolean;
  readonly payload: Uint8Array;
}

export interface Vp8Frame {
  readonly data: Uint8Array;
  readonly timestamp: number;
  readonly keyframe: boolean;
  readonly pictureId: number | undefined;
}

export interface Vp8DepacketizerResult {
  /** Frames completed by this packet, oldest first (at most one). */
  readonly frames: readonly Vp8Frame[];
  /** Incomplete frames given up because a newer frame completed (or limits were hit). */
  readonly lost: number;
}

export interface Vp8DepacketizerOptions {
  /** Incomplete frames kept waiting for retransmissions (default 16). */
  readonly maxPendingFrames?: number;
  /** Largest frame accepted, in bytes (default 4 MiB). */
  readonly maxFrameBytes?: number;
}

export interface Vp8DepacketizerStats {
  framesOut: number;
  framesLost: number;
  packetsLate: number;
  packetsDuplicate: number;
  packetsMalformed: number;
}

interface Assembly {
  readonly timestamp: number;
  readonly parts: Map<number, Uint8Array>;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  pictureId: number | undefined;
  bytes: number;
}

/** a is after b in 16-bit RTP sequence space (RFC 3550 §A.1 style serial comparison). */
function seqAfter(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d < 0x8000;
}

/** a is after b in 32-bit RTP timestamp space. */
function tsAfter(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/**
 * Reassembles VP8 frames from RTP payloads. A frame is complete when the packet that starts
 * partition 0 (S=1, PID=0), the marker packet, and every sequence number between them have
 * arrived, in any order. Frames come out in timestamp order and never twice: when a frame
 * completes, older incomplete frames are given up (counted as lost, so the caller can ask for a
 * keyframe) and packets for frames at or before the last one delivered are dropped as late.
 */
export class Vp8Depacketizer {
  readonly stats: Vp8DepacketizerStats = {
    framesOut: 0,
    framesLost: 0,
    packetsLate: 0,
    packetsDuplicate: 0,
    packetsMalformed: 0,
  };
  private readonly maxPending: number;
  private readonly maxFrameBytes: number;
  private readonly pending = new Map<number, Assembly>();
  private lastTimestamp: number | undefined;

  constructor(options: Vp8DepacketizerOptions = {}) {
    this.maxPending = options.maxPendingFrames ?? 16;
    this.maxFrameBytes = options.maxFrameBytes ?? 4 * 1024 * 1024;
  }

  push(packet: RtpPayloadIn): Vp8DepacketizerResult {
    const { sequenceNumber: seq, timestamp: ts } = packet;
    if (this.lastTimestamp !== undefined && !tsAfter(ts, this.lastTimestamp)) {
      this.stats.packetsLate++;
      return { frames: [], lost: 0 };
    }
    let desc: Vp8Descriptor;
    try {
      desc = decodeVp8Descriptor(packet.payload);
    } catch {
      this.stats.packetsMalformed++;
      return { frames: [], lost: 0 };
    }
    let lost = 0;
    let asm = this.pending.get(ts);
    if (!asm) {
      asm = { timestamp: ts, parts: new Map(), firstSeq: undefined, lastSeq: undefined, pictureId: undefined, bytes: 0 };
      this.pending.set(ts, asm);
      lost += this.enforcePendingLimit();
    }
    if (asm.parts.has(seq)) {
      this.stats.packetsDuplicate++;
      return { frames: [], lost };
    }
    const part = packet.payload.subarray(desc.length);
    asm.parts.set(seq, part);
    asm.bytes += part.length;
    if (desc.start && desc.partitionIndex === 0) {
      asm.firstSeq = seq;
      asm.pictureId = desc.pictureId;
    }
    if (packet.marker) asm.lastSeq = seq;
    if (asm.bytes > this.maxFrameBytes) {
      this.pending.delete(ts);
      this.stats.framesLost++;
      return { frames: [], lost: lost + 1 };
    }
    const data = this.assemble(asm);
    if (!data) return { frames: [], lost };
    // Deliver in order: anything older still pending can no longer be delivered.
    for (const [t] of this.pending) {
      if (t !== ts && tsAfter(ts, t)) {
        this.pending.delete(t);
        this.stats.framesLost++;
        lost++;
      }
    }
    this.pending.delete(ts);
    this.lastTimestamp = ts;
    this.stats.framesOut++;
    return { frames: [{ data, timestamp: ts, keyframe: isVp8Keyframe(data), pictureId: asm.pictureId }], lost };
  }

  /** Forgets all state (e.g. when an m-section is reused for another publication). */
  reset(): void {
    this.pending.clear();
    this.lastTimestamp = undefined;
  }

  private assemble(asm: Assembly): Uint8Array | undefined {
    if (asm.firstSeq === undefined || asm.lastSeq === undefined) return undefined;
    if (asm.firstSeq !== asm.lastSeq && !seqAfter(asm.lastSeq, asm.firstSeq)) return undefined;
    const count = ((asm.lastSeq - asm.firstSeq) & 0xffff) + 1;
    if (asm.parts.size < count) return undefined;
    const out = new Uint8Array(asm.bytes);
    let offset = 0;
    let used = 0;
    for (let i = 0; i < count; i++) {
      const part = asm.parts.get((asm.firstSeq + i) & 0xffff);
      if (!part) return undefined;
      out.set(part, offset);
      offset += part.length;
      used++;
    }
    // Packets with this timestamp outside [first, last] would be a second frame sharing the
    // timestamp: not something a conforming sender produces, so the frame is not trusted.
    if (used !== asm.parts.size) return undefined;
    return out;
  }

  private enforcePendingLimit(): number {
    let lost = 0;
    while (this.pending.size > this.maxPending) {
      let oldest: number | undefined;
      for (const t of this.pending.keys()) if (oldest === undefined || tsAfter(oldest, t)) oldest = t;
      this.pending.delete(oldest as number);
      this.stats.framesLost++;
      lost++;
    }
    return lost;
  }
}
