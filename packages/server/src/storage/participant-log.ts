/**
 * Who joined and left each meeting, and when: sealed under the meeting's data key (field
 * "participant"), so deleting the meeting shreds its log too. Times and the meeting id stay in
 * clear for ordering and retention.
 *
 * Writing must never hold up a live meeting: `record` only queues the entry; a timer writes the
 * queue a moment later (WRITE_DELAY_MS), off the join's path. Up to MAX_PENDING entries wait
 * in memory while the KMS is unreachable, retried every 30 s; a full
 * queue drops the oldest entry and says so in the log.
 */
import type { Database } from "./database.js";
import { meetingRef } from "./meetings.js";
import { SERVER_PRINCIPAL, openJson, sealJson, stringOrNull, type Principal } from "./sealed.js";

const FIELD = "participant";
export const MAX_PENDING_PARTICIPANT_EVENTS = 10_000;
/** How long an entry waits before it is sealed and written (entries arriving meanwhile go together). */
const WRITE_DELAY_MS = 200;
/** While the KMS is unreachable, the queue is tried again this often (and with every new entry's write). */
const RETRY_MS = 30_000;

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

interface Pending {
  readonly meetingId: string;
  readonly at: number;
  readonly event: ParticipantEvent;
}

export class ParticipantLog {
  readonly #db: Database;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Entries dropped because the queue was full (the KMS was down for long). */
  dropped = 0;
  /** Called with a warning when entries wait for the KMS (no secrets in it). */
  onWarning: ((message: string, error?: unknown) => void) | undefined;

  /** @internal Created by Database. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** Queue one event; it is sealed and written as soon as the meeting's data key is at hand. */
  record(meetingId: string, event: ParticipantEvent, at: number = Date.now()): void {
    if (this.#pending.length >= MAX_PENDING_PARTICIPANT_EVENTS) {
      this.#pending.shift();
      this.dropped++;
    }
    this.#pending.push({ meetingId, at, event });
    this.#schedule(WRITE_DELAY_MS);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    this.#timer.unref();
  }

  /** Entries not written yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Write what is queued now; resolves when done or when the KMS refused (entries stay queued). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#flushing ??= this.#drain().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0 && !this.#db.closed) {
      const next = this.#pending[0]!;
      try {
        const sealed = await sealJson(this.#db, meetingRef(next.meetingId), FIELD, { ...next.event }, SERVER_PRINCIPAL);
        if (this.#db.closed) return;
        this.#db.connection
          .prepare("INSERT INTO participant_log (meeting_id, at, sealed) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM meetings WHERE id = ?)")
          .run(next.meetingId, next.at, sealed, next.meetingId);
        this.#pending.shift();
      } catch (e) {
        this.onWarning?.(`participant log: ${this.#pending.length} entries wait for the key management system`, e);
        if (!this.#db.closed) this.#schedule(RETRY_MS);
        return;
      }
    }
  }

  /** The meeting's log, oldest first (needs the KMS). */
  async list(meetingId: string, by: Principal = SERVER_PRINCIPAL): Promise<ParticipantLogEntry[]> {
    const rows = this.#db.connection
      .prepare<{ at: number; sealed: Buffer }>("SELECT at, sealed FROM participant_log WHERE meeting_id = ? ORDER BY at, seq")
      .all(meetingId);
    const out: ParticipantLogEntry[] = [];
    for (const row of rows) {
      const v = await openJson(this.#db, meetingRef(meetingId), FIELD, row.sealed, by);
      const reason = stringOrNull(v.reason);
      out.push({
        at: row.at,
        event: v.event === "left" ? "left" : "joined",
        memberId: stringOrNull(v.memberId) ?? "",
        displayName: stringOrNull(v.displayName) ?? "",
        kind: stringOrNull(v.kind) ?? "",
        ...(reason !== null ? { reason } : {}),
      });
    }
    return out;
  }
}
