/**
 * The slice of better-sqlite3 the server uses, typed locally (its @types package is not a
 * dependency). Loaded through createRequire because better-sqlite3 is a CommonJS addon.
 */
import { createRequire } from "node:module";

export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement<Row = unknown> {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
}

export interface SqliteConnection {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare<Row = unknown>(sql: string): SqliteStatement<Row>;
  exec(sql: string): SqliteConnection;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<Args extends unknown[], R>(fn: (...args: Args) => R): (...args: Args) => R;
  close(): SqliteConnection;
}

/** better-sqlite3 errors carry SQLite's extended result code as a string, e.g. SQLITE_CONSTRAINT_PRIMARYKEY. */
export interface SqliteError extends Error {
  code: string;
}

export function isSqliteError(e: unknown, code?: string): e is SqliteError {
  return (
    e instanceof Error &&
    e.name === "SqliteError" &&
    typeof (e as Partial<SqliteError>).code === "string" &&
    (code === undefined || (e as SqliteError).code === code)
  );
}

type SqliteConstructor = new (file: string, options?: { timeout?: number; fileMustExist?: boolean }) => SqliteConnection;

const require = createRequire(import.meta.url);

export function openSqlite(file: string, options?: { timeout?: number }): SqliteConnection {
  const BetterSqlite3 = require("better-sqlite3") as SqliteConstructor;
  return new BetterSqlite3(file, options);
}
