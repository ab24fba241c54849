/**
 * Codec-aware framing: which leading bytes of an encoded frame stay in the clear.
 *
 * Browsers hand encoded frames to an RTP packetizer after our transform runs. The VP8 packetizer
 * (RFC 7741) and Chromium's depacketizer read the VP8 frame tag (and, for key frames, the start
 * code and dimensions), so those bytes must stay readable; the rest of the frame is SFrame
 * ciphertext. The clear bytes are passed to SFrame as metadata, i.e. authenticated as AAD
 * (RFC 9605 §4.4.3), so altering them makes decryption fail.
 *
 * Protected frame = clear prefix || SFrame(header || ciphertext || tag), AAD = header || prefix.
 *
 * - VP8 (RFC 6386 §9.1): the 3-byte frame tag of every frame; key frames (tag bit 0 == 0) also keep
 *   the 3-byte start code and 4 bytes of dimensions: 10 bytes.
 * - Opus (RFC 6716 §3.1): the 1-byte TOC, so the packetizer and any level-reading SFU see the
 *   frame configuration but nothing of the audio.
 * - H.264 is not supported yet: its NAL units would need per-NAL handling; the browser client
 *   negotiates VP8 only.
 */
import { ProtocolError } from "./errors.js";

export type MediaCodec = "vp8" | "opus";

export const VP8_KEYFRAME_CLEAR_BYTES = 10;
export const VP8_DELTA_CLEAR_BYTES = 3;
export const OPUS_CLEAR_BYTES = 1;

/** True when a VP8 frame is a key frame (RFC 6386 §9.1: frame tag bit 0 is 0 for key frames). */
export function isVp8KeyFrame(frame: Uint8Array): boolean {
  if (frame.length === 0) throw new ProtocolError("FRAME_TOO_SHORT", "vp8");
  return (frame[0]! & 0x01) === 0;
}

/** Number of leading bytes of `frame` that stay clear for `codec`. */
export function clearPrefixLength(codec: MediaCodec, frame: Uint8Array): number {
  switch (codec) {
    case "vp8": {
      const n = isVp8KeyFrame(frame) ? VP8_KEYFRAME_CLEAR_BYTES : VP8_DELTA_CLEAR_BYTES;
      if (frame.length < n) throw new ProtocolError("FRAME_TOO_SHORT", "vp8");
      return n;
    }
    case "opus":
      if (frame.length < OPUS_CLEAR_BYTES) throw new ProtocolError("FRAME_TOO_SHORT", "opus");
      return OPUS_CLEAR_BYTES;
    default: {
      const never: never = codec;
      throw new ProtocolError("INVALID_ARGUMENT", `codec: ${String(never)}`);
    }
  }
}

/** Splits a frame into the clear prefix and the part to encrypt (views, no copies). */
export function splitFrame(codec: MediaCodec, frame: Uint8Array): { clear: Uint8Array; payload: Uint8Array } {
  const n = clearPrefixLength(codec, frame);
  return { clear: frame.subarray(0, n), payload: frame.subarray(n) };
}
