// Opus over RTP (RFC 7587): one frame per packet, no payload header, nothing to reassemble.
// Frames are opaque (SFrame ciphertext with the clear TOC byte first); nothing here reads them.

import { MediaError } from "./errors.js";

/**
 * The largest Opus frame accepted: RFC 6716 §3.4 caps a packet at 1275 bytes of Opus data, plus
 * room for SFrame's header and tag, and still under a 1500-byte MTU with SRTP and IP headers.
 */
export const MAX_OPUS_FRAME = 1275 + 64;

/** RFC 7587 §4.2: an Opus frame travels as the whole RTP payload. */
export function packetizeOpus(frame: Uint8Array): Uint8Array {
  if (frame.length === 0) throw new MediaError("MEDIA_BAD_FRAME", "empty Opus frame");
  if (frame.length > MAX_OPUS_FRAME) {
    throw new MediaError("MEDIA_BAD_FRAME", `Opus frame of ${frame.length} bytes exceeds ${MAX_OPUS_FRAME}`);
  }
  return frame;
}
