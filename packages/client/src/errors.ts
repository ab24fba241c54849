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
  APP_MESSAGE_NOT_ALLOWED: "A host-only request (mute, spotlight) came from someone who is not a host or co-host; it was ignored.",
  E2EE_UNSUPPORTED: "This browser cannot encrypt media end to end (no encoded transforms), so it cannot join.",
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERRORS;
