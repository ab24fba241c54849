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

/** Which engine `openSqlite` uses in this process (reported by tests and docs/operations.md). */
export type SqliteEngine = "better-sqlite3" | "node:sqlite";
let engine: { name: SqliteEngine; open: (file: string, options?: { timeout?: number }) => SqliteConnection } | undefined;

/**
 * better-sqlite3 is a native addon built for one Node ABI (npm ci builds it for the Node that
 * ran it; its prebuilt binaries are downloaded from outside the npm registry, so they are not an
 * option here). When this process runs another Node major (the Node 24 pass of `npm test`), the
 * addon refuses to load with NODE_MODULE_VERSION, and Node's built-in `node:sqlite` (Node 22.13+,
 * the same SQLite engine) stands in behind the same interface.
 */
export function sqliteEngine(): SqliteEngine {
  return pickEngine().name;
}

function pickEngine(): NonNullable<typeof engine> {
  if (engine) return engine;
  try {
    const BetterSqlite3 = require("better-sqlite3") as SqliteConstructor;
    // Constructing is what loads the addon (lazily, through `bindings`).
    new BetterSqlite3(":memory:").close();
    engine = { name: "better-sqlite3", open: (file, options) => new BetterSqlite3(file, options) };
  } catch (e) {
    const abiMismatch = e instanceof Error && /NODE_MODULE_VERSION|was compiled against a different Node/.test(e.message);
    const builtin = abiMismatch ? loadNodeSqlite() : undefined;
    if (!builtin) throw e;
    engine = { name: "node:sqlite", open: (file, options) => new NodeSqliteConnection(new builtin.DatabaseSync(file, options?.timeout !== undefined ? { timeout: options.timeout } : {})) };
  }
  return engine;
}

export function openSqlite(file: string, options?: { timeout?: number }): SqliteConnection {
  return pickEngine().open(file, options);
}

// ---- node:sqlite behind the better-sqlite3 interface ----

/** node:sqlite behind the same interface, whatever engine the process picked (for tests); undefined before Node 22.13. */
export function openNodeSqlite(file: string): SqliteConnection | undefined {
  const builtin = loadNodeSqlite();
  return builtin ? new NodeSqliteConnection(new builtin.DatabaseSync(file)) : undefined;
}

interface NodeStatementSync {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface NodeDatabaseSync {
  readonly isOpen: boolean;
  exec(sql: string): void;
  prepare(sql: string): NodeStatementSync;
  close(): void;
}
type NodeSqliteModule = { DatabaseSync: new (file: string, options?: { timeout?: number }) => NodeDatabaseSync };

function loadNodeSqlite(): NodeSqliteModule | undefined {
  try {
    return require("node:sqlite") as NodeSqliteModule;
  } catch {
    return undefined;
  }
}

/** SQLite extended result codes (sqlite3.h) by number, for errors from node:sqlite. */
const RESULT_CODES: Record<number, string> = {
  5: "SQLITE_BUSY",
  19: "SQLITE_CONSTRAINT",
  275: "SQLITE_CONSTRAINT_CHECK",
  787: "SQLITE_CONSTRAINT_FOREIGNKEY",
  1299: "SQLITE_CONSTRAINT_NOTNULL",
  1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
  2067: "SQLITE_CONSTRAINT_UNIQUE",
};

/** node:sqlite errors carry `errcode` (a number); better-sqlite3's carry `code` (a name). Give the latter. */
function translateError(e: unknown): unknown {
  if (!(e instanceof Error) || typeof (e as { errcode?: unknown }).errcode !== "number") return e;
  const errcode = (e as unknown as { errcode: number }).errcode;
  const error = new Error(e.message, { cause: e }) as SqliteError;
  error.name = "SqliteError";
  error.code = RESULT_CODES[errcode] ?? `SQLITE_ERROR_${errcode}`;
  return error;
}

function plain(row: unknown): unknown {
  return row === undefined || row === null ? row : { ...(row as object) };
}

function translated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw translateError(e);
  }
}

class NodeSqliteConnection implements SqliteConnection {
  readonly #db: NodeDatabaseSync;
  #depth = 0;

  constructor(db: NodeDatabaseSync) {
    this.#db = db;
  }

  get open(): boolean {
    return this.#db.isOpen;
  }

  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  prepare<Row = unknown>(sql: string): SqliteStatement<Row> {
    const stmt = translated(() => this.#db.prepare(sql));
    return {
      run: (...params) => translated(() => stmt.run(...params)),
      // node:sqlite rows have a null prototype; better-sqlite3's are plain objects.
      get: (...params) => translated(() => plain(stmt.get(...params)) as Row | undefined),
      all: (...params) => translated(() => stmt.all(...params).map(plain) as Row[]),
    };
  }

  exec(sql: string): SqliteConnection {
    translated(() => this.#db.exec(sql));
    return this;
  }

  pragma(source: string, options?: { simple?: boolean }): unknown {
    const rows = this.prepare<Record<string, unknown>>(`PRAGMA ${source}`).all();
    if (!options?.simple) return rows;
    const first = rows[0];
    return first === undefined ? undefined : Object.values(first)[0];
  }

  /** As better-sqlite3: BEGIN/COMMIT around fn, ROLLBACK when it throws; nested calls use savepoints. */
  transaction<Args extends unknown[], R>(fn: (...args: Args) => R): (...args: Args) => R {
    return (...args: Args): R => {
      const nested = this.#depth > 0;
      const savepoint = `conclave_tx_${this.#depth}`;
      this.exec(nested ? `SAVEPOINT ${savepoint}` : "BEGIN");
      this.#depth += 1;
      try {
        const result = fn(...args);
        this.#depth -= 1;
        this.exec(nested ? `RELEASE ${savepoint}` : "COMMIT");
        return result;
      } catch (e) {
        this.#depth -= 1;
        this.exec(nested ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : "ROLLBACK");
        throw e;
      }
    };
  }

  close(): SqliteConnection {
    if (this.#db.isOpen) this.#db.close();
    return this;
  }
}
