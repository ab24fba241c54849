/**
 * An append-only log of sealed entries per meeting (the participant log, the saved chat): each
 * entry is sealed under the meeting's data key (one field name per log; KMS envelope), so deleting
 * the meeting shreds its log too. Times and the meeting id stay in clear for ordering and retention.
 *
 * Writing never holds up a live meeting: `record` only queues the entry; a timer seals and writes
 * the queue a moment later (WRITE_DELAY_MS), off the caller's path. Up to `maxPending` entries
 * wait in memory while the KMS is unreachable, retried every 30 s; a full queue drops the oldest
 * entry and counts it in `dropped`.
 */
import type { Database } from "./database.js";
import { meetingRef } from "./meetings.js";
import { SERVER_PRINCIPAL, openJson, sealJson, type Principal } from "./sealed.js";

/** How long an entry waits before it is sealed and written (entries arriving meanwhile go together). */
const WRITE_DELAY_MS = 200;
/** While the KMS is unreachable, the queue is tried again this often. */
const RETRY_MS = 30_000;

export interface SealedLogSpec {
  /** The table: (seq, meeting_id, at, sealed). */
  readonly table: "participant_log" | "chat_history";
  /** The envelope's field name (binds each entry to its log). */
  readonly field: string;
  /** How the warning names what waits, e.g. "participant log: N entries". */
  readonly describe: (waiting: number) => string;
  readonly maxPending: number;
}

export abstract class SealedMeetingLog<Entry extends object> {
  readonly #db: Database;
  readonly #spec: SealedLogSpec;
  #pending: { meetingId: string; at: number; entry: Entry }[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Entries dropped because the queue was full (the KMS was down for long). */
  dropped = 0;
  /** Called with a warning when entries wait for the KMS (no secrets in it). */
  onWarning: ((message: string, error?: unknown) => void) | undefined;

  protected constructor(db: Database, spec: SealedLogSpec) {
    this.#db = db;
    this.#spec = spec;
  }

  /** Queue one entry; it is sealed and written as soon as the meeting's data key is at hand. */
  record(meetingId: string, entry: Entry, at: number = Date.now()): void {
    if (this.#pending.length >= this.#spec.maxPending) {
      this.#pending.shift();
      this.dropped++;
    }
    this.#pending.push({ meetingId, at, entry });
    this.#schedule(WRITE_DELAY_MS);
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

  #schedule(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    const { table, field } = this.#spec;
    while (this.#pending.length > 0 && !this.#db.closed) {
      const next = this.#pending[0]!;
      try {
        const sealed = await sealJson(this.#db, meetingRef(next.meetingId), field, { ...next.entry } as Record<string, unknown>, SERVER_PRINCIPAL);
        if (this.#db.closed) return;
        this.#db.connection
          .prepare(`INSERT INTO ${table} (meeting_id, at, sealed) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM meetings WHERE id = ?)`)
          .run(next.meetingId, next.at, sealed, next.meetingId);
        this.#pending.shift();
      } catch (e) {
        this.onWarning?.(`${this.#spec.describe(this.#pending.length)} wait for the key management system`, e);
        if (!this.#db.closed) this.#schedule(RETRY_MS);
        return;
      }
    }
  }

  /** The meeting's entries, oldest first, each opened (needs the KMS) and read by `decode`. */
  protected async listOpened<Out>(meetingId: string, by: Principal, decode: (v: Record<string, unknown>, at: number) => Out): Promise<Out[]> {
    const { table, field } = this.#spec;
    const rows = this.#db.connection
      .prepare<{ at: number; sealed: Buffer }>(`SELECT at, sealed FROM ${table} WHERE meeting_id = ? ORDER BY at, seq`)
      .all(meetingId);
    const out: Out[] = [];
    for (const row of rows) out.push(decode(await openJson(this.#db, meetingRef(meetingId), field, row.sealed, by), row.at));
    return out;
  }
}
