export { MeetingSession, type MeetingSessionOptions, type MeetingSessionEvents, type EpochEvent, type SignalingChannel } from "./meeting-session.js";
export { TypedEmitter, type Listener } from "./events.js";
export { CLIENT_ERRORS, type ClientErrorCode } from "./errors.js";
