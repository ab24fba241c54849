// RTP and RTCP header handling for the forwarding path. The relay reads RTP *headers* only: the
// payload is SFrame ciphertext (plus a few clear codec bytes) and is never looked at.

/** RFC 5761 §4: with RTCP multiplexed on the RTP port, a second byte in 192..223 is RTCP. */
export function isRtcp(packet: Uint8Array): boolean {
  const b = packet[1] as number;
  return packet.length >= 2 && b >= 192 && b <= 223;
}

/** Where the payload of an RTP packet lies (RFC 3550 §5.1, §5.3.1), or undefined if malformed. */
export function rtpPayloadBounds(packet: Uint8Array): { start: number; end: number } | undefined {
  if (packet.length < 12 || (packet[0] as number) >> 6 !== 2) return undefined;
  const b0 = packet[0] as number;
  let start = 12 + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (packet.length < start + 4) return undefined;
    const words = ((packet[start + 2] as number) << 8) | (packet[start + 3] as number);
    start += 4 + 4 * words;
  }
  let end = packet.length;
  if (b0 & 0x20) {
    const pad = packet[packet.length - 1] as number;
    if (pad === 0) return undefined;
    end -= pad;
  }
  if (start > end) return undefined;
  return { start, end };
}

export function readUint32(b: Uint8Array, offset: number): number {
  return (
    (((b[offset] as number) << 24) >>> 0) +
    (((b[offset + 1] as number) << 16) | ((b[offset + 2] as number) << 8) | (b[offset + 3] as number))
  );
}

export function writeUint32(b: Uint8Array, offset: number, value: number): void {
  b[offset] = value >>> 24;
  b[offset + 1] = (value >>> 16) & 0xff;
  b[offset + 2] = (value >>> 8) & 0xff;
  b[offset + 3] = value & 0xff;
}

/**
 * Calls `fn` for every packet of a compound RTCP packet (RFC 3550 §6.1) with its packet type,
 * the 5-bit count/format field, and its byte range. Stops at the first malformed header.
 */
export function forEachRtcpPacket(
  compound: Uint8Array,
  fn: (type: number, countOrFormat: number, offset: number, length: number) => void,
): void {
  let offset = 0;
  while (offset + 4 <= compound.length) {
    const b0 = compound[offset] as number;
    if (b0 >> 6 !== 2) return;
    const length = 4 * ((((compound[offset + 2] as number) << 8) | (compound[offset + 3] as number)) + 1);
    if (offset + length > compound.length) return;
    fn(compound[offset + 1] as number, b0 & 0x1f, offset, length);
    offset += length;
  }
}

export const RTCP_SR = 200;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
/** RFC 4585 §6.3.1 */
export const PSFB_PLI = 1;
/** RFC 5104 §4.3.1 */
export const PSFB_FIR = 4;

/** True when a compound RTCP packet carries a PLI or a FIR, i.e. asks for a keyframe. */
export function rtcpRequestsKeyframe(compound: Uint8Array): boolean {
  let found = false;
  forEachRtcpPacket(compound, (type, fmt) => {
    if (type === RTCP_PSFB && (fmt === PSFB_PLI || fmt === PSFB_FIR)) found = true;
  });
  return found;
}

/**
 * Extracts the sender info of the first SR in a compound packet (RFC 3550 §6.4.1) as a new
 * 28-byte SR without report blocks (those describe streams the subscriber never saw). The caller
 * stamps the subscriber-side SSRC at bytes 4..7. Returns undefined when there is no SR.
 */
export function extractSenderReport(compound: Uint8Array): Uint8Array | undefined {
  let sr: Uint8Array | undefined;
  forEachRtcpPacket(compound, (type, _count, offset, length) => {
    if (sr === undefined && type === RTCP_SR && length >= 28) {
      sr = new Uint8Array(28);
      sr.set(compound.subarray(offset, offset + 28));
      sr[0] = 0x80; // V=2, P=0, RC=0
      sr[2] = 0;
      sr[3] = 6; // length in 32-bit words minus one
    }
  });
  return sr;
}

/** RFC 4585 §6.3.1: a Picture Loss Indication from `senderSsrc` about `mediaSsrc`. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80 | PSFB_PLI;
  b[1] = RTCP_PSFB;
  b[3] = 2;
  writeUint32(b, 4, senderSsrc);
  writeUint32(b, 8, mediaSsrc);
  return b;
}

/**
 * draft-alvestrand-rmcat-remb-03 §2.2: Receiver Estimated Maximum Bitrate for `ssrc`, with the
 * bitrate as 6-bit exponent and 18-bit mantissa.
 */
export function buildRemb(senderSsrc: number, bitrate: number, ssrc: number): Buffer {
  let mantissa = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (mantissa >= 1 << 18) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  const b = Buffer.alloc(24);
  b[0] = 0x80 | 15; // FMT 15: application layer feedback
  b[1] = RTCP_PSFB;
  b[3] = 5;
  writeUint32(b, 4, senderSsrc);
  // media source SSRC is 0 (RFC 4585 §6.4); then "REMB", num SSRC, exp/mantissa, SSRC list.
  b.write("REMB", 12, "latin1");
  b[16] = 1;
  b[17] = (exp << 2) | (mantissa >> 16);
  b[18] = (mantissa >> 8) & 0xff;
  b[19] = mantissa & 0xff;
  writeUint32(b, 20, ssrc);
  return b;
}

/**
 * Reception statistics of one incoming stream, enough for a receiver report block
 * (RFC 3550 §6.4.1, Appendix A.1 and A.3). Interarrival jitter is not measured (reported as 0):
 * it would need a clock read per packet on the forwarding path.
 */
export class ReceptionStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;

  update(seq: number): void {
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
    } else {
      const delta = (seq - this.maxSeq) & 0xffff;
      if (delta !== 0 && delta < 0x8000) {
        if (seq < this.maxSeq) this.cycles += 0x10000; // wrapped
        this.maxSeq = seq;
      }
    }
    this.received++;
  }

  /** A 32-byte RR from `senderSsrc` with one report block about `sourceSsrc`. */
  receiverReport(senderSsrc: number, sourceSsrc: number, lastSr: number, delaySinceLastSr: number): Buffer {
    const extendedMax = this.cycles + this.maxSeq;
    const expected = this.started ? extendedMax - this.baseSeq + 1 : 0;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval << 8) / expectedInterval);
    // Cumulative lost is a signed 24-bit field.
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.received));
    const b = Buffer.alloc(32);
    b[0] = 0x81; // V=2, RC=1
    b[1] = 201;
    b[3] = 7;
    writeUint32(b, 4, senderSsrc);
    writeUint32(b, 8, sourceSsrc);
    b[12] = Math.min(fraction, 255);
    b[13] = (lost >> 16) & 0xff;
    b[14] = (lost >> 8) & 0xff;
    b[15] = lost & 0xff;
    writeUint32(b, 16, extendedMax >>> 0);
    writeUint32(b, 20, 0); // jitter (see class comment)
    writeUint32(b, 24, lastSr >>> 0);
    writeUint32(b, 28, delaySinceLastSr >>> 0);
    return b;
  }
}

/** RFC 3550 §6.4.1: LSR is the middle 32 bits of the SR's 64-bit NTP timestamp (bytes 10..13). */
export function senderReportMiddleNtp(sr: Uint8Array): number {
  return readUint32(sr, 10);
}
