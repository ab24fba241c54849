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

  // Operation
  CONFIG_INVALID: { status: 500, message: "The server configuration is not valid." },
  DATA_DIR_FAILED: { status: 500, message: "The data directory could not be created or read." },
  TLS_SETUP_FAILED: { status: 500, message: "The TLS certificate could not be loaded or created." },
  STORAGE_FAILED: { status: 500, message: "The database could not be opened or migrated." },
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
