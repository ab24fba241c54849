import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, joinSession, waitForAgreement, waitFor } from "./support/harness.js";

test("three participants form one MLS group through the delivery service and agree on the security code", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  const b = await joinSession(server, meeting, "Bob");
  const c = await joinSession(server, meeting, "Cy");
  t.after(() => [a, b, c].forEach((s) => s.leave()));
  const agreed = await waitForAgreement([a, b, c], 3);
  assert.match(agreed.code, /^(\d{5} ){6}\d{5}$/);
  const names = a.groupMembers.map((m) => m.identity.displayName).sort();
  assert.deepEqual(names, ["Ada", "Bob", "Cy"]);
  // The server's delivery service ordered exactly the commits the group made.
  assert.equal(server.server.registry.get(meeting.id)?.epoch, agreed.epoch);
});

test("when a member leaves, the others reach a new, equal code within 2 s and the old code is gone", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  const b = await joinSession(server, meeting, "Bob");
  const c = await joinSession(server, meeting, "Cy");
  t.after(() => [a, b].forEach((s) => s.leave()));
  const before = await waitForAgreement([a, b, c], 3);
  const started = performance.now();
  c.leave();
  const after = await waitForAgreement([a, b], 2, 2000, before.epoch + 1n);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 2000, `rekey took ${elapsed} ms`);
  assert.notEqual(after.code, before.code);
  assert.equal(after.epoch, before.epoch + 1n);
});

test("a wrong passcode is refused with WRONG_PASSCODE and the connection closes", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const s = await joinSession(server, { id: meeting.id, passcode: "wrongwrong" }, "Eve");
  const err = await s.once("error");
  assert.equal(err.code, "WRONG_PASSCODE");
  assert.equal(err.fatal, true);
  await waitFor("close", 5000, (wake) => s.on("closed", wake), () => s.state === "closed");
});

test("a meeting that does not exist is refused with MEETING_NOT_FOUND", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const s = await joinSession(server, { id: "12345678901", passcode: null }, "Eve");
  const err = await s.once("error");
  assert.equal(err.code, "MEETING_NOT_FOUND");
});

test("after 10 failed joins from one address, even the right passcode is refused with RATE_LIMITED", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  for (let i = 0; i < 10; i++) {
    const guess = i % 2 === 0 ? { id: meeting.id, passcode: `wrong${i}xxxx` } : { id: `9${String(i).padStart(10, "0")}`, passcode: null };
    const s = await joinSession(server, guess, "Eve");
    const err = await s.once("error");
    assert.ok(err.code === "WRONG_PASSCODE" || err.code === "MEETING_NOT_FOUND", err.code);
  }
  const s = await joinSession(server, meeting, "Eve");
  const err = await s.once("error");
  assert.equal(err.code, "RATE_LIMITED");
  assert.equal(err.fatal, true);
});
