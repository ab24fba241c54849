import { test } from "node:test";
import assert from "node:assert/strict";
import { MeetingSession, type SignalingChannel } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import type { TapPacket } from "@conclave/server";
import { startTestServer, joinBot, waitForAgreement, waitForMediaFromAll, waitFor } from "./support/harness.js";

test("a departed member that keeps its old state cannot decrypt anything sent 1 s or more after the commit that removed it", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const a = await joinBot(server, meeting, "Ada");
  const b = await joinBot(server, meeting, "Bob");
  t.after(() => [a, b].forEach((x) => x.leave()));

  // Mallory keeps her keys when her connection goes: her channel never reports the close.
  const inner = await connectNodeSignaling(server.wsUrl, { ca: server.ca });
  const channel: SignalingChannel = {
    send: (text) => inner.send(text),
    close: (code, reason) => inner.close(code, reason),
    onMessage: (h) => inner.onMessage(h),
    onClose: () => {},
  };
  const mallory = new MeetingSession({ meetingId: meeting.id, passcode: meeting.passcode!, displayName: "Mallory", sframeCrypto: createNodeSFrameCrypto() });
  await mallory.join(channel);
  const before = await waitForAgreement([a.session, b.session, mallory], 3, 20_000);
  await waitForMediaFromAll([a, b], 10);

  const tapped: { at: number; packet: TapPacket }[] = [];
  server.server.relay!.getRoom(meeting.id)!.setTap((packet) => {
    if (packet.kind === "audio") tapped.push({ at: Date.now(), packet });
  });
  await waitFor("audio before the removal", 10_000, (wake) => {
    const iv = setInterval(wake, 20);
    return () => clearInterval(iv);
  }, () => tapped.length >= 20);
  // While a member, Mallory reads the meeting (so the check below can fail).
  let readBefore = 0;
  for (const { packet } of tapped.splice(0)) {
    try {
      await mallory.unprotect("opus", packet.payload);
      readBefore++;
    } catch {
      // frames from before her epoch
    }
  }
  assert.ok(readBefore >= 10, `Mallory read ${readBefore} frames while a member`);

  // She vanishes; the others commit her removal.
  let commitAt = 0;
  const epochSeen = (e: { epoch: bigint }) => {
    if (e.epoch > before.epoch && commitAt === 0) commitAt = Date.now();
  };
  a.on("epoch", epochSeen);
  b.on("epoch", epochSeen);
  inner.close(4000, "gone");
  await waitForAgreement([a.session, b.session], 2, 5000, before.epoch + 1n);
  assert.ok(commitAt > 0);
  await waitFor("2.5 s of audio after the commit", 10_000, (wake) => {
    const iv = setInterval(wake, 50);
    return () => clearInterval(iv);
  }, () => tapped.some((x) => x.at >= commitAt + 2500));

  const late = tapped.filter((x) => x.at >= commitAt + 1000);
  assert.ok(late.length >= 50, `only ${late.length} late packets`);
  let readAfter = 0;
  for (const { packet } of late) {
    try {
      await mallory.unprotect("opus", packet.payload);
      readAfter++;
    } catch {
      // expected: unknown key or expired
    }
  }
  assert.equal(readAfter, 0, "Mallory decrypted frames sent after her removal");
  assert.equal(mallory.epoch, before.epoch, "Mallory still holds the old epoch's state");
  mallory.leave();
});
