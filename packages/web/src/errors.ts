/**
 * Every failure a person can hit in the web app, with a stable code, a title that says what
 * happened and a line that says what to do. One table of codes (CONVENTIONS habit 3); their words
 * are in the message catalogue (i18n/en.ts: error.<CODE>.title and .action, checked at compile
 * time). The codes of the server and signaling protocol are reused where they exist. No message
 * ever includes a passcode, a token or key material.
 */
import { t } from "./i18n/i18n.js";

export const UI_ERRORS = {
  MEETING_NOT_FOUND: true,
  MEETING_ENDED: true,
  WRONG_PASSCODE: true,
  RATE_LIMITED: true,
  MEETING_FULL: true,
  CONNECTOR_NOT_ALLOWED: true,
  CAMERA_DENIED: true,
  DEVICE_NOT_FOUND: true,
  DEVICE_IN_USE: true,
  SERVER_UNREACHABLE: true,
  UNAUTHORIZED: true,
  NO_ENCODED_TRANSFORMS: true,
  REMOVED: true,
  REMOVED_BY_HOST: true,
  BANNED: true,
  MEETING_LOCKED: true,
  NOT_ADMITTED: true,
  MEDIA_FAILED: true,
  LOGIN_FAILED: true,
  ACCOUNT_DISABLED: true,
  SESSION_EXPIRED: true,
  UNAUTHENTICATED: true,
  CSRF_FAILED: true,
  FORBIDDEN: true,
  WEAK_PASSWORD: true,
  CURRENT_PASSWORD_WRONG: true,
  SETUP_DONE: true,
  EMAIL_TAKEN: true,
  INVITATION_INVALID: true,
  USER_NOT_FOUND: true,
  OWNER_PROTECTED: true,
  GROUP_NOT_FOUND: true,
  GROUP_NAME_TAKEN: true,
  SETTING_LOCKED: true,
  BAD_REQUEST: true,
  NOT_CONNECTED: true,
  FEATURE_DISABLED: true,
  HOST_ONLY: true,
  FILE_UPLOAD_FAILED: true,
  FILE_DOWNLOAD_FAILED: true,
  FILE_DECRYPT_FAILED: true,
  POLL_VOTE_REFUSED: true,
  MOVE_NOT_ALLOWED: true,
  APP_MESSAGE_TOO_LARGE: true,
  STREAMING_NOT_ALLOWED: true,
  STREAM_URL_INVALID: true,
  STREAM_REFUSED: true,
  STREAM_ACTIVE: true,
  STREAM_FAILED: true,
  INTERNAL: true,
} as const satisfies Record<string, true>;

export type UiErrorCode = keyof typeof UI_ERRORS;

/** Codes whose server message adds something a person can act on (the field or setting it names). */
const DETAIL_CODES: ReadonlySet<UiErrorCode> = new Set(["BAD_REQUEST", "SETTING_LOCKED", "STREAM_URL_INVALID", "STREAM_REFUSED"]);

export class UiError extends Error {
  readonly code: UiErrorCode;
  readonly title: string;
  readonly action: string;
  /** The server's own words, for the few codes where they name what to fix (never secrets). */
  readonly detail: string | null;

  constructor(code: UiErrorCode, detail?: string) {
    const title = t(`error.${code}.title`);
    const action = t(`error.${code}.action`);
    super(`${title}. ${action}`);
    this.name = "UiError";
    this.code = code;
    this.title = title;
    this.action = action;
    this.detail = detail !== undefined && DETAIL_CODES.has(code) ? detail.slice(0, 300) : null;
  }
}

/** Maps a server or signaling error code to the UI's; unknown codes become INTERNAL. */
export function uiErrorFromCode(code: string, serverMessage?: string): UiError {
  return new UiError(code in UI_ERRORS ? (code as UiErrorCode) : "INTERNAL", serverMessage);
}

/** Maps a getUserMedia failure (a DOMException name) to the UI's error. */
export function uiErrorFromMediaError(e: unknown): UiError {
  const name = e instanceof DOMException || e instanceof Error ? e.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return new UiError("CAMERA_DENIED");
    case "NotFoundError":
    case "OverconstrainedError":
      return new UiError("DEVICE_NOT_FOUND");
    case "NotReadableError":
    case "AbortError":
      return new UiError("DEVICE_IN_USE");
    default:
      return new UiError("INTERNAL");
  }
}
