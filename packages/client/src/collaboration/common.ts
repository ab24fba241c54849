/** What the collaboration features (chat, reactions, polls, breakout rooms) share. */
import { isProtocolError, toBase64 } from "@conclave/protocol";
import type { MeetingSession } from "../meeting-session.js";
import { CLIENT_ERRORS } from "../errors.js";

/** A random id for a chat message, poll or plan: 16 URL-safe characters (96 bits). */
export function randomLocalId(): string {
  return toBase64(globalThis.crypto.getRandomValues(new Uint8Array(12))).replace(/\+/g, "-").replace(/\//g, "_");
}

/** Whether the server lists `memberId` as host or co-host of the group this member is in. */
export function isHostOrCohost(session: MeetingSession, memberId: string): boolean {
  const role = session.presence.find((p) => p.memberId === memberId)?.role;
  return role === "host" || role === "cohost";
}

/** A code and message for an error event, from anything thrown. */
export function errorEvent(e: unknown): { code: string; message: string } {
  const code = isProtocolError(e) ? e.code : typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "CLIENT_INTERNAL";
  return { code, message: e instanceof Error ? e.message : String(e) };
}

/** The error event for a host-only message from someone who is not a host. */
export function notAllowed(detail: string): { code: string; message: string } {
  return { code: "APP_MESSAGE_NOT_ALLOWED", message: `${CLIENT_ERRORS.APP_MESSAGE_NOT_ALLOWED} (${detail})` };
}

/**
 * Who should hear this member's state after an epoch change: the members the epoch added, or
 * everyone (undefined) when all the others are new (this member just joined, or moved rooms).
 */
export function newcomers(added: string[], memberCount: number): string[] | undefined | null {
  if (added.length === 0) return null;
  return added.length >= memberCount - 1 ? undefined : added;
}
