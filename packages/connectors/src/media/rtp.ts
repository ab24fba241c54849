/**
 * RTP (RFC 3550 §5.1) and the RTCP we act on (RFC 3550 §6, RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1
 * FIR): a strict header decoder and encoders, side by side. Packets come from the network (a
 * device, after SRTP), so the decoder checks every length and fails one way (null).
 */

export interface RtpPacketIn {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Uint8Array;
}

/** Decodes an RTP packet; null when it is not one (RTCP, garbage, truncated). */
export function decodeRtp(p: Uint8Array): RtpPacketIn | null {
  if (p.length < 12) return null;
  const b0 = p[0]!;
  if (b0 >> 6 !== 2) return null;
  const b1 = p[1]!;
  const pt = b1 & 0x7f;
  // RFC 5761 §4: payload types 64-95 collide with RTCP packet types (when muxed): not RTP.
  if (pt >= 64 && pt <= 95) return null;
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (off > p.length) return null;
  if (b0 & 0x10) {
    if (off + 4 > p.length) return null;
    const words = (p[off + 2]! << 8) | p[off + 3]!;
    off += 4 + words * 4;
    if (off > p.length) return null;
  }
  let end = p.length;
  if (b0 & 0x20) {
    const pad = p[p.length - 1]!;
    if (pad === 0 || off + pad > p.length) return null;
    end -= pad;
  }
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {
    payloadType: pt,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: p.subarray(off, end),
  };
}

/** The 12-byte header (no CSRCs, no extension) plus payload. */
export function encodeRtp(h: { payloadType: number; marker: boolean; sequenceNumber: number; timestamp: number; ssrc: number }, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(12 + payload.length);
  out[0] = 0x80;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(h.timestamp >>> 0, 4);
  out.writeUInt32BE(h.ssrc >>> 0, 8);
  out.set(payload, 12);
  return out;
}

/** Whether a packet on a muxed port is RTCP (RFC 5761 §4: second byte 192-223). */
export function isRtcp(p: Uint8Array): boolean {
  return p.length >= 8 && p[0]! >> 6 === 2 && p[1]! >= 192 && p[1]! <= 223;
}

/** The key frame requests in a compound RTCP packet: PLI or FIR for any media SSRC. */
export function rtcpRequestsKeyframe(p: Uint8Array): boolean {
  let off = 0;
  while (off + 4 <= p.length) {
    const b0 = p[off]!;
    if (b0 >> 6 !== 2) return false;
    const pt = p[off + 1]!;
    const fmt = b0 & 0x1f;
    const len = (((p[off + 2]! << 8) | p[off + 3]!) + 1) * 4;
    if (off + len > p.length) return false;
    if (pt === 206 && (fmt === 1 || fmt === 4)) return true;
    off += len;
  }
  return false;
}

/** RFC 4585 §6.3.1: a Picture Loss Indication. */
export function encodePli(senderSsrc: number, mediaSsrc: number): Buffer {
  const out = Buffer.alloc(12);
  out[0] = 0x80 | 1;
  out[1] = 206;
  out.writeUInt16BE(2, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  return out;
}

/** RFC 5104 §4.3.1: a Full Intra Request (for devices that ignore PLI). */
export function encodeFir(senderSsrc: number, mediaSsrc: number, seq: number): Buffer {
  const out = Buffer.alloc(20);
  out[0] = 0x80 | 4;
  out[1] = 206;
  out.writeUInt16BE(4, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(0, 8);
  out.writeUInt32BE(mediaSsrc >>> 0, 12);
  out[16] = seq & 0xff;
  return out;
}

/**
 * A minimal Receiver Report (RFC 3550 §6.4.2) with no report blocks: some devices end a call
 * that never sees RTCP; this keeps the RTCP stream alive.
 */
export function encodeEmptyRr(senderSsrc: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = 0x80;
  out[1] = 201;
  out.writeUInt16BE(1, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  return out;
}
