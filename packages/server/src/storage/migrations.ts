/**
 * Numbered schema migrations, applied in order, each once, each in its own transaction.
 * Append new ones with the next number; never edit or reorder one that has shipped.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "meetings",
    sql: `
      CREATE TABLE meetings (
        id            TEXT    PRIMARY KEY CHECK (id GLOB '[1-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
        encryption    TEXT    NOT NULL CHECK (encryption IN ('e2ee', 'enhanced')),
        passcode_hash TEXT,
        created_at    INTEGER NOT NULL,
        ended_at      INTEGER
      ) STRICT;
      CREATE INDEX meetings_by_created_at ON meetings (created_at);
    `,
  },
  {
    version: 2,
    name: "accounts",
    // Emails are stored normalised (trimmed, lower case). A user is in at most one group: the
    // membership is a column of the user. One owner at most: a partial unique index.
    sql: `
      CREATE TABLE groups (
        id         TEXT    PRIMARY KEY,
        name       TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX groups_by_name ON groups (name COLLATE NOCASE);

      CREATE TABLE users (
        id            TEXT    PRIMARY KEY,
        email         TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
        password_hash TEXT    NOT NULL,
        group_id      TEXT    REFERENCES groups (id) ON DELETE SET NULL,
        disabled_at   INTEGER,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX users_by_email ON users (email);
      CREATE UNIQUE INDEX users_one_owner ON users (role) WHERE role = 'owner';
      CREATE INDEX users_by_group ON users (group_id);

      CREATE TABLE sessions (
        id_hash      TEXT    PRIMARY KEY,
        user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash    TEXT    NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_user ON sessions (user_id);

      CREATE TABLE invitations (
        id          TEXT    PRIMARY KEY,
        token_hash  TEXT    NOT NULL UNIQUE,
        email       TEXT    NOT NULL,
        role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
        group_id    TEXT    REFERENCES groups (id) ON DELETE SET NULL,
        invited_by  TEXT    REFERENCES users (id) ON DELETE SET NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        accepted_at INTEGER
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: "settings",
    // Values are JSON text; NULL: not set at this level. Users cannot lock.
    sql: `
      CREATE TABLE account_settings (
        key        TEXT    PRIMARY KEY,
        value      TEXT,
        locked     INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE group_settings (
        group_id   TEXT    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        key        TEXT    NOT NULL,
        value      TEXT,
        locked     INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, key)
      ) STRICT;
      CREATE TABLE user_settings (
        user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key        TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, key)
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: "meeting scheduling",
    // Meetings from before accounts (and from the admin token) have no owner. Their defaults
    // keep them as they were: no waiting room, anyone may join before a host.
    sql: `
      ALTER TABLE meetings ADD COLUMN owner_user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
      ALTER TABLE meetings ADD COLUMN topic TEXT;
      ALTER TABLE meetings ADD COLUMN start_at INTEGER;
      ALTER TABLE meetings ADD COLUMN duration_min INTEGER CHECK (duration_min IS NULL OR duration_min BETWEEN 1 AND 1440);
      ALTER TABLE meetings ADD COLUMN waiting_room INTEGER NOT NULL DEFAULT 0 CHECK (waiting_room IN (0, 1));
      ALTER TABLE meetings ADD COLUMN join_before_host INTEGER NOT NULL DEFAULT 1 CHECK (join_before_host IN (0, 1));
      ALTER TABLE meetings ADD COLUMN settings_json TEXT;
      CREATE INDEX meetings_by_owner ON meetings (owner_user_id, created_at);
    `,
  },
  {
    version: 5,
    name: "data at rest under the KMS",
    // Data keys, wrapped by the KMS master key, one per protected object (docs/threat-model.md).
    // Confidential fields move to `sealed` columns (AES-256-GCM under the object's data key);
    // the clear columns are emptied by the migration in storage/seal-migration.ts. Deleting an
    // object deletes its data key in the same statement (crypto-shredding), cascades included.
    sql: `
      CREATE TABLE data_keys (
        object_kind   TEXT    NOT NULL,
        object_id     TEXT    NOT NULL,
        data_key_id   TEXT    NOT NULL CHECK (length(data_key_id) = 32),
        master_key_id TEXT    NOT NULL,
        wrapped       BLOB    NOT NULL,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (object_kind, object_id)
      ) STRICT;
      CREATE INDEX data_keys_by_master_key ON data_keys (master_key_id);

      ALTER TABLE meetings ADD COLUMN sealed BLOB;
      ALTER TABLE invitations ADD COLUMN sealed BLOB;

      CREATE TABLE participant_log (
        seq        INTEGER PRIMARY KEY,
        meeting_id TEXT    NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
        at         INTEGER NOT NULL,
        sealed     BLOB    NOT NULL
      ) STRICT;
      CREATE INDEX participant_log_by_meeting ON participant_log (meeting_id, at);

      CREATE TRIGGER meetings_shred_data_key AFTER DELETE ON meetings BEGIN
        DELETE FROM data_keys WHERE object_kind = 'meeting' AND object_id = OLD.id;
      END;
      CREATE TRIGGER invitations_shred_data_key AFTER DELETE ON invitations BEGIN
        DELETE FROM data_keys WHERE object_kind = 'invitation' AND object_id = OLD.id;
      END;

      -- Clear-text migration state: 'pending' until every row is sealed and the old text purged.
      CREATE TABLE seal_migration (
        name  TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('pending', 'done'))
      ) STRICT;
      INSERT INTO seal_migration (name, state) VALUES ('clear-text', 'pending');
    `,
  },
  {
    version: 6,
    name: "post-quantum meetings",
    // Existing meetings keep MLS suite 1.
    sql: `
      ALTER TABLE meetings ADD COLUMN post_quantum INTEGER NOT NULL DEFAULT 0 CHECK (post_quantum IN (0, 1));
    `,
  },
  {
    version: 7,
    name: "chat history of Enhanced meetings",
    // Group chat messages that participants' apps hand to the server in Enhanced meetings whose
    // settings save chat (chatHistory), sealed under the meeting's data key: deleting the
    // meeting shreds them with it.
    sql: `
      CREATE TABLE chat_history (
        seq        INTEGER PRIMARY KEY,
        meeting_id TEXT    NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
        at         INTEGER NOT NULL,
        sealed     BLOB    NOT NULL
      ) STRICT;
      CREATE INDEX chat_history_by_meeting ON chat_history (meeting_id, at);
    `,
  },
];
