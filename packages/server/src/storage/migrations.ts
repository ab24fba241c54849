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
    name: "post-quantum meetings",
    // Existing meetings keep MLS suite 1.
    sql: `
      ALTER TABLE meetings ADD COLUMN post_quantum INTEGER NOT NULL DEFAULT 0 CHECK (post_quantum IN (0, 1));
    `,
  },
];
