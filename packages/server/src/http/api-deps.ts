/** What the API's route modules are built from. */
import type { AdminToken } from "../auth/admin-token.js";
import type { Database } from "../storage/database.js";
import type { RateLimiter } from "./rate-limit.js";
import type { MeetingConnectors } from "../meetings/live-meeting.js";
import type { RecordingService } from "../connectors/recording-service.js";

export interface ApiLimiters {
  /** Failed admin-token authentications per client address (10 per minute). */
  readonly adminTokenFailures: RateLimiter;
  /** Failed sign-ins per client address (10 per minute). */
  readonly loginFailuresByAddress: RateLimiter;
  /** Failed sign-ins per account email, from any address (10 per minute). */
  readonly loginFailuresByAccount: RateLimiter;
  /** Failed invitation acceptances per client address (10 per minute). */
  readonly invitationFailures: RateLimiter;
}

export interface ApiDeps {
  readonly database: Database;
  readonly adminToken: AdminToken;
  readonly limiters: ApiLimiters;
  /** Base of join links; a function because the port is known only after listening. */
  readonly publicUrl: () => string;
  /** The connector services (the SIP gateway), when the server runs them; looked up per request. */
  readonly connectors?: () => MeetingConnectors | undefined;
  /** Cloud recording (conclave.ts starts it once listening); looked up per request. */
  readonly recordings?: () => RecordingService | undefined;
}
