// The media transport's error table: stable codes and sentences that say what to do. Details
// never quote a frame byte or an SDP body (which carries ICE passwords).

export const MEDIA_ERRORS = {
  MEDIA_CLOSED: "This media object is closed; create a new transport.",
  MEDIA_BAD_SDP: "The session description is malformed or does not match the track list.",
  MEDIA_NEGOTIATION_STATE: "This negotiation step is not expected now; finish the current offer/answer exchange first.",
  MEDIA_BAD_ARGUMENT: "An argument is invalid.",
  MEDIA_BAD_FRAME: "The frame cannot be sent as given.",
  MEDIA_BAD_RTP: "An RTP payload is malformed.",
} as const;

export type MediaErrorCode = keyof typeof MEDIA_ERRORS;

export class MediaError extends Error {
  readonly code: MediaErrorCode;

  /** `detail` is appended to the table's message; it must not contain secrets or frame bytes. */
  constructor(code: MediaErrorCode, detail?: string) {
    super(detail ? `${MEDIA_ERRORS[code]} (${detail})` : MEDIA_ERRORS[code]);
    this.name = "MediaError";
    this.code = code;
  }
}

export function isMediaError(err: unknown, code?: MediaErrorCode): err is MediaError {
  return err instanceof MediaError && (code === undefined || err.code === code);
}
