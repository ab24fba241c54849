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
];
