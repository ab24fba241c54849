/**
 * Upgrading a data directory written before data at rest was encrypted: every clear-text
 * confidential field is sealed in place (meeting topics, invitation emails), one row per
 * transaction, then the old text is purged from the database and its write-ahead log.
 *
 * Resumable: the work list is "rows that still hold clear text", and each row changes from
 * clear to sealed atomically, so a crash (kill -9) at any point loses nothing and the next
 * start carries on. The purge (WAL checkpoint, VACUUM with secure_delete on) runs until the
 * migration is marked done, so a crash before it also repeats it.
 */
import type { Database } from "./database.js";
import { invitationRef } from "./invitations.js";
import { meetingRef } from "./meetings.js";
import { sealJson } from "./sealed.js";

export const MIGRATION_PRINCIPAL = "system:migration";

export interface SealMigrationReport {
  readonly meetings: number;
  readonly invitations: number;
  /** True when this run finished the migration (purge included); false if it was already done. */
  readonly completed: boolean;
}

export interface SealMigrationOptions {
  /** Called after each row is sealed (progress output; tests kill the process here). */
  readonly onRow?: (kind: "meeting" | "invitation", id: string) => void;
}

export function sealMigrationDone(db: Database): boolean {
  const row = db.connection.prepare<{ state: string }>("SELECT state FROM seal_migration WHERE name = 'clear-text'").get();
  return row === undefined || row.state === "done";
}

export async function sealClearText(db: Database, options: SealMigrationOptions = {}): Promise<SealMigrationReport> {
  if (sealMigrationDone(db)) return { meetings: 0, invitations: 0, completed: false };
  const conn = () => db.connection;
  let meetings = 0;
  let invitations = 0;

  for (;;) {
    const rows = conn().prepare<{ id: string; topic: string }>("SELECT id, topic FROM meetings WHERE topic IS NOT NULL LIMIT 100").all();
    if (rows.length === 0) break;
    for (const row of rows) {
      const sealed = await sealJson(db, meetingRef(row.id), "details", { topic: row.topic }, MIGRATION_PRINCIPAL);
      // Only if the row still holds the text we sealed (an edit in between wins).
      const changed = conn().prepare("UPDATE meetings SET sealed = ?, topic = NULL WHERE id = ? AND topic = ?").run(sealed, row.id, row.topic).changes;
      if (changed > 0) {
        meetings++;
        options.onRow?.("meeting", row.id);
      }
    }
  }

  // Accepted invitations keep nothing: their contents have served their purpose.
  conn().prepare("UPDATE invitations SET email = '' WHERE accepted_at IS NOT NULL AND email <> ''").run();
  for (;;) {
    const rows = conn()
      .prepare<{ id: string; email: string }>("SELECT id, email FROM invitations WHERE email <> '' AND sealed IS NULL LIMIT 100")
      .all();
    if (rows.length === 0) break;
    for (const row of rows) {
      const sealed = await sealJson(db, invitationRef(row.id), "contents", { email: row.email }, MIGRATION_PRINCIPAL);
      const changed = conn().prepare("UPDATE invitations SET sealed = ?, email = '' WHERE id = ? AND email = ?").run(sealed, row.id, row.email).changes;
      if (changed > 0) {
        invitations++;
        options.onRow?.("invitation", row.id);
      }
    }
  }

  purgeFreedText(db);
  conn().prepare("UPDATE seal_migration SET state = 'done' WHERE name = 'clear-text'").run();
  conn().pragma("wal_checkpoint(TRUNCATE)");
  return { meetings, invitations, completed: true };
}

/**
 * Old versions of rewritten pages survive in the WAL until a checkpoint, and freed cells in
 * the file until they are reused: checkpoint and truncate the WAL, then rebuild the file
 * (VACUUM) so none of the replaced clear text is left in either.
 */
export function purgeFreedText(db: Database): void {
  const conn = db.connection;
  conn.pragma("wal_checkpoint(TRUNCATE)");
  conn.exec("VACUUM");
  conn.pragma("wal_checkpoint(TRUNCATE)");
}
