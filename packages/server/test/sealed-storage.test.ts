// The stores seal confidential fields and shred them with their objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KmsError, LocalKeyFileBackend, type MasterKeyBackend } from "@conclave/kms";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "../src/storage/database.js";
import { isServerError } from "../src/errors.js";
import { tempDb } from "./support/temp-db.js";

const HASH = "$scrypt$v=1$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const keyCount = (db: Database, id: string) => db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM data_keys WHERE object_id = ?").get(id)!.n;

test("a meeting's topic is stored only sealed, bound to its row: copied to another meeting it does not open", async (t) => {
  const db = tempDb(t).open();
  const a = (await db.meetings.create({ topic: "Acquisition of Initech" })).meeting.id;
  const b = (await db.meetings.create({ topic: "Other" })).meeting.id;
  const row = db.connection.prepare<{ topic: string | null; sealed: Buffer }>("SELECT topic, sealed FROM meetings WHERE id = ?").get(a)!;
  assert.equal(row.topic, null);
  assert.ok(!row.sealed.toString("latin1").includes("Initech"));
  assert.equal((await db.meetings.details(a))?.topic, "Acquisition of Initech");
  db.connection.prepare("UPDATE meetings SET sealed = ? WHERE id = ?").run(row.sealed, b);
  await assert.rejects(db.meetings.details(b), (e: unknown) => isServerError(e, "DATA_UNREADABLE"));
  assert.equal((await db.meetings.update(a, { topic: null })).topic, null);
});

test("deleting a user deletes their meetings' data keys with them (cascade included)", async (t) => {
  const db = tempDb(t).open();
  const user = db.users.create({ email: "u@example.org", name: "U", role: "member", passwordHash: HASH });
  const { meeting } = await db.meetings.create({ topic: "Mine", ownerUserId: user.id });
  assert.equal(keyCount(db, meeting.id), 1);
  assert.equal(db.users.delete(user.id), true);
  assert.equal(keyCount(db, meeting.id), 0);
});

test("an invitation's email is sealed; accepting it destroys the contents and the key, withdrawing shreds them", async (t) => {
  const db = tempDb(t).open();
  const { invitation, token } = await db.invitations.create({ email: "secret.person@example.org", role: "member", invitedBy: null });
  const stored = db.connection.prepare<{ email: string; sealed: Buffer }>("SELECT email, sealed FROM invitations WHERE id = ?").get(invitation.id)!;
  assert.equal(stored.email, "");
  assert.ok(!stored.sealed.toString("latin1").includes("secret.person"));
  assert.equal((await db.invitations.find(token))?.email, "secret.person@example.org");
  await db.invitations.accept(token, { name: "S", passwordHash: HASH });
  assert.equal(keyCount(db, invitation.id), 0);
  assert.equal(db.connection.prepare<{ sealed: Buffer | null }>("SELECT sealed FROM invitations WHERE id = ?").get(invitation.id)!.sealed, null);
  const other = await db.invitations.create({ email: "w@example.org", role: "member", invitedBy: null });
  assert.equal(await db.invitations.delete(other.invitation.id), true);
  assert.equal(keyCount(db, other.invitation.id), 0);
});

test("participant-log entries wait in memory while the KMS is down and are written, in order, when it is back", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-plog-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const local = LocalKeyFileBackend.openSync({ file: join(dir, "keys.json") });
  let down = false;
  const backend: MasterKeyBackend = {
    kind: "local",
    wrap: (k, a) => (down ? Promise.reject(new KmsError("KMS_UNAVAILABLE", "test")) : local.wrap(k, a)),
    unwrap: (w, a) => (down ? Promise.reject(new KmsError("KMS_UNAVAILABLE", "test")) : local.unwrap(w, a)),
    rotate: () => local.rotate(),
    status: () => local.status(),
    close: () => local.close(),
  };
  const db = Database.open(join(dir, "conclave.db"), { kms: { backend, cacheTtlMs: 0 } });
  t.after(() => db.close());
  const warnings: string[] = [];
  db.participants.onWarning = (m) => warnings.push(m);
  const { meeting } = await db.meetings.create({});
  down = true;
  for (const name of ["Ann", "Ben", "Cid"]) db.participants.record(meeting.id, { event: "joined", memberId: name, displayName: name, kind: "person" });
  await db.participants.flush();
  assert.equal(db.participants.pending, 3);
  assert.ok(warnings.some((w) => /wait for the key management system/.test(w)));
  assert.deepEqual(await db.participants.list(meeting.id), [], "nothing is written in clear meanwhile");
  down = false;
  await db.participants.flush();
  assert.equal(db.participants.pending, 0);
  assert.deepEqual((await db.participants.list(meeting.id)).map((e) => e.displayName), ["Ann", "Ben", "Cid"]);
});

test("a database opened without key management refuses to store a topic instead of writing it in clear", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-nokms-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = Database.open(join(dir, "conclave.db"));
  t.after(() => db.close());
  await assert.rejects(db.meetings.create({ topic: "Would be clear" }), (e: unknown) => isServerError(e, "KMS_UNAVAILABLE"));
  assert.equal(db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM meetings").get()!.n, 0);
  assert.ok((await db.meetings.create({})).meeting.id);
});
