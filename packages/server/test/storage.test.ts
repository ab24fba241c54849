import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { PASSCODE_ALPHABET, PASSCODE_LENGTH, generatePasscode, hashPasscode } from "../src/auth/passcode.js";
import { isServerError } from "../src/errors.js";
import { Database } from "../src/storage/database.js";
import { generateMeetingId, MEETING_ID_PATTERN } from "../src/storage/meetings.js";
import { MIGRATIONS } from "../src/storage/migrations.js";
import { tempDb } from "./support/temp-db.js";

test("the database is created with mode 0600, in WAL mode, at the latest schema version", (t) => {
  const { file, open } = tempDb(t);
  const db = open();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(db.connection.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(db.schemaVersion, MIGRATIONS.length);
});

test("migrations run once: reopening applies nothing again and keeps the data", async (t) => {
  const { open } = tempDb(t);
  const first = open();
  const { meeting } = await first.meetings.create({ passcode: false });
  first.close();
  const second = open();
  assert.equal(second.schemaVersion, MIGRATIONS.length);
  const applied = second.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM schema_migrations").get();
  assert.equal(applied?.n, MIGRATIONS.length);
  assert.deepEqual(second.meetings.get(meeting.id), meeting);
});

test("a database from a newer Conclave (higher schema version) is refused with STORAGE_FAILED", (t) => {
  const { file, open } = tempDb(t);
  open().close();
  const newer = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: "future", sql: "CREATE TABLE future (x INTEGER)" }];
  Database.open(file, { migrations: newer }).close();
  assert.throws(() => Database.open(file), (e: unknown) => isServerError(e, "STORAGE_FAILED") && /newer Conclave/.test(e.message));
});

test("meeting IDs are 11 decimal digits with a non-zero first digit, drawn across the whole range", () => {
  const firstDigits = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = generateMeetingId();
    assert.match(id, MEETING_ID_PATTERN);
    firstDigits.add(id[0]!);
  }
  assert.equal(firstDigits.size, 9, "every leading digit 1-9 occurs");
});

test("created meetings get unique 11-digit IDs", async (t) => {
  const { open } = tempDb(t);
  const db = open();
  const ids = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const { meeting } = await db.meetings.create({ passcode: false });
    assert.match(meeting.id, MEETING_ID_PATTERN);
    ids.add(meeting.id);
  }
  assert.equal(ids.size, 500);
  assert.equal(db.meetings.list().length, 500);
});

test("an ID collision is retried with a fresh ID", async (t) => {
  const { file } = tempDb(t);
  const sequence = ["12345678901", "12345678901", "12345678901", "22345678901"];
  const db = Database.open(file, { meetingIds: () => sequence.shift()! });
  t.after(() => db.close());
  assert.equal((await db.meetings.create({ passcode: false })).meeting.id, "12345678901");
  assert.equal((await db.meetings.create({ passcode: false })).meeting.id, "22345678901");
});

test("endless ID collisions fail with INTERNAL instead of looping", async (t) => {
  const { file } = tempDb(t);
  const db = Database.open(file, { meetingIds: () => "12345678901" });
  t.after(() => db.close());
  await db.meetings.create({ passcode: false });
  await assert.rejects(db.meetings.create({ passcode: false }), (e: unknown) => isServerError(e, "INTERNAL"));
});

test("passcodes are 10 characters from the unambiguous alphabet", () => {
  for (let i = 0; i < 200; i++) {
    const p = generatePasscode();
    assert.equal(p.length, PASSCODE_LENGTH);
    for (const ch of p) assert.ok(PASSCODE_ALPHABET.includes(ch), ch);
    assert.doesNotMatch(p, /[01ilo]/);
  }
});

test("a meeting has a passcode by default; the right one verifies, a wrong one does not", async (t) => {
  const { open } = tempDb(t);
  const db = open();
  const { meeting, passcode } = await db.meetings.create();
  assert.ok(passcode !== null);
  assert.equal(meeting.passcodeRequired, true);
  assert.equal(meeting.encryption, "e2ee");
  assert.equal(db.meetings.verifyPasscode(meeting.id, passcode), true);
  assert.equal(db.meetings.verifyPasscode(meeting.id, ` ${passcode.toUpperCase()} `), true, "case and spaces ignored");
  const wrong = passcode.slice(0, -1) + (passcode.endsWith("2") ? "3" : "2");
  assert.equal(db.meetings.verifyPasscode(meeting.id, wrong), false);
  assert.equal(db.meetings.verifyPasscode(meeting.id, ""), false);
  assert.equal(db.meetings.verifyPasscode(meeting.id, "x".repeat(10_000)), false);
  assert.equal(await db.meetings.verifyPasscodeAsync(meeting.id, passcode), true);
  assert.equal(await db.meetings.verifyPasscodeAsync(meeting.id, wrong), false);
});

test("an unknown meeting never verifies; a meeting without passcode accepts any", async (t) => {
  const { open } = tempDb(t);
  const db = open();
  assert.equal(db.meetings.verifyPasscode("12345678901", "anything"), false);
  assert.equal(db.meetings.verifyPasscode("not-an-id", "anything"), false);
  const { meeting, passcode } = await db.meetings.create({ passcode: false, encryption: "enhanced" });
  assert.equal(passcode, null);
  assert.equal(meeting.passcodeRequired, false);
  assert.equal(meeting.encryption, "enhanced");
  assert.equal(db.meetings.verifyPasscode(meeting.id, ""), true);
});

test("only a salted scrypt hash of the passcode is stored, never the passcode", async (t) => {
  const { open } = tempDb(t);
  const db = open();
  const { meeting, passcode } = await db.meetings.create();
  const row = db.connection
    .prepare<{ passcode_hash: string }>("SELECT passcode_hash FROM meetings WHERE id = ?")
    .get(meeting.id);
  assert.ok(row);
  assert.match(row.passcode_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.ok(!row.passcode_hash.includes(passcode!));
  assert.notEqual(await hashPasscode("samepasscode"), await hashPasscode("samepasscode"), "per-hash salt");
});

test("ending a meeting is recorded once and shows in list filters", async (t) => {
  const { open } = tempDb(t);
  const db = open();
  const a = (await db.meetings.create({ passcode: false })).meeting;
  const b = (await db.meetings.create({ passcode: false })).meeting;
  const ended = db.meetings.markEnded(a.id, 1000);
  assert.equal(ended.endedAt, 1000);
  assert.equal(db.meetings.markEnded(a.id, 2000).endedAt, 1000, "the first end time is kept");
  assert.deepEqual(
    db.meetings.list({ active: true }).map((m) => m.id),
    [b.id],
  );
  assert.equal(db.meetings.list().length, 2);
  assert.equal(db.meetings.get("99999999999"), undefined);
  assert.throws(() => db.meetings.markEnded("99999999999"), (e: unknown) => isServerError(e, "MEETING_NOT_FOUND"));
});

test("close is idempotent and the store refuses work afterwards with SERVER_CLOSED", (t) => {
  const { open } = tempDb(t);
  const db = open();
  db.close();
  db.close();
  assert.equal(db.closed, true);
  assert.throws(() => db.meetings.get("12345678901"), (e: unknown) => isServerError(e, "SERVER_CLOSED"));
});
