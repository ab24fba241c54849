import { test } from "node:test";
import assert from "node:assert/strict";
import { SESSION_IDLE_MS } from "../src/storage/sessions.js";
import { Client, OWNER, addUser, assertError, assertStatus, setupOwner, start } from "./support/api-client.js";

test("a fresh server needs setup; the first user becomes the signed-in owner; setup then answers 409 SETUP_DONE", async (t) => {
  const server = await start(t);
  const anonymous = new Client(server);
  assert.deepEqual((await anonymous.call("GET", "/api/setup")).json, { setupRequired: true });
  const owner = new Client(server);
  const reply = await owner.call("POST", "/api/setup", { body: OWNER });
  assertStatus(reply, 201);
  assert.equal(reply.json.user.role, "owner");
  assert.equal(reply.json.user.email, OWNER.email);
  assert.equal(reply.json.csrfToken, owner.csrfToken);
  assert.ok(!reply.text.includes(OWNER.password));
  const me = await owner.call("GET", "/api/me");
  assertStatus(me, 200);
  assert.equal(me.json.user.id, reply.json.user.id);
  assert.deepEqual((await anonymous.call("GET", "/api/setup")).json, { setupRequired: false });
  assertError(await anonymous.call("POST", "/api/setup", { body: { ...OWNER, email: "other@example.org" } }), 409, "SETUP_DONE");
});

test("the session cookie is HttpOnly, Secure, SameSite=Strict, Path=/; the CSRF cookie is readable by scripts", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const reply = await new Client(server).call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } });
  assertStatus(reply, 200);
  const cookies = reply.headers["set-cookie"] ?? [];
  const session = cookies.find((c) => c.startsWith("conclave_session="));
  const csrf = cookies.find((c) => c.startsWith("conclave_csrf="));
  assert.ok(session && csrf, String(cookies));
  for (const attribute of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=43200"]) {
    assert.ok(session.split("; ").includes(attribute), `session cookie has ${attribute}`);
  }
  assert.ok(!csrf.includes("HttpOnly"));
  assert.ok(csrf.includes("Secure") && csrf.includes("SameSite=Strict"));
  assert.match(session, /^conclave_session=[A-Za-z0-9_-]{43};/);
  assert.equal(reply.headers["cache-control"], "no-store");
});

test("a wrong password and an unknown email get the same LOGIN_FAILED answer", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const client = new Client(server);
  const wrongPassword = await client.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: "not the password" } });
  const unknownEmail = await client.call("POST", "/api/auth/login", { body: { email: "nobody@example.org", password: "not the password" } });
  assertError(wrongPassword, 401, "LOGIN_FAILED");
  assertError(unknownEmail, 401, "LOGIN_FAILED");
  assert.deepEqual(wrongPassword.json, unknownEmail.json);
  assert.equal(wrongPassword.json.error.message, "Wrong email or password.");
  assert.equal(client.cookies.size, 0);
  // Emails match whatever their case and surrounding spaces.
  assertStatus(await client.call("POST", "/api/auth/login", { body: { email: `  ${OWNER.email.toUpperCase()} `, password: OWNER.password } }), 200);
});

test("after 10 failed sign-ins from one address, sign-in is 429 RATE_LIMITED even with the right password", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const client = new Client(server);
  for (let i = 0; i < 10; i++) {
    const email = i % 2 === 0 ? OWNER.email : `guess${i}@example.org`;
    assertError(await client.call("POST", "/api/auth/login", { body: { email, password: "wrong password" } }), 401, "LOGIN_FAILED");
  }
  assertError(await client.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 429, "RATE_LIMITED");
});

test("10 failed sign-ins for one account from two addresses refuse that account to those addresses only: its owner still signs in from another", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const other = { email: "other@example.org", password: "other password 1" };
  const owner = new Client(server);
  assertStatus(await owner.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 200);
  assertStatus(await owner.call("POST", "/api/users", { body: { ...other, name: "Other" } }), 201);
  const v4 = new Client(server);
  // Linux routes all of 127.0.0.0/8 to loopback: 127.0.0.2 is a second client address.
  const second = new Client(server, "127.0.0.2");
  // Conclave runs on Linux, where this always holds; fail loudly rather than skip if it does not.
  assertStatus(await second.call("GET", "/healthz"), 200);
  for (let i = 0; i < 5; i++) {
    assertError(await v4.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: "wrong" } }), 401, "LOGIN_FAILED");
    assertError(await second.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: "wrong" } }), 401, "LOGIN_FAILED");
  }
  assertError(await v4.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 429, "RATE_LIMITED");
  assertStatus(await second.call("POST", "/api/auth/login", { body: other }), 200);
  // The attacker cannot lock the owner out: from an address that has not failed, the right
  // password works.
  assertStatus(await new Client(server, "127.0.0.3").call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 200);
});

test("a state-changing request with a session needs X-CSRF-Token equal to the CSRF cookie (403 CSRF_FAILED)", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const body = { name: "Sales" };
  assertError(await owner.call("POST", "/api/groups", { body, csrf: false }), 403, "CSRF_FAILED");
  assertError(await owner.call("POST", "/api/groups", { body, headers: { "x-csrf-token": "x".repeat(43) } }), 403, "CSRF_FAILED");
  assertError(await owner.call("POST", "/api/groups", { body, headers: { "x-csrf-token": "" } }), 403, "CSRF_FAILED");
  // Header and cookie agree but belong to another session: refused too (the token is bound to its session).
  const other = new Client(server);
  await other.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } });
  const foreign = other.csrfToken!;
  const cookie = `conclave_session=${owner.cookies.get("conclave_session")}; conclave_csrf=${foreign}`;
  assertError(await owner.call("POST", "/api/groups", { body, headers: { cookie, "x-csrf-token": foreign } }), 403, "CSRF_FAILED");
  // Without the CSRF cookie, the header alone is not enough.
  const onlySession = `conclave_session=${owner.cookies.get("conclave_session")}`;
  assertError(await owner.call("POST", "/api/groups", { body, headers: { cookie: onlySession } }), 403, "CSRF_FAILED");
  assertStatus(await owner.call("GET", "/api/groups", { csrf: false }), 200);
  assertStatus(await owner.call("POST", "/api/groups", { body }), 201);
  assertError(await owner.call("POST", "/api/auth/logout", { csrf: false }), 403, "CSRF_FAILED");
});

test("a forged, tampered or expired session is 401 SESSION_EXPIRED and the cookies are cleared", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const sessionId = owner.cookies.get("conclave_session")!;
  const tampered = `${sessionId.slice(0, -1)}${sessionId.endsWith("A") ? "B" : "A"}`;
  for (const value of ["A".repeat(43), tampered, "short", "' OR 1=1 --", ""]) {
    const reply = await new Client(server).call("GET", "/api/me", { headers: { cookie: `conclave_session=${value}` } });
    assertError(reply, 401, "SESSION_EXPIRED");
    assert.ok((reply.headers["set-cookie"] ?? []).some((c) => c.startsWith("conclave_session=;") && c.includes("Max-Age=0")));
  }
  assertStatus(await owner.call("GET", "/api/me"), 200);
  // Idle for two hours: the stored session is past its idle limit.
  server.context.database.connection.prepare("UPDATE sessions SET last_seen_at = last_seen_at - ?").run(SESSION_IDLE_MS);
  assertError(await owner.call("GET", "/api/me"), 401, "SESSION_EXPIRED");
  assert.equal(owner.cookies.size, 0, "the browser drops both cookies");
});

test("without credentials a protected route is 401 UNAUTHENTICATED; /api/me refuses the admin token with FORBIDDEN", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const anonymous = new Client(server);
  assertError(await anonymous.call("GET", "/api/me"), 401, "UNAUTHENTICATED");
  assertError(await anonymous.call("GET", "/api/users"), 401, "UNAUTHENTICATED");
  assertError(await anonymous.call("GET", "/api/me", { token: server.adminToken }), 403, "FORBIDDEN");
  assertError(await anonymous.call("GET", "/api/users", { token: "wrong" }), 401, "UNAUTHORIZED");
});

test("sign-out ends this session only; sign-out everywhere ends every session of the user", async (t) => {
  const server = await start(t);
  const first = await setupOwner(server);
  const login = async (): Promise<Client> => {
    const c = new Client(server);
    assertStatus(await c.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 200);
    return c;
  };
  const second = await login();
  const third = await login();
  const firstCookie = first.cookies.get("conclave_session")!;
  const out = await first.call("POST", "/api/auth/logout");
  assertStatus(out, 204);
  assert.equal(first.cookies.size, 0);
  assertError(await first.call("GET", "/api/me", { headers: { cookie: `conclave_session=${firstCookie}` } }), 401, "SESSION_EXPIRED");
  assertStatus(await second.call("GET", "/api/me"), 200);
  assertStatus(await second.call("POST", "/api/auth/logout-all"), 204);
  assertError(await third.call("GET", "/api/me"), 401, "SESSION_EXPIRED");
  assert.equal(server.context.database.sessions.countForUser((await login().then((c) => c.call("GET", "/api/me"))).json.user.id), 1);
});

test("signing in again replaces the browser's previous session", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const before = owner.cookies.get("conclave_session")!;
  assertStatus(await owner.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 200);
  assert.notEqual(owner.cookies.get("conclave_session"), before);
  assertError(await new Client(server).call("GET", "/api/me", { headers: { cookie: `conclave_session=${before}` } }), 401, "SESSION_EXPIRED");
});

test("the admin token needs no CSRF token and can manage users; a wrong one is UNAUTHORIZED", async (t) => {
  const server = await start(t);
  await setupOwner(server);
  const automation = new Client(server);
  const created = await automation.call("POST", "/api/users", {
    token: server.adminToken,
    body: { email: "bot@example.org", name: "Bot", password: "bot password 12", role: "admin" },
  });
  assertStatus(created, 201);
  assert.equal(created.json.user.role, "admin");
  assertStatus(await automation.call("GET", "/api/users", { token: server.adminToken }), 200);
  assertError(await automation.call("GET", "/api/users", { token: `${server.adminToken}x` }), 401, "UNAUTHORIZED");
});

test("an invitation token is returned once, works once, and signs the new user in with the invited role", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const invite = await owner.call("POST", "/api/invitations", { body: { email: "New.Person@Example.org", role: "admin" } });
  assertStatus(invite, 201);
  const token = invite.json.token as string;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(invite.json.invitation.email, "new.person@example.org");
  const pending = await owner.call("GET", "/api/invitations");
  assert.equal(pending.json.invitations.length, 1);
  assert.ok(!pending.text.includes(token), "the token is not shown again");

  const invitee = new Client(server);
  assertError(await invitee.call("POST", "/api/invitations/accept", { body: { token, name: "New", password: "short" } }), 400, "WEAK_PASSWORD");
  const accepted = await invitee.call("POST", "/api/invitations/accept", { body: { token, name: "New Person", password: "new password 1" } });
  assertStatus(accepted, 201);
  assert.equal(accepted.json.user.role, "admin");
  assert.equal((await invitee.call("GET", "/api/me")).json.user.email, "new.person@example.org");
  assertError(
    await new Client(server).call("POST", "/api/invitations/accept", { body: { token, name: "Again", password: "new password 2" } }),
    400,
    "INVITATION_INVALID",
  );
  assertError(await owner.call("POST", "/api/invitations", { body: { email: "new.person@example.org" } }), 409, "EMAIL_TAKEN");
});

test("an expired, withdrawn or made-up invitation is INVITATION_INVALID; repeated failures are rate limited", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const expired = (await owner.call("POST", "/api/invitations", { body: { email: "late@example.org" } })).json.token as string;
  server.context.database.connection.prepare("UPDATE invitations SET expires_at = ?").run(Date.now() - 1);
  const withdrawnReply = await owner.call("POST", "/api/invitations", { body: { email: "gone@example.org" } });
  assertStatus(await owner.call("DELETE", `/api/invitations/${withdrawnReply.json.invitation.id}`), 204);
  const client = new Client(server);
  const body = (token: string) => ({ body: { token, name: "X", password: "a good password" } });
  assertError(await client.call("POST", "/api/invitations/accept", body(expired)), 400, "INVITATION_INVALID");
  assertError(await client.call("POST", "/api/invitations/accept", body(withdrawnReply.json.token)), 400, "INVITATION_INVALID");
  for (let i = 0; i < 8; i++) assertError(await client.call("POST", "/api/invitations/accept", body("A".repeat(43))), 400, "INVITATION_INVALID");
  assertError(await client.call("POST", "/api/invitations/accept", body("A".repeat(43))), 429, "RATE_LIMITED");
});

test("members cannot manage users, groups or invitations (403 FORBIDDEN)", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id } = await addUser(server, owner, { email: "m@example.org" });
  assertError(await member.call("GET", "/api/users"), 403, "FORBIDDEN");
  assertError(await member.call("POST", "/api/invitations", { body: { email: "x@example.org" } }), 403, "FORBIDDEN");
  assertError(await member.call("POST", "/api/groups", { body: { name: "Mine" } }), 403, "FORBIDDEN");
  assertError(await member.call("PATCH", `/api/users/${id}`, { body: { role: "admin" } }), 403, "FORBIDDEN");
  assertError(await member.call("GET", "/api/settings/account"), 403, "FORBIDDEN");
});

test("admins manage members but cannot make admins or touch other admins; nobody can demote, disable or delete the owner", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const ownerId = (await owner.call("GET", "/api/me")).json.user.id as string;
  const { client: admin, id: adminId } = await addUser(server, owner, { email: "admin@example.org", role: "admin" });
  const { id: otherAdminId } = await addUser(server, owner, { email: "admin2@example.org", role: "admin" });
  const { id: memberId } = await addUser(server, owner, { email: "m@example.org" });

  assertStatus(await admin.call("PATCH", `/api/users/${memberId}`, { body: { name: "Renamed" } }), 200);
  assertError(await admin.call("PATCH", `/api/users/${memberId}`, { body: { role: "admin" } }), 403, "FORBIDDEN");
  assertError(await admin.call("POST", "/api/invitations", { body: { email: "a3@example.org", role: "admin" } }), 403, "FORBIDDEN");
  assertError(await admin.call("POST", "/api/users", { body: { email: "a4@example.org", name: "A4", password: "a4 password!!", role: "admin" } }), 403, "FORBIDDEN");
  assertError(await admin.call("PATCH", `/api/users/${otherAdminId}`, { body: { disabled: true } }), 403, "FORBIDDEN");
  assertError(await admin.call("DELETE", `/api/users/${adminId}`), 403, "FORBIDDEN");
  for (const client of [admin, owner]) {
    assertError(await client.call("PATCH", `/api/users/${ownerId}`, { body: { role: "member" } }), 403, "OWNER_PROTECTED");
    assertError(await client.call("PATCH", `/api/users/${ownerId}`, { body: { disabled: true } }), 403, "OWNER_PROTECTED");
    assertError(await client.call("DELETE", `/api/users/${ownerId}`), 403, "OWNER_PROTECTED");
  }
  assertError(await new Client(server).call("DELETE", `/api/users/${ownerId}`, { token: server.adminToken }), 403, "OWNER_PROTECTED");
  assertError(await owner.call("PATCH", `/api/users/${ownerId}`, { body: { role: "owner" } }), 400, "BAD_REQUEST");
  assertStatus(await owner.call("PATCH", `/api/users/${otherAdminId}`, { body: { role: "member" } }), 200);
  assertError(await owner.call("PATCH", "/api/users/00000000-0000-0000-0000-000000000000", { body: { name: "X" } }), 404, "USER_NOT_FOUND");
});

test("disabling a user signs them out and refuses their sign-in with ACCOUNT_DISABLED; deleting removes them", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { client: member, id } = await addUser(server, owner, { email: "m@example.org", password: "member password 9" });
  assertStatus(await owner.call("PATCH", `/api/users/${id}`, { body: { disabled: true } }), 200);
  assertError(await member.call("GET", "/api/me"), 401, "SESSION_EXPIRED");
  const again = new Client(server);
  assertError(await again.call("POST", "/api/auth/login", { body: { email: "m@example.org", password: "wrong password" } }), 401, "LOGIN_FAILED");
  assertError(await again.call("POST", "/api/auth/login", { body: { email: "m@example.org", password: "member password 9" } }), 403, "ACCOUNT_DISABLED");
  assertStatus(await owner.call("PATCH", `/api/users/${id}`, { body: { disabled: false } }), 200);
  assertStatus(await again.call("POST", "/api/auth/login", { body: { email: "m@example.org", password: "member password 9" } }), 200);
  assertStatus(await owner.call("DELETE", `/api/users/${id}`), 204);
  assertError(await again.call("GET", "/api/me"), 401, "SESSION_EXPIRED");
  assertError(await owner.call("DELETE", `/api/users/${id}`), 404, "USER_NOT_FOUND");
});

test("passwords under 10 characters are WEAK_PASSWORD everywhere one is chosen", async (t) => {
  const server = await start(t);
  assertError(await new Client(server).call("POST", "/api/setup", { body: { ...OWNER, password: "123456789" } }), 400, "WEAK_PASSWORD");
  const owner = await setupOwner(server);
  assertError(await owner.call("POST", "/api/users", { body: { email: "a@example.org", name: "A", password: "short" } }), 400, "WEAK_PASSWORD");
  assertError(await owner.call("POST", "/api/me/password", { body: { currentPassword: OWNER.password, newPassword: "short" } }), 400, "WEAK_PASSWORD");
});

test("changing your password needs the current one and signs out your other sessions", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const elsewhere = new Client(server);
  await elsewhere.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } });
  const change = { currentPassword: "not it at all", newPassword: "a brand new password" };
  assertError(await owner.call("POST", "/api/me/password", { body: change }), 403, "CURRENT_PASSWORD_WRONG");
  assertStatus(await owner.call("POST", "/api/me/password", { body: { ...change, currentPassword: OWNER.password } }), 204);
  assertStatus(await owner.call("GET", "/api/me"), 200);
  assertError(await elsewhere.call("GET", "/api/me"), 401, "SESSION_EXPIRED");
  const fresh = new Client(server);
  assertError(await fresh.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: OWNER.password } }), 401, "LOGIN_FAILED");
  assertStatus(await fresh.call("POST", "/api/auth/login", { body: { email: OWNER.email, password: change.newPassword } }), 200);
});

test("groups: create, rename, list with members; a user is in one group at most; deleting keeps the users", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const { id: userId } = await addUser(server, owner, { email: "m@example.org" });
  const sales = (await owner.call("POST", "/api/groups", { body: { name: "Sales" } })).json.group;
  const support = (await owner.call("POST", "/api/groups", { body: { name: "Support" } })).json.group;
  assertError(await owner.call("POST", "/api/groups", { body: { name: "SALES" } }), 409, "GROUP_NAME_TAKEN");
  assertStatus(await owner.call("PUT", `/api/groups/${sales.id}/members/${userId}`), 200);
  const moved = await owner.call("PUT", `/api/groups/${support.id}/members/${userId}`);
  assert.equal(moved.json.user.groupId, support.id);
  assert.equal((await owner.call("GET", `/api/groups/${sales.id}`)).json.members.length, 0);
  const supportView = await owner.call("GET", `/api/groups/${support.id}`);
  assert.deepEqual(supportView.json.members.map((m: { id: string }) => m.id), [userId]);
  assert.equal(supportView.json.group.memberCount, 1);
  assert.equal((await owner.call("PATCH", `/api/groups/${support.id}`, { body: { name: "Customer support" } })).json.group.name, "Customer support");
  assertStatus(await owner.call("DELETE", `/api/groups/${sales.id}/members/${userId}`), 204);
  assert.equal((await owner.call("GET", `/api/groups/${support.id}`)).json.members.length, 1, "removing from another group changes nothing");
  assertStatus(await owner.call("DELETE", `/api/groups/${support.id}`), 204);
  const users = (await owner.call("GET", "/api/users")).json.users as { id: string; groupId: string | null }[];
  assert.equal(users.find((u) => u.id === userId)?.groupId, null);
  assertError(await owner.call("GET", `/api/groups/${support.id}`), 404, "GROUP_NOT_FOUND");
  assertError(await owner.call("PUT", `/api/groups/${sales.id}/members/00000000-0000-0000-0000-000000000000`), 404, "USER_NOT_FOUND");
});
