export { startConclave, type ConclaveOptions, type ConclaveServer } from "./conclave.js";
export { startServer, SIGNALING_PATH, type RunningServer, type ServerHooks, type ServerContext, type Logger } from "./server.js";
export { loadConfig, type ServerConfig } from "./config.js";
export { SERVER_ERRORS, ServerError, isServerError, type ServerErrorCode } from "./errors.js";
export { MeetingRegistry } from "./meetings/meeting-registry.js";
export { LiveMeeting, type MediaRoom, type MediaPeer, type MediaPeerEvents } from "./meetings/live-meeting.js";
