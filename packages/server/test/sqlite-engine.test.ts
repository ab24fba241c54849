// The node:sqlite stand-in for better-sqlite3 (used when the addon was built for another Node
// major, as in npm test's Node 24 pass) behaves like better-sqlite3 where the stores rely on it.
// Node 20 has no node:sqlite: there the whole storage suite runs on better-sqlite3 instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSqliteError, openNodeSqlite, openSqlite, sqliteEngine } from "../src/storage/sqlite.js";

const hasNodeSqlite = openNodeSqlite(":memory:") !== undefined;
const onlyWithNodeSqlite = { skip: hasNodeSqlite ? false : `node:sqlite needs Node 22.13+ (this is ${process.version})` };

test("the engine in use opens databases, and is node:sqlite only where better-sqlite3 cannot load", () => {
  const db = openSqlite(":memory:");
  assert.deepEqual(db.prepare("SELECT 1 AS one").get(), { one: 1 });
  db.close();
  assert.ok(sqliteEngine() === "better-sqlite3" || hasNodeSqlite);
});

test("node:sqlite: constraint errors carry better-sqlite3's SQLITE_CONSTRAINT_* codes", onlyWithNodeSqlite, () => {
  const db = openNodeSqlite(":memory:")!;
  db.exec("CREATE TABLE g (id INTEGER PRIMARY KEY, name TEXT UNIQUE); CREATE TABLE u (g INTEGER REFERENCES g(id))");
  db.pragma("foreign_keys = ON");
  db.prepare("INSERT INTO g (name) VALUES (?)").run("a");
  assert.throws(() => db.prepare("INSERT INTO g (name) VALUES (?)").run("a"), (e: unknown) => isSqliteError(e, "SQLITE_CONSTRAINT_UNIQUE"));
  assert.throws(() => db.prepare("INSERT INTO u (g) VALUES (?)").run(42), (e: unknown) => isSqliteError(e, "SQLITE_CONSTRAINT_FOREIGNKEY"));
  assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
  db.close();
  assert.equal(db.open, false);
});

test("node:sqlite: a transaction commits, rolls back when its function throws, and nests with savepoints", onlyWithNodeSqlite, () => {
  const db = openNodeSqlite(":memory:")!;
  db.exec("CREATE TABLE t (v TEXT)");
  const insert = (v: string) => db.prepare("INSERT INTO t (v) VALUES (?)").run(v);
  db.transaction(() => insert("kept"))();
  assert.throws(() => db.transaction(() => {
    insert("dropped");
    throw new Error("boom");
  })(), /boom/);
  db.transaction(() => {
    insert("outer");
    assert.equal(db.inTransaction, true);
    assert.throws(() => db.transaction(() => {
      insert("inner");
      throw new Error("inner fails");
    })());
  })();
  assert.equal(db.inTransaction, false);
  assert.deepEqual(db.prepare<{ v: string }>("SELECT v FROM t ORDER BY rowid").all().map((r) => r.v), ["kept", "outer"]);
  db.close();
});
