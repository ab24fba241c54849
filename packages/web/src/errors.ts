/**
 * Every failure a person can hit in the web app, with a stable code, a title that says what
 * happened and a line that says what to do. One table (CONVENTIONS habit 3); the codes of the
 * server and signaling protocol are reused where they exist. No message ever includes a
 * passcode, a token or key material.
 */
export const UI_ERRORS = {
  MEETING_NOT_FOUND: {
    title: "Meeting not found",
    action: "No meeting has this ID on this server. Check the link, or ask the organiser for a new one.",
  },
  MEETING_ENDED: { title: "This meeting has ended", action: "Ask the organiser to start a new meeting." },
  WRONG_PASSCODE: {
    title: "Wrong passcode",
    action: "The passcode is missing or wrong. Check it (it is the part after #pwd= in the link) and try again.",
  },
  RATE_LIMITED: {
    title: "Too many attempts",
    action: "The server is slowing down repeated attempts from your address. Wait a minute, then try again.",
  },
  MEETING_FULL: { title: "This meeting is full", action: "Ask the organiser to make room, or try again later." },
  CONNECTOR_NOT_ALLOWED: {
    title: "Not allowed in an end-to-end encrypted meeting",
    action: "End-to-end encrypted meetings admit people only, no server-side connectors.",
  },
  CAMERA_DENIED: {
    title: "Camera and microphone are blocked",
    action: "Allow them for this site (the camera icon in the address bar or the site settings), then press Try again. You can also join without them.",
  },
  DEVICE_NOT_FOUND: {
    title: "No camera or microphone found",
    action: "Connect one and press Try again, or join without them.",
  },
  DEVICE_IN_USE: {
    title: "The camera or microphone is in use",
    action: "Another program may be using it. Close that program and press Try again, or join without them.",
  },
  SERVER_UNREACHABLE: {
    title: "Cannot reach the server",
    action: "Check your network connection and that the server is running, then try again.",
  },
  UNAUTHORIZED: {
    title: "The admin token was not accepted",
    action: "Copy the admin API token that `conclave serve` printed (or read it from the data directory) and try again.",
  },
  NO_ENCODED_TRANSFORMS: {
    title: "This browser cannot encrypt your media",
    action:
      "Conclave encrypts every video and audio frame on your device before it leaves, and this browser does not let a web page do that (it lacks RTCRtpScriptTransform and encoded streams). Nothing was sent. Use a current version of Chrome, Edge, Safari or Firefox.",
  },
  REMOVED: { title: "You were removed from the meeting", action: "Join again from the link if you should be in it." },
  REMOVED_BY_HOST: {
    title: "The host removed you from the meeting",
    action: "Your keys for this meeting were erased from this device. If the host allowed you back, you can join again from the link.",
  },
  BANNED: { title: "You were removed from this meeting", action: "The host removed you and did not allow you back." },
  MEETING_LOCKED: { title: "This meeting is locked", action: "The host has locked the meeting, so no one else can join. Ask the host to unlock it." },
  NOT_ADMITTED: { title: "The host did not let you in", action: "Ask the organiser if you should be in this meeting." },
  MEDIA_FAILED: {
    title: "The media connection failed",
    action: "Your browser could not connect to the media relay. Check your network (UDP must be allowed), then rejoin.",
  },
  // --- accounts, settings and scheduling (docs/api.md) ----------------------------------------
  LOGIN_FAILED: { title: "Wrong email or password", action: "Check both and try again. After 10 failed attempts in a minute you have to wait a minute." },
  ACCOUNT_DISABLED: { title: "This account is disabled", action: "Ask an admin of this server to enable it." },
  SESSION_EXPIRED: { title: "Your session has ended", action: "You were signed out (time limit, sign-out elsewhere, or a password change). Sign in again." },
  UNAUTHENTICATED: { title: "Sign in first", action: "This page needs you to be signed in." },
  CSRF_FAILED: { title: "The request was refused", action: "The page's security token did not match your session. Reload the page and try again." },
  FORBIDDEN: { title: "Not allowed", action: "Your role does not allow this. Ask the owner or an admin." },
  WEAK_PASSWORD: { title: "The password is too short", action: "Use at least 10 characters." },
  CURRENT_PASSWORD_WRONG: { title: "The current password is wrong", action: "Type your current password again." },
  SETUP_DONE: { title: "This server is already set up", action: "Sign in with your account instead." },
  EMAIL_TAKEN: { title: "That email address is taken", action: "An account with this email address already exists. Use another address, or sign in." },
  INVITATION_INVALID: { title: "This invitation does not work", action: "It is unknown, has expired (after 7 days), was withdrawn or was already used. Ask for a new one." },
  USER_NOT_FOUND: { title: "No such user", action: "The user may have been deleted. Reload the page." },
  OWNER_PROTECTED: { title: "The owner's account is protected", action: "The owner cannot be disabled, deleted or given another role." },
  GROUP_NOT_FOUND: { title: "No such group", action: "The group may have been deleted. Reload the page." },
  GROUP_NAME_TAKEN: { title: "That group name is taken", action: "Another group already has this name. Choose another one." },
  SETTING_LOCKED: {
    title: "Locked by an admin",
    action: "This setting is locked at a higher level (your account or group admin decides it), so it cannot be changed here.",
  },
  E2EE_NOT_ALLOWED: {
    title: "End-to-end encryption is turned off",
    action: "Your settings do not allow end-to-end encrypted meetings. Choose Enhanced encryption, or ask an admin.",
  },
  BAD_REQUEST: { title: "Some of what you entered is not valid", action: "Check the fields and try again." },
  INTERNAL: { title: "Something went wrong", action: "Reload the page and try again." },
} as const satisfies Record<string, { title: string; action: string }>;

export type UiErrorCode = keyof typeof UI_ERRORS;

/** Codes whose server message adds something a person can act on (the field or setting it names). */
const DETAIL_CODES: ReadonlySet<UiErrorCode> = new Set(["BAD_REQUEST", "SETTING_LOCKED"]);

export class UiError extends Error {
  readonly code: UiErrorCode;
  readonly title: string;
  readonly action: string;
  /** The server's own words, for the few codes where they name what to fix (never secrets). */
  readonly detail: string | null;

  constructor(code: UiErrorCode, detail?: string) {
    super(`${UI_ERRORS[code].title}. ${UI_ERRORS[code].action}`);
    this.name = "UiError";
    this.code = code;
    this.title = UI_ERRORS[code].title;
    this.action = UI_ERRORS[code].action;
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
