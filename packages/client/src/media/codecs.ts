// The codec set Conclave media uses on every hop, matching the relay: VP8 (PT 96, 90 kHz) and
// Opus (PT 111, 48 kHz, 2 channels). No RED, ULPFEC, RTX or transport-cc; NACK and PLI stay.

import { RTCRtpCodecParameters } from "werift";

export const VP8_PAYLOAD_TYPE = 96;
export const OPUS_PAYLOAD_TYPE = 111;
export const VP8_CLOCK_RATE = 90_000;
export const OPUS_CLOCK_RATE = 48_000;

export function weriftCodecs(): { video: RTCRtpCodecParameters[]; audio: RTCRtpCodecParameters[] } {
  return {
    video: [
      new RTCRtpCodecParameters({
        mimeType: "video/VP8",
        clockRate: VP8_CLOCK_RATE,
        payloadType: VP8_PAYLOAD_TYPE,
        rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }],
      }),
    ],
    audio: [
      new RTCRtpCodecParameters({
        mimeType: "audio/opus",
        clockRate: OPUS_CLOCK_RATE,
        channels: 2,
        payloadType: OPUS_PAYLOAD_TYPE,
      }),
    ],
  };
}
