import { test } from "node:test";
import assert from "node:assert/strict";
import { SETTING_KEYS } from "../src/settings/catalog.js";
import { Client, addUser, assertError, assertStatus, setupOwner, start } from "./support/api-client.js";

test("GET /api/settings/catalog lists every setting with its type, default and description, without signing in", async (t) => {
  const server = await start(t);
  const reply = await new Client(server).call("GET", "/api/settings/catalog");
  assertStatus(reply, 200);
  const entries = reply.json.settings as { key: string; needsServerSideMember: boolean; unavailableInE2ee?: string }[];
  assert.deepEqual(entries.map((e) => e.key), [...SETTING_KEYS]);
  const recording = entries.find((e) => e.key === "cloudRecording")!;
  assert.equal(recording.needsServerSideMember, true);
  assert.match(recording.unavailableInE2ee!, /end-to-end encrypted/);
});

test("an account lock is read-only for groups and users: 409 SETTING_LOCKED and nothing of that PATCH is written", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const group = (await owner.call("POST", "/api/groups", { body: { name: "Sales" } })).json.group;
  const { client: member, id } = await addUser(server, owner, { email: "m@example.org", groupId: group.id });

  const locked = await owner.call("PATCH", "/api/settings/account", { body: { cloudRecording: { value: true, locked: true } } });
  assertStatus(locked, 200);
  assert.deepEqual(locked.json.settings.cloudRecording, {
    value: true,
    locked: true,
    effective: true,
    source: "account",
    lockedAt: "account",
    writable: true,
    needsServerSideMember: true,
  });

  const groupWrite = await owner.call("PATCH", `/api/settings/groups/${group.id}`, { body: { polling: { value: false }, cloudRecording: { value: false } } });
  assertError(groupWrite, 409, "SETTING_LOCKED");
  assert.match(groupWrite.json.error.message, /cloudRecording is locked at account level/);
  assert.equal((await owner.call("GET", `/api/settings/groups/${group.id}`)).json.settings.polling.value, null, "the unlocked key was not written either");
  assertError(await member.call("PATCH", `/api/settings/users/${id}`, { body: { cloudRecording: { value: false } } }), 409, "SETTING_LOCKED");
  assertError(await owner.call("PATCH", `/api/settings/groups/${group.id}`, { body: { cloudRecording: { locked: false } } }), 409, "SETTING_LOCKED");

  const mine = (await member.call("GET", "/api/settings/effective")).json.settings.cloudRecording;
  assert.deepEqual(mine, { value: true, source: "account", locked: true, lockedAt: "account", unavailableInE2ee: mine.unavailableInE2ee });
});

test("a group lock binds the group's members only; it is read-only for them, not for other users", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const group = (await owner.call("POST", "/api/groups", { body: { name: "Support" } })).json.group;
  const { client: inside, id: insideId } = await addUser(server, owner, { email: "in@example.org", groupId: group.id });
  const { client: outside, id: outsideId } = await addUser(server, owner, { email: "out@example.org" });
  assertStatus(await owner.call("PATCH", `/api/settings/groups/${group.id}`, { body: { privateChat: { value: false, locked: true } } }), 200);

  assertError(await inside.call("PATCH", `/api/settings/users/${insideId}`, { body: { privateChat: { value: true } } }), 409, "SETTING_LOCKED");
  assertStatus(await outside.call("PATCH", `/api/settings/users/${outsideId}`, { body: { privateChat: { value: false } } }), 200);
  const insideView = (await inside.call("GET", `/api/settings/users/${insideId}`)).json.settings.privateChat;
  assert.deepEqual(insideView, { value: null, locked: false, effective: false, source: "group", lockedAt: "group", writable: false });
  assert.deepEqual((await outside.call("GET", "/api/settings/effective")).json.settings.privateChat, { value: false, source: "user", locked: false });
});

test("an unlocked user value wins; lifting a lock brings back the values stored below it", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id } = await addUser(server, owner, { email: "m@example.org" });
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { reactions: { value: true } } }), 200);
  assertStatus(await member.call("PATCH", `/api/settings/users/${id}`, { body: { reactions: { value: false } } }), 200);
  assert.equal((await member.call("GET", "/api/settings/effective")).json.settings.reactions.value, false);
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { reactions: { locked: true } } }), 200);
  assert.deepEqual((await member.call("GET", "/api/settings/effective")).json.settings.reactions, {
    value: true,
    source: "account",
    locked: true,
    lockedAt: "account",
  });
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { reactions: { locked: false, value: null } } }), 200);
  assert.deepEqual((await member.call("GET", "/api/settings/effective")).json.settings.reactions, { value: false, source: "user", locked: false });
  assertStatus(await member.call("PATCH", `/api/settings/users/${id}`, { body: { reactions: { value: null } } }), 200);
  assert.deepEqual((await member.call("GET", "/api/settings/effective")).json.settings.reactions, { value: true, source: "default", locked: false });
});

test("members edit only their own user-level settings and cannot lock; admins can read anyone's", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const ownerId = (await owner.call("GET", "/api/me")).json.user.id as string;
  const { client: a, id: aId } = await addUser(server, owner, { email: "a@example.org" });
  const { id: bId } = await addUser(server, owner, { email: "b@example.org" });
  assertError(await a.call("GET", `/api/settings/users/${bId}`), 403, "FORBIDDEN");
  assertError(await a.call("PATCH", `/api/settings/users/${bId}`, { body: { polling: { value: false } } }), 403, "FORBIDDEN");
  assertError(await a.call("GET", "/api/settings/users/00000000-0000-0000-0000-000000000000"), 403, "FORBIDDEN");
  const lockAttempt = await a.call("PATCH", `/api/settings/users/${aId}`, { body: { polling: { value: false, locked: true } } });
  assertError(lockAttempt, 400, "BAD_REQUEST");
  assert.match(lockAttempt.json.error.message, /polling/);
  assertStatus(await owner.call("GET", `/api/settings/users/${aId}`), 200);
  assertStatus(await owner.call("PATCH", `/api/settings/users/${aId}`, { body: { polling: { value: false } } }), 200);
  assertStatus(await owner.call("PATCH", `/api/settings/users/${ownerId}`, { body: { polling: { value: false } } }), 200);
  assertStatus(await new Client(server).call("GET", `/api/settings/users/${aId}`, { token: server.adminToken }), 200);
  assertError(await owner.call("GET", "/api/settings/users/00000000-0000-0000-0000-000000000000"), 404, "USER_NOT_FOUND");
  assertError(await owner.call("GET", "/api/settings/groups/00000000-0000-0000-0000-000000000000"), 404, "GROUP_NOT_FOUND");
});

test("malformed setting patches are 400 BAD_REQUEST naming the problem", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  for (const body of [
    { noSuchSetting: { value: true } },
    { polling: { value: "yes" } },
    { defaultEncryption: { value: "none" } },
    { polling: true },
    { polling: { value: true, extra: 1 } },
    { polling: { locked: "true" } },
    [],
    "polling",
  ]) {
    assertError(await owner.call("PATCH", "/api/settings/account", { body }), 400, "BAD_REQUEST");
  }
  assert.equal((await owner.call("GET", "/api/settings/account")).json.settings.polling.value, null);
});

test("the admin token reads and locks account settings without a CSRF token", async (t) => {
  const server = await start(t);
  const automation = new Client(server);
  const reply = await automation.call("PATCH", "/api/settings/account", { token: server.adminToken, body: { allowE2ee: { value: true, locked: true } } });
  assertStatus(reply, 200);
  assert.equal(reply.json.settings.allowE2ee.locked, true);
  assertError(await automation.call("GET", "/api/settings/effective", { token: server.adminToken }), 403, "FORBIDDEN");
});
