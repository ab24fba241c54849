// Concurrency of the SFrame contexts: counters reserved before any await, one winner when the
// same frame is decrypted twice at once, and key changes that race with key derivation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SFrameCipherSuiteId, SFrameDecryptor, SFrameEncryptor, decodeSFrameHeader, isProtocolError } from "../src/index.js";
import { BACKENDS, rejectsWithCode, testBytes } from "./sframe-support.js";

const GCM = SFrameCipherSuiteId.AES_128_GCM_SHA256_128;
const KID = 42n;
const BASE_KEY = testBytes(32, 11);

for (const crypto of BACKENDS) {
  const name = (s: string): string => `[${crypto.name}] ${s}`;

  test(name("200 concurrent encrypts get 200 distinct, consecutive counters"), async () => {
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto });
    const frames = await Promise.all(Array.from({ length: 200 }, (_, i) => encryptor.encrypt(testBytes(64, i))));
    const counters = frames.map((f) => decodeSFrameHeader(f).ctr).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(counters, Array.from({ length: 200 }, (_, i) => BigInt(i)));
    // The counter was taken synchronously: call order is counter order.
    assert.deepEqual(frames.map((f) => decodeSFrameHeader(f).ctr), counters);
  });

  test(name("concurrent encrypts past the maximum counter: the rest fail, none reuses a counter"), async () => {
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto, maxCounter: 9n });
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => encryptor.encrypt(testBytes(16))));
    const ok = results.filter((r) => r.status === "fulfilled").map((r) => decodeSFrameHeader((r as PromiseFulfilledResult<Uint8Array>).value).ctr);
    const failed = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as unknown);
    assert.deepEqual(ok, Array.from({ length: 10 }, (_, i) => BigInt(i)));
    assert.equal(failed.length, 15);
    for (const e of failed) assert.ok(isProtocolError(e, "SFRAME_COUNTER_EXHAUSTED"));
  });

  test(name("the same frame decrypted twice at once is accepted exactly once"), async () => {
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto });
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto });
    await decryptor.setKey(KID, BASE_KEY);
    const frame = await encryptor.encrypt(testBytes(500));
    const results = await Promise.allSettled([decryptor.decrypt(frame), decryptor.decrypt(frame), decryptor.decrypt(frame)]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(isProtocolError(r.reason, "SFRAME_REPLAY"));
    }
  });

  test(name("a deleteKey issued while setKey is still deriving wins"), async () => {
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto });
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto });
    const pending = decryptor.setKey(KID, BASE_KEY);
    assert.equal(decryptor.deleteKey(KID), true);
    await pending;
    assert.equal(decryptor.hasKey(KID), false);
    await rejectsWithCode(decryptor.decrypt(await encryptor.encrypt(testBytes(8))), "SFRAME_UNKNOWN_KID");
  });

  test(name("of two overlapping setKey calls for one KID, the later one's key is installed"), async () => {
    const newer = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: testBytes(32, 12), crypto });
    const older = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto, initialCounter: 100n });
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto });
    await Promise.all([decryptor.setKey(KID, BASE_KEY), decryptor.setKey(KID, testBytes(32, 12))]);
    assert.deepEqual((await decryptor.decrypt(await newer.encrypt(testBytes(8)))).plaintext, testBytes(8));
    await rejectsWithCode(decryptor.decrypt(await older.encrypt(testBytes(8))), "SFRAME_BAD_TAG");
  });
}
