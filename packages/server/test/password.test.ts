import { test } from "node:test";
import assert from "node:assert/strict";
import { checkNewPassword, hashPassword, needsRehash, verifyPassword } from "../src/accounts/password.js";
import { isServerError } from "../src/errors.js";

test("a password hash is versioned scrypt with N=2^15, r=8, p=1 and a 16-byte salt", async () => {
  const hash = await hashPassword("correct horse battery");
  const m = /^\$scrypt\$v=1\$ln=15,r=8,p=1\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash);
  assert.ok(m, hash);
  assert.equal(Buffer.from(m[1]!, "base64url").length, 16);
  assert.equal(Buffer.from(m[2]!, "base64url").length, 32);
  assert.ok(!hash.includes("correct horse"));
});

test("the same password hashes differently each time (per-hash salt) and verifies against both", async () => {
  const [a, b] = await Promise.all([hashPassword("same password!"), hashPassword("same password!")]);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword("same password!", a), true);
  assert.equal(await verifyPassword("same password!", b), true);
});

test("a wrong password, a tampered hash or a malformed hash does not verify", async () => {
  const hash = await hashPassword("the right one 1");
  assert.equal(await verifyPassword("the right one 2", hash), false);
  assert.equal(await verifyPassword("", hash), false);
  const parts = hash.split("$");
  const tamperedHash = [...parts.slice(0, -1), Buffer.alloc(32, 1).toString("base64url")].join("$");
  assert.equal(await verifyPassword("the right one 1", tamperedHash), false);
  for (const bad of ["", "plain", hash.replace("v=1", "v=2"), hash.replace("ln=15", "ln=40"), hash.replace("ln=15", "ln=4"), `${hash}$x`]) {
    assert.equal(await verifyPassword("the right one 1", bad), false, bad);
  }
});

test("composed and decomposed forms of the same password verify alike (NFC)", async () => {
  const hash = await hashPassword("caf\u00e9 au lait!");
  assert.equal(await verifyPassword("cafe\u0301 au lait!", hash), true);
});

test("new passwords need at least 10 characters (WEAK_PASSWORD) and at most 1024", () => {
  assert.throws(() => checkNewPassword("123456789"), (e: unknown) => isServerError(e, "WEAK_PASSWORD"));
  assert.throws(() => checkNewPassword(""), (e: unknown) => isServerError(e, "WEAK_PASSWORD"));
  assert.doesNotThrow(() => checkNewPassword("1234567890"));
  assert.doesNotThrow(() => checkNewPassword("éééééééééé"));
  assert.throws(() => checkNewPassword("x".repeat(1025)), (e: unknown) => isServerError(e, "BAD_REQUEST"));
});

test("hashes with today's parameters need no rehash; weaker or unreadable ones do", async () => {
  const hash = await hashPassword("some password");
  assert.equal(needsRehash(hash), false);
  assert.equal(needsRehash(hash.replace("ln=15", "ln=14")), true);
  assert.equal(needsRehash("garbage"), true);
});
