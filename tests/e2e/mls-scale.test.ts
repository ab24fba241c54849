/**
 * MLS membership at scale and under churn, through the real delivery service: media-less members
 * (signaling and MLS only, as `conclave bot --no-media`) so that many fit in one test process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import type { SignalingChannel } from "@conclave/client";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

/** How many times members fell back on the rejoin-with-a-fresh-key-package recovery (the server's counter). */
async function recoveries(server: TestServer): Promise<number> {
  const metric = server.server.context.metrics.registry.getSingleMetric("conclave_mls_member_recoveries_total");
  assert.ok(metric, "the recoveries counter is registered");
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

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
  assert.equal(await recoveries(server), 0, "conclave_mls_member_recoveries_total stays 0");
});

test("a member that stops reading falls behind without stalling the others, and catches up on the same epoch and code when it resumes", async (t) => {
  const server = await startTestServer({ relay: false });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const errors: { who: string; code: string }[] = [];
  const sessions: MeetingSession[] = [];
  t.after(() => sessions.forEach((s) => s.leave()));
  const founder = await joinSession(server, meeting, "Founder", { media: false });
  sessions.push(founder);
  await waitForAgreement([founder], 1);
  // The laggard's channel can stop delivering what the server sends (a frozen tab, a stalled
  // link): messages queue, in order, until it resumes.
  const inner = await connectNodeSignaling(server.wsUrl, { ca: server.ca });
  let deliver: (text: string) => void = () => {};
  let held: string[] | null = null;
  const seenWhileFrozen: string[] = [];
  const channel: SignalingChannel = {
    send: (text) => inner.send(text),
    close: (c, r) => inner.close(c, r),
    onMessage: (h) => {
      deliver = h;
      inner.onMessage((text) => {
        if (held) {
          held.push(text);
          seenWhileFrozen.push((JSON.parse(text) as { type: string }).type);
        } else h(text);
      });
    },
    onClose: (h) => inner.onClose(h),
  };
  const laggard = new MeetingSession({ meetingId: meeting.id, displayName: "Laggard", sframeCrypto: createNodeSFrameCrypto(), media: false, ...(meeting.passcode ? { passcode: meeting.passcode } : {}) });
  await laggard.join(channel);
  sessions.push(laggard);
  const b = await joinSession(server, meeting, "B", { media: false });
  sessions.push(b);
  for (const s of sessions) s.on("error", (e) => errors.push({ who: s.identity.displayName, code: e.code }));
  await waitForAgreement(sessions, 3, 60_000);

  held = [];
  const frozenAt = laggard.epoch!;
  // While it is frozen: two join and the founder leaves. The laggard is the most senior member
  // left after the founder, yet the others carry on without waiting for it.
  const c = await joinSession(server, meeting, "C", { media: false });
  const d = await joinSession(server, meeting, "D", { media: false });
  for (const s of [c, d]) s.on("error", (e) => errors.push({ who: s.identity.displayName, code: e.code }));
  sessions.push(c, d);
  await waitForAgreement([founder, b, c, d], 5, 60_000);
  const beforeLeave = b.epoch!;
  founder.leave();
  const moving = [b, c, d];
  const agreed = await waitForAgreement(moving, 4, 60_000, beforeLeave + 1n);
  assert.equal(laggard.epoch, frozenAt, "the laggard really was frozen");
  assert.ok(!seenWhileFrozen.includes("commitRequest"), `the laggard was not asked to commit while behind (it was sent: ${seenWhileFrozen.join(", ")})`);

  // It resumes: the queued commits bring it to everyone's epoch and code, with no recovery.
  const queued = held;
  held = null;
  queued.forEach((text) => deliver(text));
  await waitFor("the laggard to catch up", 60_000, (wake) => laggard.on("epoch", wake), () => (laggard.epoch === agreed.epoch ? true : undefined));
  assert.equal(laggard.securityCode, agreed.code);
  assert.equal(laggard.groupMembers.length, 4);
  assert.deepEqual(errors, [], "nobody had to recover");
  assert.equal(await recoveries(server), 0);
});
