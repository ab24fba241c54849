/**
 * The chat of Enhanced meetings whose settings save it (`chatHistory`), kept after the meeting:
 * each group chat message a participant's app hands to the server (signaling `chatArchive`),
 * sealed under the meeting's data key (field "chat"; KMS envelope), so deleting the meeting
 * shreds it. Times and the meeting id stay in clear for ordering. End-to-end encrypted meetings
 * never have one: there the server cannot read the chat, and participants save it on their devices.
 *
 * Like the participant log, writing never holds up a live meeting: `record` queues, a timer seals
 * and writes a moment later; entries wait in memory (bounded) while the KMS is unreachable
 * (sealed-log.ts).
 */
import type { Database } from "./database.js";
import { SERVER_PRINCIPAL, stringOrNull, type Principal } from "./sealed.js";
import { SealedMeetingLog } from "./sealed-log.js";

export const MAX_PENDING_CHAT_MESSAGES = 10_000;

export interface ChatHistoryMessage {
  readonly memberId: string;
  readonly displayName: string;
  readonly text: string;
  /** The breakout room it was said in (null: the main meeting). */
  readonly room: string | null;
}

export interface ChatHistoryEntry extends ChatHistoryMessage {
  /** Milliseconds since the Unix epoch (when the server received it). */
  readonly at: number;
}

export class ChatHistory extends SealedMeetingLog<ChatHistoryMessage> {
  /** @internal Created by Database. */
  constructor(db: Database) {
    super(db, { table: "chat_history", field: "chat", describe: (n) => `chat history: ${n} messages`, maxPending: MAX_PENDING_CHAT_MESSAGES });
  }

  /** The meeting's saved chat, oldest first (needs the KMS). */
  list(meetingId: string, by: Principal = SERVER_PRINCIPAL): Promise<ChatHistoryEntry[]> {
    return this.listOpened(meetingId, by, (v, at) => ({
      at,
      memberId: stringOrNull(v.memberId) ?? "",
      displayName: stringOrNull(v.displayName) ?? "",
      text: stringOrNull(v.text) ?? "",
      room: stringOrNull(v.room),
    }));
  }
}
