/**
 * Encoded-frame streams → FrameCryptor. Both browser APIs end up here:
 * - RTCRtpScriptTransform: the worker receives an `rtctransform` event with a transformer
 *   holding `readable`/`writable` and the options the page passed.
 * - createEncodedStreams (fallback): the page transfers the streams in a message.
 *
 * A frame that cannot be encrypted or decrypted is not enqueued: it is dropped, never forwarded.
 */
import type { MediaCodec } from "@conclave/protocol";
import type { MediaKind, TransformSide } from "../messages.js";
import type { FrameCryptor } from "./frame-cryptor.js";

/** What both RTCEncodedVideoFrame and RTCEncodedAudioFrame offer. */
interface EncodedFrame {
  data: ArrayBuffer;
  getMetadata(): { mimeType?: string; payloadType?: number };
}

/** The parts of RTCRtpScriptTransformer used here (sendKeyFrameRequest is receiver-only, and new). */
export interface Transformer {
  readable: ReadableStream;
  writable: WritableStream;
  sendKeyFrameRequest?: () => Promise<void>;
}

const EXPECTED_MIME: Record<MediaKind, string> = { video: "video/vp8", audio: "audio/opus" };
/** Minimum gap between keyframe requests a receiver sends after dropping video frames. */
const KEYFRAME_REQUEST_INTERVAL_MS = 1000;

export function runTransform(cryptor: FrameCryptor, side: TransformSide, kind: MediaKind, t: Transformer): void {
  const codec: MediaCodec = kind === "video" ? "vp8" : "opus";
  let lastKeyframeRequest = 0;
  const requestKeyframe = (): void => {
    const now = Date.now();
    if (side !== "receive" || kind !== "video" || !t.sendKeyFrameRequest || now - lastKeyframeRequest < KEYFRAME_REQUEST_INTERVAL_MS) return;
    lastKeyframeRequest = now;
    t.sendKeyFrameRequest().catch(() => {});
  };
  const transform = new TransformStream<EncodedFrame, EncodedFrame>({
    async transform(frame, controller) {
      // Conclave's framing knows VP8 and Opus only (the relay forwards nothing else). A frame of
      // any other codec is dropped rather than sent with the wrong clear prefix.
      const mime = frame.getMetadata().mimeType;
      if (mime !== undefined && mime.toLowerCase() !== EXPECTED_MIME[kind]) {
        if (side === "send") cryptor.stats.droppedNoKey += 1;
        else cryptor.stats.failed += 1;
        return;
      }
      const data = new Uint8Array(frame.data);
      const out = side === "send" ? await cryptor.protect(codec, data) : await cryptor.unprotect(codec, data);
      if (out === null) {
        requestKeyframe();
        return;
      }
      frame.data = exactBuffer(out);
      controller.enqueue(frame);
    },
  });
  t.readable
    .pipeThrough(transform)
    .pipeTo(t.writable)
    .catch(() => {
      // The track or connection ended: the streams close with it.
    });
}

/** An ArrayBuffer holding exactly the view's bytes (copies only when the view is partial). */
function exactBuffer(view: Uint8Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) return view.buffer;
  return view.slice().buffer;
}
