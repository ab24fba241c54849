/**
 * Chat, private chat, files, reactions, raised hands and polls through a real server, end to end
 * encrypted (docs/protocol.md §6.2-6.4): what members read, in what order, who cannot read what,
 * what the meeting's settings allow — and a tap over every signaling message the server handles,
 * which must never carry any of the text, file bytes, questions or answers these tests send.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeMessage, isProtocolError, type ServerMessage } from "@conclave/protocol";
import { Collaboration, isClientError, type ChatEntry, type MeetingSession, type PollView } from "@conclave/client";
import { nodeFileTransport } from "@conclave/client/node";
import { dataPaths } from "@conclave/server";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

/** Every signaling text frame the server received or sent, during this whole file. */
const tapped: string[] = [];
/** Everything secret these tests say: none of it may ever appear in a tapped frame. */
const secrets: string[] = [];
function secret(text: string): string {
  secrets.push(text);
  return text;
}

let server: TestServer;
const ready = startTestServer({ signalingTap: (_direction, text) => tapped.push(text) }).then((s) => (server = s));
after(async () => {
  await ready;
  await server.close();
});

function collab(s: MeetingSession): Collaboration {
  const files = nodeFileTransport(`https://127.0.0.1:${server.server.port}`, { ca: server.ca });
  return new Collaboration(s, { files });
}

const toB64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** Wakes a waiter every 50 ms too (for state that changes without an event on the session). */
function setIntervalOff(wake: () => void): () => void {
  const timer = setInterval(wake, 50);
  return () => clearInterval(timer);
}

function errorsOf(s: MeetingSession): string[] {
  const codes: string[] = [];
  s.on("error", (e) => codes.push(e.code));
  return codes;
}

async function threeMembers(opts: { record?: { bob?: string[]; cy?: string[] } } = {}) {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const ada = await joinSession(server, meeting, "Ada", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob", opts.record?.bob ? { record: opts.record.bob } : {});
  const cyInject: { deliver?: (text: string) => void } = {};
  const cy = await joinSession(server, meeting, "Cy", { inject: cyInject, ...(opts.record?.cy ? { record: opts.record.cy } : {}) });
  await waitForAgreement([ada, bob, cy], 3);
  const c = { ada: collab(ada), bob: collab(bob), cy: collab(cy) };
  return { meeting, ada, bob, cy, c, cyInject, close: () => [ada, bob, cy].forEach((s) => s.leave()) };
}

function until<T>(what: string, s: { on(e: "message", l: () => void): () => void }, check: () => T | undefined | false, ms = 15_000): Promise<T> {
  return waitFor(what, ms, (wake) => s.on("message", wake), check);
}

const texts = (entries: readonly ChatEntry[], from?: string) => entries.filter((e) => from === undefined || e.fromName === from).map((e) => e.text);

test("group chat reaches everyone with the sender's name, in the order sent, both ways", async (t) => {
  const m = await threeMembers();
  t.after(m.close);
  const adaSays = [secret("Good morning, it is Ada"), secret("Ada's second line ✓"), secret("Ada's third line\nwith a newline")];
  for (const text of adaSays) await m.c.ada.chat.send(text);
  const bobSays = secret("Bob answers: morning!");
  await m.c.bob.chat.send(bobSays);

  for (const [who, chat] of [["Bob", m.c.bob.chat], ["Cy", m.c.cy.chat]] as const) {
    await until(`${who} to read Ada's three lines`, chat, () => texts(chat.entries, "Ada").length === 3);
    assert.deepEqual(texts(chat.entries, "Ada"), adaSays, `${who} reads Ada's lines in order`);
    for (const e of chat.entries.filter((x) => x.fromName === "Ada")) {
      assert.equal(e.from, m.ada.memberId);
      assert.equal(e.private, false);
      assert.equal(e.mine, false);
    }
  }
  // Each waits on its own chat's events (a wait on Cy's alone missed Ada's when hers came last).
  await until("Cy to read Bob", m.c.cy.chat, () => texts(m.c.cy.chat.entries, "Bob").length === 1);
  await until("Ada to read Bob", m.c.ada.chat, () => texts(m.c.ada.chat.entries, "Bob").length === 1);
  assert.deepEqual(texts(m.c.ada.chat.entries), [...adaSays, bobSays], "Ada's transcript: her own lines, then Bob's");
  assert.ok(m.c.ada.chat.transcript().includes(`Bob: ${bobSays}`));
});

test("a private message is read by its recipient only; a third member handed the same ciphertext cannot open it", async (t) => {
  const bobFrames: string[] = [];
  const cyFrames: string[] = [];
  const m = await threeMembers({ record: { bob: bobFrames, cy: cyFrames } });
  t.after(m.close);
  const cyErrors = errorsOf(m.cy);
  const words = secret("only Bob may read this: the vault code is 4711");
  await m.c.ada.chat.sendPrivate(m.bob.memberId, words);
  await until("Bob to read Ada's private message", m.c.bob.chat, () => m.c.bob.chat.entries.length === 1);
  const got = m.c.bob.chat.entries[0]!;
  assert.deepEqual([got.text, got.from, got.private, got.to], [words, m.ada.memberId, true, m.bob.memberId]);
  assert.equal(m.c.ada.chat.entries[0]!.private, true);

  // The server routed it to Bob alone: Cy received no application message at all.
  const appFrames = (frames: string[]) => frames.filter((f) => (JSON.parse(f) as ServerMessage).type === "appMessage");
  assert.equal(appFrames(cyFrames).length, 0);
  // A server that handed Bob's ciphertext to Cy anyway: Cy is in the same MLS epoch, so she can
  // decrypt the PrivateMessage, but what is sealed inside is for Bob's leaf key only.
  const toBob = appFrames(bobFrames);
  assert.equal(toBob.length, 1);
  m.cyInject.deliver!(toBob[0]!);
  await waitFor("Cy to refuse the message", 10_000, (wake) => m.cy.on("error", wake), () => cyErrors.includes("APP_MESSAGE_NOT_FOR_YOU"));
  assert.equal(m.c.cy.chat.entries.length, 0, "Cy's client shows nothing");

  // A private message cannot be sent unsealed: the SDK refuses, and receivers would too.
  await assert.rejects(m.bob.sendAppMessage({ v: 1, type: "privateChat", id: "p-12345678", text: "x" }), (e) => isProtocolError(e, "APP_MESSAGE_NOT_SEALED"));
});

test("a message sent in one epoch and delivered after the next commit still decrypts; a member who joined after it never receives it", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const held: (() => void)[] = [];
  let holding = false;
  const ada = await joinSession(server, meeting, "Ada", {
    outbound: (text, forward) => {
      if (holding && text.includes('"appMessage"')) held.push(forward);
      else forward();
    },
  });
  const bob = await joinSession(server, meeting, "Bob");
  await waitForAgreement([ada, bob], 2);
  const [ca, cb] = [collab(ada), collab(bob)];
  const sentAt = ada.epoch!;
  holding = true;
  const words = secret("written before Dan arrived");
  await ca.chat.send(words);
  assert.equal(held.length, 1, "the message is encrypted and waiting to leave");

  const danFrames: string[] = [];
  const dan = await joinSession(server, meeting, "Dan", { record: danFrames });
  t.after(() => [ada, bob, dan].forEach((s) => s.leave()));
  const cd = collab(dan);
  await waitForAgreement([ada, bob, dan], 3);
  assert.ok(bob.epoch! > sentAt, "Bob moved on to the next epoch");
  holding = false;
  held.shift()!();
  await until("Bob to read the late message", cb.chat, () => cb.chat.entries.length === 1);
  assert.equal(cb.chat.entries[0]!.text, words);

  // Dan joined after it was sent: the server does not even route it to him.
  await ca.chat.send(secret("Welcome, Dan"));
  await until("Dan to read the welcome", cd.chat, () => cd.chat.entries.length === 1);
  assert.deepEqual(texts(cd.chat.entries), ["Welcome, Dan"]);
  assert.equal(danFrames.filter((f) => f.includes('"appMessage"')).length, 1, "Dan received exactly one application message");
});

test("reactions reach the others; raised hands queue in order for the host, who can lower them", async (t) => {
  const m = await threeMembers();
  t.after(m.close);
  const seen: string[] = [];
  m.c.ada.reactions.on("reaction", (r) => seen.push(`${r.fromName} ${r.emoji}`));
  await m.c.bob.reactions.react("👏");
  await m.c.cy.reactions.react("❤️");
  await waitFor("Ada to see both reactions", 10_000, (wake) => m.c.ada.reactions.on("reaction", wake), () => seen.length === 2);
  assert.deepEqual(seen.sort(), ["Bob 👏", "Cy ❤️"]);

  await m.c.cy.reactions.raiseHand();
  await waitFor("Ada to see Cy's hand", 10_000, (wake) => m.c.ada.reactions.on("hands", wake), () => m.c.ada.reactions.raisedHands.length === 1);
  await m.c.bob.reactions.raiseHand();
  await waitFor("Ada to see both hands", 10_000, (wake) => m.c.ada.reactions.on("hands", wake), () => m.c.ada.reactions.raisedHands.length === 2);
  assert.deepEqual(m.c.ada.reactions.raisedHands.map((h) => h.displayName), ["Cy", "Bob"], "in the order they went up");

  // Bob (not a host) cannot lower hands; Ada (host) lowers Cy's, for everyone.
  await assert.rejects(m.c.bob.reactions.lowerHandOf(m.cy.memberId), (e) => isClientError(e, "HOST_ONLY"));
  const lowered = m.c.cy.reactions.once("handLowered");
  await m.c.ada.reactions.lowerHandOf(m.cy.memberId);
  assert.equal((await lowered).byName, "Ada");
  await waitFor("Cy's hand to come down everywhere", 10_000, (wake) => m.c.bob.reactions.on("hands", wake), () => m.c.bob.reactions.raisedHands.length === 1);
  assert.equal(m.c.cy.reactions.handRaised, false);
  assert.deepEqual(m.c.ada.reactions.raisedHands.map((h) => h.displayName), ["Bob"]);
  assert.deepEqual(m.c.bob.reactions.raisedHands.map((h) => h.displayName), ["Bob"]);
});

test("a poll: votes sealed to the host, counted once each, live for the host, shared with everyone; only hosts launch", async (t) => {
  const m = await threeMembers();
  t.after(m.close);
  await assert.rejects(m.c.bob.polls.launch({ question: "x?", options: ["a", "b"] }), (e) => isClientError(e, "HOST_ONLY"));
  const question = secret("Which day suits the offsite?");
  const options = [secret("Tuesday the 3rd"), secret("Thursday the 5th"), secret("Friday the 6th")];
  const poll = await m.c.ada.polls.launch({ question, options, anonymous: true });
  const reached = (c: Collaboration, pollId = poll.pollId) => waitFor("the poll to arrive", 10_000, (wake) => c.polls.on("poll", wake), () => c.polls.poll(pollId));
  await Promise.all([reached(m.c.bob), reached(m.c.cy)]);
  assert.equal(m.c.bob.polls.poll(poll.pollId)!.question, question);

  const adaErrors: string[] = [];
  m.c.ada.polls.on("error", (e) => adaErrors.push(e.code));
  await m.c.bob.polls.vote(poll.pollId, [1]);
  await m.c.cy.polls.vote(poll.pollId, [1]);
  await m.c.ada.polls.vote(poll.pollId, [2]);
  const live = await waitFor("the host to count three votes", 10_000, (wake) => m.c.ada.polls.on("poll", wake), () => {
    const p = m.c.ada.polls.poll(poll.pollId)!;
    return p.results!.voters === 3 ? p : undefined;
  });
  assert.deepEqual(live.results, { counts: [0, 2, 1], voters: 3 });
  assert.equal(live.votes, null, "an anonymous poll keeps no record of who chose what");
  // Cy's app refuses a second vote; a second vote forced through anyway is not counted.
  await assert.rejects(m.c.cy.polls.vote(poll.pollId, [0]), (e) => isClientError(e, "POLL_VOTE_REFUSED"));
  await m.cy.sendSealed(m.ada.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [0] });
  await waitFor("the host to refuse the second vote", 10_000, (wake) => m.c.ada.polls.on("error", wake), () => adaErrors.includes("POLL_VOTE_REFUSED"));
  assert.deepEqual(m.c.ada.polls.poll(poll.pollId)!.results, { counts: [0, 2, 1], voters: 3 });
  // Bob saw no results until they were shared.
  assert.equal(m.c.bob.polls.poll(poll.pollId)!.results, null);

  await m.c.ada.polls.end(poll.pollId);
  await m.c.ada.polls.share(poll.pollId);
  const shared = async (c: Collaboration): Promise<PollView> =>
    waitFor("the shared results", 10_000, (wake) => c.polls.on("poll", wake), () => {
      const p = c.polls.poll(poll.pollId)!;
      return p.results !== null && !p.open ? p : undefined;
    });
  for (const c of [m.c.bob, m.c.cy]) assert.deepEqual((await shared(c)).results, { counts: [0, 2, 1], voters: 3 });

  // A non-anonymous poll shows the host who chose what.
  const named = await m.c.ada.polls.launch({ question: secret("Pizza or salad for lunch?"), options: [secret("Pizza"), secret("Salad")], anonymous: false });
  await reached(m.c.bob, named.pollId);
  await m.c.bob.polls.vote(named.pollId, [0]);
  const votes = await waitFor("the host to see Bob's vote", 10_000, (wake) => m.c.ada.polls.on("poll", wake), () => m.c.ada.polls.poll(named.pollId)!.votes?.[0]);
  assert.deepEqual(votes, { memberId: m.bob.memberId, displayName: "Bob", choices: [0] });
});

test("a 5 MB file shared in chat arrives intact; the server stores only ciphertext, for members of that meeting only, until the meeting ends", async (t) => {
  const m = await threeMembers();
  const data = new Uint8Array(randomBytes(5 * 1024 * 1024 + 123));
  // A recognisable run too, to look for on disk and on the wire.
  const marker = secret("FILE-CONTENT-MARKER-0123456789-ABCDEFGHIJ");
  data.set(new TextEncoder().encode(marker), 1000);
  secrets.push(Buffer.from(data.subarray(4096, 4096 + 48)).toString("base64"));
  const sent = await m.c.bob.chat.shareFile(data, { name: secret("quarterly-report.bin"), mediaType: "application/octet-stream" });
  const arrived = await until("Ada to see the file", m.c.ada.chat, () => m.c.ada.chat.entries.find((e) => e.id === sent.id));
  assert.deepEqual(arrived.file, { fileId: sent.file!.fileId, name: "quarterly-report.bin", size: data.length, mediaType: "application/octet-stream" });
  const back = await m.c.ada.chat.download(arrived.id);
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  assert.equal(sha(back), sha(data));

  // On the server's disk: one file, the size of the ciphertext, holding none of the plaintext.
  const dir = join(dataPaths(server.server.context.config.dataDir).files, m.meeting.id);
  const stored = await readdir(dir);
  assert.equal(stored.length, 1);
  const onDisk = await readFile(join(dir, stored[0]!));
  assert.equal(onDisk.length, data.length + Math.ceil(data.length / 65536) * 16);
  assert.ok(!onDisk.includes(Buffer.from(marker)));
  assert.ok(!onDisk.includes(Buffer.from(data.subarray(0, 64))));

  // Private files are sealed to the recipient.
  const small = new TextEncoder().encode(secret("a small private note for Cy"));
  const priv = await m.c.ada.chat.shareFile(small, { name: "note.txt", mediaType: "text/plain", to: m.cy.memberId });
  const atCy = await until("Cy to see the private file", m.c.cy.chat, () => m.c.cy.chat.entries.find((e) => e.id === priv.id));
  assert.equal(atCy.private, true);
  assert.deepEqual(await m.c.cy.chat.download(atCy.id), small);
  assert.equal(m.c.bob.chat.entries.some((e) => e.id === priv.id), false);

  // Access: no token, another meeting's token, or a made-up file id are all refused.
  const fileUrl = `https://127.0.0.1:${server.server.port}/api/meetings/${m.meeting.id}/files/${sent.file!.fileId}`;
  const get = async (token?: string) => {
    const res = await httpsGet(fileUrl, token);
    return { status: res.status, code: (JSON.parse(res.body.toString("utf8")) as { error?: { code: string } }).error?.code };
  };
  assert.deepEqual(await get(), { status: 403, code: "FILE_TOKEN_INVALID" });
  const other = await server.createMeeting("e2ee");
  const stranger = await joinSession(server, other, "Stranger");
  t.after(() => stranger.leave());
  await waitForAgreement([stranger], 1);
  assert.deepEqual(await get(stranger.fileToken!), { status: 403, code: "FILE_TOKEN_INVALID" });
  const adaToken = m.ada.fileToken!;
  // A participant's token stops working when it leaves.
  m.cy.leave();
  assert.equal((await httpsGet(fileUrl, adaToken)).status, 200);

  // The meeting ends: its files are deleted and no token opens them.
  m.ada.endMeeting();
  await waitFor("the files to be deleted", 10_000, (wake) => {
    const timer = setInterval(wake, 50);
    return () => clearInterval(timer);
  }, () => server.server.context.files.storedBytes(m.meeting.id) === 0 || undefined);
  assert.equal((await httpsGet(fileUrl, adaToken)).status, 403);
  await assert.rejects(readdir(dir), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
});

test("turning chat off with an account lock removes it from every meeting: the SDK refuses to send, and receivers refuse what is sent anyway", async (t) => {
  await ready;
  const settings = server.server.context.database.settings;
  settings.writeAccount({ inMeetingChat: { value: false, locked: true }, fileSharing: { value: false, locked: true } });
  t.after(() => settings.writeAccount({ inMeetingChat: { value: null, locked: false }, fileSharing: { value: null, locked: false } }));
  const meeting = await server.createMeeting("e2ee");
  const bobInject: { deliver?: (text: string) => void } = {};
  const ada = await joinSession(server, meeting, "Ada", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob", { inject: bobInject });
  t.after(() => [ada, bob].forEach((s) => s.leave()));
  await waitForAgreement([ada, bob], 2);
  const [ca, cb] = [collab(ada), collab(bob)];
  assert.equal(ada.features.inMeetingChat, false);
  assert.equal(ada.features.privateChat, true, "only what the admin turned off is off");
  await assert.rejects(ca.chat.send("not allowed"), (e) => isProtocolError(e, "FEATURE_DISABLED"));
  await assert.rejects(cb.chat.shareFile(new Uint8Array(10), { name: "x" }), (e) => isClientError(e, "FILE_UPLOAD_FAILED"));
  // The server refuses uploads itself.
  const upload = await httpsPost(`https://127.0.0.1:${server.server.port}/api/meetings/${meeting.id}/files`, bob.fileToken!, new Uint8Array(32));
  assert.equal(upload.status, 403);
  assert.equal((JSON.parse(upload.body.toString()) as { error: { code: string } }).error.code, "FEATURE_DISABLED");

  // A modified app that believes chat is on sends anyway: Ada's app refuses it on arrival.
  const adaErrors = errorsOf(ada);
  bobInject.deliver!(encodeMessage({ type: "meetingState", locked: false, features: { ...bob.features, inMeetingChat: true } }));
  await waitFor("Bob's app to believe chat is on", 5_000, (wake) => bob.on("features", wake), () => bob.features.inMeetingChat || undefined);
  await cb.chat.send(secret("sent against the settings"));
  await waitFor("Ada to refuse it", 10_000, (wake) => ada.on("error", wake), () => adaErrors.includes("FEATURE_DISABLED"));
  assert.equal(ca.chat.entries.length, 0);

  // Lifted while the meeting runs: every member is told at once, and chat works.
  settings.writeAccount({ inMeetingChat: { value: null, locked: false } });
  await waitFor("Ada to hear chat is on", 10_000, (wake) => ada.on("features", wake), () => ada.features.inMeetingChat || undefined);
  await ca.chat.send(secret("now it works"));
  await until("Bob to read it", cb.chat, () => cb.chat.entries.length === 1);
});

test("an Enhanced meeting whose settings save chat keeps its group chat sealed under the KMS; private messages are not kept; an E2EE meeting keeps nothing", async (t) => {
  await ready;
  const db = server.server.context.database;
  db.settings.writeAccount({ chatHistory: { value: true } });
  t.after(() => db.settings.writeAccount({ chatHistory: { value: null } }));
  const meeting = await server.createMeeting("enhanced");
  const ada = await joinSession(server, meeting, "Ada", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob");
  t.after(() => [ada, bob].forEach((s) => s.leave()));
  await waitForAgreement([ada, bob], 2);
  const [ca, cb] = [collab(ada), collab(bob)];
  assert.equal(ada.features.chatHistory, true);
  // (Said in an Enhanced meeting that saves chat: these cross the server in clear, by design.)
  await ca.chat.send("Minutes: budget approved");
  await until("Bob to read it", cb.chat, () => cb.chat.entries.length === 1);
  await cb.chat.send("Action item: Bob books the room");
  await ca.chat.sendPrivate(bob.memberId, secret("private remarks are never saved"));
  await until("Bob to read the private one", cb.chat, () => cb.chat.entries.length === 3);
  await waitFor("the server to seal both messages", 10_000, (wake) => {
    const timer = setInterval(wake, 50);
    return () => clearInterval(timer);
  }, () => (db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM chat_history WHERE meeting_id = ?").get(meeting.id)!.n === 2) || undefined);
  for (const row of db.connection.prepare<{ sealed: Buffer }>("SELECT sealed FROM chat_history WHERE meeting_id = ?").all(meeting.id)) {
    assert.ok(!row.sealed.includes(Buffer.from("budget")), "stored sealed, not in clear");
  }
  const res = await httpsCall("GET", `https://127.0.0.1:${server.server.port}/api/meetings/${meeting.id}/chat`, undefined, undefined, { authorization: `Bearer ${server.server.adminToken}` });
  assert.equal(res.status, 200);
  const saved = (JSON.parse(res.body.toString("utf8")) as { messages: { displayName: string; text: string; memberId: string; room: string | null }[] }).messages;
  assert.deepEqual(saved.map((m) => [m.displayName, m.text, m.room]), [["Ada", "Minutes: budget approved", null], ["Bob", "Action item: Bob books the room", null]]);
  assert.equal(saved[1]!.memberId, bob.memberId);

  // The same setting in an E2EE meeting: off for its members, and the server refuses a copy sent anyway.
  const e2ee = await server.createMeeting("e2ee");
  const raw: { send?: (text: string) => void } = {};
  const cy = await joinSession(server, e2ee, "Cy", { raw });
  t.after(() => cy.leave());
  await waitForAgreement([cy], 1);
  assert.equal(cy.features.chatHistory, false);
  const cyErrors = errorsOf(cy);
  raw.send!(encodeMessage({ type: "chatArchive", id: "c-12345678", text: "an archive copy the server must refuse" }));
  await waitFor("the server to refuse it", 10_000, (wake) => cy.on("error", wake), () => cyErrors.includes("FEATURE_DISABLED"));
  assert.equal(db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM chat_history WHERE meeting_id = ?").get(e2ee.id)!.n, 0);
});

test("a hostile member's payloads under valid MLS keys (malformed, oversized, unknown, unsealed private kinds, host-only kinds, forged poll results and votes, a stolen chat id, a bad sealed envelope) are each refused by name, and the meeting goes on", async (t) => {
  // Cy is the hostile member: a participant whose modified app encrypts whatever it likes under
  // its own MLS keys. Ada (host) and Bob must refuse every message by name and carry on.
  const m = await threeMembers();
  t.after(m.close);
  const mallory = m.cy;
  const [adaErrors, bobErrors] = [errorsOf(m.ada), errorsOf(m.bob)];
  const collabErrors = (c: Collaboration) => {
    const codes: string[] = [];
    for (const part of [c.chat, c.polls, c.reactions, c.breakout] as const) (part as { on(e: "error", l: (e: { code: string }) => void): void }).on("error", (e) => codes.push(e.code));
    return codes;
  };
  const [adaRefused, bobRefused] = [collabErrors(m.c.ada), collabErrors(m.c.bob)];
  const all = (who: "ada" | "bob") => (who === "ada" ? [...adaErrors, ...adaRefused] : [...bobErrors, ...bobRefused]);
  const count = (who: "ada" | "bob", code: string) => all(who).filter((c) => c === code).length;
  /** Sends `payload` from Mallory and waits until Ada and Bob have each refused it with `code`. */
  const refused = async (what: string, code: string, payload: Uint8Array | object, to?: string[]) => {
    const who = to ? (["ada", "bob"] as const).filter((w) => to.includes(w === "ada" ? m.ada.memberId : m.bob.memberId)) : (["ada", "bob"] as const);
    const before = who.map((w) => count(w, code));
    const bytes = payload instanceof Uint8Array ? payload : new TextEncoder().encode(JSON.stringify(payload));
    await mallory.sendApplicationBytes(bytes, to);
    for (const [i, w] of who.entries()) {
      await waitFor(`${w} to refuse ${what} with ${code}`, 10_000, (wake) => {
        const offs = [w === "ada" ? m.ada.on("error", wake) : m.bob.on("error", wake), setIntervalOff(wake)];
        return () => offs.forEach((off) => off());
      }, () => count(w, code) > before[i]!);
    }
  };

  await refused("bytes that are not UTF-8", "APP_MESSAGE_MALFORMED", new Uint8Array([0xff, 0xfe, 0x00, 0x7b]));
  await refused("a JSON array", "APP_MESSAGE_MALFORMED", []);
  await refused("a chat message with an extra field", "APP_MESSAGE_MALFORMED", { v: 1, type: "chat", id: "c-12345678", text: "hi", html: "<b>hi</b>" });
  await refused("a chat message with control characters", "APP_MESSAGE_MALFORMED", { v: 1, type: "chat", id: "c-12345678", text: "bell \u0007" });
  await refused("a chat message longer than 2,000 characters", "APP_MESSAGE_MALFORMED", { v: 1, type: "chat", id: "c-12345678", text: "x".repeat(2001) });
  await refused("a payload over 16 KiB", "APP_MESSAGE_TOO_LARGE", new Uint8Array(16 * 1024 + 1).fill(0x20));
  await refused("an unknown kind", "APP_MESSAGE_UNSUPPORTED", { v: 1, type: "whiteboard", strokes: [] });
  await refused("a future version", "APP_MESSAGE_UNSUPPORTED", { v: 2, type: "chat", id: "c-12345678", text: "hi" });
  await refused("a private message sent in the clear to the group", "APP_MESSAGE_NOT_SEALED", { v: 1, type: "privateChat", id: "p-12345678", text: secret("everyone can read this 'private' line") });
  await refused("a poll vote in the clear", "APP_MESSAGE_NOT_SEALED", { v: 1, type: "pollVote", pollId: "poll-1234567", choices: [0] });
  await refused("a poll launched by a participant", "APP_MESSAGE_NOT_ALLOWED", { v: 1, type: "pollLaunch", pollId: "fake-poll-1", question: "Fire the host?", options: ["yes", "no"], multiple: false, anonymous: true });
  await refused("a breakout plan from a participant", "APP_MESSAGE_NOT_ALLOWED", {
    v: 1, type: "breakoutPlan", planId: "fake-plan-1", rooms: [{ roomId: "room1", name: "Trap" }], broadcastKey: toB64(new Uint8Array(32)), signingKey: toB64(new Uint8Array(32)),
  });
  assert.equal(m.c.ada.polls.polls.length + m.c.bob.polls.polls.length, 0, "no fake poll was listed");
  assert.equal(m.c.bob.breakout.state.rooms.length, 0, "no fake plan was taken");

  // Bob raises his hand; Mallory (not a host) tries to lower it for everyone.
  await m.c.bob.reactions.raiseHand();
  await waitFor("Ada to see Bob's hand", 10_000, (wake) => m.c.ada.reactions.on("hands", wake), () => m.c.ada.reactions.raisedHands.length === 1);
  await refused("a participant lowering someone's hand", "APP_MESSAGE_NOT_ALLOWED", { v: 1, type: "lowerHand", target: m.bob.memberId });
  assert.equal(m.c.bob.reactions.handRaised, true);
  assert.deepEqual(m.c.ada.reactions.raisedHands.map((h) => h.displayName), ["Bob"]);

  // Ada's poll: Mallory forges its results and its end, votes out of range, votes to Bob, votes twice.
  const poll = await m.c.ada.polls.launch({ question: secret("Which room for the retro?"), options: [secret("Blue room"), secret("Green room")] });
  await waitFor("Bob to get the poll", 10_000, (wake) => m.c.bob.polls.on("poll", wake), () => m.c.bob.polls.poll(poll.pollId));
  await waitFor("Mallory to get the poll", 10_000, (wake) => m.c.cy.polls.on("poll", wake), () => m.c.cy.polls.poll(poll.pollId));
  await refused("forged poll results", "APP_MESSAGE_NOT_ALLOWED", { v: 1, type: "pollResults", pollId: poll.pollId, counts: [0, 99], voters: 99 }, [m.bob.memberId]);
  await refused("a forged end of the poll", "APP_MESSAGE_NOT_ALLOWED", { v: 1, type: "pollEnd", pollId: poll.pollId }, [m.bob.memberId]);
  assert.equal(m.c.bob.polls.poll(poll.pollId)!.results, null);
  assert.equal(m.c.bob.polls.poll(poll.pollId)!.open, true);
  const votesRefused = () => count("ada", "POLL_VOTE_REFUSED");
  await mallory.sendSealed(m.ada.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [7] });
  await waitFor("Ada to refuse a choice the poll does not have", 10_000, (wake) => m.c.ada.polls.on("error", wake), () => votesRefused() === 1);
  await mallory.sendSealed(m.ada.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [0, 1] });
  await waitFor("Ada to refuse two choices in a single-choice poll", 10_000, (wake) => m.c.ada.polls.on("error", wake), () => votesRefused() === 2);
  await mallory.sendSealed(m.bob.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [0] });
  await waitFor("Bob to refuse a vote for a poll he did not launch", 10_000, (wake) => m.c.bob.polls.on("error", wake), () => count("bob", "POLL_VOTE_REFUSED") === 1);
  await mallory.sendSealed(m.ada.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [1] });
  await mallory.sendSealed(m.ada.memberId, { v: 1, type: "pollVote", pollId: poll.pollId, choices: [1] });
  await waitFor("Ada to refuse the second vote", 10_000, (wake) => m.c.ada.polls.on("error", wake), () => votesRefused() === 3);
  assert.deepEqual(m.c.ada.polls.poll(poll.pollId)!.results, { counts: [0, 1], voters: 1 }, "one vote counted, once");

  // Bob shares a file; Mallory reuses its chat id with a key of her own, to spoil its download.
  const data = new Uint8Array(randomBytes(70_000));
  const shared = await m.c.bob.chat.shareFile(data, { name: "minutes.bin" });
  await until("Ada to see Bob's file", m.c.ada.chat, () => m.c.ada.chat.entries.find((e) => e.id === shared.id));
  await refused("a file message that reuses Bob's chat id", "APP_MESSAGE_DUPLICATE", {
    v: 1, type: "file", id: shared.id, fileId: shared.file!.fileId, name: "minutes.bin", size: data.length, mediaType: "", key: toB64(new Uint8Array(32).fill(7)),
  }, [m.ada.memberId]);
  assert.deepEqual(await m.c.ada.chat.download(shared.id), data, "Bob's file still opens with Bob's key");

  // A sealed envelope addressed to Ada whose ciphertext is not sealed to her key.
  await refused("a sealed envelope that does not open", "MLS_MESSAGE_REJECTED", {
    v: 1, type: "sealed", to: m.ada.memberId, toLeaf: 0, enc: toB64(new Uint8Array(randomBytes(32))), ct: toB64(new Uint8Array(randomBytes(272))),
  }, [m.ada.memberId]);

  // None of it reached a chat, and the meeting goes on: same epoch and code, chat flows.
  assert.equal(m.c.ada.chat.entries.length, 1);
  assert.equal(m.c.bob.chat.entries.length, 1);
  assert.equal(m.ada.state, "inGroup");
  await waitForAgreement([m.ada, m.bob, m.cy], 3);
  await m.c.bob.chat.send("still here");
  await until("Ada to read Bob", m.c.ada.chat, () => m.c.ada.chat.entries.some((e) => e.text === "still here"));
});

test("the tap over every signaling message saw none of the chat text, file bytes, file names, poll questions or answers", async () => {
  await ready;
  assert.ok(tapped.length > 100, `the tap saw the traffic (${tapped.length} frames)`);
  assert.ok(tapped.some((f) => f.includes('"appMessage"')));
  const everything = tapped.join("\n");
  for (const s of secrets) {
    assert.ok(!everything.includes(s), `a signaling message carries "${s.slice(0, 40)}"`);
    assert.ok(!everything.includes(JSON.stringify(s).slice(1, -1)), `a signaling message carries an escaped "${s.slice(0, 40)}"`);
  }
});

function httpsGet(url: string, token?: string): Promise<{ status: number; body: Buffer }> {
  return httpsCall("GET", url, token);
}

function httpsPost(url: string, token: string, body: Uint8Array): Promise<{ status: number; body: Buffer }> {
  return httpsCall("POST", url, token, body);
}

async function httpsCall(method: string, url: string, token?: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: server.ca,
        headers: {
          ...headers,
          ...(token ? { "X-Conclave-File-Token": token } : {}),
          ...(body ? { "Content-Type": "application/octet-stream", "Content-Length": String(body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
