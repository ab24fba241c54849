// Node-only entry: signaling over `ws` and the Node WebRTC media transport.
export { connectNodeSignaling, fetchMeetingInfo, normaliseFingerprint, type MeetingPublicInfo, type NodeSignalingOptions } from "./node-signaling.js";
export { NodeParticipant, parseMeetingLink, type NodeParticipantOptions, type ParticipantStats, type MeetingLink } from "./node-participant.js";
export { SyntheticMedia } from "./synthetic/synthetic-media.js";
export { NodeMediaTransport, type NodeMediaTransportOptions, type ReceivedFrame, type LocalTrack } from "./media/index.js";
export { MEDIA_ERRORS, MediaError, isMediaError, type MediaErrorCode } from "./media/index.js";
export { nodeFileTransport } from "./node-files.js";
// RTP framing of VP8 (RFC 7741), for connectors that bridge RTP from devices outside the meeting.
export { Vp8Depacketizer, packetizeVp8, isVp8Keyframe, type Vp8Frame } from "./media/index.js";
