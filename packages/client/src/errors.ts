/**
 * Error codes the client SDK reports in its `error` events (besides codes relayed from the server,
 * listed in the server's table, and ProtocolError codes). One table per package.
 */
export const CLIENT_ERRORS = {
  REMOVED: "You were removed from the meeting.",
  CLIENT_INTERNAL: "Something went wrong in the meeting client.",
  MEDIA_FAILED: "The media connection to the server failed.",
  SEND_FAILED: "A media frame could not be encrypted or sent.",
  DISCONNECTED: "The server closed the connection.",
  SERVER_UNREACHABLE: "The server could not be reached.",
  TLS_UNTRUSTED: "The server's TLS certificate is not trusted.",
  CONNECT_FAILED: "The connection to the server could not be opened.",
  APP_MESSAGE_NOT_ALLOWED: "A host-only message (mute request, spotlight, lowered hand, poll, breakout plan) came from someone who is not a host or co-host; it was ignored.",
  APP_MESSAGE_DUPLICATE: "A chat message or shared file reused the id of an earlier one; it was ignored.",
  HOST_ONLY: "Only the meeting's host or a co-host can do this.",
  POLL_VOTE_REFUSED: "The vote was refused: the poll is closed or unknown, the choices do not fit it, or this member has already voted.",
  FILE_UPLOAD_FAILED: "The encrypted file could not be uploaded to the meeting's server.",
  FILE_DOWNLOAD_FAILED: "The encrypted file could not be downloaded from the meeting's server (it is deleted when the meeting ends).",
  CAPTION_NOT_FROM_TRANSCRIBER: "A caption came from a member that is not the meeting's transcription connector; it was ignored.",
  E2EE_UNSUPPORTED: "This browser cannot encrypt media end to end (no encoded transforms), so it cannot join.",
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

/** An SDK call refused, with a code of the table above (or a server code the server answered). */
export class ClientError extends Error {
  readonly code: string;

  constructor(code: ClientErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${CLIENT_ERRORS[code]} (${detail})` : CLIENT_ERRORS[code], options);
    this.name = "ClientError";
    this.code = code;
  }
}

export function isClientError(e: unknown, code?: ClientErrorCode): e is ClientError {
  return e instanceof ClientError && (code === undefined || e.code === code);
}
