/** @conclave/connectors: the public surface. */
export { CONNECTOR_ERRORS, ConnectorError, isConnectorError, type ConnectorErrorCode } from "./errors.js";
export * from "./sip/index.js";
export { SRTP_SUITES, SrtpKeyMaterial, parseCryptoAttribute, formatCryptoAttribute, type SrtpSuite, type CryptoAttribute } from "./media/sdes.js";
export { SrtpProtection, PLAIN_RTP, ReplayWindow, type MediaProtection } from "./media/srtp.js";
export { decodeRtp, encodeRtp, isRtcp, rtcpRequestsKeyframe, encodePli } from "./media/rtp.js";
export { encodeG711, decodeG711 } from "./media/g711.js";
export { Resampler } from "./media/resample.js";
export { AudioMixer, ActiveSpeaker } from "./media/mixer.js";
export { negotiateOffer, buildAnswer, buildOffer, readAnswer, ENCRYPTION_REQUIRED_TEXT, type Negotiation, type NegotiatedStream } from "./connectors/sip-room/negotiate.js";
export { ConnectorSupervisor, SupervisedProcess, type ProcessSpec, type ResourceLimits } from "./framework/supervisor.js";
