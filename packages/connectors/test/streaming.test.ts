// The streaming connector's ffmpeg side: the key goes into the publishing URL and nowhere else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { publishUrl, redact } from "../src/connectors/streaming/rtmp-publisher.js";
import { serverToStreamerSchema } from "../src/connectors/streaming/messages.js";

test("the publishing URL is the application URL with the key as the stream name", () => {
  assert.equal(publishUrl("rtmp://h:1935/live", "k1"), "rtmp://h:1935/live/k1");
  assert.equal(publishUrl("rtmp://h:1935/live/", "k1"), "rtmp://h:1935/live/k1");
});

test("ffmpeg's error lines are redacted: the key, as is or URL-encoded, never survives", () => {
  const key = "se cr+et/é";
  const line = `rtmp://h/live/${key}: Connection refused; ${encodeURIComponent(key)}; ${encodeURI(key)}`;
  const out = redact(line, key);
  assert.ok(!out.includes(key) && !out.includes(encodeURIComponent(key)) && !out.includes(encodeURI(key)), out);
  assert.match(out, /\[stream key\]: Connection refused/);
});

test("the server's start message is checked: only rtmp(s) URLs and a stream data key", () => {
  const base = {
    type: "stream",
    streamId: "a".repeat(32),
    signalingUrl: "wss://127.0.0.1:1/ws",
    meetingId: "12345678901",
    ticket: "t".repeat(43),
    displayName: "Live stream to rtmp://h/app",
    url: "rtmp://h/app",
    sealedStreamKey: "AAAA",
    key: { id: "b".repeat(32), kind: "stream", objectId: "a".repeat(32), key: `${"A".repeat(43)}=` },
  };
  assert.ok(serverToStreamerSchema.safeParse(base).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, url: "file:///etc/passwd" }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, key: { ...base.key, kind: "recording" } }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, streamKey: "clear" }).success, "no clear key field");
});
