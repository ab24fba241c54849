/**
 * A scripted malicious participant (support/mallory.ts: raw WebSocket, raw ts-mls) in E2EE
 * meetings with honest Node participants that must keep decrypting each other's media. Each test
 * is one attack of docs/threat-model.md ("A malicious participant").
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { NodeParticipant } from "@conclave/client/node";
import type { MeetingSession, SignalingChannel } from "@conclave/client";
import { MeetingSession as Session } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { memoryLogger, type MemoryLogger } from "@conclave/server";
import { joinBot, joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";
import { Mallory } from "./support/mallory.js";

let server: TestServer;
let log: MemoryLogger;
before(async () => {
  log = memoryLogger("info");
  server = await startTestServer({ logger: log });
});
after(() => server.close());

/** Waits until each bot has decrypted `more` further frames from every other bot. */
async function keepDecrypting(bots: NodeParticipant[], more: number, ms = 30_000): Promise<void> {
  const base = bots.map((b) => ({ ...b.stats().perSender }));
  await waitFor(
    `every bot to decrypt ${more} more frames from each other bot`,
    ms,
    (wake) => {
      const offs = bots.map((b) => b.on("frame", wake));
      return () => offs.forEach((o) => o());
    },
    () =>
      bots.every((b, i) => bots.every((o) => o === b || (b.stats().perSender[o.memberId] ?? 0) >= (base[i]![o.memberId] ?? 0) + more)) || undefined,
  );
}

/** Mallory founds a meeting (so she is asked to commit first), then honest bots join. */
async function malloryFounds(names: string[]): Promise<{ meeting: { id: string; passcode: string | null }; mallory: Mallory; bots: NodeParticipant[] }> {
  const meeting = await server.createMeeting("e2ee");
  const mallory = await Mallory.connect(server);
  await mallory.join(meeting);
  await mallory.next((m) => m.type === "createGroup");
  const bots: NodeParticipant[] = [];
  for (const name of names) bots.push(await joinBot(server, meeting, name));
  await waitForAgreement(bots.map((b) => b.session), names.length + 1, 30_000);
  return { meeting, mallory, bots };
}

function removedErrors(bots: { on: NodeParticipant["on"] }[]): string[] {
  const seen: string[] = [];
  for (const b of bots) b.on("error", (e) => void (e.code === "REMOVED" && seen.push(e.code)));
  return seen;
}

test("a non-host's commit that removes someone is refused by the server; nobody is removed and the bots keep decrypting", async (t) => {
  const { meeting, mallory, bots } = await malloryFounds(["Ada", "Bob", "Cy"]);
  t.after(() => [...bots, mallory].forEach((x) => x.leave()));
  const removed = removedErrors(bots);
  await keepDecrypting(bots, 5);
  const [ada] = bots;
  // Asked to add Dee, Mallory builds a real MLS commit that also removes Ada, and says "removed: []".
  mallory.plan = () => ({ kind: "removeAlso", memberIds: [ada!.memberId] });
  const dee = await joinSession(server, meeting, "Dee");
  t.after(() => dee.leave());
  const rejected = await mallory.next((m) => m.type === "commitRejected");
  assert.match(String(rejected.reason), /removes leaf \d+, which the delivery service did not ask for/);
  // Someone else commits Dee's add instead; Ada is still there, for everyone.
  const all = [...bots.map((b) => b.session), dee];
  await waitForAgreement(all, 5, 20_000);
  for (const s of all) assert.ok(s.groupMembers.some((m) => m.identity.memberId === ada!.memberId), "Ada is still a member");
  assert.deepEqual(removed, []);
  await keepDecrypting(bots, 10);
});

test("a member refuses a commit that removes someone the server did not announce as gone, even if it is delivered to it", async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const mallory = await Mallory.connect(server);
  await mallory.join(meeting);
  await mallory.next((m) => m.type === "createGroup");
  const ada = await joinSession(server, meeting, "Ada");
  // Bob's channel lets the test play a malicious server: inject a message, and see what he sends.
  const inner = await connectNodeSignaling(server.wsUrl, { ca: server.ca });
  let inject: (text: string) => void = () => {};
  // While the injected commit is judged, the real server's messages to Bob wait (so that the
  // server moving on to another member's commit cannot race the check).
  let held: string[] | null = null;
  const bobSent: { type: string; reason?: string }[] = [];
  const channel: SignalingChannel = {
    send: (text) => {
      const m = JSON.parse(text) as { type: string; reason?: string };
      bobSent.push(m);
      if (m.type !== "commitFailed") inner.send(text); // keep the real server out of it
    },
    close: (c, r) => inner.close(c, r),
    onMessage: (h) => {
      inject = h;
      inner.onMessage((text) => (held ? held.push(text) : h(text)));
    },
    onClose: (h) => inner.onClose(h),
  };
  const bob = new Session({ meetingId: meeting.id, passcode: meeting.passcode!, displayName: "Bob", sframeCrypto: createNodeSFrameCrypto() });
  await bob.join(channel);
  t.after(() => [ada, bob, mallory].forEach((x) => x.leave()));
  const before = await waitForAgreement([ada, bob], 3, 20_000);

  mallory.plan = () => ({ kind: "removeAlso", memberIds: [ada.memberId] });
  const sent: string[] = [];
  const send = mallory.send.bind(mallory);
  const bobErrors: string[] = [];
  bob.on("error", (e) => bobErrors.push(e.code));
  mallory.send = (msg) => {
    if (msg.type === "commit") {
      sent.push(msg.commit as string);
      // The "server" delivers Mallory's commit to Bob although the real one refuses it.
      held = [];
      inject(JSON.stringify({ type: "commit", epoch: before.epoch.toString(), commit: msg.commit, from: mallory.memberId }));
    }
    send(msg);
  };
  const cy = await joinSession(server, meeting, "Cy");
  t.after(() => cy.leave());
  await mallory.next((m) => m.type === "commitRejected");
  assert.equal(sent.length, 1);
  await waitFor("Bob to report the commit", 5000, (wake) => {
    const iv = setInterval(wake, 20);
    return () => clearInterval(iv);
  }, () => bobSent.some((m) => m.type === "commitFailed"));
  const report = bobSent.find((m) => m.type === "commitFailed")!;
  assert.match(report.reason!, /removes a member the server did not announce as gone/);
  assert.equal(bob.epoch, before.epoch, "Bob did not apply it");
  assert.ok(bob.groupMembers.some((m) => m.identity.memberId === ada.memberId), "Ada is still in Bob's group");
  assert.ok(!bobErrors.includes("REMOVED"));
  assert.equal(bob.state, "inGroup");
  const release = held ?? [];
  held = null;
  release.forEach((text) => inject(text));
});

test("a commit with its last byte flipped (the membership tag, which only members can check) is voided: the honest members end on one epoch and code within seconds and media flows again", async (t) => {
  const { meeting, mallory, bots } = await malloryFounds(["Ada", "Bob", "Cy"]);
  t.after(() => [...bots, mallory].forEach((x) => x.leave()));
  const removed = removedErrors(bots);
  await keepDecrypting(bots, 5);
  let sentAt = 0;
  mallory.plan = () => {
    sentAt = Date.now();
    return { kind: "flipLastByte" };
  };
  // Dee is the joiner of the corrupted commit: her Welcome is voided with it; she is added again
  // and her media restarts.
  const dee = await joinBot(server, meeting, "Dee");
  t.after(() => dee.leave());
  const all = [...bots, dee];
  const expelled = await mallory.next((m) => m.type === "error" && m.code === "BAD_COMMIT");
  assert.equal(expelled.fatal, true);
  assert.equal((await mallory.closed).code, 4403);
  const agreed = await waitForAgreement(all.map((b) => b.session), 4, 20_000);
  const took = Date.now() - sentAt;
  assert.ok(took < 10_000, `the honest members took ${took} ms to agree again`);
  for (const b of all) assert.ok(!b.session.groupMembers.some((m) => m.identity.memberId === mallory.memberId), "Mallory is out");
  assert.ok(agreed.epoch > 0n);
  assert.deepEqual(removed, []);
  await keepDecrypting(all, 10);
  // She is banned from the meeting: her address may not come back.
  const again = await Mallory.connect(server);
  t.after(() => again.ws.terminate());
  await again.join(meeting);
  const refused = await again.next((m) => m.type === "error");
  assert.equal(refused.code, "BANNED");
  console.log(`# corrupted commit: honest members agreed again ${took} ms after it was sent`);
});

test("a validly signed commit with a corrupted path secret and a stale confirmation tag is voided the same way", async (t) => {
  const { mallory, bots } = await malloryFounds(["Ada", "Bob", "Cy"]);
  t.after(() => [...bots, mallory].forEach((x) => x.leave()));
  await keepDecrypting(bots, 5);
  mallory.plan = () => ({ kind: "corruptPathResigned" });
  // A leave needs a path: Cy goes, and Mallory's removal commit is corrupted.
  const [ada, bob, cy] = bots;
  cy!.leave();
  await mallory.next((m) => m.type === "error" && m.code === "BAD_COMMIT");
  await waitForAgreement([ada!.session, bob!.session], 2, 20_000);
  await keepDecrypting([ada!, bob!], 10);
  assert.deepEqual(mallory.errors, []);
});

test("a hostile reporter that claims every commit failed cannot get an honest committer removed: it is outvoted and added again", async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob"), await joinBot(server, meeting, "Cy")];
  t.after(() => bots.forEach((b) => b.leave()));
  await waitForAgreement(bots.map((b) => b.session), 3, 20_000);
  const mallory = await Mallory.connect(server);
  t.after(() => mallory.leave());
  await mallory.join(meeting);
  await mallory.next((m) => m.type === "welcome");
  await waitForAgreement(bots.map((b) => b.session), 4, 20_000);
  mallory.lieAboutCommits = true;
  const from = mallory.received.length;
  const dee: MeetingSession = await joinSession(server, meeting, "Dee");
  t.after(() => dee.leave());
  // Her false report is outvoted (or comes after the verdict): she is told the epoch stands...
  await mallory.next((m) => m.type === "commit", 20_000, from);
  await mallory.next((m) => m.type === "epochConfirmed", 20_000, from);
  mallory.lieAboutCommits = false;
  // ...and is removed from the group and added again with the key package sent with her report.
  const rewelcome = await mallory.next((m) => m.type === "welcome", 20_000, from);
  const all = [...bots.map((b) => b.session), dee];
  await waitForAgreement(all, 5, 20_000, BigInt(rewelcome.epoch as string));
  assert.ok(!mallory.received.some((m) => m.type === "error" && m.fatal === true), "the reporter is not expelled either");
  for (const b of bots) assert.equal(b.session.state, "inGroup");
  await keepDecrypting(bots, 10);
});

test("a member's commit that smuggles a connector into an end-to-end encrypted meeting is refused by the server and reaches nobody; the honest members end on one epoch and code without it", async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const mallory = await Mallory.connect(server);
  await mallory.join(meeting);
  await mallory.next((m) => m.type === "createGroup");
  // Ada and Bob record every message the server sends them, to show the commit never reached them.
  const seen = { ada: [] as string[], bob: [] as string[] };
  const ada = await joinSession(server, meeting, "Ada", { record: seen.ada });
  const bob = await joinSession(server, meeting, "Bob", { record: seen.bob });
  t.after(() => [ada, bob, mallory].forEach((x) => x.leave()));
  await waitForAgreement([ada, bob], 3, 20_000);

  // Asked to add Dee, Mallory builds a real, validly signed MLS commit that also adds a
  // `connector` member (a key package she made), and tells the server it adds only Dee.
  const smuggled = await mallory.connectorKeyPackage("recording", "Hidden recorder");
  mallory.plan = () => ({ kind: "addAlso", keyPackages: [smuggled] });
  const sent: string[] = [];
  const send = mallory.send.bind(mallory);
  mallory.send = (msg) => {
    if (msg.type === "commit") sent.push(msg.commit as string);
    send(msg);
  };
  const from = mallory.received.length;
  const dee = await joinSession(server, meeting, "Dee");
  t.after(() => dee.leave());
  const rejected = await mallory.next((m) => m.type === "commitRejected", 20_000, from);
  const rejectedAt = Date.now();
  assert.equal(sent.length, 1, "Mallory sent her commit");
  assert.match(String(rejected.reason), /an end-to-end encrypted meeting admits no connector/);
  // Refused like any bad commit: in the security log, against Mallory, in this meeting.
  const refusal = log.lines().find((l) => l.log === "security" && l.event === "commit_refused" && l.memberId === mallory.memberId && l.meetingId === meeting.id);
  assert.ok(refusal, "the refusal is in the security log");
  assert.match(String(refusal.reason), /admits no connector/);

  // Someone honest commits Dee's add instead: everyone agrees, and no group holds a connector.
  const all = [ada, bob, dee];
  const agreed = await waitForAgreement(all, 4, 20_000);
  for (const s of all) {
    assert.deepEqual(s.groupMembers.filter((m) => m.identity.kind === "connector"), [], "no connector in any member's group");
    assert.ok(s.groupMembers.some((m) => m.identity.memberId === mallory.memberId), "Mallory was refused, not removed");
  }
  assert.ok(agreed.epoch > 0n);
  console.log(`# smuggled connector: honest members agreed on Dee's add ${Date.now() - rejectedAt} ms after the refusal`);
  // The server delivered her commit to nobody.
  for (const text of [...seen.ada, ...seen.bob]) {
    const m = JSON.parse(text) as { type: string; commit?: string };
    assert.ok(!(m.type === "commit" && m.commit === sent[0]), "the refused commit was delivered");
  }
});
