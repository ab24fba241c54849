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
  BANNED: { title: "You were removed from this meeting", action: "The host removed you and did not allow you back." },
  MEETING_LOCKED: { title: "This meeting is locked", action: "The host has locked the meeting, so no one else can join. Ask the host to unlock it." },
  NOT_ADMITTED: { title: "The host did not let you in", action: "Ask the organiser if you should be in this meeting." },
  MEDIA_FAILED: {
    title: "The media connection failed",
    action: "Your browser could not connect to the media relay. Check your network (UDP must be allowed), then rejoin.",
  },
  INTERNAL: { title: "Something went wrong", action: "Reload the page and try again." },
} as const satisfies Record<string, { title: string; action: string }>;

export type UiErrorCode = keyof typeof UI_ERRORS;

export class UiError extends Error {
  readonly code: UiErrorCode;
  readonly title: string;
  readonly action: string;

  constructor(code: UiErrorCode) {
    super(`${UI_ERRORS[code].title}. ${UI_ERRORS[code].action}`);
    this.name = "UiError";
    this.code = code;
    this.title = UI_ERRORS[code].title;
    this.action = UI_ERRORS[code].action;
  }
}

/** Maps a server or signaling error code to the UI's; unknown codes become INTERNAL. */
export function uiErrorFromCode(code: string): UiError {
  return new UiError(code in UI_ERRORS ? (code as UiErrorCode) : "INTERNAL");
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
