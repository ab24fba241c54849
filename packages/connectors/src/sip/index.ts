/** The SIP stack: strict messages, transports, transactions, the typed user agent, digest auth. */
export { parseSipMessage, serializeSipMessage, SipStreamParser, header, headerValues, MAX_SIP_MESSAGE, type SipMessage, type SipRequest, type SipResponse, type SipHeader } from "./message.js";
export { parseSipUri, formatSipUri, sipUri, type SipUri } from "./uri.js";
export { parseNameAddr, parseVia, parseAuthHeader, parseSessionExpires, formatNameAddr, type NameAddr, type Via } from "./headers.js";
export { SipTransport, type Flow, type SipListenOptions, type SipTransportName, type BoundAddress } from "./transport.js";
export { SipUserAgent, SipDialog, IncomingCall, MIN_SE, DEFAULT_SESSION_EXPIRES, type SipUserAgentOptions } from "./ua.js";
export { DigestServer, answerChallenge, digestResponse, type DigestAccount, type DigestAlgorithm } from "./digest.js";
export { explain } from "./build.js";
