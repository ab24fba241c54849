import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { MeetingSession, type SignalingChannel } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { createKeyPackage, toBase64 } from "@conclave/protocol";
import { startTestServer, joinSession, waitForAgreement, type TestServer } from "./support/harness.js";

interface RawClient {
  ws: WebSocket;
  messages: { type: string; code?: string; fatal?: boolean }[];
  closed: Promise<{ code: number }>;
  nextMessage(): Promise<{ type: string; code?: string; fatal?: boolean }>;
}

async function raw(server: TestServer): Promise<RawClient> {
  const ws = new WebSocket(server.wsUrl, { ca: server.ca });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const messages: RawClient["messages"] = [];
  const waiters: ((m: RawClient["messages"][number]) => void)[] = [];
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString()) as RawClient["messages"][number];
    messages.push(m);
    waiters.shift()?.(m);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once("close", (code) => resolve({ code })));
  ws.on("error", () => {});
  return { ws, messages, closed, nextMessage: () => new Promise((r) => waiters.push(r)) };
}

test("garbage, binary, unknown and out-of-order messages get errors, repeated garbage a clean close, and the meeting carries on", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  const b = await joinSession(server, meeting, "Bob");
  t.after(() => [a, b].forEach((s) => s.leave()));
  await waitForAgreement([a, b], 2);

  const attacker = await raw(server);
  attacker.ws.send(JSON.stringify({ type: "commit", epoch: "0", commit: "AAAA", added: [], removed: [] }));
  assert.deepEqual(await attacker.nextMessage(), { type: "error", code: "NOT_JOINED", message: "Send a join request first.", fatal: false });
  attacker.ws.send("{not json");
  assert.equal((await attacker.nextMessage()).code, "MESSAGE_MALFORMED");
  attacker.ws.send(Buffer.from([0, 1, 2, 3]));
  assert.equal((await attacker.nextMessage()).code, "MESSAGE_MALFORMED");
  attacker.ws.send(JSON.stringify({ type: "explode" }));
  attacker.ws.send(JSON.stringify({ type: "join", version: 1, meetingId: meeting.id, memberId: "x", displayName: "<script>", keyPackage: "%%%" }));
  attacker.ws.send("[]");
  const { code } = await attacker.closed;
  assert.equal(code, 4400);
  assert.ok(attacker.messages.some((m) => m.fatal === true && m.code === "MESSAGE_MALFORMED"));

  // Everyone else's meeting continues: a newcomer is added and all agree.
  const c = await joinSession(server, meeting, "Cy");
  t.after(() => c.leave());
  await waitForAgreement([a, b, c], 3);
});

test("an oversized message closes only that connection (1009)", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  t.after(() => a.leave());
  await waitForAgreement([a], 1);
  const attacker = await raw(server);
  attacker.ws.send("x".repeat(5 * 1024 * 1024));
  assert.equal((await attacker.closed).code, 1009);
  const b = await joinSession(server, meeting, "Bob");
  t.after(() => b.leave());
  await waitForAgreement([a, b], 2);
});

test("a join with a key package that does not match the request is refused with BAD_KEY_PACKAGE", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const attacker = await raw(server);
  attacker.ws.send(JSON.stringify({ type: "join", version: 1, meetingId: meeting.id, passcode: meeting.passcode, memberId: "mx", displayName: "X", keyPackage: "AAAA" }));
  const m = await attacker.nextMessage();
  assert.equal(m.code, "BAD_KEY_PACKAGE");
  assert.equal((await attacker.closed).code, 4403);
});

test("a committer that vanishes mid-commit does not stall the meeting: the next member commits", async (t) => {
  const server = await startTestServer({ commitTimeoutMs: 500 });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  // Ada founds the group, so she is asked first; once muted, her commits never leave.
  let muted = false;
  const inner = await connectNodeSignaling(server.wsUrl, { ca: server.ca });
  const channel: SignalingChannel = {
    send: (text) => {
      if (muted && text.includes('"type":"commit"')) return;
      inner.send(text);
    },
    close: (c, r) => inner.close(c, r),
    onMessage: (h) => inner.onMessage((text) => {
      if (muted) adaSaw.push(JSON.parse(text) as { type: string; from?: string; epoch?: string });
      h(text);
    }),
    onClose: (h) => inner.onClose(h),
  };
  const adaSaw: { type: string; from?: string; epoch?: string }[] = [];
  const a = new MeetingSession({ meetingId: meeting.id, passcode: meeting.passcode!, displayName: "Ada", sframeCrypto: createNodeSFrameCrypto() });
  await a.join(channel);
  // Joins are checked concurrently (key package signatures verified off the main thread), so two
  // joins sent back to back may be admitted in either order: Bob joins once Ada has founded.
  await waitForAgreement([a], 1);
  const b = await joinSession(server, meeting, "Bob");
  t.after(() => [a, b].forEach((s) => s.leave()));
  await waitForAgreement([a, b], 2);
  const epoch = a.epoch!;
  muted = true;
  const c = await joinSession(server, meeting, "Cy");
  t.after(() => c.leave());
  // Bob commits after Ada's deadline; Ada drops her stale commit and follows Bob's.
  await waitForAgreement([a, b, c], 3, 10_000);
  const asked = adaSaw.find((m) => m.type === "commitRequest");
  assert.equal(asked?.epoch, epoch.toString(), "Ada, the senior member, was asked first");
  const winner = adaSaw.find((m) => m.type === "commit");
  assert.equal(winner?.from, b.memberId, "Bob's commit added Cy");
  assert.equal(winner?.epoch, epoch.toString());
});

test("a participant whose network silently vanishes is cut off by the heartbeat and the others rekey without it", async (t) => {
  const server = await startTestServer({ heartbeatMs: 300 });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  const b = await joinSession(server, meeting, "Bob");
  t.after(() => [a, b].forEach((s) => s.leave()));

  // Cy answers pings until her network "vanishes": then nothing, not even a TCP close.
  let frozen = false;
  const ws = new WebSocket(server.wsUrl, { ca: server.ca, autoPong: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.on("ping", (data) => {
    if (!frozen) ws.pong(data);
  });
  const channel: SignalingChannel = {
    send: (text) => {
      if (!frozen) ws.send(text);
    },
    close: () => {},
    onMessage: (h) => ws.on("message", (d) => {
      if (!frozen) h(d.toString());
    }),
    onClose: () => {},
  };
  const c = new MeetingSession({ meetingId: meeting.id, passcode: meeting.passcode!, displayName: "Cy", sframeCrypto: createNodeSFrameCrypto() });
  await c.join(channel);
  const three = await waitForAgreement([a, b, c], 3);
  frozen = true;
  const started = performance.now();
  await waitForAgreement([a, b], 2, 5000, three.epoch + 1n);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  ws.terminate();
});

test("a joiner whose key package fails MLS validation is refused at the door and does not hold up the others", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinSession(server, meeting, "Ada");
  const b = await joinSession(server, meeting, "Bob");
  t.after(() => [a, b].forEach((s) => s.leave()));
  const before = await waitForAgreement([a, b], 2);

  // Mallory's key package parses but its signature is broken: the server verifies it on join.
  const kp = await createKeyPackage({ kind: "person", memberId: "mallory", displayName: "Mallory" });
  const forged = kp.keyPackage.slice();
  forged[forged.length - 1]! ^= 0xff;
  const mallory = await raw(server);
  mallory.ws.send(JSON.stringify({ type: "join", version: 1, meetingId: meeting.id, passcode: meeting.passcode, memberId: "mallory", displayName: "Mallory", keyPackage: toBase64(forged) }));
  const c = await joinSession(server, meeting, "Cy");
  t.after(() => c.leave());
  await waitForAgreement([a, b, c], 3, 15_000, before.epoch + 1n);
  const { code } = await mallory.closed;
  assert.equal(code, 4403);
  assert.equal(mallory.messages[0]?.code, "BAD_KEY_PACKAGE");
  assert.ok(!mallory.messages.some((m) => m.type === "joined"), "never joined");
  assert.ok(!a.groupMembers.some((m) => m.identity.memberId === "mallory"));
});
