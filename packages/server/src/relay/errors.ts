// The relay's error table. Each code is stable (the meeting layer maps it onto its own wire
// errors); messages say what happened and what to do, and never quote SDP bodies, which carry
// ICE passwords.

export const RELAY_ERRORS = {
  RELAY_CLOSED: "this relay object is closed; create a new room or peer",
  RELAY_BAD_SDP: "the session description is malformed",
  RELAY_UNSUPPORTED_MEDIA:
    "the offer asks for media the relay cannot forward (only VP8 video and Opus audio, one SSRC per m-section, no data channels)",
  RELAY_NEGOTIATION_STATE: "this negotiation step is not expected now",
  RELAY_NEGOTIATION_TIMEOUT: "the WebRTC stack did not produce a local description in time; retry the negotiation",
  RELAY_BAD_CANDIDATE: "the ICE candidate was rejected",
  RELAY_BAD_ARGUMENT: "an argument is invalid",
  RELAY_DUPLICATE_ROOM: "a room with this id already exists",
  RELAY_DUPLICATE_PEER: "a peer with this id is already in the room",
  RELAY_UNKNOWN_PUBLICATION: "no such publication",
} as const;

export type RelayErrorCode = keyof typeof RELAY_ERRORS;

export class RelayError extends Error {
  readonly code: RelayErrorCode;

  constructor(code: RelayErrorCode, detail?: string) {
    super(detail === undefined ? `${code}: ${RELAY_ERRORS[code]}` : `${code}: ${RELAY_ERRORS[code]}: ${detail}`);
    this.name = "RelayError";
    this.code = code;
  }
}

/** True when `err` is a RelayError with the given code (or any code when omitted). */
export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}
