// The relay's error table. Each code is stable (the meeting layer maps it onto its own wire
// errors); messages are sentences that say what happened and what to do. Details never quote SDP
// bodies, which carry ICE passwords.

export const RELAY_ERRORS = {
  RELAY_CLOSED: "This media relay object is closed; create a new room or peer.",
  RELAY_BAD_SDP: "The session description is malformed; send the description your WebRTC stack produced, unmodified.",
  RELAY_UNSUPPORTED_MEDIA:
    "The offer asks for media the relay cannot forward: only VP8 video and Opus audio, one SSRC per m-section, no simulcast and no data channels.",
  RELAY_NEGOTIATION_STATE: "This negotiation step is not expected now; finish the current offer/answer exchange first.",
  RELAY_NEGOTIATION_TIMEOUT: "The WebRTC stack did not produce a local description in time; retry the negotiation.",
  RELAY_BAD_CANDIDATE: "The ICE candidate was rejected.",
  RELAY_BAD_ARGUMENT: "An argument is invalid.",
  RELAY_DUPLICATE_ROOM: "A room with this id already exists in the relay.",
  RELAY_DUPLICATE_PEER: "A peer with this id is already in the room.",
  RELAY_UNKNOWN_PUBLICATION: "There is no such publication.",
  RELAY_PORTS_EXHAUSTED:
    "Every UDP port of the relay's port range is in use; the server operator should widen the range (--media-ports).",
} as const;

export type RelayErrorCode = keyof typeof RELAY_ERRORS;

export class RelayError extends Error {
  readonly code: RelayErrorCode;

  /** `detail` is appended to the table's message; it must not contain secrets. */
  constructor(code: RelayErrorCode, detail?: string) {
    super(detail ? `${RELAY_ERRORS[code]} (${detail})` : RELAY_ERRORS[code]);
    this.name = "RelayError";
    this.code = code;
  }
}

/** True when `err` is a RelayError with the given code (or any code when omitted). */
export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}
