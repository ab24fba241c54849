/**
 * Every error the protocol package raises, with a stable string code.
 *
 * One table per package (CONVENTIONS.md habit 3). Messages say what happened and, where a
 * user can act, what to do; they never contain key material, frames or passcodes.
 * docs/protocol.md lists the same codes; a test checks the two agree.
 */
export const PROTOCOL_ERRORS = {
  // Argument checks
  INVALID_ARGUMENT: "An argument has the wrong type, size or range.",

  // SFrame header (RFC 9605 §4.3)
  SFRAME_HEADER_TRUNCATED: "The SFrame header is shorter than its config byte says.",
  SFRAME_HEADER_NON_MINIMAL: "The SFrame header encodes KID or CTR in more bytes than needed.",
  SFRAME_VALUE_TOO_LARGE: "A KID or CTR does not fit in 64 bits.",

  // SFrame encryption / decryption (RFC 9605 §4.4)
  SFRAME_UNKNOWN_SUITE: "The SFrame cipher suite is not one of 0x0001-0x0005.",
  SFRAME_CIPHERTEXT_TOO_SHORT: "The SFrame ciphertext is shorter than its authentication tag.",
  SFRAME_BAD_TAG: "The SFrame frame failed authentication (wrong key, or header, metadata or ciphertext altered).",
  SFRAME_UNKNOWN_KID: "No key is known for this SFrame KID.",
  SFRAME_REPLAY: "This SFrame counter was already accepted or is too old for the replay window.",
  SFRAME_COUNTER_EXHAUSTED: "The sender's SFrame counter is exhausted; a new key is required.",
  SFRAME_KEY_EXPIRED: "The key for this KID belongs to an epoch that is no longer accepted.",

  // MLS session (RFC 9420)
  MLS_BAD_MESSAGE: "The MLS message could not be decoded.",
  MLS_WRONG_EPOCH: "The MLS message is for a different epoch than the group's current one.",
  MLS_COMMIT_REJECTED: "The MLS commit was rejected by the group.",
  MLS_WELCOME_REJECTED: "The MLS Welcome could not be processed.",
  MLS_BAD_CREDENTIAL: "The MLS credential is missing, malformed or not allowed in this meeting.",
  MLS_UNKNOWN_MEMBER: "No such member in the MLS group.",
  MLS_UNSUPPORTED_SUITE: "The MLS cipher suite is not supported.",
  MLS_LIBRARY_UNPATCHED:
    "The installed ts-mls lacks Conclave's patches (patches/ in the repository); reinstall with npm ci, which applies them.",
  MLS_MESSAGE_REJECTED: "The MLS proposal or application message failed authentication or validation.",
  MLS_COMMIT_PENDING: "This member already has a pending commit; apply or discard it before creating another.",
  MLS_NO_PENDING_COMMIT: "There is no pending MLS commit to apply.",
  MLS_REMOVED: "This member has been removed from the MLS group; it must join again with a new key package.",
  MLS_SESSION_CLOSED: "The MLS session was closed and its keys erased; join the group again to continue.",
  MLS_REPLAY: "This MLS application message was already received (same sender, epoch and generation): a replay.",
  MLS_CANNOT_REVERT: "There is no earlier MLS epoch to return to; join the group again with a new key package.",

  // Signaling messages
  MESSAGE_MALFORMED: "The message is not valid JSON or does not match any known message type.",
  MESSAGE_TOO_LARGE: "The message is larger than the allowed maximum.",

  // Session descriptions (RFC 8866)
  SDP_MALFORMED: "The session description (SDP) is malformed.",
  // End-to-end encrypted application messages (inside MLS PrivateMessages)
  APP_MESSAGE_MALFORMED: "The encrypted application message is not valid (not UTF-8 JSON, or fields missing, extra or of the wrong type).",
  APP_MESSAGE_TOO_LARGE: "The encrypted application message is larger than allowed.",
  APP_MESSAGE_UNSUPPORTED: "The encrypted application message has a version or type this client does not know; it was ignored.",
  APP_MESSAGE_SENDER_MISMATCH: "The server named a different sender than the one MLS authenticated; the message was dropped.",
  FEATURE_DISABLED: "This meeting's settings turn this feature off (chat, private chat, reactions, polls, breakout rooms or file sharing): the message was not sent, or was refused on arrival.",
  APP_MESSAGE_NOT_SEALED: "A private message or poll vote arrived unsealed (readable by every member of the group); it was refused.",
  APP_MESSAGE_NOT_FOR_YOU: "This sealed message is addressed to another member; only its recipient can open it.",
  BREAKOUT_BROADCAST_REJECTED: "The broadcast to the breakout rooms is malformed, not signed by the host who opened them, or does not decrypt; it was ignored.",

  // Files shared in chat (encrypted before upload)
  FILE_KEY_REUSED: "This file key has already encrypted a file; every file gets a fresh key.",
  FILE_DECRYPT_FAILED: "The shared file failed authentication: it was altered, truncated or reordered, or the key is wrong. Nothing of it was kept.",

  // Codec framing
  FRAME_TOO_SHORT: "The media frame is too short for its codec's header.",
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, detail?: string) {
    super(detail ? `${PROTOCOL_ERRORS[code]} (${detail})` : PROTOCOL_ERRORS[code]);
    this.name = "ProtocolError";
    this.code = code;
  }
}

export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
