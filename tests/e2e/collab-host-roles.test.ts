/**
 * Breakout rooms assigned at random, and polls launched by a co-host, through a real server
 * (docs/protocol.md §6.3, §6.5). The host passes only the participants (as the web panel does) to
 * MeetingBreakout.assignRandomly; a co-host is made one by the host's setRole.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Collaboration, MeetingBreakout, isClientError, type MeetingSession, type PollView } from "@conclave/client";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

let server: TestServer;
const ready = startTestServer().then((s) => (server = s));
after(async () => {
  await ready;
  await server.close();
});

function roomOf(s: MeetingSession, roomId: string | null): Promise<unknown> {
  return waitFor(`${s.identity.displayName} to be in ${roomId ?? "the main meeting"}`, 20_000, (wake) => s.on("room", wake), () => s.room === roomId || undefined);
}

test("random breakout assignment: every participant in exactly one room, sizes within one, draws differ, and people really end up in those rooms", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const people = [];
  for (const name of ["Ada", "Bob", "Cy", "Dan", "Eve"]) people.push(await joinSession(server, meeting, name));
  const all = [host, ...people];
  t.after(() => all.forEach((s) => s.leave()));
  const before = await waitForAgreement(all, 6, 30_000);
  const ids = people.map((p) => p.memberId);

  // The function alone: a partition of exactly the ids given, sizes within one, not always the same.
  const canonical = (rooms: string[][]) => JSON.stringify(rooms.map((r) => [...r].sort()));
  const draws = new Set<string>();
  const inFirst = new Map(ids.map((id) => [id, 0]));
  const N = 4000;
  for (let i = 0; i < N; i++) {
    const rooms = MeetingBreakout.assignRandomly(ids, 2);
    assert.equal(rooms.length, 2);
    assert.deepEqual(rooms.flat().sort(), [...ids].sort(), "each participant exactly once, nobody else");
    const sizes = rooms.map((r) => r.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `room sizes ${sizes.join("/")}`);
    if (i < 20) draws.add(canonical(rooms));
    for (const id of rooms[0]!) inFirst.set(id, inFirst.get(id)! + 1);
  }
  // 10 possible splits: 20 equal draws happen with probability 10^-19.
  assert.ok(draws.size >= 2, "20 draws were all the same split");
  // Each participant is in the 3-seat room with probability 3/5; over 4,000 draws ±0.05 is > 6 sigma.
  for (const [id, n] of inFirst) assert.ok(Math.abs(n / N - 0.6) < 0.05, `${id} was in the first room ${n} times of ${N}`);
  for (const n of [1, 3, 5, 7]) {
    const rooms = MeetingBreakout.assignRandomly(ids, n);
    assert.equal(rooms.length, n);
    assert.deepEqual(rooms.flat().sort(), [...ids].sort());
    assert.ok(Math.max(...rooms.map((r) => r.length)) - Math.min(...rooms.map((r) => r.length)) <= 1);
  }
  assert.throws(() => MeetingBreakout.assignRandomly(ids, 0));

  // Through the server: the host opens the rooms with one random draw; the host stays in the main meeting.
  const hostCollab = new Collaboration(host);
  const collabs = people.map((p) => new Collaboration(p));
  t.after(() => [hostCollab, ...collabs].forEach((c) => c.close()));
  const split = MeetingBreakout.assignRandomly(ids, 2);
  await hostCollab.breakout.openRooms(split.map((members, i) => ({ name: `Random ${i + 1}`, members })));
  const byId = new Map(people.map((p) => [p.memberId, p]));
  await Promise.all(split.flatMap((members, i) => members.map((id) => roomOf(byId.get(id)!, `room${i + 1}`))));
  const codes = [];
  for (const [i, members] of split.entries()) {
    const sessions = members.map((id) => byId.get(id)!);
    const agreed = await waitForAgreement(sessions, members.length, 20_000);
    for (const s of sessions) assert.deepEqual(s.groupMembers.map((m) => m.identity.memberId).sort(), [...members].sort(), `room${i + 1}'s MLS group is exactly its members`);
    codes.push(agreed.code);
  }
  const main = await waitForAgreement([host], 1, 20_000);
  assert.equal(host.room, null, "the host, not assigned, stays in the main meeting");
  assert.equal(new Set([before.code, main.code, ...codes]).size, 4, "each room's code differs from the other's and from the main meeting's");
  const live = server.server.registry.get(meeting.id)!;
  for (const [i, members] of split.entries()) for (const id of members) assert.equal(live.whereIs(id), `room${i + 1}`);
  assert.deepEqual(collabs[0]!.breakout.state.rooms.map((r) => r.name), ["Random 1", "Random 2"]);

  hostCollab.breakout.closeRooms();
  await Promise.all(all.map((s) => roomOf(s, null)));
  await waitForAgreement(all, 6, 30_000);
});

test("a co-host made by the host launches a poll, sees votes live and shares the results; a plain participant cannot launch one", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const co = await joinSession(server, meeting, "Cora");
  const bob = await joinSession(server, meeting, "Bob");
  const cy = await joinSession(server, meeting, "Cy");
  const all = [host, co, bob, cy];
  t.after(() => all.forEach((s) => s.leave()));
  await waitForAgreement(all, 4, 30_000);
  const [ch, cc, cb, ccy] = all.map((s) => new Collaboration(s)) as [Collaboration, Collaboration, Collaboration, Collaboration];
  t.after(() => [ch, cc, cb, ccy].forEach((c) => c.close()));

  // Before the promotion Cora is a participant: refused by the SDK, as documented (HOST_ONLY).
  assert.equal(co.role, "participant");
  await assert.rejects(cc.polls.launch({ question: "Too early?", options: ["yes", "no"] }), (e) => isClientError(e, "HOST_ONLY"));

  host.setRole(co.memberId, "cohost");
  for (const s of all) {
    await waitFor(`${s.identity.displayName} to see Cora as co-host`, 10_000, (wake) => s.on("presence", wake), () => s.presence.find((p) => p.memberId === co.memberId)?.role === "cohost" || undefined);
  }
  assert.equal(co.role, "cohost");

  const poll = await cc.polls.launch({ question: "Which slot for the demo?", options: ["Morning", "Afternoon", "Evening"] });
  assert.equal(poll.mine, true);
  const reached = (c: Collaboration) => waitFor("the co-host's poll to arrive", 10_000, (wake) => c.polls.on("poll", wake), () => c.polls.poll(poll.pollId));
  for (const c of [ch, cb, ccy]) {
    const p = await reached(c);
    assert.deepEqual([p.question, p.launcher, p.launcherName, p.mine, p.results], ["Which slot for the demo?", co.memberId, "Cora", false, null]);
  }

  const liveCounts = (voters: number) =>
    waitFor(`the co-host to count ${voters} vote(s)`, 10_000, (wake) => cc.polls.on("poll", wake), () => {
      const p = cc.polls.poll(poll.pollId)!;
      return p.results!.voters === voters ? p : undefined;
    });
  await cb.polls.vote(poll.pollId, [1]);
  assert.deepEqual((await liveCounts(1)).results, { counts: [0, 1, 0], voters: 1 }, "live after the first vote");
  await ccy.polls.vote(poll.pollId, [1]);
  await ch.polls.vote(poll.pollId, [2]);
  const counted = await liveCounts(3);
  assert.deepEqual(counted.results, { counts: [0, 2, 1], voters: 3 });
  assert.deepEqual(counted.votes!.map((v) => [v.displayName, v.choices]).sort(), [["Bob", [1]], ["Cy", [1]], ["Host", [2]]]);
  assert.equal(cb.polls.poll(poll.pollId)!.results, null, "members see no results before they are shared");
  await assert.rejects(cb.polls.vote(poll.pollId, [0]), (e) => isClientError(e, "POLL_VOTE_REFUSED"));

  await cc.polls.end(poll.pollId);
  await cc.polls.share(poll.pollId);
  for (const c of [ch, cb, ccy]) {
    const p: PollView = await waitFor("the shared results", 10_000, (wake) => c.polls.on("poll", wake), () => {
      const v = c.polls.poll(poll.pollId)!;
      return v.results !== null && !v.open ? v : undefined;
    });
    assert.deepEqual(p.results, { counts: [0, 2, 1], voters: 3 });
  }

  // A plain participant: the SDK refuses, and a pollLaunch forced through anyway is refused by the others.
  await assert.rejects(cb.polls.launch({ question: "Mine?", options: ["a", "b"] }), (e) => isClientError(e, "HOST_ONLY"));
  const refused: string[] = [];
  cc.polls.on("error", (e) => refused.push(e.code));
  await bob.sendAppMessage({ v: 1, type: "pollLaunch", pollId: "bob-poll-12345", question: "Forced?", options: ["a", "b"], multiple: false, anonymous: false });
  await waitFor("Cora to refuse Bob's poll", 10_000, (wake) => cc.polls.on("error", wake), () => refused.includes("APP_MESSAGE_NOT_ALLOWED") || undefined);
  assert.equal(cc.polls.poll("bob-poll-12345"), undefined);

  // Demoted again, Cora can no longer launch.
  host.setRole(co.memberId, "participant");
  await waitFor("Cora to be a participant again", 10_000, (wake) => co.on("presence", wake), () => co.role === "participant" || undefined);
  await assert.rejects(cc.polls.launch({ question: "Still?", options: ["a", "b"] }), (e) => isClientError(e, "HOST_ONLY"));
});
