// Public surface of the Node participant's media transport (the lead wires it into the package entry).

export {
  NodeMediaTransport,
  type LocalCandidate,
  type NodeMediaTransportEvents,
  type NodeMediaTransportOptions,
  type PcName,
  type PublishTrackInfo,
} from "./transport.js";
export {
  LocalTrack,
  type LocalTrackEvents,
  type MediaKind,
  type MediaSource,
  type SendFrameOptions,
} from "./local-track.js";
export { RemoteTrack, type ReceivedFrame, type RemoteTrackStats, type SubscribeTrackInfo } from "./remote-track.js";
export {
  Vp8Depacketizer,
  VP8_DESCRIPTOR_LENGTH,
  decodeVp8Descriptor,
  encodeVp8Descriptor,
  isVp8Keyframe,
  packetizeVp8,
  type Vp8Descriptor,
  type Vp8DepacketizerOptions,
  type Vp8DepacketizerResult,
  type Vp8Frame,
  type RtpPayloadIn,
} from "./vp8.js";
export { MAX_OPUS_FRAME, packetizeOpus } from "./opus.js";
export { OPUS_CLOCK_RATE, OPUS_PAYLOAD_TYPE, VP8_CLOCK_RATE, VP8_PAYLOAD_TYPE } from "./codecs.js";
export { MEDIA_ERRORS, MediaError, isMediaError, type MediaErrorCode } from "./errors.js";
