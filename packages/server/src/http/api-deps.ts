/** What the API's route modules are built from. */
import type { AdminToken } from "../auth/admin-token.js";
import type { Database } from "../storage/database.js";
import type { RateLimiter } from "./rate-limit.js";
import type { MeetingFiles } from "../files/meeting-files.js";
import type { MeetingConnectors } from "../meetings/live-meeting.js";
import type { RecordingService } from "../connectors/recording-service.js";
import type { StreamingService } from "../connectors/streaming-service.js";
import type { TranscriptionService } from "../connectors/transcription-service.js";
import type { AttemptGuard } from "./attempt-guard.js";
import type { Logger } from "../observability/logger.js";

export interface ApiLimiters {
  /** Failed admin-token authentications per client address (10 per minute). */
  readonly adminTokenFailures: RateLimiter;
  /**
   * Guessing budget per address, shared by meeting lookups, joins and sign-ins; meetings and
   * accounts under attack refuse only addresses that failed (attempt-guard.ts).
   */
  readonly attempts: AttemptGuard;
  /** Failed invitation acceptances per client address (10 per minute). */
  readonly invitationFailures: RateLimiter;
}

export interface ApiDeps {
  readonly database: Database;
  readonly adminToken: AdminToken;
  readonly limiters: ApiLimiters;
  /** Base of join links; a function because the port is known only after listening. */
  readonly publicUrl: () => string;
  /** Ciphertext of files shared in live meetings, and who may read it. */
  readonly files: MeetingFiles;
  /** The connector services (the SIP gateway), when the server runs them; looked up per request. */
  readonly connectors?: () => MeetingConnectors | undefined;
  /** Cloud recording (conclave.ts starts it once listening); looked up per request. */
  readonly recordings?: () => RecordingService | undefined;
  /** Live streaming (conclave.ts starts it once listening); looked up per request. */
  readonly streams?: () => StreamingService | undefined;
  /** Live transcription (conclave.ts starts it once listening); looked up per request. */
  readonly transcriptions?: () => TranscriptionService | undefined;
  /** The security log (failed sign-ins, admin-token guesses); never given a secret. */
  readonly security?: Logger;
}
