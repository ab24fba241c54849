// The app's addresses: /m/<id> is a meeting, everything else lives in the fragment of /.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRoute } from "../src/routes.js";

test("a meeting path is a meeting, whatever its fragment (the passcode)", () => {
  assert.deepEqual(parseRoute("/m/12345678901", "#pwd=abc"), { kind: "meeting", id: "12345678901" });
  assert.deepEqual(parseRoute("/m/12345678901/", ""), { kind: "meeting", id: "12345678901" });
});

test("the start page, sign-in, and the fragments that carry secrets", () => {
  assert.deepEqual(parseRoute("/", ""), { kind: "start", signIn: false });
  assert.deepEqual(parseRoute("/", "#token=secret"), { kind: "start", signIn: false });
  assert.deepEqual(parseRoute("/", "#/signin"), { kind: "start", signIn: true });
  assert.deepEqual(parseRoute("/", "#invite=abc_DEF-123"), { kind: "invite", token: "abc_DEF-123" });
  assert.deepEqual(parseRoute("/", "#invite="), { kind: "start", signIn: false });
});

test("signed-in pages and the admin portal", () => {
  assert.deepEqual(parseRoute("/", "#/meetings"), { kind: "meetings" });
  assert.deepEqual(parseRoute("/", "#/settings"), { kind: "settings" });
  assert.deepEqual(parseRoute("/", "#/admin/settings"), { kind: "admin-settings", level: { kind: "account" } });
  assert.deepEqual(parseRoute("/", "#/admin"), { kind: "admin-settings", level: { kind: "account" } });
  assert.deepEqual(parseRoute("/", "#/admin/settings/group/g%201"), { kind: "admin-settings", level: { kind: "group", id: "g 1" } });
  assert.deepEqual(parseRoute("/", "#/admin/settings/user/u1"), { kind: "admin-settings", level: { kind: "user", id: "u1" } });
  assert.deepEqual(parseRoute("/", "#/admin/settings/other/u1"), { kind: "admin-settings", level: { kind: "account" } });
  assert.deepEqual(parseRoute("/", "#/admin/users"), { kind: "admin-users" });
  assert.deepEqual(parseRoute("/", "#/admin/groups"), { kind: "admin-groups" });
  assert.deepEqual(parseRoute("/", "#/admin/groups/abc"), { kind: "admin-group", id: "abc" });
  assert.deepEqual(parseRoute("/", "#/admin/meetings"), { kind: "admin-meetings" });
});

test("unknown pages fall back to the start page, and a malformed escape does not throw", () => {
  assert.deepEqual(parseRoute("/", "#/nowhere"), { kind: "start", signIn: false });
  assert.deepEqual(parseRoute("/", "#/admin/groups/%E0%A4%A"), { kind: "admin-group", id: "%E0%A4%A" });
});

test("any other path is not found; a malformed meeting link is called one", () => {
  assert.deepEqual(parseRoute("/m/hello-world", ""), { kind: "not-found", meetingLink: true });
  assert.deepEqual(parseRoute("/m/123", "#pwd=x"), { kind: "not-found", meetingLink: true });
  assert.deepEqual(parseRoute("/m/12345678901/extra", ""), { kind: "not-found", meetingLink: true });
  assert.deepEqual(parseRoute("/foo/bar", ""), { kind: "not-found", meetingLink: false });
  assert.deepEqual(parseRoute("/index.html", ""), { kind: "start", signIn: false });
});
