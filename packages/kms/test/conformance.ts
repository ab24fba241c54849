/**
 * The behaviour every master-key back end must have, run against each real back end (key file,
 * SoftHSM token, PyKMIP server): round trip, wrong AAD fails, altered blob fails, another
 * master key fails, rotation keeps everything readable, shredding makes an object unreadable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KeyManager, MemoryAuditLog, MemoryKeyStore, isKmsError, open, seal, type MasterKeyBackend } from "../src/index.js";

export interface ConformanceSubject {
  /** The back end under test (shared by the tests of one file). */
  backend(): MasterKeyBackend;
  /** A back end of the same kind holding a different master key. */
  otherBackend(): MasterKeyBackend;
}

export function backendConformance(name: string, subject: ConformanceSubject): void {
  test(`${name}: a wrapped data key unwraps to the same bytes with the same AAD`, async () => {
    const b = subject.backend();
    const key = randomBytes(32);
    const aad = Buffer.from("meeting/1");
    const wrapped = await b.wrap(key, aad);
    assert.ok(!Buffer.from(wrapped.blob).includes(key), "the blob does not contain the key");
    assert.deepEqual(Buffer.from(await b.unwrap(wrapped, aad)), key);
  });

  test(`${name}: unwrapping with another AAD fails with KMS_DECRYPT_FAILED`, async () => {
    const b = subject.backend();
    const wrapped = await b.wrap(randomBytes(32), Buffer.from("meeting/1"));
    await assert.rejects(b.unwrap(wrapped, Buffer.from("meeting/2")), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  });

  test(`${name}: an altered wrapped key fails with KMS_DECRYPT_FAILED`, async () => {
    const b = subject.backend();
    const aad = Buffer.from("a");
    const wrapped = await b.wrap(randomBytes(32), aad);
    for (const at of [wrapped.blob.length - 1, wrapped.blob.length >> 1]) {
      const blob = Buffer.from(wrapped.blob);
      blob[at]! ^= 0x01;
      await assert.rejects(b.unwrap({ ...wrapped, blob }, aad), (e) => isKmsError(e, "KMS_DECRYPT_FAILED") || isKmsError(e, "KMS_BAD_FORMAT"));
    }
  });

  test(`${name}: a back end with a different master key cannot unwrap`, async () => {
    const wrapped = await subject.backend().wrap(randomBytes(32), Buffer.from("x"));
    await assert.rejects(subject.otherBackend().unwrap(wrapped, Buffer.from("x")), (e) =>
      isKmsError(e, "KMS_MASTER_KEY_NOT_FOUND") || isKmsError(e, "KMS_DECRYPT_FAILED"),
    );
    const forged = { ...wrapped, masterKeyId: (await subject.otherBackend().status()).currentMasterKeyId };
    await assert.rejects(subject.otherBackend().unwrap(forged, Buffer.from("x")), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  });

  test(`${name}: after rotation every object stays readable and new data keys use the new master key`, async () => {
    const b = subject.backend();
    const store = new MemoryKeyStore();
    const audit = new MemoryAuditLog();
    const km = new KeyManager({ backend: b, store, audit, cacheTtlMs: 0 });
    const objects = [1, 2, 3].map((i) => ({ kind: "meeting", id: `rot-${i}-${randomBytes(3).toString("hex")}` }));
    const sealed = await Promise.all(objects.map(async (o) => seal(await km.keyFor(o, "test"), "topic", `topic ${o.id}`)));
    const before = (await b.status()).currentMasterKeyId;
    const report = await km.rotate("test");
    assert.notEqual(report.currentMasterKeyId, before);
    assert.equal(report.rewrapped, 3);
    assert.deepEqual(report.failed, []);
    assert.deepEqual(store.countByMasterKey(), { [report.currentMasterKeyId]: 3 });
    for (const [i, o] of objects.entries()) {
      assert.equal(open(await km.existingKey(o, "test"), "topic", sealed[i]!).toString(), `topic ${o.id}`);
    }
    const fresh = { kind: "meeting", id: `rot-new-${randomBytes(3).toString("hex")}` };
    await km.keyFor(fresh, "test");
    assert.equal(store.get(fresh)?.wrapped.masterKeyId, report.currentMasterKeyId);
    assert.ok(audit.entries.some((e) => e.action === "rotate"));
    assert.equal(audit.entries.filter((e) => e.action === "rewrap" && e.outcome === "ok").length, 3);
  });

  test(`${name}: a shredded object cannot be read and a second shred finds nothing`, async () => {
    const km = new KeyManager({ backend: subject.backend(), store: new MemoryKeyStore() });
    const o = { kind: "recording", id: `shred-${randomBytes(3).toString("hex")}` };
    const sealed = seal(await km.keyFor(o, "test"), "body", "secret words");
    assert.equal(await km.shred(o, "test"), true);
    await assert.rejects(km.existingKey(o, "test"), (e) => isKmsError(e, "KMS_KEY_SHREDDED"));
    assert.equal(await km.shred(o, "test"), false);
    // A new key for the same object cannot open the old ciphertext either.
    await assert.rejects(async () => open(await km.keyFor(o, "test"), "body", sealed), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  });
}
