import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Client, addUser, assertError, assertStatus, setupOwner, start } from "./support/api-client.js";

test("a member schedules a meeting: the response shape from before (plus postQuantum), the passcode once, details for the owner", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id: memberId } = await addUser(server, owner, { email: "m@example.org" });
  const created = await member.call("POST", "/api/meetings", {
    body: { topic: "Quarterly review", startAt: "2030-03-01T09:30:00+01:00", durationMin: 45 },
  });
  assertStatus(created, 201);
  assert.deepEqual(Object.keys(created.json).sort(), ["encryption", "id", "passcode", "postQuantum", "url"]);
  const { id, passcode } = created.json as { id: string; passcode: string };
  assert.match(id, /^[1-9]\d{10}$/);
  assert.match(passcode, /^[2-9a-z]{10}$/);
  assert.equal(created.json.encryption, "e2ee");
  assert.equal(created.json.url, `https://localhost:${server.port}/m/${id}#pwd=${passcode}`);

  const details = await member.call("GET", `/api/meetings/${id}`);
  assertStatus(details, 200);
  assert.equal(details.json.ownerUserId, memberId);
  assert.equal(details.json.topic, "Quarterly review");
  assert.equal(details.json.startAt, "2030-03-01T08:30:00.000Z");
  assert.equal(details.json.durationMin, 45);
  assert.equal(details.json.waitingRoom, true, "from the default settings");
  assert.equal(details.json.joinBeforeHost, false);
  assert.equal(details.json.passcodeRequired, true);
  assert.ok(!details.text.includes(passcode), "the passcode is never shown again");
  assert.deepEqual(Object.keys(details.json.settings.unavailable).sort(), ["chatHistory", "cloudRecording", "liveStreaming", "liveTranscription"]);
  assert.match(details.json.settings.unavailable.chatHistory, /would have to read the chat/);
  assert.match(details.json.settings.unavailable.cloudRecording, /end-to-end encrypted/);

  const anonymous = await new Client(server).call("GET", `/api/meetings/${id}`);
  assert.deepEqual(anonymous.json, { id, encryption: "e2ee", postQuantum: false, passcodeRequired: true, ended: false });
  assert.deepEqual(server.context.meetings.meetingPolicy(id), {
    encryption: "e2ee",
    waitingRoom: true,
    joinBeforeHost: false,
    ownerUserId: memberId,
    passcodeRequired: true,
  });
});

test("meeting options follow effective settings: E2EE refused when not allowed, and the default falls back to Enhanced", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const group = (await owner.call("POST", "/api/groups", { body: { name: "No E2EE" } })).json.group;
  const { client: member } = await addUser(server, owner, { email: "m@example.org", groupId: group.id });
  assertStatus(await owner.call("PATCH", `/api/settings/groups/${group.id}`, { body: { allowE2ee: { value: false, locked: true } } }), 200);
  const refused = await member.call("POST", "/api/meetings", { body: { encryption: "e2ee" } });
  assertError(refused, 409, "E2EE_NOT_ALLOWED");
  assert.match(refused.json.error.message, /allowE2ee/);
  const fallback = await member.call("POST", "/api/meetings", { body: {} });
  assertStatus(fallback, 201);
  assert.equal(fallback.json.encryption, "enhanced");
  const details = (await member.call("GET", `/api/meetings/${fallback.json.id}`)).json;
  assert.deepEqual(details.settings.unavailable, {}, "Enhanced meetings can have server-side features");
  // The owner, outside the group, may still use E2EE.
  assert.equal((await owner.call("POST", "/api/meetings", { body: {} })).json.encryption, "e2ee");
});

test("with passcodeRequired locked on, a meeting without a passcode is refused, and so is removing one", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member } = await addUser(server, owner, { email: "m@example.org" });
  const open = await member.call("POST", "/api/meetings", { body: { passcode: false } });
  assertStatus(open, 201);
  assert.equal(open.json.passcode, null);
  assert.equal(open.json.url, `https://localhost:${server.port}/m/${open.json.id}`);
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { passcodeRequired: { value: true, locked: true } } }), 200);
  assertError(await member.call("POST", "/api/meetings", { body: { passcode: false } }), 409, "SETTING_LOCKED");
  const withPasscode = await member.call("POST", "/api/meetings", { body: {} });
  assertError(await member.call("DELETE", `/api/meetings/${withPasscode.json.id}/passcode`), 409, "SETTING_LOCKED");
  assertError(await new Client(server).call("POST", "/api/meetings", { token: server.adminToken, body: { passcode: false } }), 409, "SETTING_LOCKED");
});

test("a locked waiting room or join-before-host is forced; unlocked, the request overrides the setting", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member } = await addUser(server, owner, { email: "m@example.org" });
  const unlocked = await member.call("POST", "/api/meetings", { body: { waitingRoom: false, joinBeforeHost: true } });
  const policy = server.context.meetings.meetingPolicy(unlocked.json.id)!;
  assert.equal(policy.waitingRoom, false);
  assert.equal(policy.joinBeforeHost, true);
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { waitingRoom: { value: true, locked: true } } }), 200);
  assertError(await member.call("POST", "/api/meetings", { body: { waitingRoom: false } }), 409, "SETTING_LOCKED");
  assertError(await member.call("PATCH", `/api/meetings/${unlocked.json.id}`, { body: { waitingRoom: false } }), 409, "SETTING_LOCKED");
  assertStatus(await member.call("PATCH", `/api/meetings/${unlocked.json.id}`, { body: { topic: "Still editable" } }), 200);
  const forced = await member.call("POST", "/api/meetings", { body: {} });
  assert.equal(server.context.meetings.meetingPolicy(forced.json.id)!.waitingRoom, true);
});

test("admin-token meetings keep the old response shape (plus postQuantum), have no owner and an open policy unless asked", async (t) => {
  const server = await start(t);
  const automation = new Client(server);
  const created = await automation.call("POST", "/api/meetings", { token: server.adminToken, body: {} });
  assertStatus(created, 201);
  assert.deepEqual(Object.keys(created.json).sort(), ["encryption", "id", "passcode", "postQuantum", "url"]);
  assert.deepEqual(server.context.meetings.meetingPolicy(created.json.id), {
    encryption: "e2ee",
    waitingRoom: false,
    joinBeforeHost: true,
    ownerUserId: null,
    passcodeRequired: true,
  });
  const asked = await automation.call("POST", "/api/meetings", { token: server.adminToken, body: { waitingRoom: true, topic: "Ops" } });
  assert.equal(server.context.meetings.meetingPolicy(asked.json.id)!.waitingRoom, true);
  assertError(await automation.call("POST", "/api/meetings"), 401, "UNAUTHORIZED");
});

test("members list and manage only their own meetings; owner and admins see and manage all", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: a } = await addUser(server, owner, { email: "a@example.org" });
  const { client: b } = await addUser(server, owner, { email: "b@example.org" });
  const { client: admin } = await addUser(server, owner, { email: "admin@example.org", role: "admin" });
  const mine = (await a.call("POST", "/api/meetings", { body: { topic: "A's" } })).json.id as string;
  const theirs = (await b.call("POST", "/api/meetings", { body: { topic: "B's" } })).json.id as string;
  await new Client(server).call("POST", "/api/meetings", { token: server.adminToken, body: {} });

  assert.deepEqual((await a.call("GET", "/api/meetings")).json.meetings.map((m: { id: string }) => m.id), [mine]);
  assert.equal((await admin.call("GET", "/api/meetings")).json.meetings.length, 3);
  assert.equal((await new Client(server).call("GET", "/api/meetings", { token: server.adminToken })).json.meetings.length, 3);

  const peek = await a.call("GET", `/api/meetings/${theirs}`);
  assert.deepEqual(Object.keys(peek.json).sort(), ["encryption", "ended", "id", "passcodeRequired", "postQuantum"]);
  assertError(await a.call("PATCH", `/api/meetings/${theirs}`, { body: { topic: "Mine now" } }), 403, "FORBIDDEN");
  assertError(await a.call("DELETE", `/api/meetings/${theirs}`), 403, "FORBIDDEN");
  assertError(await a.call("POST", `/api/meetings/${theirs}/passcode`), 403, "FORBIDDEN");
  assertStatus(await admin.call("PATCH", `/api/meetings/${theirs}`, { body: { topic: "Moderated" } }), 200);
  assertStatus(await admin.call("DELETE", `/api/meetings/${theirs}`), 204);
  assertError(await b.call("GET", `/api/meetings/${theirs}`), 404, "MEETING_NOT_FOUND");
});

test("editing a meeting changes topic, start and duration; null clears them; an ended meeting is 410 MEETING_ENDED", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const id = (await owner.call("POST", "/api/meetings", { body: { topic: "Draft", startAt: "2031-01-01T10:00:00Z", durationMin: 30 } })).json.id;
  const edited = await owner.call("PATCH", `/api/meetings/${id}`, {
    body: { topic: "Final", startAt: "2031-01-02T10:00:00Z", durationMin: 90, encryption: "enhanced" },
  });
  assertStatus(edited, 200);
  assert.equal(edited.json.topic, "Final");
  assert.equal(edited.json.startAt, "2031-01-02T10:00:00.000Z");
  assert.equal(edited.json.durationMin, 90);
  assert.equal(edited.json.encryption, "enhanced");
  assert.deepEqual(edited.json.settings.unavailable, {});
  const cleared = await owner.call("PATCH", `/api/meetings/${id}`, { body: { topic: null, startAt: null, durationMin: null } });
  assert.equal(cleared.json.topic, null);
  assert.equal(cleared.json.startAt, null);
  for (const body of [{ durationMin: 0 }, { durationMin: 1441 }, { startAt: "tomorrow" }, { startAt: "2031-01-02T10:00:00" }, { topic: "" }, { passcode: false }]) {
    assertError(await owner.call("PATCH", `/api/meetings/${id}`, { body }), 400, "BAD_REQUEST");
  }
  server.context.meetings.markEnded(id);
  assertError(await owner.call("PATCH", `/api/meetings/${id}`, { body: { topic: "Too late" } }), 410, "MEETING_ENDED");
  assertError(await owner.call("POST", `/api/meetings/${id}/passcode`), 410, "MEETING_ENDED");
});

test("resetting a passcode returns the new one once; the old one stops working", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const created = (await owner.call("POST", "/api/meetings", { body: {} })).json;
  const reset = await owner.call("POST", `/api/meetings/${created.id}/passcode`);
  assertStatus(reset, 200);
  assert.match(reset.json.passcode, /^[2-9a-z]{10}$/);
  assert.equal(reset.json.url, `https://localhost:${server.port}/m/${created.id}#pwd=${reset.json.passcode}`);
  assert.equal(await server.context.meetings.verifyPasscodeAsync(created.id, created.passcode), false);
  assert.equal(await server.context.meetings.verifyPasscodeAsync(created.id, reset.json.passcode), true);
  assertStatus(await owner.call("DELETE", `/api/meetings/${created.id}/passcode`), 204);
  assert.equal(server.context.meetings.meetingPolicy(created.id)!.passcodeRequired, false);
  const again = await owner.call("POST", `/api/meetings/${created.id}/passcode`);
  assert.equal(server.context.meetings.meetingPolicy(created.id)!.passcodeRequired, true, "a reset gives a meeting without one a passcode");
  assert.ok(!(await owner.call("GET", `/api/meetings/${created.id}`)).text.includes(again.json.passcode));
});

test("userFromRequest finds the signed-in user of a request's session cookie, for the WebSocket upgrade", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id } = await addUser(server, owner, { email: "m@example.org" });
  const fakeRequest = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as IncomingMessage;
  const cookie = `conclave_session=${member.cookies.get("conclave_session")}`;
  assert.deepEqual(server.context.userFromRequest(fakeRequest(cookie)), { userId: id, role: "member" });
  assert.equal(server.context.userFromRequest(fakeRequest()), null);
  assert.equal(server.context.userFromRequest(fakeRequest(`conclave_session=${"A".repeat(43)}`)), null);
  assertStatus(await member.call("POST", "/api/auth/logout"), 204);
  assert.equal(server.context.userFromRequest(fakeRequest(cookie)), null);
});

test("on the public meeting route a wrong admin token just leaves the caller anonymous, and counts towards the limit", async (t) => {
  const server = await start(t);
  const id = (await new Client(server).call("POST", "/api/meetings", { token: server.adminToken, body: {} })).json.id as string;
  const prober = new Client(server);
  for (let i = 0; i < 10; i++) {
    const reply = await prober.call("GET", `/api/meetings/${id}`, { token: `guess${i}` });
    assert.deepEqual(Object.keys(reply.json).sort(), ["encryption", "ended", "id", "passcodeRequired", "postQuantum"]);
  }
  const limited = await prober.call("GET", `/api/meetings/${id}`, { token: server.adminToken });
  assert.deepEqual(Object.keys(limited.json).sort(), ["encryption", "ended", "id", "passcodeRequired", "postQuantum"], "the right token no longer shows details");
  assertError(await prober.call("GET", "/api/meetings", { token: server.adminToken }), 429, "RATE_LIMITED");
});

test("post-quantum key exchange: asked for at creation it sticks to the meeting and its public facts; the setting is the default, a lock forces it", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id: memberId } = await addUser(server, owner, { email: "m@example.org" });
  const asked = await member.call("POST", "/api/meetings", { body: { postQuantum: true } });
  assertStatus(asked, 201);
  assert.equal(asked.json.postQuantum, true);
  const id = asked.json.id as string;
  assert.equal((await member.call("GET", `/api/meetings/${id}`)).json.postQuantum, true, "details");
  assert.equal((await new Client(server).call("GET", `/api/meetings/${id}`)).json.postQuantum, true, "public facts, for clients about to join");
  assert.equal(server.context.meetings.get(id)!.postQuantum, true);
  assertError(await member.call("PATCH", `/api/meetings/${id}`, { body: { postQuantum: false } }), 400, "BAD_REQUEST");
  assert.equal((await member.call("POST", "/api/meetings", { body: {} })).json.postQuantum, false, "off by default");

  // The member's own setting makes it the default...
  assertStatus(await member.call("PATCH", `/api/settings/users/${memberId}`, { body: { postQuantumKeyExchange: { value: true } } }), 200);
  assert.equal((await member.call("POST", "/api/meetings", { body: {} })).json.postQuantum, true);
  assert.equal((await member.call("POST", "/api/meetings", { body: { postQuantum: false } })).json.postQuantum, false, "unlocked: the request wins");
  // ...and an account lock forces it: asking otherwise is refused, the member cannot override it.
  assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { postQuantumKeyExchange: { value: true, locked: true } } }), 200);
  assertError(await member.call("POST", "/api/meetings", { body: { postQuantum: false } }), 409, "SETTING_LOCKED");
  assertError(await member.call("PATCH", `/api/settings/users/${memberId}`, { body: { postQuantumKeyExchange: { value: false } } }), 409, "SETTING_LOCKED");
  assert.equal((await member.call("POST", "/api/meetings", { body: {} })).json.postQuantum, true);
});
