import { test } from "node:test";
import assert from "node:assert/strict";
import { clearPrefixLength, MediaKeyRing, MlsSession, isProtocolError } from "@conclave/protocol";
import type { TapPacket } from "@conclave/server";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { NodeMediaTransport, SyntheticMedia, type ReceivedFrame } from "@conclave/client/node";
import { startTestServer, joinBot, waitForMediaFromAll, waitFor } from "./support/harness.js";

/** Every 16-byte window (at 8-byte steps) of the encrypted part of each plaintext frame. */
function plaintextWindows(): Set<string> {
  const media = SyntheticMedia.load();
  const windows = new Set<string>();
  const add = (codec: "vp8" | "opus", frame: Uint8Array) => {
    const body = frame.subarray(clearPrefixLength(codec, frame));
    for (let i = 0; i + 16 <= body.length; i += 8) windows.add(Buffer.from(body.subarray(i, i + 16)).toString("hex"));
  };
  media.videoFrames.forEach((f) => add("vp8", f));
  media.audioFrames.forEach((f) => add("opus", f));
  return windows;
}

function containsAnyWindow(payload: Uint8Array, windows: Set<string>): boolean {
  for (let i = 0; i + 16 <= payload.length; i++) {
    if (windows.has(Buffer.from(payload.subarray(i, i + 16)).toString("hex"))) return true;
  }
  return false;
}

test("the relay forwards only ciphertext: no forwarded payload contains plaintext media", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const tapped: TapPacket[] = [];
  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob")];
  t.after(() => bots.forEach((b) => b.leave()));
  await waitFor("the relay room", 10_000, (wake) => {
    const offs = bots.map((b) => b.on("epoch", wake));
    return () => offs.forEach((o) => o());
  }, () => server.server.relay?.getRoom(meeting.id));
  server.server.relay!.getRoom(meeting.id)!.setTap((p) => tapped.push(p));
  await waitForMediaFromAll(bots, 60);

  const windows = plaintextWindows();
  assert.ok(windows.size > 1000);
  const audio = tapped.filter((p) => p.kind === "audio");
  const video = tapped.filter((p) => p.kind === "video");
  assert.ok(audio.length > 20 && video.length > 20, `tapped ${audio.length} audio and ${video.length} video packets`);
  for (const p of tapped) assert.ok(!containsAnyWindow(p.payload, windows), `a ${p.kind} payload contains plaintext`);
  // The check can fail: the same scan finds plaintext when it is there.
  const leaked = SyntheticMedia.load().videoFrames[5]!;
  assert.ok(containsAnyWindow(leaked, windows));
});

test("a subscriber without the group's keys receives the media but decrypts none of it", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob")];
  t.after(() => bots.forEach((b) => b.leave()));
  await waitForMediaFromAll(bots, 10);

  // An observer attached straight to the relay room (as a compromised server could do), with keys
  // from an MLS group of its own.
  const room = server.server.relay!.getRoom(meeting.id)!;
  const peer = room.addPeer("observer");
  const transport = new NodeMediaTransport();
  t.after(() => {
    void transport.close();
    peer.close();
  });
  peer.on("subscribeOffer", (o) => void transport.handleSubscribeOffer(o.sdp, o.tracks).then((a) => peer.handleSubscribeAnswer(a)));
  peer.on("localCandidate", (c) => void transport.addRemoteCandidate(c.pc, c.candidate, c.mid));
  transport.on("localCandidate", (c) => void peer.addIceCandidate(c.pc, c.candidate, c.mid));
  const received: ReceivedFrame[] = [];
  transport.on("frame", (f) => received.push(f));

  const ownGroup = await MlsSession.create(new TextEncoder().encode("observer"), { kind: "person", memberId: "observer", displayName: "Observer" });
  const keys = MediaKeyRing.create({ crypto: createNodeSFrameCrypto() });
  await keys.advance(ownGroup);

  await waitFor("the observer to receive 50 frames", 20_000, (wake) => {
    transport.on("frame", wake);
    return () => transport.off("frame", wake);
  }, () => received.length >= 50);
  let decrypted = 0;
  for (const f of received) {
    try {
      await keys.unprotect(f.kind === "audio" ? "opus" : "vp8", f.frame);
      decrypted++;
    } catch (e) {
      assert.ok(isProtocolError(e), String(e));
    }
  }
  assert.equal(decrypted, 0);
  await ownGroup.close();
});
