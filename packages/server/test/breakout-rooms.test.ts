import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MEETING_FEATURES, createKeyPackage, parseServerMessage, toBase64, type ClientMessage, type MemberIdentity, type ServerMessage } from "@conclave/protocol";
import { BreakoutMeeting } from "../src/meetings/breakout-rooms.js";
import type { ParticipantConnection } from "../src/meetings/live-meeting.js";
import type { MeetingRole } from "@conclave/protocol";

interface Fake extends ParticipantConnection {
  sent: ServerMessage[];
  closed: { code: number; reason: string } | null;
}

function fakeConnection(): Fake {
  const c: Fake = {
    sent: [],
    closed: null,
    send: (m) => void c.sent.push(m),
    // Commits and Welcomes arrive encoded once for every member (LiveMeeting's fan-out).
    sendFrame: (frame) => void c.sent.push(parseServerMessage(new TextDecoder().decode(frame))),
    close: (code, reason) => void (c.closed = { code, reason }),
  };
  return c;
}

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `m-${name}`, displayName: name });

async function setup(opts: { features?: typeof DEFAULT_MEETING_FEATURES } = {}) {
  let empty = 0;
  const gone: string[] = [];
  const meeting = new BreakoutMeeting({
    meeting: { id: "12345678901", encryption: "e2ee", passcodeRequired: false, createdAt: 0, postQuantum: false },
    features: opts.features ?? DEFAULT_MEETING_FEATURES,
    onEmpty: () => void (empty += 1),
    onParticipantGone: (id) => void gone.push(id),
  });
  const people = new Map<string, { identity: MemberIdentity; conn: Fake }>();
  const add = async (name: string, role: MeetingRole = "participant") => {
    const identity = person(name);
    const conn = fakeConnection();
    const kp = await createKeyPackage(identity);
    const r = meeting.join({ identity, keyPackage: kp.keyPackage, connection: conn, role, banKey: `device:${name}` });
    assert.ok(r.ok);
    people.set(name, { identity, conn });
    return { id: identity.memberId, conn };
  };
  const send = (name: string, msg: ClientMessage) => meeting.handle(people.get(name)!.identity.memberId, msg);
  const move = async (name: string, roomId: string | null, as?: MemberIdentity) =>
    send(name, { type: "moveRoom", roomId, keyPackage: toBase64((await createKeyPackage(as ?? people.get(name)!.identity)).keyPackage) });
  const errors = (name: string) => people.get(name)!.conn.sent.filter((m) => m.type === "error").map((m) => (m as { code: string }).code);
  const lastState = (name: string) => [...people.get(name)!.conn.sent].reverse().find((m) => m.type === "breakoutState") as Extract<ServerMessage, { type: "breakoutState" }> | undefined;
  return { meeting, add, send, move, errors, lastState, people, empty: () => empty, gone };
}

test("only a host or co-host opens, closes and broadcasts to breakout rooms", async () => {
  const s = await setup();
  const host = await s.add("Host", "host");
  const ada = await s.add("Ada");
  await s.send("Ada", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }] });
  await s.send("Ada", { type: "breakoutClose" });
  await s.send("Ada", { type: "breakoutBroadcast", message: toBase64(new Uint8Array(40)) });
  assert.deepEqual(s.errors("Ada"), ["NOT_HOST", "NOT_HOST", "NOT_HOST"]);
  await s.send("Host", { type: "breakoutClose" });
  assert.deepEqual(s.errors("Host"), ["BREAKOUT_NOT_OPEN"]);
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id, host.id] }, { roomId: "r2", members: [ada.id] }] });
  assert.deepEqual(s.errors("Host"), ["BREAKOUT_NOT_OPEN", "REQUEST_FAILED"], "a participant in two rooms is refused");
  s.meeting.close();
});

test("a participant goes only to its own room while rooms are open, with a key package of its own; back to the main room always", async () => {
  const s = await setup();
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  const bob = await s.add("Bob");
  await s.move("Ada", "r1");
  assert.deepEqual(s.errors("Ada"), ["ROOM_NOT_FOUND"], "no rooms are open");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }, { roomId: "r2", members: [bob.id] }] });
  await s.move("Ada", "r2");
  assert.deepEqual(s.errors("Ada").slice(1), ["MOVE_NOT_ALLOWED"]);
  await s.move("Ada", "r1", person("Bob"));
  assert.deepEqual(s.errors("Ada").slice(2), ["BAD_KEY_PACKAGE"], "a key package naming someone else");
  await s.move("Ada", "r1");
  assert.equal(s.meeting.whereIs(ada.id), "r1");
  const joined = s.people.get("Ada")!.conn.sent.filter((m) => m.type === "joined");
  assert.equal(joined.length, 2);
  assert.equal((joined[1] as { room?: string }).room, "r1");
  await s.move("Ada", "r1");
  assert.deepEqual(s.errors("Ada").slice(3), ["MOVE_NOT_ALLOWED"], "already there");
  await s.move("Ada", null);
  assert.equal(s.meeting.whereIs(ada.id), null);
  // The host visits any open room.
  await s.move("Host", "r2");
  assert.equal(s.meeting.whereIs("m-Host"), "r2");
  assert.equal(s.empty(), 0, "moves never leave the meeting empty");
  s.meeting.close();
});

test("everyone hears where the rooms stand: who is assigned and present where, when they close, and where they are", async () => {
  const s = await setup();
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  const bob = await s.add("Bob");
  assert.equal(s.lastState("Ada"), undefined, "no breakout state before rooms are used");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id, bob.id] }], durationSec: 600 });
  const opened = s.lastState("Bob")!;
  assert.equal(opened.open, true);
  assert.deepEqual(opened.rooms, [{ roomId: "r1", assigned: [ada.id, bob.id], present: [] }]);
  assert.ok(opened.endsAt! > Date.now() + 590_000);
  await s.move("Ada", "r1");
  assert.deepEqual(s.lastState("Bob")!.rooms[0]!.present, [ada.id]);
  assert.equal(s.lastState("Ada")!.room, "r1");
  assert.equal(s.lastState("Bob")!.room, null);
  // A newcomer hears it too.
  await s.add("Cy");
  assert.equal(s.lastState("Cy")!.open, true);
  await s.send("Host", { type: "breakoutClose" });
  assert.equal(s.lastState("Ada")!.open, false);
  assert.equal(s.lastState("Ada")!.room, "r1", "Ada's app brings her back");
  await s.move("Ada", null);
  assert.equal(s.meeting.room("r1"), undefined, "a closed room goes once empty");
  s.meeting.close();
});

test("a timer closes the rooms by itself", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const s = await setup();
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }], durationSec: 60 });
  assert.equal(s.lastState("Ada")!.open, true);
  t.mock.timers.tick(59_000);
  assert.equal(s.lastState("Ada")!.open, true);
  t.mock.timers.tick(1_000);
  assert.equal(s.lastState("Ada")!.open, false);
  s.meeting.close();
});

test("with breakout rooms off in the meeting's settings, opening is FEATURE_DISABLED, and turning them off closes open rooms", async () => {
  const s = await setup({ features: { ...DEFAULT_MEETING_FEATURES, breakoutRooms: false } });
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }] });
  assert.deepEqual(s.errors("Host"), ["FEATURE_DISABLED"]);
  s.meeting.setFeatures(DEFAULT_MEETING_FEATURES);
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }] });
  await s.move("Ada", "r1");
  assert.equal(s.meeting.whereIs(ada.id), "r1");
  s.meeting.setFeatures({ ...DEFAULT_MEETING_FEATURES, breakoutRooms: false });
  assert.equal(s.lastState("Ada")!.open, false);
  const features = [...s.people.get("Ada")!.conn.sent].reverse().find((m) => m.type === "meetingState") as { features: typeof DEFAULT_MEETING_FEATURES };
  assert.equal(features.features.breakoutRooms, false, "members in rooms are told the new settings too");
  await s.move("Ada", null);
  await s.move("Ada", "r1");
  assert.ok(s.errors("Ada").includes("FEATURE_DISABLED"));
  s.meeting.close();
});

test("a host removes someone who is in a breakout room: it leaves that room's group, is banned, and is disconnected; the meeting empties only when every room does", async () => {
  const s = await setup();
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  await s.add("Bob");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id, "m-Bob"] }] });
  await s.move("Ada", "r1");
  await s.move("Bob", "r1");
  const bobConn = s.people.get("Bob")!.conn;
  await s.send("Host", { type: "remove", memberId: "m-Bob" });
  assert.equal(s.meeting.whereIs("m-Bob"), undefined);
  assert.deepEqual(bobConn.closed, { code: 4403, reason: "REMOVED_BY_HOST" });
  assert.ok(s.gone.includes("m-Bob"));
  const adaSaw = s.people.get("Ada")!.conn.sent.filter((m) => m.type === "memberLeft").map((m) => (m as { memberId: string; reason: string }));
  assert.deepEqual(adaSaw.at(-1), { type: "memberLeft", memberId: "m-Bob", reason: "removed" });
  // Banned: a rejoin from the same device is refused.
  const again = s.meeting.join({ identity: person("Bob2"), keyPackage: (await createKeyPackage(person("Bob2"))).keyPackage, connection: fakeConnection(), role: "participant", banKey: "device:Bob" });
  assert.deepEqual(again, { ok: false, code: "BANNED" });

  s.meeting.leave("m-Host", "left");
  assert.equal(s.empty(), 0, "Ada is still in a room");
  s.meeting.leave(ada.id, "left");
  assert.equal(s.empty(), 1);
  s.meeting.close();
});

test("a host's broadcast goes to everyone in every room, at most 20 a minute", async () => {
  const s = await setup();
  await s.add("Host", "host");
  const ada = await s.add("Ada");
  await s.add("Bob");
  await s.send("Host", { type: "breakoutOpen", rooms: [{ roomId: "r1", members: [ada.id] }] });
  await s.move("Ada", "r1");
  const message = toBase64(new Uint8Array(64).fill(1));
  await s.send("Host", { type: "breakoutBroadcast", message });
  for (const name of ["Ada", "Bob", "Host"]) {
    assert.deepEqual(s.people.get(name)!.conn.sent.filter((m) => m.type === "breakoutBroadcast"), [{ type: "breakoutBroadcast", from: "m-Host", message }], name);
  }
  for (let i = 0; i < 20; i++) await s.send("Host", { type: "breakoutBroadcast", message });
  assert.deepEqual(s.errors("Host"), ["RATE_LIMITED"]);
  s.meeting.close();
});
