import { test } from "node:test";
import assert from "node:assert/strict";
import { fingerprintsEqual, normalizeFingerprint } from "../src/fingerprint.js";
import { isLoopbackHost, resolveTrust } from "../src/tls-trust.js";
import { isCliError } from "../src/errors.js";

test("fingerprints are accepted with or without colons, in any case, with a sha256: prefix", () => {
  const canonical = "AB:".repeat(31) + "AB";
  assert.equal(normalizeFingerprint("ab".repeat(32)), canonical);
  assert.equal(normalizeFingerprint(`sha256:${canonical.toLowerCase()}`), canonical);
  assert.equal(normalizeFingerprint(` ${canonical} `), canonical);
  assert.equal(normalizeFingerprint("ab".repeat(31)), undefined, "too short");
  assert.equal(normalizeFingerprint("zz".repeat(32)), undefined, "not hex");
  assert.ok(fingerprintsEqual(canonical, "ab".repeat(32)));
  assert.ok(!fingerprintsEqual(canonical, "ac".repeat(32)));
  assert.ok(!fingerprintsEqual("garbage", "garbage"));
});

test("loopback hosts are localhost, 127.0.0.0/8 and ::1 only", () => {
  for (const h of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]", "::1"]) assert.ok(isLoopbackHost(h), h);
  for (const h of ["localhost.example.org", "10.0.0.1", "example.org", "[::2]"]) assert.ok(!isLoopbackHost(h), h);
});

test("a remote server is trusted through the system CAs unless a flag says otherwise", () => {
  const remote = new URL("https://meet.example.org");
  assert.deepEqual(resolveTrust(remote, {}, "/nonexistent/cert.pem"), { kind: "system" });
  assert.deepEqual(resolveTrust(remote, { insecure: true }, "/nonexistent/cert.pem"), { kind: "insecure" });
  assert.equal(resolveTrust(remote, { fingerprint: "ab".repeat(32) }, "/x").kind, "fingerprint");
  assert.throws(
    () => resolveTrust(remote, { ca: "/nonexistent/ca.pem" }, "/x"),
    (e: unknown) => isCliError(e, "FILE_UNREADABLE"),
  );
  assert.throws(
    () => resolveTrust(remote, { insecure: true, ca: "/x" }, "/x"),
    (e: unknown) => isCliError(e, "USAGE") && /cannot be combined/.test(e.message),
  );
});
