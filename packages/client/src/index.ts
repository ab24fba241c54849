export {
  MeetingSession,
  type MeetingSessionOptions,
  type MeetingSessionEvents,
  type EpochEvent,
  type AppMessageEvent,
  type BreakoutStateEvent,
  type SignalingChannel,
} from "./meeting-session.js";
export { MeetingMediaState, type MediaState, type MeetingMediaStateEvents } from "./media-state.js";
export { TypedEmitter, type Listener } from "./events.js";
export { CLIENT_ERRORS, ClientError, isClientError, type ClientErrorCode } from "./errors.js";
export * from "./collaboration/index.js";
export { PERMANENT_REFUSALS, reconnectDelayMs } from "./reconnect-policy.js";
