import { test } from "node:test";
import assert from "node:assert/strict";
import { hashPasscode } from "../src/auth/passcode.js";
import { tokenHash } from "../src/auth/tokens.js";
import { isServerError } from "../src/errors.js";
import { Database } from "../src/storage/database.js";
import { INVITATION_LIFETIME_MS } from "../src/storage/invitations.js";
import { MIGRATIONS } from "../src/storage/migrations.js";
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from "../src/storage/sessions.js";
import { tempDb } from "./support/temp-db.js";

/** A clock tests move by hand. */
function manualClock(start = Date.UTC(2030, 0, 1)): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const HASH = "$scrypt$v=1$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

test("a database from before accounts migrates: its meetings keep working, with an open policy and no owner", async (t) => {
  const { file, open } = tempDb(t);
  const old = Database.open(file, { migrations: MIGRATIONS.slice(0, 1) });
  // The row as Conclave 0.1 wrote it.
  const passcode = "abcdefghjk";
  const meeting = { id: "12345678901", encryption: "e2ee", passcodeRequired: true, createdAt: 1_700_000_000_000 };
  // ...and keeps MLS suite 1 (migration 5 adds post_quantum, 0 for existing meetings).
  const migrated = { ...meeting, postQuantum: false };
  old.connection
    .prepare("INSERT INTO meetings (id, encryption, passcode_hash, created_at) VALUES (?, ?, ?, ?)")
    .run(meeting.id, meeting.encryption, await hashPasscode(passcode), meeting.createdAt);
  old.close();
  const db = open();
  assert.equal(db.schemaVersion, MIGRATIONS.length);
  assert.deepEqual(db.meetings.get(meeting.id), migrated);
  assert.equal(db.meetings.verifyPasscode(meeting.id, passcode), true);
  assert.deepEqual(db.meetings.meetingPolicy(meeting.id), {
    encryption: "e2ee",
    waitingRoom: false,
    joinBeforeHost: true,
    ownerUserId: null,
    passcodeRequired: true,
  });
  const details = (await db.meetings.details(meeting.id))!;
  assert.equal(details.topic, null);
  assert.equal(details.settings, null);
});

test("meetingPolicy reports what a scheduled meeting stored; undefined for unknown meetings", async (t) => {
  const db = tempDb(t).open();
  const owner = db.users.create({ email: "Ada@Example.org ", name: "Ada", role: "owner", passwordHash: HASH });
  const { meeting } = await db.meetings.create({ encryption: "enhanced", passcode: false, ownerUserId: owner.id, waitingRoom: true, joinBeforeHost: false });
  assert.deepEqual(db.meetings.meetingPolicy(meeting.id), {
    encryption: "enhanced",
    waitingRoom: true,
    joinBeforeHost: false,
    ownerUserId: owner.id,
    passcodeRequired: false,
  });
  assert.equal(db.meetings.meetingPolicy("12345678901"), undefined);
  assert.equal(db.meetings.meetingPolicy("x' OR 1=1 --"), undefined);
});

test("emails are stored normalised and unique; a second owner is refused", (t) => {
  const db = tempDb(t).open();
  const owner = db.users.create({ email: "  Ada@Example.ORG", name: "Ada", role: "owner", passwordHash: HASH });
  assert.equal(owner.email, "ada@example.org");
  assert.equal(db.users.getByEmail("ADA@example.org")?.id, owner.id);
  assert.throws(() => db.users.create({ email: "ada@example.org", name: "X", role: "member", passwordHash: HASH }), (e: unknown) => isServerError(e, "EMAIL_TAKEN"));
  assert.throws(() => db.users.create({ email: "b@example.org", name: "B", role: "owner", passwordHash: HASH }), (e: unknown) => isServerError(e, "OWNER_PROTECTED"));
  assert.equal(db.users.createOwnerIfNone({ email: "c@example.org", name: "C", passwordHash: HASH }), undefined);
});

test("a session id and CSRF token are random, stored only as hashes, and find their user", (t) => {
  const db = tempDb(t).open();
  const user = db.users.create({ email: "a@example.org", name: "A", role: "member", passwordHash: HASH });
  const s = db.sessions.create(user.id);
  assert.match(s.sessionId, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(s.sessionId, s.csrfToken);
  const rows = db.connection.prepare<Record<string, unknown>>("SELECT * FROM sessions").all();
  const stored = JSON.stringify(rows);
  assert.ok(!stored.includes(s.sessionId) && !stored.includes(s.csrfToken), "no token in clear");
  assert.equal(rows[0]!.id_hash, tokenHash(s.sessionId));
  const found = db.sessions.lookup(s.sessionId);
  assert.equal(found?.userId, user.id);
  assert.equal(found?.role, "member");
  assert.equal(db.sessions.lookup(s.csrfToken), undefined, "the CSRF token is not a session id");
});

test("a session ends after 2 hours idle, even if used before; activity keeps it alive until 12 hours", (t) => {
  const clock = manualClock();
  const db = tempDb(t).open({ now: clock.now });
  const user = db.users.create({ email: "a@example.org", name: "A", role: "member", passwordHash: HASH });
  const idle = db.sessions.create(user.id);
  clock.advance(SESSION_IDLE_MS - 1000);
  assert.ok(db.sessions.lookup(idle.sessionId), "just under the idle limit");
  clock.advance(SESSION_IDLE_MS);
  assert.equal(db.sessions.lookup(idle.sessionId), undefined, "idle for 2 hours");

  const busy = db.sessions.create(user.id);
  for (let elapsed = 0; elapsed < SESSION_ABSOLUTE_MS - 60 * 60 * 1000; elapsed += 60 * 60 * 1000) {
    clock.advance(60 * 60 * 1000);
    assert.ok(db.sessions.lookup(busy.sessionId), `alive after ${elapsed / 3600000 + 1} h of hourly use`);
  }
  clock.advance(60 * 60 * 1000);
  assert.equal(db.sessions.lookup(busy.sessionId), undefined, "12 hours after sign-in, whatever the activity");
  assert.equal(db.sessions.countForUser(user.id), 0, "expired sessions are deleted");
});

test("sessions of a disabled user stop working; sign-out everywhere ends them all", (t) => {
  const db = tempDb(t).open();
  const user = db.users.create({ email: "a@example.org", name: "A", role: "member", passwordHash: HASH });
  const a = db.sessions.create(user.id);
  const b = db.sessions.create(user.id);
  db.users.update(user.id, { disabled: true });
  assert.equal(db.sessions.lookup(a.sessionId), undefined);
  db.users.update(user.id, { disabled: false });
  assert.ok(db.sessions.lookup(a.sessionId));
  assert.equal(db.sessions.deleteAllForUser(user.id), 2);
  assert.equal(db.sessions.lookup(b.sessionId), undefined);
});

test("an invitation token works once, for 7 days, and is stored only as a hash", async (t) => {
  const clock = manualClock();
  const db = tempDb(t).open({ now: clock.now });
  const first = await db.invitations.create({ email: "New@Example.org", role: "member", invitedBy: null });
  assert.ok(!JSON.stringify(db.connection.prepare("SELECT * FROM invitations").all()).includes(first.token));
  const user = await db.invitations.accept(first.token, { name: "New", passwordHash: HASH });
  assert.equal(user.email, "new@example.org");
  assert.equal(user.role, "member");
  await assert.rejects(db.invitations.accept(first.token, { name: "Again", passwordHash: HASH }), (e: unknown) => isServerError(e, "INVITATION_INVALID"));

  const late = await db.invitations.create({ email: "late@example.org", role: "admin", invitedBy: user.id });
  clock.advance(INVITATION_LIFETIME_MS);
  assert.equal(await db.invitations.find(late.token), undefined);
  await assert.rejects(db.invitations.accept(late.token, { name: "Late", passwordHash: HASH }), (e: unknown) => isServerError(e, "INVITATION_INVALID"));
  assert.equal(db.users.getByEmail("late@example.org"), undefined);
  await assert.rejects(db.invitations.create({ email: "new@example.org", role: "member", invitedBy: null }), (e: unknown) => isServerError(e, "EMAIL_TAKEN"));
});

test("a user is in at most one group; deleting a group keeps its members and drops its settings", (t) => {
  const db = tempDb(t).open();
  const g1 = db.groups.create("Sales");
  const g2 = db.groups.create("Support");
  assert.throws(() => db.groups.create("sales"), (e: unknown) => isServerError(e, "GROUP_NAME_TAKEN"));
  const user = db.users.create({ email: "a@example.org", name: "A", role: "member", passwordHash: HASH, groupId: g1.id });
  db.users.update(user.id, { groupId: g2.id });
  assert.equal(db.groups.get(g1.id)?.memberCount, 0);
  assert.equal(db.groups.get(g2.id)?.memberCount, 1);
  db.settings.writeGroup(g2.id, { polling: { value: false, locked: true } });
  assert.ok(db.groups.delete(g2.id));
  assert.equal(db.users.get(user.id)?.groupId, null);
  assert.deepEqual(db.settings.group(g2.id), {});
  assert.throws(() => db.users.update(user.id, { groupId: "00000000-0000-0000-0000-000000000000" }), (e: unknown) => isServerError(e, "GROUP_NOT_FOUND"));
});

test("settings rows: value null clears, a lock without a value stays, and invalid stored values are ignored", (t) => {
  const db = tempDb(t).open();
  db.settings.writeAccount({ polling: { value: false }, reactions: { locked: true }, defaultEncryption: { value: "enhanced" } });
  assert.deepEqual(db.settings.account(), { polling: { value: false }, reactions: { locked: true }, defaultEncryption: { value: "enhanced" } });
  db.settings.writeAccount({ polling: { value: null }, reactions: { value: true } });
  assert.deepEqual(db.settings.account(), { reactions: { value: true, locked: true }, defaultEncryption: { value: "enhanced" } });
  db.settings.writeAccount({ reactions: { value: null, locked: false } });
  assert.deepEqual(db.settings.account(), { defaultEncryption: { value: "enhanced" } });
  db.connection.prepare("INSERT INTO account_settings (key, value, locked, updated_at) VALUES ('allowE2ee', '\"yes\"', 0, 0), ('gone', 'true', 1, 0)").run();
  assert.deepEqual(db.settings.account(), { defaultEncryption: { value: "enhanced" }, allowE2ee: {} });
});

test("deleting a user deletes their sessions, settings and meetings", async (t) => {
  const db = tempDb(t).open();
  const user = db.users.create({ email: "a@example.org", name: "A", role: "member", passwordHash: HASH });
  const s = db.sessions.create(user.id);
  db.settings.writeUser(user.id, { polling: { value: false } });
  const { meeting } = await db.meetings.create({ ownerUserId: user.id });
  const { meeting: other } = await db.meetings.create({});
  assert.ok(db.users.delete(user.id));
  assert.equal(db.sessions.lookup(s.sessionId), undefined);
  assert.deepEqual(db.settings.user(user.id), {});
  assert.equal(db.meetings.get(meeting.id), undefined);
  assert.ok(db.meetings.get(other.id));
});

test("a meeting's passcode can be reset (old one stops working) and removed", async (t) => {
  const db = tempDb(t).open();
  const { meeting, passcode } = await db.meetings.create({});
  const fresh = await db.meetings.resetPasscode(meeting.id);
  assert.notEqual(fresh, passcode);
  assert.equal(await db.meetings.verifyPasscodeAsync(meeting.id, passcode!), false);
  assert.equal(await db.meetings.verifyPasscodeAsync(meeting.id, fresh), true);
  db.meetings.removePasscode(meeting.id);
  assert.equal(db.meetings.get(meeting.id)?.passcodeRequired, false);
  await assert.rejects(db.meetings.resetPasscode("12345678901"), (e: unknown) => isServerError(e, "MEETING_NOT_FOUND"));
});
