/** The conclave command as a library: its entry point and the helpers other commands reuse. */
export { main, COMMANDS } from "./main.js";
export type { CliIo, Command } from "./io.js";
export { processIo } from "./io.js";
export { CLI_ERRORS, CliError, isCliError, type CliErrorCode } from "./errors.js";
export {
  connectTrusted,
  isLoopbackHost,
  resolveTrust,
  trustedConnectionFactory,
  type Trust,
  type TrustFlags,
} from "./tls-trust.js";
export { normalizeFingerprint, fingerprintsEqual } from "./fingerprint.js";
export { callApi, ApiError, type ApiRequest, type ApiErrorInfo } from "./api-client.js";
