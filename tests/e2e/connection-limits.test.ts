/**
 * Connection and message limits (docs/operations.md, "Connection limits"): small messages until a
 * participant has joined, a deadline for a message that never completes, and caps on open
 * connections per address and in total.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { MAX_PRE_JOIN_MESSAGE_BYTES, createKeyPackage, toBase64 } from "@conclave/protocol";
import { joinSession, startTestServer, waitForAgreement, type TestServer } from "./support/harness.js";
import { closeCode, openIdleTcp, openRawWs } from "./support/raw-ws.js";

let server: TestServer;
before(async () => {
  server = await startTestServer({}, { maxConnectionsPerAddress: 5, maxConnections: 40 });
});
after(() => server.close());

test("before its join is accepted a connection may send only small messages: a frame announcing more is refused with 1009 before it is buffered", async () => {
  const ws = await openRawWs(server.server.port, server.ca);
  ws.frameHeader(4 * 1024 * 1024);
  ws.payload(Buffer.alloc(1024, 0x61));
  await ws.closed;
  assert.equal(closeCode(ws.received()), 1009);
  // Exactly at the limit is still a message (here malformed JSON, answered, not closed).
  const ok = await openRawWs(server.server.port, server.ca);
  ok.text("x".repeat(MAX_PRE_JOIN_MESSAGE_BYTES));
  await new Promise<void>((resolve) => ok.socket.once("data", () => resolve()));
  assert.match(ok.received().toString(), /MESSAGE_MALFORMED/);
  ok.socket.destroy();
});

test("after its join a participant may send large messages (Welcomes of large groups)", async () => {
  const meeting = await server.createMeeting("e2ee");
  const memberId = "bigsender";
  const kp = await createKeyPackage({ kind: "person", memberId, displayName: "Big" });
  const ws = new WebSocket(server.wsUrl, { ca: server.ca });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const messages: { type: string; code?: string }[] = [];
  let wake: () => void = () => {};
  ws.on("message", (d) => {
    messages.push(JSON.parse(d.toString()) as { type: string; code?: string });
    wake();
  });
  const seen = (check: (m: { type: string; code?: string }) => boolean) =>
    new Promise<void>((resolve) => {
      wake = () => messages.some(check) && resolve();
      wake();
    });
  ws.send(JSON.stringify({ type: "join", version: 1, meetingId: meeting.id, passcode: meeting.passcode, memberId, displayName: "Big", keyPackage: toBase64(kp.keyPackage) }));
  await seen((x) => x.type === "createGroup");
  // 1 MiB: far over the pre-join limit, under the joined one. It is answered (not a valid
  // message), not cut off with 1009.
  ws.send(JSON.stringify({ type: "ping", nonce: 1, pad: "x".repeat(1024 * 1024) }));
  await seen((x) => x.code === "MESSAGE_MALFORMED");
  assert.equal(ws.readyState, ws.OPEN);
  ws.close();
});

test("a message that starts but never finishes is cut off (pre-join: within seconds)", async () => {
  const ws = await openRawWs(server.server.port, server.ca);
  const started = Date.now();
  ws.frameHeader(8 * 1024);
  ws.payload(Buffer.alloc(100, 0x61));
  await ws.closed;
  const took = Date.now() - started;
  assert.ok(took < 12_000, `cut after ${took} ms`);
});

test("connections over the per-address cap are closed at once; other addresses are not affected", async (t) => {
  const held = await Promise.all(Array.from({ length: 5 }, () => openIdleTcp(server.server.port, "127.0.0.7")));
  t.after(() => held.forEach((s) => s.destroy()));
  const sixth = await openIdleTcp(server.server.port, "127.0.0.7");
  await new Promise<void>((resolve) => sixth.once("close", () => resolve()));
  // Another address still gets in, and a participant joins.
  const meeting = await server.createMeeting("e2ee");
  const s = await joinSession(server, meeting, "Bob");
  t.after(() => s.leave());
  await waitForAgreement([s], 1);
});

test("connections over the total cap are closed at once, and accepted again once others close", async () => {
  const held = [];
  for (let i = 0; i < 8; i++) for (let j = 0; j < 5; j++) held.push(await openIdleTcp(server.server.port, `127.0.2.${i + 1}`));
  const over = await openIdleTcp(server.server.port, "127.0.3.1");
  await new Promise<void>((resolve) => over.once("close", () => resolve()));
  for (const s of held) s.destroy();
  // Once the server has seen them close, it accepts new connections again.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const again = await openRawWs(server.server.port, server.ca, "127.0.3.1");
      again.socket.destroy();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setImmediate(r));
    }
  }
});
