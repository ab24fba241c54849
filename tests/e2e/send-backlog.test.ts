/**
 * A member that stops reading but keeps its connection open (a frozen client, or one that wants
 * the server to hold everything sent to it): what waits unsent for it is capped. Past the cap the
 * server cuts that connection alone — a `send_backlog` line in the security log, the member leaves
 * the group — and everyone else goes on.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import { WebSocket } from "ws";
import { memoryLogger, type MemoryLogger } from "@conclave/server";
import { MeetingSession, type SignalingChannel } from "@conclave/client";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

const CAP = 256 * 1024;
let server: TestServer;
let log: MemoryLogger;

before(async () => {
  log = memoryLogger("info");
  // A long heartbeat: the cap, not the missing pongs, must be what cuts the reader off.
  server = await startTestServer({ logger: log, heartbeatMs: 600_000, maxSendBacklogBytes: CAP, relay: false });
});
after(() => server.close());

test("a member that stops reading is cut off once its unsent backlog passes the cap; the others carry on", async (t) => {
  const meeting = await server.createMeeting("e2ee", false);
  const senders: MeetingSession[] = [];
  t.after(() => senders.forEach((s) => s.leave()));
  for (const name of ["Ana", "Ben", "Cy", "Di", "Ed"]) senders.push(await joinSession(server, meeting, name, { media: false }));

  const ws = new WebSocket(server.wsUrl, { ca: server.ca });
  await once(ws, "open");
  const channel: SignalingChannel = {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    onMessage: (h) => ws.on("message", (data, isBinary) => void (isBinary || h(data.toString()))),
    onClose: (h) => ws.on("close", (code, reason) => h(code, reason.toString())),
  };
  const laggard = new MeetingSession({ meetingId: meeting.id, displayName: "Frozen", sframeCrypto: createNodeSFrameCrypto(), media: false });
  laggard.on("error", () => undefined);
  await laggard.join(channel);
  t.after(() => ws.terminate());
  await waitForAgreement([...senders, laggard], 6, 30_000);
  const frozenId = laggard.identity.memberId;

  // It stops reading at the TCP level; its socket stays open and the kernel buffers fill first.
  (ws as unknown as { _socket: Socket })._socket.pause();
  // Application messages at the size limit (the receivers refuse their content, which does not
  // matter here), within the per-member limit of 100 in 10 s: about 9.5 MB towards the laggard,
  // more than the kernel's socket buffers take.
  for (const s of senders) s.on("error", () => undefined);
  const bulk = new Uint8Array(15 * 1024).fill(7);
  let sent = 0;
  const flood = (async () => {
    for (let i = 0; i < 95; i++) {
      for (const s of senders) await s.sendApplicationBytes(bulk);
      sent += senders.length;
    }
  })();
  const cut = await waitFor("a send_backlog event", 60_000, (wake) => {
    const timer = setInterval(wake, 100);
    return () => clearInterval(timer);
  }, () => log.lines().find((l) => l.log === "security" && l.event === "send_backlog"));
  assert.equal(cut.joined, true);
  await flood.catch(() => undefined);
  t.diagnostic(`cut; ${sent} messages of 15 KiB were sent towards it`);

  // The laggard is gone from the group; the others agree on a new epoch and keep talking.
  const after = await waitForAgreement(senders, 5, 30_000);
  assert.ok(senders.every((s) => !s.groupMembers.some((m) => m.identity.memberId === frozenId)), "the frozen member left every group");
  const got = new Promise<string>((resolve) => senders[1]!.on("appMessage", (m) => m.message.type === "chat" && m.message.text === "still here" && resolve(m.message.text)));
  await senders[0]!.sendAppMessage({ v: 1, type: "chat", id: "after-cut", text: "still here" });
  assert.equal(await got, "still here");
  assert.ok(after.epoch > 0n);
});
