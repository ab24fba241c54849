// The media transport's error table: stable codes, messages that say what to do, and never a
// frame byte or an SDP body (which carries ICE passwords) in a message.

export const MEDIA_ERRORS = {
  MEDIA_CLOSED: "this media object is closed; create a new transport",
  MEDIA_BAD_SDP: "the session description is malformed or does not match the track list",
  MEDIA_NEGOTIATION_STATE: "this negotiation step is not expected now",
  MEDIA_BAD_ARGUMENT: "an argument is invalid",
  MEDIA_BAD_FRAME: "the frame cannot be sent as given",
  MEDIA_BAD_RTP: "an RTP payload is malformed",
} as const;

export type MediaErrorCode = keyof typeof MEDIA_ERRORS;

export class MediaError extends Error {
  readonly code: MediaErrorCode;

  constructor(code: MediaErrorCode, detail?: string) {
    super(detail === undefined ? `${code}: ${MEDIA_ERRORS[code]}` : `${code}: ${MEDIA_ERRORS[code]}: ${detail}`);
    this.name = "MediaError";
    this.code = code;
  }
}

export function isMediaError(err: unknown, code?: MediaErrorCode): err is MediaError {
  return err instanceof MediaError && (code === undefined || err.code === code);
}
