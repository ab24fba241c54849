/**
 * Notices for the hosts (a room system or phone calling, joining, refused, hanging up), in the
 * reader's language.
 *
 * The server sends a notice as a stable code and an English sentence that names the caller (and,
 * for some, a detail such as the far leg's protection or the far side's reason). The web app says
 * it with the message catalogue: the code picks the message (notice.<CODE>), and the name and the
 * detail are read from the server's sentence by matching it against the English message, which is
 * the server's sentence with {name} and {detail} in place. A sentence that does not match (a
 * server of another version, a code this app does not know) is shown as the server wrote it. A
 * joined call's detail is its protection label (translated like the shield's); any other detail
 * (the far side's or the connector's reason) stays in the server's words, as UiError's detail does.
 *
 * Refused room-system invitations come back as signaling errors (code and server message) and are
 * said with the error catalogue.
 */
import { en, type MessageKey } from "../i18n/en.js";
import { t, type Params } from "../i18n/i18n.js";
import { UI_ERRORS, UiError, type UiErrorCode } from "../errors.js";
import { protectionLabel } from "./shield.js";

/** The messages a notice code may be, in the order they are tried. */
const NOTICE_MESSAGES: Record<string, readonly MessageKey[]> = {
  ROOM_SYSTEM_RINGING: ["notice.ROOM_SYSTEM_RINGING"],
  ROOM_SYSTEM_JOINED: ["notice.ROOM_SYSTEM_JOINED"],
  // The same code for a call that was refused (with the far side's reason) and for a room system
  // refused at the door of an end-to-end encrypted meeting.
  ROOM_SYSTEM_REFUSED: ["notice.ROOM_SYSTEM_REFUSED_E2EE", "notice.ROOM_SYSTEM_REFUSED"],
  ROOM_SYSTEM_FAILED: ["notice.ROOM_SYSTEM_FAILED"],
  ROOM_SYSTEM_ENDED: ["notice.ROOM_SYSTEM_ENDED"],
  PHONE_RINGING: ["notice.PHONE_RINGING"],
  PHONE_JOINED: ["notice.PHONE_JOINED"],
  PHONE_REFUSED: ["notice.PHONE_REFUSED_E2EE", "notice.PHONE_REFUSED"],
  PHONE_FAILED: ["notice.PHONE_FAILED"],
  PHONE_ENDED: ["notice.PHONE_ENDED"],
};

const patterns = new Map<MessageKey, RegExp>();

/** The English message as a pattern: literal text, {name} and {detail} as captures. */
function pattern(key: MessageKey): RegExp {
  let re = patterns.get(key);
  if (!re) {
    const source = en[key]
      .split(/(\{[a-zA-Z0-9_]+\})/)
      .map((part) => {
        const m = /^\{([a-zA-Z0-9_]+)\}$/.exec(part);
        if (m) return `(?<${m[1]!}>.+?)`;
        return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("");
    re = new RegExp(`^${source}$`, "s");
    patterns.set(key, re);
  }
  return re;
}

/** A notice from the server, in the reader's language (or as sent, when it is not one this app knows). */
export function noticeText(code: string, message: string): string {
  if (code === "SIP_DISABLED") return t("notice.SIP_DISABLED");
  if (code in UI_ERRORS) {
    const e = new UiError(code as UiErrorCode, message);
    return e.detail ? `${e.message} (${e.detail})` : e.message;
  }
  for (const key of NOTICE_MESSAGES[code] ?? []) {
    const m = pattern(key).exec(message);
    if (!m) continue;
    const params: Params = { ...(m.groups ?? {}) };
    // A call that joined names its far leg's protection ("TLS + SRTP", "unencrypted").
    if (key.endsWith("_JOINED") && typeof params.detail === "string") params.detail = protectionLabel(params.detail);
    return t(key, params);
  }
  return message;
}
