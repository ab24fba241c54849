import { test } from "node:test";
import assert from "node:assert/strict";
import { MeetingSession, type SignalingChannel } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { startTestServer, joinSession, waitForAgreement, waitFor } from "./support/harness.js";

const WAITING_ROOM = { waitingRoom: true, joinBeforeHost: true };

test("a waiting participant receives nothing but its waiting state — no key material — until the host admits it", async (t) => {
  const server = await startTestServer({ meetingPolicy: () => WAITING_ROOM });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob");
  t.after(() => [host, bob].forEach((s) => s.leave()));
  // Bob waits too (waiting room); the host admits him.
  await waitFor("Bob in the waiting list", 10_000, (w) => host.on("waitingList", w), () => host.waitingList.some((e) => e.displayName === "Bob"));
  host.admit(bob.memberId);
  const before = await waitForAgreement([host, bob], 2);

  const seen: string[] = [];
  const guest = await joinSession(server, meeting, "Guest", { record: seen });
  t.after(() => guest.leave());
  await guest.once("waiting");
  await waitFor("Guest in the waiting list", 10_000, (w) => host.on("waitingList", w), () => host.waitingList.some((e) => e.displayName === "Guest"));
  // Time passes while the guest waits: the others even rekey once (nothing about it reaches the guest).
  const carol = await joinSession(server, meeting, "Carol", { asHost: true });
  t.after(() => carol.leave());
  await waitForAgreement([host, bob, carol], 3, 15_000, before.epoch + 1n);

  // `pong`s answer the guest's own liveness pings and carry only its nonce: nothing of the meeting.
  for (const m of seen) if (m.includes('"pong"')) assert.deepEqual(Object.keys(JSON.parse(m) as object).sort(), ["nonce", "type"], m);
  const types = seen.map((m) => (JSON.parse(m) as { type: string }).type).filter((type) => type !== "pong");
  assert.deepEqual([...new Set(types)], ["waiting"], `the waiting guest received ${types.join(", ")}`);
  for (const m of seen) for (const secret of ["welcome", "commit", "keyPackage", "ratchetTree", "members", "sdp"]) assert.ok(!m.includes(secret), m);
  assert.equal(guest.epoch, null);

  host.admit(guest.memberId);
  await waitForAgreement([host, bob, carol, guest], 4, 15_000);
  assert.equal(guest.securityCode, host.securityCode);
});

test("the host removes a participant: the group rekeys at once, the removed person is told why and cannot rejoin", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob");
  const eve = await joinSession(server, meeting, "Eve");
  t.after(() => [host, bob].forEach((s) => s.leave()));
  const before = await waitForAgreement([host, bob, eve], 3);
  const told = eve.once("error");
  host.remove(eve.memberId);
  const after = await waitForAgreement([host, bob], 2, 2000, before.epoch + 1n);
  assert.notEqual(after.code, before.code);
  const err = await told;
  assert.equal(err.code, "REMOVED_BY_HOST");
  assert.equal(err.fatal, true);
  // Eve comes back from the same address: banned.
  const again = await joinSession(server, meeting, "Eve");
  assert.equal((await again.once("error")).code, "BANNED");
});

test("participants cannot use host controls; a locked meeting refuses newcomers; the host ends the meeting for all", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const bob = await joinSession(server, meeting, "Bob");
  await waitForAgreement([host, bob], 2);
  bob.remove(host.memberId);
  assert.equal((await bob.once("error")).code, "NOT_HOST");
  bob.lockMeeting(true);
  assert.equal((await bob.once("error")).code, "NOT_HOST");

  host.lockMeeting(true);
  await bob.once("meetingState", (s) => s.locked);
  const late = await joinSession(server, meeting, "Late");
  assert.equal((await late.once("error")).code, "MEETING_LOCKED");

  const ended = Promise.all([host.once("error"), bob.once("error")]);
  host.endMeeting();
  for (const e of await ended) assert.equal(e.code, "MEETING_ENDED");
  assert.ok(server.server.context.meetings.get(meeting.id)?.endedAt !== undefined);
  assert.equal(server.server.registry.get(meeting.id), undefined, "no live state is kept");
  const after = await joinSession(server, meeting, "After");
  assert.equal((await after.once("error")).code, "MEETING_ENDED");
});

test("without join-before-host, people wait until a host arrives and are then let in", async (t) => {
  const server = await startTestServer({ meetingPolicy: () => ({ waitingRoom: false, joinBeforeHost: false }) });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const bob = await joinSession(server, meeting, "Bob");
  t.after(() => bob.leave());
  assert.equal((await bob.once("waiting")).reason, "hostAbsent");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  t.after(() => host.leave());
  await waitForAgreement([host, bob], 2);
});

test("a ban hits the removed guest's device, not its network address: another guest on the same address still joins", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const eve = await joinSession(server, meeting, "Eve", { deviceToken: "eve-device-token-0123456789" });
  t.after(() => host.leave());
  await waitForAgreement([host, eve], 2);
  host.remove(eve.memberId);
  assert.equal((await eve.once("error")).code, "REMOVED_BY_HOST");
  // Same browser (same token), new member id and name: refused.
  const eveAgain = await joinSession(server, meeting, "Not Eve", { deviceToken: "eve-device-token-0123456789" });
  assert.equal((await eveAgain.once("error")).code, "BANNED");
  // Another guest from the same address (127.0.0.1) with a device of its own: let in.
  const fay = await joinSession(server, meeting, "Fay", { deviceToken: "fay-device-token-9876543210" });
  t.after(() => fay.leave());
  await waitForAgreement([host, fay], 2);
});

test("a removed participant learns why even when the connection's close overtakes the server's last message: REMOVED_BY_HOST comes before `closed`", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  t.after(() => host.leave());
  // Bob's channel reports the close as soon as the removal arrives, while the message that says
  // why still waits in his session's queue (what a fast close does on a busy participant).
  const inner = await connectNodeSignaling(server.wsUrl, { ca: server.ca });
  let onClose: ((code: number, reason: string) => void) | null = null;
  const channel: SignalingChannel = {
    send: (text) => inner.send(text),
    close: (code, reason) => inner.close(code, reason),
    onMessage: (h) =>
      inner.onMessage((text) => {
        h(text);
        if (text.includes('"REMOVED_BY_HOST"')) onClose?.(4403, "REMOVED_BY_HOST");
      }),
    onClose: (h) => {
      onClose = h;
      inner.onClose(h);
    },
  };
  const bob = new MeetingSession({ meetingId: meeting.id, passcode: meeting.passcode!, displayName: "Bob", sframeCrypto: createNodeSFrameCrypto() });
  t.after(() => bob.leave());
  const order: string[] = [];
  bob.on("error", (e) => order.push(`error ${e.code}${e.fatal ? " (fatal)" : ""}`));
  const closed = new Promise<void>((resolve) => bob.on("closed", () => (order.push("closed"), resolve())));
  await bob.join(channel);
  await waitForAgreement([host, bob], 2);

  host.remove(bob.memberId);
  await closed;
  assert.deepEqual(order, ["error REMOVED_BY_HOST (fatal)", "closed"]);
});
