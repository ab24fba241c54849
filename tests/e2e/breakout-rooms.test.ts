/**
 * Breakout rooms through a real server (docs/protocol.md §6.5): each room is its own MLS group
 * with its own epoch, keys and security code, and its own relay room; moving is a leave and a
 * join with rekeys on both sides; the host's plan (room names) and broadcasts are end-to-end
 * encrypted; the server knows who is where, never what is said.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Collaboration, type MeetingSession } from "@conclave/client";
import { joinBot, joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

const tapped: string[] = [];
let server: TestServer;
const ready = startTestServer({ signalingTap: (_d, text) => tapped.push(text) }).then((s) => (server = s));
after(async () => {
  await ready;
  await server.close();
});

function roomOf(s: MeetingSession, roomId: string | null): Promise<unknown> {
  return waitFor(`${s.identity.displayName} to be in ${roomId ?? "the main meeting"}`, 20_000, (wake) => s.on("room", wake), () => s.room === roomId || undefined);
}

test("each room is its own group with its own code; moves rekey both sides; chat stays in its room; broadcasts reach every room; everyone returns on close", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const ada = await joinSession(server, meeting, "Ada");
  const bob = await joinSession(server, meeting, "Bob");
  const cy = await joinSession(server, meeting, "Cy");
  const dan = await joinSession(server, meeting, "Dan");
  const all = [host, ada, bob, cy, dan];
  t.after(() => all.forEach((s) => s.leave()));
  const before = await waitForAgreement(all, 5, 30_000);
  const c = new Map(all.map((s) => [s, new Collaboration(s)] as const));
  const collab = (s: MeetingSession) => c.get(s)!;

  // The plan travels encrypted; the server gets ids and assignments only.
  await collab(host).breakout.openRooms([
    { name: "Design review", members: [ada.memberId, bob.memberId] },
    { name: "Budget talk", members: [cy.memberId, dan.memberId] },
  ]);
  await Promise.all([roomOf(ada, "room1"), roomOf(bob, "room1"), roomOf(cy, "room2"), roomOf(dan, "room2")]);
  const room1 = await waitForAgreement([ada, bob], 2, 20_000);
  const room2 = await waitForAgreement([cy, dan], 2, 20_000);
  const main = await waitForAgreement([host], 1, 20_000);
  const codes = new Set([before.code, room1.code, room2.code, main.code]);
  assert.equal(codes.size, 4, "main meeting, each room and the main meeting after the split all have different codes");
  assert.deepEqual(ada.groupMembers.map((m) => m.identity.displayName).sort(), ["Ada", "Bob"]);
  assert.equal(server.server.registry.get(meeting.id)!.whereIs(dan.memberId), "room2");
  const view = collab(ada).breakout.state;
  assert.deepEqual(view.rooms.map((r) => r.name), ["Design review", "Budget talk"], "room names from the encrypted plan");

  // Chat in a room stays there.
  await collab(ada).chat.send("room one only");
  await waitFor("Bob to read it", 10_000, (wake) => collab(bob).chat.on("message", wake), () => collab(bob).chat.entries.length === 1);
  await collab(cy).chat.send("room two only");
  await waitFor("Dan to read it", 10_000, (wake) => collab(dan).chat.on("message", wake), () => collab(dan).chat.entries.length === 1);
  assert.deepEqual(collab(bob).chat.entries.map((e) => e.text), ["room one only"]);
  assert.deepEqual(collab(dan).chat.entries.map((e) => e.text), ["room two only"]);
  assert.equal(collab(host).chat.entries.length, 0);

  // The host's broadcast reaches every room, checked against the plan's signing key.
  const heard = [ada, bob, cy, dan].map((s) => collab(s).breakout.once("broadcast"));
  await collab(host).breakout.broadcast("Two minutes left in every room");
  for (const b of await Promise.all(heard)) assert.deepEqual([b.text, b.fromName], ["Two minutes left in every room", "Host"]);

  // A participant cannot go to a room it is not assigned to; it stays in its own, keys intact.
  const adaErrors: string[] = [];
  ada.on("error", (e) => adaErrors.push(e.code));
  await ada.moveTo("room2");
  await waitFor("Ada to be refused", 10_000, (wake) => ada.on("error", wake), () => adaErrors.includes("MOVE_NOT_ALLOWED"));
  assert.equal(ada.room, "room1");
  await collab(ada).chat.send("still here");
  await waitFor("Bob to read it", 10_000, (wake) => collab(bob).chat.on("message", wake), () => collab(bob).chat.entries.length === 2);

  // The host visits room 2: that room rekeys with the host in it.
  await collab(host).breakout.visit("room2");
  await roomOf(host, "room2");
  const visited = await waitForAgreement([host, cy, dan], 3, 20_000);
  assert.notEqual(visited.code, room2.code);
  assert.deepEqual(host.groupMembers.map((m) => m.identity.displayName).sort(), ["Cy", "Dan", "Host"]);

  // Close: everyone comes back to one main group, with a new code.
  collab(host).breakout.closeRooms();
  await Promise.all(all.map((s) => roomOf(s, null)));
  const back = await waitForAgreement(all, 5, 30_000);
  assert.ok(![...codes, visited.code].includes(back.code));
  const live = server.server.registry.get(meeting.id)!;
  for (const s of all) assert.equal(live.whereIs(s.memberId), null);
  assert.equal(live.room("room1"), undefined, "empty rooms are gone");

  // The server relayed the plan and broadcast without reading them.
  const everything = tapped.join("\n");
  for (const s of ["Design review", "Budget talk", "Two minutes left", "room one only", "room two only"]) assert.ok(!everything.includes(s), s);
  assert.ok(everything.includes('"breakoutState"'));
});

test("bots in different breakout rooms do not decrypt each other's media; in a room they do, and after the rooms close all of them again", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const bots = await Promise.all(["B1", "B2", "B3", "B4"].map((n) => joinBot(server, meeting, n)));
  t.after(() => {
    host.leave();
    bots.forEach((b) => b.leave());
  });
  await waitForAgreement([host, ...bots.map((b) => b.session)], 5, 30_000);
  const [b1, b2, b3, b4] = bots as [typeof bots[0], typeof bots[0], typeof bots[0], typeof bots[0]];
  const hostCollab = new Collaboration(host);
  await hostCollab.breakout.openRooms([
    { name: "Left", members: [b1.memberId, b2.memberId] },
    { name: "Right", members: [b3.memberId, b4.memberId] },
  ]);
  await Promise.all(bots.map((b, i) => roomOf(b.session, i < 2 ? "room1" : "room2")));
  await waitForAgreement([b1.session, b2.session], 2, 20_000);
  await waitForAgreement([b3.session, b4.session], 2, 20_000);

  const counts = () => bots.map((b) => ({ ...b.stats().perSender }));
  const start = counts();
  const gained = (i: number, from: number) => (counts()[i]![bots[from]!.memberId] ?? 0) - (start[i]![bots[from]!.memberId] ?? 0);
  await waitFor("roommates to decrypt each other's frames", 30_000, (wake) => {
    const offs = bots.map((b) => b.on("frame", wake));
    return () => offs.forEach((o) => o());
  }, () => (gained(0, 1) >= 20 && gained(1, 0) >= 20 && gained(2, 3) >= 20 && gained(3, 2) >= 20) || undefined);
  for (const [i, others] of [[0, [2, 3]], [1, [2, 3]], [2, [0, 1]], [3, [0, 1]]] as const) {
    for (const o of others) assert.equal(gained(i, o), 0, `bot ${i + 1} decrypted nothing from bot ${o + 1} in the other room`);
  }
  // And at the protocol level: B3's current key protects a frame B1's keys cannot open.
  const frame = new Uint8Array(200).fill(7);
  frame[0] = 0x10; // a VP8 delta frame
  const sealed = await b3.session.protect("vp8", frame);
  await assert.rejects(b1.session.unprotect("vp8", sealed));

  hostCollab.breakout.closeRooms();
  await Promise.all(bots.map((b) => roomOf(b.session, null)));
  await waitForAgreement([host, ...bots.map((b) => b.session)], 5, 30_000);
  const rejoined = counts();
  await waitFor("every bot to decrypt every other again", 30_000, (wake) => {
    const offs = bots.map((b) => b.on("frame", wake));
    return () => offs.forEach((o) => o());
  }, () =>
    bots.every((b, i) => bots.every((o, j) => i === j || (counts()[i]![o.memberId] ?? 0) - (rejoined[i]![o.memberId] ?? 0) >= 5)) || undefined,
  );
  hostCollab.close();
});
