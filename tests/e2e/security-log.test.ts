/**
 * The security log (docs/operations.md, "Security log"): every refusal an attacker causes writes
 * a structured line marked { log: "security" } with an `event`, the address and the meeting where
 * they apply — and never a secret (no passcode, password or token, right or wrong).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { memoryLogger, type MemoryLogger } from "@conclave/server";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";
import { Mallory } from "./support/mallory.js";
import { openIdleTcp, openRawWs } from "./support/raw-ws.js";

let server: TestServer;
let log: MemoryLogger;
before(async () => {
  log = memoryLogger("info");
  server = await startTestServer({ logger: log, limits: { slowStepMs: 0 } }, { maxConnectionsPerAddress: 4 });
});
after(() => server.close());

const security = () => log.lines().filter((l) => l.log === "security");
const event = (name: string, match: Record<string, unknown> = {}) =>
  waitFor(`a security event ${name}`, 10_000, (wake) => {
    const iv = setInterval(wake, 20);
    return () => clearInterval(iv);
  }, () => security().find((l) => l.event === name && Object.entries(match).every(([k, v]) => l[k] === v)));

function http(path: string, opts: { method?: string; body?: unknown; headers?: Record<string, string>; localAddress?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      {
        host: "127.0.0.1", port: server.server.port, path, method: opts.method ?? "GET", ca: server.ca, servername: "localhost",
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        headers: { ...(body ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}), ...opts.headers },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

test("failed joins, sign-ins and admin-token guesses, and the rate limit they trip, are logged with address and meeting, never the secret", async () => {
  const meeting = await server.createMeeting("e2ee");
  const wrongPasscode = "zzzzzzzzzz";
  const s = await joinSession(server, { id: meeting.id, passcode: wrongPasscode }, "Eve");
  assert.equal((await s.once("error")).code, "WRONG_PASSCODE");
  const joinFailed = await event("join_failed", { reason: "wrong_passcode", meetingId: meeting.id });
  assert.equal(joinFailed.ip, "127.0.0.1");
  assert.equal(await http("/api/auth/login", { method: "POST", body: { email: "nobody@example.org", password: "a wrong password 1" }, localAddress: "127.0.0.9" }), 401);
  assert.equal((await event("signin_failed")).ip, "127.0.0.9");
  const guessedToken = "x".repeat(43);
  assert.equal(await http("/api/meetings", { method: "POST", body: {}, headers: { authorization: `Bearer ${guessedToken}` }, localAddress: "127.0.0.10" }), 401);
  assert.equal((await event("admin_token_failed")).ip, "127.0.0.10");
  // Enough unknown meeting IDs from one address trip its limit.
  for (let i = 0; i < 11; i++) await http(`/api/meetings/7${String(i).padStart(10, "0")}`, { localAddress: "127.0.0.11" });
  assert.equal((await event("rate_limited", { ip: "127.0.0.11" })).reason, "failures");
  assert.ok(security().some((l) => l.event === "join_failed" && l.reason === "unknown_meeting") === false, "HTTP lookups are not joins");
  const text = log.text();
  for (const secret of [wrongPasscode, meeting.passcode!, server.server.adminToken, guessedToken, "a wrong password 1"]) assert.ok(!text.includes(secret), "a secret reached the log");
  s.leave();
});

test("connection-cap refusals, oversized messages before a join, refused commits and removals by a host are logged", async (t) => {
  const held = await Promise.all(Array.from({ length: 4 }, () => openIdleTcp(server.server.port, "127.0.0.12")));
  t.after(() => held.forEach((h) => h.destroy()));
  const refused = await openIdleTcp(server.server.port, "127.0.0.12");
  await new Promise<void>((r) => refused.once("close", () => r()));
  assert.equal((await event("connection_cap")).ip, "127.0.0.12");

  const ws = await openRawWs(server.server.port, server.ca, "127.0.0.13");
  ws.frameHeader(1024 * 1024);
  await ws.closed;
  assert.equal((await event("message_too_large")).ip, "127.0.0.13");

  // Mallory founds; asked to add Bob, she also removes the host.
  const meeting = await server.createMeeting("e2ee");
  const mallory = await Mallory.connect(server);
  t.after(() => mallory.leave());
  await mallory.join(meeting);
  await mallory.next((m) => m.type === "createGroup");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  t.after(() => host.leave());
  await waitForAgreement([host], 2, 15_000);
  mallory.plan = () => ({ kind: "removeAlso", memberIds: [host.memberId] });
  const bob = await joinSession(server, meeting, "Bob");
  t.after(() => bob.leave());
  const refusedCommit = await event("commit_refused", { meetingId: meeting.id });
  assert.equal(refusedCommit.memberId, mallory.memberId);
  // The host removes Mallory.
  await waitForAgreement([host, bob], 3, 15_000);
  host.remove(mallory.memberId);
  const removal = await event("host_removed", { meetingId: meeting.id });
  assert.equal(removal.memberId, mallory.memberId);
  assert.equal(removal.by, host.memberId);
});
