/**
 * The chat of Enhanced meetings whose settings save it (`chatHistory`), kept after the meeting:
 * each group chat message a participant's app hands to the server (signaling `chatArchive`),
 * sealed under the meeting's data key (field "chat"; KMS envelope), so deleting the meeting
 * shreds it. Times and the meeting id stay in clear for ordering. End-to-end encrypted meetings
 * never have one: there the server cannot read the chat, and participants save it on their devices.
 *
 * Like the participant log, writing never holds up a live meeting: `record` queues, a timer seals
 * and writes a moment later; entries wait in memory (bounded) while the KMS is unreachable.
 */
import type { Database } from "./database.js";
import { meetingRef } from "./meetings.js";
import { SERVER_PRINCIPAL, openJson, sealJson, stringOrNull, type Principal } from "./sealed.js";

const FIELD = "chat";
export const MAX_PENDING_CHAT_MESSAGES = 10_000;
const WRITE_DELAY_MS = 200;
const RETRY_MS = 30_000;

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

export class ChatHistory {
  readonly #db: Database;
  #pending: { meetingId: string; at: number; message: ChatHistoryMessage }[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  dropped = 0;
  onWarning: ((message: string, error?: unknown) => void) | undefined;

  /** @internal Created by Database. */
  constructor(db: Database) {
    this.#db = db;
  }

  record(meetingId: string, message: ChatHistoryMessage, at: number = Date.now()): void {
    if (this.#pending.length >= MAX_PENDING_CHAT_MESSAGES) {
      this.#pending.shift();
      this.dropped++;
    }
    this.#pending.push({ meetingId, at, message });
    this.#schedule(WRITE_DELAY_MS);
  }

  get pending(): number {
    return this.#pending.length;
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    this.#timer.unref();
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
        const sealed = await sealJson(this.#db, meetingRef(next.meetingId), FIELD, { ...next.message }, SERVER_PRINCIPAL);
        if (this.#db.closed) return;
        this.#db.connection
          .prepare("INSERT INTO chat_history (meeting_id, at, sealed) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM meetings WHERE id = ?)")
          .run(next.meetingId, next.at, sealed, next.meetingId);
        this.#pending.shift();
      } catch (e) {
        this.onWarning?.(`chat history: ${this.#pending.length} messages wait for the key management system`, e);
        if (!this.#db.closed) this.#schedule(RETRY_MS);
        return;
      }
    }
  }

  /** The meeting's saved chat, oldest first (needs the KMS). */
  async list(meetingId: string, by: Principal = SERVER_PRINCIPAL): Promise<ChatHistoryEntry[]> {
    const rows = this.#db.connection
      .prepare<{ at: number; sealed: Buffer }>("SELECT at, sealed FROM chat_history WHERE meeting_id = ? ORDER BY at, seq")
      .all(meetingId);
    const out: ChatHistoryEntry[] = [];
    for (const row of rows) {
      const v = await openJson(this.#db, meetingRef(meetingId), FIELD, row.sealed, by);
      out.push({
        at: row.at,
        memberId: stringOrNull(v.memberId) ?? "",
        displayName: stringOrNull(v.displayName) ?? "",
        text: stringOrNull(v.text) ?? "",
        room: stringOrNull(v.room),
      });
    }
    return out;
  }
}
