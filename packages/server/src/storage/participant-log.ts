/**
 * Who joined and left each meeting, and when: sealed under the meeting's data key (field
 * "participant"), so deleting the meeting shreds its log too. Times and the meeting id stay in
 * clear for ordering and retention.
 *
 * Writing must never hold up a live meeting: `record` only queues the entry (sealed-log.ts).
 */
import type { Database } from "./database.js";
import { SERVER_PRINCIPAL, stringOrNull, type Principal } from "./sealed.js";
import { SealedMeetingLog } from "./sealed-log.js";

export const MAX_PENDING_PARTICIPANT_EVENTS = 10_000;

export interface ParticipantEvent {
  readonly event: "joined" | "left";
  readonly memberId: string;
  readonly displayName: string;
  /** The member's kind (person, or a connector kind). */
  readonly kind: string;
  /** For "left": left, disconnected or removed. */
  readonly reason?: string;
}

export interface ParticipantLogEntry extends ParticipantEvent {
  /** Milliseconds since the Unix epoch. */
  readonly at: number;
}

export class ParticipantLog extends SealedMeetingLog<ParticipantEvent> {
  /** @internal Created by Database. */
  constructor(db: Database) {
    super(db, {
      table: "participant_log",
      field: "participant",
      describe: (n) => `participant log: ${n} entries`,
      maxPending: MAX_PENDING_PARTICIPANT_EVENTS,
    });
  }

  /** The meeting's log, oldest first (needs the KMS). */
  list(meetingId: string, by: Principal = SERVER_PRINCIPAL): Promise<ParticipantLogEntry[]> {
    return this.listOpened(meetingId, by, (v, at) => {
      const reason = stringOrNull(v.reason);
      return {
        at,
        event: v.event === "left" ? "left" : "joined",
        memberId: stringOrNull(v.memberId) ?? "",
        displayName: stringOrNull(v.displayName) ?? "",
        kind: stringOrNull(v.kind) ?? "",
        ...(reason !== null ? { reason } : {}),
      };
    });
  }
}
