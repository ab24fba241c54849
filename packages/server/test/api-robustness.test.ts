import { test } from "node:test";
import assert from "node:assert/strict";
import { OPENAPI_DOCUMENT } from "../src/http/openapi.js";
import { startServer, type LogSink } from "../src/server.js";
import { Client, OWNER, addUser, assertError, assertStatus, setupOwner, start, tempConfig } from "./support/api-client.js";

const PAYLOADS = [
  "'; DROP TABLE users; --",
  "Robert'); DROP TABLE meetings;--",
  '" OR "1"="1',
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "${process.exit()}",
  "\u202eevil\u202c name",
  "名前 🙂",
];

test("every route that takes a body answers malformed bodies with a 4xx and an error code, never a 500", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const group = (await owner.call("POST", "/api/groups", { body: { name: "G" } })).json.group.id as string;
  const { id: user } = await addUser(server, owner, { email: "m@example.org" });
  const meeting = (await owner.call("POST", "/api/meetings", { body: {} })).json.id as string;
  const ids: Record<string, string> = { id: "", userId: user };
  const bodies: { raw?: string; body?: unknown }[] = [
    { body: [1] },
    { body: "text" },
    { body: 42 },
    { body: { unexpected: 1 } },
    { body: { name: 123, email: [], password: {}, topic: 5, token: null, encryption: "rot13", role: "owner" } },
    { body: { email: "x".repeat(300), name: "x".repeat(1000), password: "x".repeat(70_000 / 2) } },
    { raw: "{" },
    { raw: '{"name": "a"' },
    { raw: "\u0000" },
  ];
  let checked = 0;
  for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths as Record<string, Record<string, { requestBody?: unknown }>>)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation.requestBody === undefined) continue;
      const idFor = path.startsWith("/api/groups") || path.startsWith("/api/settings/groups") ? group : path.startsWith("/api/meetings") ? meeting : user;
      const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] || idFor);
      for (const options of bodies) {
        const reply = await owner.call(method.toUpperCase(), concrete, options);
        const what = `${method.toUpperCase()} ${concrete} ${JSON.stringify(options).slice(0, 60)}`;
        assert.ok(reply.status >= 400 && reply.status < 500, `${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
        assert.equal(typeof reply.json?.error?.code, "string", what);
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `checked ${checked} requests`);
  assertStatus(await owner.call("GET", "/api/me"), 200);
});

test("SQL and HTML payloads in names, topics and group names are stored verbatim and harmless", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  for (const [i, payload] of PAYLOADS.entries()) {
    const group = await owner.call("POST", "/api/groups", { body: { name: `${payload} ${i}` } });
    assertStatus(group, 201);
    assert.equal(group.json.group.name, `${payload} ${i}`);
    const user = await owner.call("POST", "/api/users", { body: { email: `u${i}@example.org`, name: payload, password: "a fine password" } });
    assertStatus(user, 201);
    assert.equal(user.json.user.name, payload);
    const meeting = await owner.call("POST", "/api/meetings", { body: { topic: payload } });
    assertStatus(meeting, 201);
    const details = await owner.call("GET", `/api/meetings/${meeting.json.id}`);
    assert.equal(details.json.topic, payload);
    assert.match(String(details.headers["content-type"]), /^application\/json/);
    assert.equal(details.headers["x-content-type-options"], "nosniff");
    assertStatus(await owner.call("PATCH", "/api/me", { body: { name: payload } }), 200);
  }
  const db = server.context.database.connection;
  const count = (table: string) => db.prepare<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).get()!.n;
  assert.equal(count("users"), PAYLOADS.length + 1);
  assert.equal(count("groups"), PAYLOADS.length);
  assert.equal(count("meetings"), PAYLOADS.length);
  assert.equal((await owner.call("GET", "/api/me")).json.user.name, PAYLOADS.at(-1));
});

test("injection payloads as emails, passwords and path ids are refused as bad input or not found, never 500", async (t) => {
  // Every payload is a failed guess: a budget large enough for all of them, answered at once.
  const server = await start(t, { attemptLimits: { failuresPerAddress: 10_000, targetFailures: 10_000, slowStepMs: 0 } });
  const owner = await setupOwner(server);
  for (const payload of PAYLOADS) {
    assertError(await owner.call("POST", "/api/users", { body: { email: payload, name: "X", password: "a fine password" } }), 400, "BAD_REQUEST");
    assertError(await owner.call("POST", "/api/invitations", { body: { email: `${payload}@example.org` } }), 400, "BAD_REQUEST");
    assertError(await new Client(server).call("POST", "/api/auth/login", { body: { email: payload, password: payload } }), 401, "LOGIN_FAILED");
    const id = encodeURIComponent(payload);
    assertError(await owner.call("PATCH", `/api/users/${id}`, { body: { name: "X" } }), 404, "USER_NOT_FOUND");
    assertError(await owner.call("GET", `/api/groups/${id}`), 404, "GROUP_NOT_FOUND");
    assertError(await owner.call("GET", `/api/meetings/${id}`), 404, "MEETING_NOT_FOUND");
    assertError(await owner.call("PUT", `/api/groups/${id}/members/${id}`), 404, "GROUP_NOT_FOUND");
  }
  assert.equal((await owner.call("GET", "/api/users")).json.users.length, 1);
});

test("a restart on the same data directory keeps accounts, sessions, groups, settings and scheduled meetings", async (t) => {
  const config = tempConfig(t);
  const first = await startServer(config);
  let meetingId: string;
  let owner: Client;
  try {
    owner = await setupOwner(first);
    const group = (await owner.call("POST", "/api/groups", { body: { name: "Sales" } })).json.group.id as string;
    await addUser(first, owner, { email: "m@example.org", password: "member password 5", groupId: group });
    assertStatus(await owner.call("PATCH", "/api/settings/account", { body: { cloudRecording: { value: true, locked: true } } }), 200);
    assertStatus(await owner.call("PATCH", `/api/settings/groups/${group}`, { body: { waitingRoom: { value: false, locked: true } } }), 200);
    meetingId = (await owner.call("POST", "/api/meetings", { body: { topic: "After the restart", startAt: "2032-05-05T12:00:00Z" } })).json.id;
  } finally {
    await first.close();
  }

  const second = await startServer(config);
  t.after(() => second.close());
  const sameBrowser = new Client(second);
  for (const [k, v] of owner.cookies) sameBrowser.cookies.set(k, v);
  assertStatus(await sameBrowser.call("GET", "/api/me"), 200);
  assertError(await new Client(second).call("POST", "/api/setup", { body: OWNER }), 409, "SETUP_DONE");
  const member = new Client(second);
  assertStatus(await member.call("POST", "/api/auth/login", { body: { email: "m@example.org", password: "member password 5" } }), 200);
  const effective = (await member.call("GET", "/api/settings/effective")).json.settings;
  assert.deepEqual(effective.cloudRecording.value, true);
  assert.deepEqual(effective.waitingRoom, { value: false, source: "group", locked: true, lockedAt: "group" });
  const meetings = (await sameBrowser.call("GET", "/api/meetings")).json.meetings as { id: string; topic: string; startAt: string }[];
  assert.deepEqual(
    meetings.map((m) => [m.id, m.topic, m.startAt]),
    [[meetingId, "After the restart", "2032-05-05T12:00:00.000Z"]],
  );
});

test("passwords, session ids, CSRF and invitation tokens, passcodes and the admin token never reach the log", async (t) => {
  const lines: string[] = [];
  const capture: LogSink = {
    info: (m) => lines.push(m),
    warn: (m, e) => lines.push(m, String(e)),
    error: (m, e) => lines.push(m, String((e as Error | undefined)?.stack ?? e)),
  };
  const server = await start(t, {
    logger: capture,
    routes: (router) =>
      router.post("/boom", () => {
        throw new Error("handler bug");
      }),
  });
  const owner = await setupOwner(server);
  const secrets: string[] = [OWNER.password, server.adminToken, owner.cookies.get("conclave_session")!, owner.csrfToken!];
  const invite = await owner.call("POST", "/api/invitations", { body: { email: "new@example.org" } });
  secrets.push(invite.json.token);
  const invitee = new Client(server);
  await invitee.call("POST", "/api/invitations/accept", { body: { token: invite.json.token, name: "N", password: "invitee password" } });
  secrets.push("invitee password", invitee.cookies.get("conclave_session")!);
  await new Client(server).call("POST", "/api/auth/login", { body: { email: OWNER.email, password: "wrong guess 123" } });
  secrets.push("wrong guess 123");
  const meeting = await owner.call("POST", "/api/meetings", { body: {} });
  secrets.push(meeting.json.passcode);
  secrets.push((await owner.call("POST", `/api/meetings/${meeting.json.id}/passcode`)).json.passcode);
  assertError(await owner.call("POST", "/boom", { body: { password: OWNER.password } }), 500, "INTERNAL");
  const log = lines.join("\n");
  assert.match(log, /POST \/boom failed/, "unexpected errors are logged");
  for (const secret of secrets) assert.ok(!log.includes(secret), "a secret reached the log");
});
