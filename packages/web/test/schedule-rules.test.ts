// What the scheduling form offers, from the person's effective settings (docs/api.md "Meetings
// within settings"): locked choices are refused with who locked them.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EffectiveSetting } from "../src/api/settings.js";
import { encryptionChoices, lockReason, toLocalInput, type Effective } from "../src/schedule-rules.js";

const plain = (value: boolean | string): EffectiveSetting => ({ value, source: "default", locked: false });
const lockedAt = (value: boolean | string, level: "account" | "group"): EffectiveSetting => ({ value, source: level, locked: true, lockedAt: level });

test("by default both encryptions are offered and E2EE is preselected", () => {
  const c = encryptionChoices({ allowE2ee: plain(true), defaultEncryption: plain("e2ee") });
  assert.deepEqual(c, { allowed: { e2ee: null, enhanced: null }, preferred: "e2ee" });
});

test("allowE2ee locked off: E2EE is refused, naming the level that locked it, and Enhanced is preselected", () => {
  const c = encryptionChoices({ allowE2ee: lockedAt(false, "account"), defaultEncryption: plain("e2ee") });
  assert.equal(c.allowed.e2ee, "End-to-end encryption is turned off: locked by your account admin.");
  assert.equal(c.allowed.enhanced, null);
  assert.equal(c.preferred, "enhanced");
});

test("allowE2ee off but not locked: E2EE is refused and the person's own setting is named", () => {
  const c = encryptionChoices({ allowE2ee: { value: false, source: "user", locked: false }, defaultEncryption: plain("e2ee") });
  assert.match(c.allowed.e2ee ?? "", /turned off in your settings/);
  assert.equal(c.preferred, "enhanced");
});

test("a locked default encryption is the only one offered", () => {
  const c = encryptionChoices({ allowE2ee: plain(true), defaultEncryption: lockedAt("enhanced", "group") });
  assert.equal(c.allowed.e2ee, "Locked by your group admin: every meeting uses enhanced encryption.");
  assert.equal(c.allowed.enhanced, null);
  assert.equal(c.preferred, "enhanced");
});

test("an unlocked default of enhanced is preselected, and E2EE is still offered", () => {
  const c = encryptionChoices({ allowE2ee: plain(true), defaultEncryption: plain("enhanced") } satisfies Effective);
  assert.deepEqual(c, { allowed: { e2ee: null, enhanced: null }, preferred: "enhanced" });
});

test("lockReason names the level holding the lock, and nothing for unlocked settings", () => {
  assert.equal(lockReason(lockedAt(true, "group")), "Locked by your group admin");
  assert.equal(lockReason(lockedAt(true, "account")), "Locked by your account admin");
  assert.equal(lockReason(plain(true)), null);
  assert.equal(lockReason(undefined), null);
});

test("toLocalInput renders a time for a datetime-local input in the local zone, and round-trips", () => {
  const local = toLocalInput("2030-05-04T10:00:00.000Z");
  assert.match(local, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
  assert.equal(new Date(local).toISOString(), "2030-05-04T10:00:00.000Z");
  assert.equal(toLocalInput(null), "");
  assert.equal(toLocalInput("not a time"), "");
});
