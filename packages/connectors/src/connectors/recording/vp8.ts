/**
 * The little of VP8 the recorder reads: whether a frame is a key frame and, if so, its size
 * (RFC 6386 §9.1: a 3-byte frame tag, then for key frames the start code 9d 01 2a and two
 * little-endian 16-bit fields whose low 14 bits are width and height).
 */
export function vp8KeyframeSize(frame: Uint8Array): { width: number; height: number } | null {
  if (frame.length < 10 || (frame[0]! & 1) !== 0) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  const width = (frame[6]! | (frame[7]! << 8)) & 0x3fff;
  const height = (frame[8]! | (frame[9]! << 8)) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : null;
}

/**
 * An Opus identification header (RFC 7845 §5.1) for the WebM CodecPrivate: WebRTC Opus is
 * 48 kHz, two channels declared (decoders play mono streams fine), no pre-skip.
 */
export function opusHead(channels = 2): Uint8Array {
  const b = new Uint8Array(19);
  b.set(new TextEncoder().encode("OpusHead"), 0);
  b[8] = 1; // version
  b[9] = channels;
  // pre-skip 0 (bytes 10-11), input sample rate 48000 LE (bytes 12-15), gain 0, mapping family 0
  new DataView(b.buffer).setUint32(12, 48000, true);
  return b;
}
