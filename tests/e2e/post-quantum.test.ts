import { test } from "node:test";
import assert from "node:assert/strict";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { MLS_SUITES } from "@conclave/protocol";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { joinBot, startTestServer, waitForAgreement, waitForMediaFromAll, type TestServer } from "./support/harness.js";

const XWING = MLS_SUITES.postQuantum;

async function pqMeeting(server: TestServer, postQuantum = true): Promise<{ id: string; passcode: string | null }> {
  const created = await server.server.context.meetings.create({ encryption: "e2ee", postQuantum });
  return { id: created.meeting.id, passcode: created.passcode };
}

/** A participant that joins with a key package for `suite`, whatever the meeting uses. */
async function joinWithSuite(server: TestServer, meeting: { id: string; passcode: string | null }, suite: (typeof MLS_SUITES)[keyof typeof MLS_SUITES]) {
  const session = new MeetingSession({
    meetingId: meeting.id,
    displayName: "Wrong suite",
    sframeCrypto: createNodeSFrameCrypto(),
    suite,
    ...(meeting.passcode ? { passcode: meeting.passcode } : {}),
  });
  const errors: { code: string; message: string; fatal: boolean }[] = [];
  session.on("error", (e) => errors.push(e));
  const closed = new Promise<void>((resolve) => session.on("closed", () => resolve()));
  await session.join(await connectNodeSignaling(server.wsUrl, { ca: server.ca }));
  await closed;
  return errors;
}

test("in a post-quantum meeting, bots join with X-Wing key packages, agree on one security code and decrypt each other's media", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await pqMeeting(server);
  // The bots are told nothing: they read the meeting's public facts, as `conclave bot` does.
  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob"), await joinBot(server, meeting, "Cy")];
  t.after(() => bots.forEach((b) => b.leave()));
  await waitForAgreement(bots.map((b) => b.session), 3, 60_000);
  for (const b of bots) assert.equal(b.session.mlsSuite, XWING, "the group uses the X-Wing suite");
  await waitForMediaFromAll(bots, 10, 60_000);
  for (const b of bots) assert.equal(b.stats().decryptFailures, 0);
});

test("a member whose key package is for another suite is refused with MLS_SUITE_MISMATCH, both ways, and the meeting goes on", async (t) => {
  const server = await startTestServer({ relay: false });
  t.after(() => server.close());
  const pq = await pqMeeting(server);
  const a = await joinBot(server, pq, "Ada", { media: false });
  const b = await joinBot(server, pq, "Bob", { media: false });
  t.after(() => [a, b].forEach((x) => x.leave()));
  const before = await waitForAgreement([a.session, b.session], 2, 60_000);

  const refused = await joinWithSuite(server, pq, MLS_SUITES.default);
  const mismatch = refused.find((e) => e.code === "MLS_SUITE_MISMATCH");
  assert.ok(mismatch, `refused with MLS_SUITE_MISMATCH: ${JSON.stringify(refused)}`);
  assert.equal(mismatch.fatal, true);
  assert.match(mismatch.message, /post-quantum/);
  assert.match(mismatch.message, new RegExp(XWING));

  // A suite-1 meeting refuses an X-Wing key package the same way.
  const classic = await pqMeeting(server, false);
  const refused2 = await joinWithSuite(server, classic, XWING);
  assert.ok(refused2.some((e) => e.code === "MLS_SUITE_MISMATCH"), JSON.stringify(refused2));

  // The post-quantum members were not disturbed and still take new members.
  const c = await joinBot(server, pq, "Cy", { media: false });
  t.after(() => c.leave());
  const after = await waitForAgreement([a.session, b.session, c.session], 3, 60_000);
  assert.ok(after.epoch > before.epoch);
});
