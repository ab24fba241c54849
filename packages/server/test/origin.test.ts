import { test } from "node:test";
import assert from "node:assert/strict";
import { sameOrigin } from "../src/conclave.js";

test("a WebSocket Origin must be this server's exact origin: https, its host and its port", () => {
  assert.equal(sameOrigin("https://meet.example.org:8443", "meet.example.org:8443"), true);
  assert.equal(sameOrigin("https://meet.example.org", "meet.example.org"), true);
  assert.equal(sameOrigin("https://meet.example.org", "meet.example.org:443"), true, "the default port is the same origin");
  assert.equal(sameOrigin("http://meet.example.org:8443", "meet.example.org:8443"), false, "another scheme");
  assert.equal(sameOrigin("https://meet.example.org:9443", "meet.example.org:8443"), false, "another port");
  assert.equal(sameOrigin("https://evil.example", "meet.example.org:8443"), false, "another host");
  assert.equal(sameOrigin("https://meet.example.org.evil.example:8443", "meet.example.org:8443"), false);
  assert.equal(sameOrigin("null", "meet.example.org:8443"), false, "an opaque origin");
  assert.equal(sameOrigin("https://meet.example.org:8443/path", "meet.example.org:8443"), false, "not an origin");
  assert.equal(sameOrigin("https://meet.example.org:8443", undefined), false);
  assert.equal(sameOrigin("https://meet.example.org", "10.0.0.5:8443", "https://meet.example.org"), true, "the public URL's origin");
  assert.equal(sameOrigin("https://meet.example.org", "meet.example.org/x"), false, "a malformed Host allows nothing");
});
