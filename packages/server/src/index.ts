export { startConclave, type ConclaveOptions, type ConclaveServer } from "./conclave.js";
export { startServer, stderrLogger, SIGNALING_PATH, SIGNALING_MAX_PAYLOAD, type RunningServer, type ServerHooks, type ServerContext, type Logger } from "./server.js";
export { loadConfig, dataPaths, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, ENV_NAMES, type ServerConfig, type ConfigFlags, type LoadConfigOptions } from "./config.js";
export { Database } from "./storage/database.js";
export { MeetingStore, isMeetingId, MEETING_ID_PATTERN, type Meeting, type Encryption, type CreatedMeeting } from "./storage/meetings.js";
export { RateLimiter } from "./http/rate-limit.js";
export { SERVER_ERRORS, ServerError, isServerError, type ServerErrorCode } from "./errors.js";
export { MeetingRegistry } from "./meetings/meeting-registry.js";
export { LiveMeeting, type MediaRoom, type MediaPeer, type MediaPeerEvents } from "./meetings/live-meeting.js";
