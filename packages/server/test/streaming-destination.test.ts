// The live stream's destination as a host gives it: only rtmp:// and rtmps:// URLs without
// credentials, queries or fragments, and a stream key that cannot change the path ffmpeg publishes to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkStreamKey, displayNameFor, parseStreamUrl } from "../src/connectors/streaming-service.js";

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "none";
};

test("rtmp and rtmps URLs are accepted, normalised without a trailing slash, and say whether the leg is TLS", () => {
  assert.deepEqual(parseStreamUrl("rtmp://127.0.0.1:1935/live/"), { url: "rtmp://127.0.0.1:1935/live", destination: "rtmp://127.0.0.1:1935/live", tls: false });
  assert.equal(parseStreamUrl("rtmps://a.rtmps.youtube.com/live2").tls, true);
});

test("other schemes, credentials, queries, fragments and odd paths are refused with STREAM_URL_INVALID", () => {
  for (const bad of ["http://h/app", "rtmp://", "rtmp://u:p@h/app", "rtmp://h/app?key=1", "rtmp://h/app#x", "rtmp://h/a%20b", "not a url", 42, "", `rtmp://h/${"a".repeat(1100)}`]) {
    assert.equal(code(() => parseStreamUrl(bad)), "STREAM_URL_INVALID", String(bad));
  }
});

test("a stream key is printable ASCII without spaces, '/', '?' or '#', and never quoted back in the error", () => {
  assert.equal(checkStreamKey("live_1234-abcd.XYZ"), "live_1234-abcd.XYZ");
  for (const bad of ["", "a b", "a/b", "a?b", "a#b", "é", "x".repeat(513), undefined]) {
    assert.equal(code(() => checkStreamKey(bad)), "STREAM_URL_INVALID");
    try {
      checkStreamKey(bad);
    } catch (e) {
      if (typeof bad === "string" && bad.length > 1) assert.ok(!(e as Error).message.includes(bad));
    }
  }
});

test("the streaming member's name names the destination and fits a member name", () => {
  assert.equal(displayNameFor("rtmp://h/app"), "Live stream to rtmp://h/app");
  assert.equal(displayNameFor(`rtmp://${"h".repeat(100)}/app`).length, 64);
});
