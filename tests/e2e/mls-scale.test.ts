/**
 * MLS membership at scale and under churn, through the real delivery service: media-less members
 * (signaling and MLS only, as `conclave bot --no-media`) so that many fit in one test process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { joinSession, startTestServer, waitForAgreement } from "./support/harness.js";

/** Every `error` event a session emits, for assertions that none was a recovery. */
function recordErrors(sessions: MeetingSession[]): { code: string; message: string }[] {
  const errors: { code: string; message: string }[] = [];
  for (const s of sessions) s.on("error", (e) => errors.push({ code: e.code, message: e.message }));
  return errors;
}

test("50 media-less members joining within one second all end on one epoch with one security code", async (t) => {
  const server = await startTestServer({ relay: false, limits: { attemptsPerAddress: 1000 } });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const founder = await joinSession(server, meeting, "Founder", { media: false });
  t.after(() => founder.leave());
  await waitForAgreement([founder], 1);

  // Connections first (TLS handshakes take the time), then the 50 join requests all at once.
  const joiners: MeetingSession[] = [];
  const channels = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const s = new MeetingSession({ meetingId: meeting.id, displayName: `M${i}`, sframeCrypto: createNodeSFrameCrypto(), media: false, ...(meeting.passcode ? { passcode: meeting.passcode } : {}) });
      joiners.push(s);
      return connectNodeSignaling(server.wsUrl, { ca: server.ca });
    }),
  );
  t.after(() => joiners.forEach((s) => s.leave()));
  const started = performance.now();
  await Promise.all(joiners.map((s, i) => s.join(channels[i]!)));
  t.diagnostic(`the 50 join requests went out over ${(performance.now() - started).toFixed(0)} ms`);
  const errors = recordErrors([founder, ...joiners]);

  const everyone = [founder, ...joiners];
  const agreed = await waitForAgreement(everyone, 51, 120_000);
  assert.equal(new Set(everyone.map((s) => s.securityCode)).size, 1);
  assert.equal(server.server.registry.get(meeting.id)?.epoch, agreed.epoch, "the delivery service is at the members' epoch");
  assert.deepEqual(errors, [], "nobody had to recover");
});

test("six members, two leave, two others join: every Welcome is processed, without any rejoin recovery", async (t) => {
  // The pattern that ts-mls 1.6.4's tree validation broke: joins committed one by one (add-only
  // commits), removals with a path, then newcomers whose Welcome carries a tree with unmerged
  // leaves below a non-blank parent.
  const server = await startTestServer({ relay: false });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const sessions: MeetingSession[] = [];
  t.after(() => sessions.forEach((s) => s.leave()));
  const errors: { code: string; message: string }[] = [];
  const join = async (name: string): Promise<MeetingSession> => {
    const s = await joinSession(server, meeting, name, { media: false });
    s.on("error", (e) => errors.push({ code: e.code, message: e.message }));
    sessions.push(s);
    await waitForAgreement(sessions.filter((x) => x.state !== "closed"), sessions.filter((x) => x.state !== "closed").length, 60_000);
    return s;
  };
  for (const name of ["A", "B", "C", "D", "E", "F"]) await join(name);
  for (const leaving of [sessions[2]!, sessions[4]!]) {
    const before = sessions[0]!.epoch!;
    leaving.leave();
    const remaining = sessions.filter((s) => s !== leaving && s.state !== "closed");
    await waitForAgreement(remaining, remaining.length, 60_000, before + 1n);
    sessions.splice(sessions.indexOf(leaving), 1);
  }
  await join("G");
  await join("H");
  const agreed = await waitForAgreement(sessions, 6, 60_000);
  assert.equal(new Set(sessions.map((s) => s.securityCode)).size, 1);
  assert.deepEqual(sessions.map((s) => s.groupMembers.length), [6, 6, 6, 6, 6, 6]);
  // Founding is epoch 0; five joins, two leaves and two joins, each waited for: nine commits.
  assert.ok(agreed.epoch >= 9n, `every join and leave was committed (epoch ${agreed.epoch})`);
  assert.deepEqual(errors, [], "no member had to rejoin with a fresh key package");
});
