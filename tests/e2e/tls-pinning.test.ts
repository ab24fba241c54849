// A Node participant that pins the server's certificate fingerprint: the right pin connects
// without any CA; a wrong pin is refused on every path (signaling, meeting lookup, file transfer)
// before anything is sent or read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connectNodeSignaling, fetchMeetingInfo, nodeFileTransport } from "@conclave/client/node";
import { startTestServer, type TestServer } from "./support/harness.js";

let t: TestServer;
let meeting: { id: string; passcode: string | null };
let pin: string;
const WRONG = "AB:".repeat(31) + "AB";

before(async () => {
  t = await startTestServer();
  meeting = await t.createMeeting("enhanced", false);
  pin = new X509Certificate(t.ca).fingerprint256;
});

after(() => t.close());

test("the right pinned fingerprint connects without a CA, in any spelling", async () => {
  const channel = await connectNodeSignaling(t.wsUrl, { fingerprint: pin });
  channel.close(1000, "done");
  const info = await fetchMeetingInfo(t.wsUrl, meeting.id, { fingerprint: pin.replace(/:/g, "").toLowerCase() });
  assert.equal(info.encryption, "enhanced");
});

test("a wrong pinned fingerprint is refused for signaling, meeting lookups and files", async () => {
  const mismatch = /does not match the pinned fingerprint/;
  await assert.rejects(connectNodeSignaling(t.wsUrl, { fingerprint: WRONG }), mismatch);
  await assert.rejects(fetchMeetingInfo(t.wsUrl, meeting.id, { fingerprint: WRONG }), mismatch);
  const files = nodeFileTransport(t.wsUrl.replace(/^wss:/, "https:").replace(/\/ws$/, "/"), { fingerprint: WRONG });
  await assert.rejects(files.download(meeting.id, "token", "file"), mismatch);
  // Without a pin or a CA, the self-signed certificate is not trusted at all.
  await assert.rejects(connectNodeSignaling(t.wsUrl, {}), /self[- ]signed|unable to verify|certificate/i);
});
