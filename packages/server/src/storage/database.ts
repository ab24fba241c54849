/**
 * The embedded SQLite database in the data directory: opened in WAL mode, migrated to the
 * latest schema on open, and the owner of the stores built on it.
 */
import { chmodSync } from "node:fs";
import { KeyManager } from "@conclave/kms";
import type { KeyManagement } from "../kms/runtime.js";
import { SqliteKeyStore } from "./data-keys.js";
import { ParticipantLog } from "./participant-log.js";
import { ChatHistory } from "./chat-history.js";
import { ServerError } from "../errors.js";
import { GroupStore } from "./groups.js";
import { InvitationStore } from "./invitations.js";
import { MeetingStore, generateMeetingId } from "./meetings.js";
import { MIGRATIONS, type Migration } from "./migrations.js";
import { SessionStore } from "./sessions.js";
import { SettingsStore } from "./settings.js";
import { openSqlite, type SqliteConnection } from "./sqlite.js";
import { UserStore } from "./users.js";

/** Test seams; the server uses the defaults. */
export interface DatabaseOptions {
  /** Default: MIGRATIONS. */
  readonly migrations?: readonly Migration[];
  /** Default: generateMeetingId (CSPRNG). */
  readonly meetingIds?: () => string;
  /** Default: Date.now. The clock of sessions, invitations, users, groups and settings. */
  readonly now?: () => number;
  /**
   * The key management of data at rest (kms/runtime.ts). Without it, storing or reading a
   * confidential field fails with KMS_UNAVAILABLE: nothing confidential is ever written in clear.
   */
  readonly kms?: KeyManagement;
}

export class Database {
  readonly #connection: SqliteConnection;
  readonly #meetings: MeetingStore;
  readonly #users: UserStore;
  readonly #groups: GroupStore;
  readonly #sessions: SessionStore;
  readonly #invitations: InvitationStore;
  readonly #settings: SettingsStore;
  readonly #participants: ParticipantLog;
  readonly #chat: ChatHistory;
  readonly #keys: KeyManager | undefined;
  #closed = false;

  private constructor(connection: SqliteConnection, options: DatabaseOptions) {
    this.#connection = connection;
    const now = options.now ?? Date.now;
    this.#keys = options.kms === undefined ? undefined : new KeyManager({ ...options.kms, store: new SqliteKeyStore(() => this.connection) });
    this.#meetings = new MeetingStore(this, options.meetingIds ?? generateMeetingId);
    this.#users = new UserStore(this, now);
    this.#groups = new GroupStore(this, now);
    this.#sessions = new SessionStore(this, now);
    this.#invitations = new InvitationStore(this, this.#users, now);
    this.#settings = new SettingsStore(this, now);
    this.#participants = new ParticipantLog(this);
    this.#chat = new ChatHistory(this);
  }

  /** Open (creating if needed) the database file and apply pending migrations. The directory must exist. */
  static open(file: string, options: DatabaseOptions = {}): Database {
    const migrations = options.migrations ?? MIGRATIONS;
    let connection: SqliteConnection;
    try {
      connection = openSqlite(file, { timeout: 5000 });
    } catch (e) {
      throw new ServerError("STORAGE_FAILED", `cannot open ${file}`, { cause: e });
    }
    try {
      if (file !== ":memory:") chmodSync(file, 0o600);
      connection.pragma("journal_mode = WAL");
      // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose
      // the last transactions, which is acceptable for meeting metadata.
      connection.pragma("synchronous = NORMAL");
      connection.pragma("foreign_keys = ON");
      // Deleted and overwritten content is zeroed, so clear text replaced by the migration to
      // sealed columns (or a shredded object) does not linger in free pages.
      connection.pragma("secure_delete = ON");
      migrate(connection, migrations);
    } catch (e) {
      connection.close();
      if (e instanceof ServerError) throw e;
      throw new ServerError("STORAGE_FAILED", `cannot prepare ${file}`, { cause: e });
    }
    return new Database(connection, options);
  }

  get meetings(): MeetingStore {
    return this.#meetings;
  }

  get users(): UserStore {
    return this.#users;
  }

  get groups(): GroupStore {
    return this.#groups;
  }

  get sessions(): SessionStore {
    return this.#sessions;
  }

  get invitations(): InvitationStore {
    return this.#invitations;
  }

  get settings(): SettingsStore {
    return this.#settings;
  }

  get participants(): ParticipantLog {
    return this.#participants;
  }

  /** The saved chat of Enhanced meetings whose settings keep it (sealed under the KMS). */
  get chat(): ChatHistory {
    return this.#chat;
  }

  /** The key manager of data at rest; KMS_UNAVAILABLE if the database was opened without one. */
  get keys(): KeyManager {
    if (this.#keys === undefined) throw new ServerError("KMS_UNAVAILABLE", "this database was opened without key management");
    return this.#keys;
  }

  /** True when confidential fields can be sealed (a key manager is attached). */
  get hasKeys(): boolean {
    return this.#keys !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The highest migration applied. */
  get schemaVersion(): number {
    return currentVersion(this.connection);
  }

  /** The raw connection, for stores inside the server package. Throws once closed. */
  get connection(): SqliteConnection {
    if (this.#closed) throw new ServerError("SERVER_CLOSED", "the database is closed");
    return this.#connection;
  }

  /** Idempotent. Stores used after close throw SERVER_CLOSED. Wipes cached data keys and closes the KMS back end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The back ends close synchronously underneath (file keys wiped, PKCS#11 session closed,
    // KMIP socket destroyed); the promise only reports it.
    void this.#keys?.close().catch(() => {});
    this.#connection.close();
  }
}

function currentVersion(db: SqliteConnection): number {
  const row = db.prepare<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations").get();
  return row?.v ?? 0;
}

function migrate(db: SqliteConnection, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
  const current = currentVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new ServerError(
      "STORAGE_FAILED",
      `the database is at schema version ${current} but this Conclave knows only up to ${latest}; run a newer Conclave or restore a backup`,
    );
  }
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
}
