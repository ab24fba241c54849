/**
 * The settings that govern what members may send each other in a meeting — chat, private chat,
 * reactions, polls, breakout rooms, file sharing — as the meeting's members are told them.
 *
 * They are resolved from the meeting owner's CURRENT effective settings (so a lock an admin adds
 * applies to every meeting of the account, scheduled or live), not from the snapshot stored when
 * the meeting was scheduled. The server cannot read end-to-end encrypted messages, so it sends
 * these values to every member (signaling `meetingState.features`) and the members' apps enforce
 * them; the server itself enforces what it can see (breakout rooms, file uploads).
 */
import { FEATURE_KEYS, type MeetingFeatures } from "@conclave/protocol";
import type { ResolvedSettings } from "./resolve.js";
import type { Encryption } from "../storage/meetings.js";

export function meetingFeatures(settings: ResolvedSettings, encryption: Encryption): MeetingFeatures {
  const out = {} as MeetingFeatures;
  for (const key of FEATURE_KEYS) out[key] = settings[key].value === true;
  // Saving chat needs the server to read it: never in an end-to-end encrypted meeting.
  if (encryption === "e2ee") out.chatHistory = false;
  return out;
}
