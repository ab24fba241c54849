/**
 * Every error the server package raises, with a stable string code and an HTTP status.
 *
 * One table per package (CONVENTIONS.md habit 3, after fastify's error table). HTTP error
 * responses are `{ error: { code, message } }`; the signaling layer reuses the MEETING_* and
 * passcode codes so a client sees one vocabulary. Messages say what happened and, where the
 * caller can act, what to do. They never contain tokens, passcodes or request bodies: a
 * `detail` passed to ServerError must be safe to show to the client and to write to a log.
 */
export const SERVER_ERRORS = {
  // Requests
  BAD_REQUEST: { status: 400, message: "The request is not valid." },
  MALFORMED_JSON: { status: 400, message: "The request body is not valid JSON." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The request body must be JSON (Content-Type: application/json)." },
  BODY_TOO_LARGE: { status: 413, message: "The request body is larger than the server accepts." },
  NOT_FOUND: { status: 404, message: "There is nothing at this address." },
  METHOD_NOT_ALLOWED: { status: 405, message: "This address does not accept that HTTP method." },
  UNAUTHORIZED: { status: 401, message: "A valid admin API token is required (Authorization: Bearer <token>)." },
  RATE_LIMITED: { status: 429, message: "Too many attempts; wait a minute and try again." },

  // Meetings
  MEETING_NOT_FOUND: { status: 404, message: "No meeting has this ID. Check the ID or the link." },
  MEETING_ENDED: { status: 410, message: "This meeting has ended." },
  WRONG_PASSCODE: { status: 403, message: "The meeting passcode is missing or wrong." },

  // Accounts, sessions, settings and scheduling (HTTP API; see docs/api.md)
  UNAUTHENTICATED: { status: 401, message: "Sign in first, or send the admin API token (Authorization: Bearer <token>)." },
  SESSION_EXPIRED: { status: 401, message: "Your session has expired or is not valid; sign in again." },
  CSRF_FAILED: { status: 403, message: "The X-CSRF-Token header is missing or does not match the conclave_csrf cookie; reload the page and try again." },
  FORBIDDEN: { status: 403, message: "You are not allowed to do this; ask the owner or an admin." },
  LOGIN_FAILED: { status: 401, message: "Wrong email or password." },
  ACCOUNT_DISABLED: { status: 403, message: "This account is disabled; ask an admin to enable it." },
  CURRENT_PASSWORD_WRONG: { status: 403, message: "The current password is wrong." },
  WEAK_PASSWORD: { status: 400, message: "The password is too short: use at least 10 characters." },
  SETUP_DONE: { status: 409, message: "This server is already set up; sign in instead." },
  EMAIL_TAKEN: { status: 409, message: "An account with this email address already exists." },
  INVITATION_INVALID: { status: 400, message: "This invitation is unknown, has expired or was already used; ask for a new one." },
  USER_NOT_FOUND: { status: 404, message: "No user has this ID." },
  OWNER_PROTECTED: { status: 403, message: "The owner's account cannot be disabled, deleted or given another role." },
  GROUP_NOT_FOUND: { status: 404, message: "No group has this ID." },
  GROUP_NAME_TAKEN: { status: 409, message: "A group with this name already exists." },
  SETTING_LOCKED: { status: 409, message: "This setting is locked at a higher level (account or group) and cannot be changed here." },
  E2EE_NOT_ALLOWED: { status: 409, message: "End-to-end encryption is turned off by your settings (allowE2ee); choose Enhanced encryption or ask an admin." },

  // Signaling: sent over WSS as {type: "error", code, message, fatal}; the status is informative.
  NOT_JOINED: { status: 400, message: "Send a join request first." },
  ALREADY_JOINED: { status: 409, message: "This connection has already joined." },
  JOIN_TIMEOUT: { status: 408, message: "No join request arrived in time." },
  MESSAGE_MALFORMED: { status: 400, message: "The message is not a valid signaling message." },
  REQUEST_FAILED: { status: 400, message: "The request could not be carried out." },
  BAD_KEY_PACKAGE: { status: 400, message: "The MLS key package is invalid or does not match the join request." },
  MLS_SUITE_MISMATCH: {
    status: 409,
    message: "The key package is for another MLS cipher suite than this meeting's (post-quantum meetings need an X-Wing key package); join with a client that supports the meeting's suite.",
  },
  MEMBER_ID_TAKEN: { status: 409, message: "Another participant already uses this member id." },
  MEETING_FULL: { status: 403, message: "This meeting has reached its participant limit." },
  CONNECTOR_NOT_ALLOWED: { status: 403, message: "End-to-end encrypted meetings admit no server-side connectors." },
  BAD_TICKET: { status: 403, message: "The connector's join ticket is unknown, used, expired or for another meeting." },
  SIP_DISABLED: { status: 409, message: "This server does not run the SIP connector; start it with --sip-listen (or --sip-udp-listen, --sip-tcp-listen)." },
  RECORDING_NOT_ALLOWED: { status: 403, message: "Cloud recording is turned off by the meeting owner's settings (cloudRecording); ask an admin, or record locally." },
  RECORDING_ACTIVE: { status: 409, message: "This meeting is already being recorded." },
  RECORDING_NOT_ACTIVE: { status: 409, message: "This meeting is not being recorded." },
  RECORDING_NOT_FOUND: { status: 404, message: "No recording has this ID (it may have been deleted)." },
  TRANSCRIPTION_NOT_ALLOWED: { status: 403, message: "Live transcription is turned off by the meeting owner's settings (liveTranscription); ask an admin." },
  TRANSCRIPTION_ACTIVE: { status: 409, message: "This meeting is already being transcribed." },
  TRANSCRIPTION_NOT_ACTIVE: { status: 409, message: "This meeting is not being transcribed." },
  RECORDING_NOT_READY: { status: 409, message: "The recording is still being written; try again when it is finalized." },
  STREAMING_NOT_ALLOWED: { status: 403, message: "Live streaming is turned off by the meeting owner's settings (liveStreaming); ask an admin." },
  STREAM_ACTIVE: { status: 409, message: "This meeting is already being streamed." },
  STREAM_NOT_ACTIVE: { status: 409, message: "This meeting is not being streamed." },
  STREAM_URL_INVALID: { status: 400, message: "The stream destination is invalid: give an rtmp:// or rtmps:// url and a streamKey." },
  STREAM_REFUSED: { status: 502, message: "The streaming destination refused the stream, or its TLS certificate was not trusted (check the URL, the stream key and, for rtmps://, the ingest's certificate)." },
  STREAM_FAILED: { status: 502, message: "The live streaming connector failed." },
  RANGE_NOT_SATISFIABLE: { status: 416, message: "The requested byte range is outside the file." },
  GROUP_REJECTED: { status: 409, message: "The delivery service did not expect this group message." },
  NOT_IN_GROUP: { status: 403, message: "Media is available once you hold the meeting's keys (after you are added to the group)." },
  NOT_ADMITTED: { status: 403, message: "You are not in the meeting yet: a host has to let you in." },
  NOT_HOST: { status: 403, message: "Only the meeting's host or a co-host can do this." },
  MEMBER_NOT_FOUND: { status: 404, message: "No such participant in this meeting." },
  RENAME_NOT_ALLOWED: { status: 403, message: "Only a phone or room system can be renamed; people keep the names they chose." },
  REMOVED_BY_HOST: { status: 403, message: "The host removed you from the meeting." },
  MEETING_LOCKED: { status: 403, message: "The host has locked this meeting; no one else can join." },
  BANNED: { status: 403, message: "The host removed you from this meeting and did not allow you back." },
  APP_MESSAGE_REJECTED: { status: 400, message: "The encrypted application message is not an MLS application message of this meeting's group and a recent epoch." },
  APP_MESSAGE_TOO_LARGE: { status: 413, message: "The encrypted application message is larger than the server relays." },
  APP_MESSAGE_RATE_LIMITED: { status: 429, message: "Too many encrypted application messages from you; slow down." },
  FEATURE_DISABLED: { status: 403, message: "This meeting's settings turn this feature off; ask the meeting's owner or an admin." },
  MOVE_NOT_ALLOWED: { status: 403, message: "You can go only to the breakout room you are assigned to, or back to the main meeting." },
  ROOM_NOT_FOUND: { status: 404, message: "No such breakout room is open in this meeting." },
  BREAKOUT_NOT_OPEN: { status: 409, message: "Breakout rooms are not open in this meeting." },

  // Files shared in chat (only their ciphertext reaches the server)
  FILE_TOKEN_INVALID: { status: 403, message: "The file token is missing or not valid: only participants in this meeting can share and download its files." },
  FILE_TOO_LARGE: { status: 413, message: "The file is larger than this server accepts for sharing." },
  FILE_QUOTA_EXCEEDED: { status: 507, message: "This meeting has used up its space for shared files; files are deleted when the meeting ends." },
  FILE_NOT_FOUND: { status: 404, message: "No such file in this meeting (shared files are deleted when the meeting ends)." },
  LENGTH_REQUIRED: { status: 411, message: "The upload must say its size (Content-Length)." },
  BAD_COMMIT: { status: 403, message: "The other members could not apply your group changes, or the server refused them; you were removed from the meeting." },
  COMMIT_TIMEOUT: { status: 408, message: "You were asked to apply the group's changes and did not in time; you were removed from the meeting. Join again." },

  // Operation
  CONFIG_INVALID: { status: 500, message: "The server configuration is not valid." },
  DATA_DIR_FAILED: { status: 500, message: "The data directory could not be created or read." },
  TLS_SETUP_FAILED: { status: 500, message: "The TLS certificate could not be loaded or created." },
  ACME_FAILED: { status: 502, message: "The certificate could not be obtained or renewed from the ACME server; the current certificate stays in use." },
  STORAGE_FAILED: { status: 500, message: "The database could not be opened or migrated." },
  // Data at rest (kms/): the HTTP response to KMS_UNAVAILABLE carries Retry-After.
  KMS_UNAVAILABLE: { status: 503, message: "The key management system cannot be reached, so this stored data cannot be read or written now; try again in 30 seconds. Meetings in progress are not affected." },
  KMS_FAILED: { status: 500, message: "The key management system refused the operation; check its configuration (docs/operations.md)." },
  DATA_UNREADABLE: { status: 500, message: "Stored data could not be decrypted: it was altered, its key was destroyed, or its master key is missing." },
  LISTEN_FAILED: { status: 500, message: "The server could not listen on the configured address and port." },
  SERVER_CLOSED: { status: 503, message: "The server is shutting down." },
  INTERNAL: { status: 500, message: "Something went wrong on the server." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ServerErrorCode = keyof typeof SERVER_ERRORS;

/** The JSON body of every HTTP error response. */
export interface ErrorBody {
  error: { code: ServerErrorCode; message: string };
}

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  readonly status: number;

  /** `detail` is appended to the table's message; it must not contain secrets. */
  constructor(code: ServerErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = SERVER_ERRORS[code];
    super(detail ? `${entry.message} (${detail})` : entry.message, options);
    this.name = "ServerError";
    this.code = code;
    this.status = entry.status;
  }

  /** The response body. INTERNAL never carries a detail: its cause may be anything. */
  toBody(): ErrorBody {
    const message = this.code === "INTERNAL" ? SERVER_ERRORS.INTERNAL.message : this.message;
    return { error: { code: this.code, message } };
  }
}

export function isServerError(e: unknown, code?: ServerErrorCode): e is ServerError {
  return e instanceof ServerError && (code === undefined || e.code === code);
}

/** The table's message for `code`, with an optional safe detail (for signaling error messages). */
export function errorMessage(code: ServerErrorCode, detail?: string): string {
  const base = SERVER_ERRORS[code].message;
  return detail ? `${base} (${detail})` : base;
}
