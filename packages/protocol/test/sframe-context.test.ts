// SFrameEncryptor and SFrameDecryptor behaviour (RFC 9605 §4.4): authentication, replay,
// counter ownership, key expiry and opacity, on every back end and every suite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  SFRAME_CIPHER_SUITES,
  SFRAME_MAX_VALUE,
  SFrameCipherSuiteId,
  SFrameDecryptor,
  SFrameEncryptor,
  bytesToHex,
  decodeSFrameHeader,
  encodeSFrameHeader,
  parseSFrame,
  type SFrameCrypto,
} from "../src/index.js";
import { SFrameKey } from "../src/sframe/key.js";
import { BACKENDS, rejectsWithCode, testBytes, throwsWithCode } from "./sframe-support.js";

const GCM = SFrameCipherSuiteId.AES_128_GCM_SHA256_128;
const BASE_KEY = testBytes(32, 7);
const KID = 0x1234n;

async function pair(crypto: SFrameCrypto, suite: number = GCM, extra: { maxCounter?: bigint; initialCounter?: bigint } = {}) {
  const encryptor = await SFrameEncryptor.create({ suite, kid: KID, baseKey: BASE_KEY, crypto, ...extra });
  const decryptor = new SFrameDecryptor({ suite, crypto });
  await decryptor.setKey(KID, BASE_KEY);
  return { encryptor, decryptor };
}

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const copy = bytes.slice();
  copy[index]! ^= mask;
  return copy;
}

for (const crypto of BACKENDS) {
  const name = (s: string): string => `[${crypto.name}] ${s}`;

  test(name("every suite round-trips frames from 0 to 3000 bytes, with and without metadata"), async () => {
    for (const suite of SFRAME_CIPHER_SUITES) {
      const { encryptor, decryptor } = await pair(crypto, suite.id);
      for (const size of [0, 1, 15, 16, 17, 1200, 3000]) {
        const plaintext = testBytes(size, size);
        const metadata = size % 2 ? testBytes(5, 9) : new Uint8Array(0);
        const frame = await encryptor.encrypt(plaintext, metadata);
        const { headerLength } = decodeSFrameHeader(frame);
        assert.equal(frame.length, headerLength + size + suite.Nt, suite.name);
        const result = await decryptor.decrypt(frame, metadata);
        assert.deepEqual(result.plaintext, plaintext, `${suite.name} size ${size}`);
        assert.equal(result.kid, KID);
      }
    }
  });

  test(name("the first frame carries CTR 0 and each frame the next counter"), async () => {
    const { encryptor } = await pair(crypto);
    for (let i = 0n; i < 10n; i++) {
      assert.equal(encryptor.nextCounter, i);
      const frame = await encryptor.encrypt(testBytes(8));
      assert.deepEqual(decodeSFrameHeader(frame), { kid: KID, ctr: i, headerLength: encodeSFrameHeader({ kid: KID, ctr: i }).length });
    }
  });

  test(name("identical plaintext frames encrypt to different ciphertexts, with no repeated blocks (not ECB)"), async () => {
    const { encryptor } = await pair(crypto);
    const block = testBytes(16, 3);
    const plaintext = new Uint8Array(16 * 64);
    for (let i = 0; i < 64; i++) plaintext.set(block, i * 16);
    const a = await encryptor.encrypt(plaintext);
    const b = await encryptor.encrypt(plaintext);
    const bodyA = a.subarray(decodeSFrameHeader(a).headerLength);
    const bodyB = b.subarray(decodeSFrameHeader(b).headerLength);
    assert.notEqual(bytesToHex(bodyA), bytesToHex(bodyB));
    // Identical plaintext blocks inside one frame must not give identical ciphertext blocks.
    const blocks = new Set<string>();
    for (let i = 0; i < 64; i++) blocks.add(bytesToHex(bodyA.subarray(i * 16, i * 16 + 16)));
    assert.equal(blocks.size, 64);
  });

  for (const suite of SFRAME_CIPHER_SUITES) {
    test(name(`${suite.name}: a frame with an altered header, ciphertext, tag or metadata fails with SFRAME_BAD_TAG`), async () => {
      const { encryptor, decryptor } = await pair(crypto, suite.id, { initialCounter: 0x100n });
      const metadata = testBytes(6, 4);
      const frame = await encryptor.encrypt(testBytes(100, 5), metadata);
      const h = decodeSFrameHeader(frame).headerLength;
      // Header: flip the CTR's low bit (KID unchanged, so the key is found; nonce and AAD differ).
      await rejectsWithCode(decryptor.decrypt(flip(frame, h - 1), metadata), "SFRAME_BAD_TAG");
      await rejectsWithCode(decryptor.decrypt(flip(frame, h + 10), metadata), "SFRAME_BAD_TAG"); // ciphertext
      await rejectsWithCode(decryptor.decrypt(flip(frame, frame.length - 1, 0x80), metadata), "SFRAME_BAD_TAG"); // tag
      await rejectsWithCode(decryptor.decrypt(frame, flip(metadata, 0)), "SFRAME_BAD_TAG"); // metadata
      await rejectsWithCode(decryptor.decrypt(frame), "SFRAME_BAD_TAG"); // metadata missing
      await rejectsWithCode(decryptor.decrypt(frame, new Uint8Array([...metadata, 0])), "SFRAME_BAD_TAG");
      // A frame for the same KID under a different base key.
      const other = await SFrameEncryptor.create({ suite: suite.id, kid: KID, baseKey: testBytes(32, 99), crypto, initialCounter: 0x200n });
      await rejectsWithCode(decryptor.decrypt(await other.encrypt(testBytes(100, 5), metadata), metadata), "SFRAME_BAD_TAG");
      // None of that moved the replay window: the genuine frame still decrypts, once.
      const ok = await decryptor.decrypt(frame, metadata);
      assert.deepEqual(ok.plaintext, testBytes(100, 5));
      await rejectsWithCode(decryptor.decrypt(frame, metadata), "SFRAME_REPLAY");
    });

    test(name(`${suite.name}: a frame shorter than its tag fails with SFRAME_CIPHERTEXT_TOO_SHORT`), async () => {
      const { encryptor, decryptor } = await pair(crypto, suite.id);
      const frame = await encryptor.encrypt(new Uint8Array(0));
      const h = decodeSFrameHeader(frame).headerLength;
      assert.equal(frame.length, h + suite.Nt);
      await rejectsWithCode(decryptor.decrypt(frame.subarray(0, frame.length - 1)), "SFRAME_CIPHERTEXT_TOO_SHORT");
      await rejectsWithCode(decryptor.decrypt(frame.subarray(0, h)), "SFRAME_CIPHERTEXT_TOO_SHORT");
    });
  }

  test(name("a replayed frame fails with SFRAME_REPLAY"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const frame = await encryptor.encrypt(testBytes(50));
    await decryptor.decrypt(frame);
    await rejectsWithCode(decryptor.decrypt(frame), "SFRAME_REPLAY");
  });

  test(name("frames arriving out of order within the window are accepted once each"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const frames = [];
    for (let i = 0; i < 20; i++) frames.push(await encryptor.encrypt(testBytes(10, i)));
    const order = [19, 3, 0, 18, 7, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
    for (const i of order) assert.equal((await decryptor.decrypt(frames[i]!)).ctr, BigInt(i));
    for (const i of order) await rejectsWithCode(decryptor.decrypt(frames[i]!), "SFRAME_REPLAY");
  });

  test(name("a frame older than the replay window fails with SFRAME_REPLAY, one just inside is accepted"), async () => {
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto });
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto, replayWindowSize: 64 });
    await decryptor.setKey(KID, BASE_KEY);
    const frames = [];
    for (let i = 0; i <= 100; i++) frames.push(await encryptor.encrypt(testBytes(4, i)));
    await decryptor.decrypt(frames[100]!);
    await rejectsWithCode(decryptor.decrypt(frames[36]!), "SFRAME_REPLAY"); // 100 - 36 = 64: outside
    assert.equal((await decryptor.decrypt(frames[37]!)).ctr, 37n); // 63 behind: inside
  });

  test(name("the default replay window is 1024 counters wide"), async () => {
    const { encryptor, decryptor } = await pair(crypto, GCM, { initialCounter: 0n });
    assert.equal(decryptor.replayWindowSize, 1024);
    const first = await encryptor.encrypt(testBytes(4));
    const second = await encryptor.encrypt(testBytes(4));
    const later = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto, initialCounter: 1024n });
    await decryptor.decrypt(await later.encrypt(testBytes(4))); // highest = 1024
    await rejectsWithCode(decryptor.decrypt(first), "SFRAME_REPLAY"); // 1024 behind: outside
    assert.equal((await decryptor.decrypt(second)).ctr, 1n); // 1023 behind: the oldest still inside
  });

  test(name("a forged frame with a far-ahead CTR does not move the replay window"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const genuine = await encryptor.encrypt(testBytes(30));
    // Same KID, CTR 1,000,000, random body: fails authentication.
    const forged = new Uint8Array([...encodeSFrameHeader({ kid: KID, ctr: 1_000_000n }), ...testBytes(46, 8)]);
    await rejectsWithCode(decryptor.decrypt(forged), "SFRAME_BAD_TAG");
    // Had the window moved to 1,000,000, CTR 0 would now be too old.
    assert.equal((await decryptor.decrypt(genuine)).ctr, 0n);
  });

  test(name("the encryptor refuses to go past its maximum counter and never reuses one"), async () => {
    const { encryptor } = await pair(crypto, GCM, { maxCounter: 2n });
    const counters = [];
    for (let i = 0; i < 3; i++) counters.push(decodeSFrameHeader(await encryptor.encrypt(testBytes(8))).ctr);
    assert.deepEqual(counters, [0n, 1n, 2n]);
    assert.equal(encryptor.exhausted, true);
    await rejectsWithCode(encryptor.encrypt(testBytes(8)), "SFRAME_COUNTER_EXHAUSTED");
    await rejectsWithCode(encryptor.encrypt(testBytes(8)), "SFRAME_COUNTER_EXHAUSTED");
    await rejectsWithCode(encryptor.encryptInto(testBytes(8), new Uint8Array(64)), "SFRAME_COUNTER_EXHAUSTED");
    assert.equal(encryptor.nextCounter, 3n);
  });

  test(name("CTR 2^64-1 is usable once, then the encryptor is exhausted"), async () => {
    const { encryptor, decryptor } = await pair(crypto, GCM, { initialCounter: SFRAME_MAX_VALUE });
    const frame = await encryptor.encrypt(testBytes(8));
    assert.equal((await decryptor.decrypt(frame)).ctr, SFRAME_MAX_VALUE);
    await rejectsWithCode(encryptor.encrypt(testBytes(8)), "SFRAME_COUNTER_EXHAUSTED");
  });

  test(name("a counter beyond 2^64-1 cannot be configured"), async () => {
    await rejectsWithCode(SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto, maxCounter: SFRAME_MAX_VALUE + 1n }), "SFRAME_VALUE_TOO_LARGE");
    await rejectsWithCode(SFrameEncryptor.create({ suite: GCM, kid: SFRAME_MAX_VALUE + 1n, baseKey: BASE_KEY, crypto }), "SFRAME_VALUE_TOO_LARGE");
  });

  test(name("a key past its notAfter time fails with SFRAME_KEY_EXPIRED, on the injected clock"), async () => {
    let clock = 1_000;
    const encryptor = await SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto });
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto, now: () => clock });
    await decryptor.setKey(KID, BASE_KEY, { notAfter: 2_000 });
    clock = 2_000; // at notAfter: still accepted
    await decryptor.decrypt(await encryptor.encrypt(testBytes(8)));
    clock = 2_001;
    await rejectsWithCode(decryptor.decrypt(await encryptor.encrypt(testBytes(8))), "SFRAME_KEY_EXPIRED");
    // The deadline can be moved, or lifted.
    decryptor.setKeyNotAfter(KID, 5_000);
    await decryptor.decrypt(await encryptor.encrypt(testBytes(8)));
    decryptor.setKeyNotAfter(KID, 100);
    await rejectsWithCode(decryptor.decrypt(await encryptor.encrypt(testBytes(8))), "SFRAME_KEY_EXPIRED");
    decryptor.setKeyNotAfter(KID, undefined);
    await decryptor.decrypt(await encryptor.encrypt(testBytes(8)));
    throwsWithCode(() => decryptor.setKeyNotAfter(99n, 0), "SFRAME_UNKNOWN_KID");
  });

  test(name("a frame for an unknown or deleted KID fails with SFRAME_UNKNOWN_KID"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const stranger = await SFrameEncryptor.create({ suite: GCM, kid: 5n, baseKey: BASE_KEY, crypto });
    await rejectsWithCode(decryptor.decrypt(await stranger.encrypt(testBytes(8))), "SFRAME_UNKNOWN_KID");
    const frame = await encryptor.encrypt(testBytes(8));
    assert.equal(decryptor.hasKey(KID), true);
    assert.equal(decryptor.deleteKey(KID), true);
    assert.equal(decryptor.deleteKey(KID), false);
    assert.equal(decryptor.hasKey(KID), false);
    await rejectsWithCode(decryptor.decrypt(frame), "SFRAME_UNKNOWN_KID");
  });

  test(name("one decryptor holds keys for many KIDs, each with its own replay window"), async () => {
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto });
    const senders = [];
    for (const kid of [0n, 7n, 8n, 300n, SFRAME_MAX_VALUE]) {
      const baseKey = testBytes(16, Number(kid % 251n));
      await decryptor.setKey(kid, baseKey);
      senders.push(await SFrameEncryptor.create({ suite: GCM, kid, baseKey, crypto }));
    }
    for (const sender of senders) {
      const result = await decryptor.decrypt(await sender.encrypt(testBytes(20)));
      assert.equal(result.kid, sender.kid);
      assert.equal(result.ctr, 0n); // CTR 0 accepted for every KID
    }
  });

  test(name("a caller can read the KID from the header first, then decrypt the parsed frame"), async () => {
    const { encryptor } = await pair(crypto);
    const decryptor = new SFrameDecryptor({ suite: GCM, crypto });
    const frame = await encryptor.encrypt(testBytes(40), testBytes(3));
    const parsed = parseSFrame(frame);
    assert.equal(parsed.kid, KID);
    assert.equal(parsed.ctr, 0n);
    assert.equal(decryptor.hasKey(parsed.kid), false);
    await rejectsWithCode(decryptor.decryptParsed(parsed, testBytes(3)), "SFRAME_UNKNOWN_KID");
    await decryptor.setKey(parsed.kid, BASE_KEY); // e.g. after fetching the key for this KID
    const result = await decryptor.decryptParsed(parsed, testBytes(3));
    assert.deepEqual(result.plaintext, testBytes(40));
    await rejectsWithCode(decryptor.decryptParsed({ ...parsed } as typeof parsed), "INVALID_ARGUMENT");
  });

  test(name("encryptInto writes the same kind of frame into a caller buffer"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const plaintext = testBytes(1200);
    const output = new Uint8Array(encryptor.maxFrameLength(plaintext.length));
    const frame = await encryptor.encryptInto(plaintext, output, testBytes(2));
    assert.equal(frame.buffer, output.buffer);
    assert.equal(frame.byteOffset, 0);
    assert.deepEqual((await decryptor.decrypt(frame.slice(), testBytes(2))).plaintext, plaintext);
    await rejectsWithCode(encryptor.encryptInto(plaintext, new Uint8Array(1200)), "INVALID_ARGUMENT");
    const shared = new Uint8Array(4000);
    await rejectsWithCode(encryptor.encryptInto(shared.subarray(0, 1200), shared.subarray(1000)), "INVALID_ARGUMENT");
  });

  test(name("encryptors, decryptors and their keys print and serialise as suite and KID only"), async () => {
    const { encryptor, decryptor } = await pair(crypto);
    const key = await SFrameKey.derive(crypto, encryptor.suite, KID, BASE_KEY);
    for (const obj of [encryptor, decryptor, key]) {
      const shown = [JSON.stringify(obj), String(obj), inspect(obj, { showHidden: true, depth: 5 })];
      for (const text of shown) {
        assert.match(text, /^"?SFrame(Encryptor|Decryptor|Key)\(AES_128_GCM_SHA256_128, .*\) \[keys? redacted\]"?$/);
      }
    }
    assert.equal(String(encryptor), "SFrameEncryptor(AES_128_GCM_SHA256_128, KID 4660, next CTR 0) [key redacted]");
    // The only own enumerable state is public (suite, KID); keys live in private fields.
    assert.deepEqual(Object.keys(encryptor).sort(), ["kid", "suite"]);
    assert.deepEqual(Object.keys(key).sort(), ["kid", "suite"]);
  });

  test(name("bad arguments fail with INVALID_ARGUMENT or SFRAME_UNKNOWN_SUITE"), async () => {
    await rejectsWithCode(SFrameEncryptor.create({ suite: 6, kid: KID, baseKey: BASE_KEY, crypto }), "SFRAME_UNKNOWN_SUITE");
    throwsWithCode(() => new SFrameDecryptor({ suite: 0, crypto }), "SFRAME_UNKNOWN_SUITE");
    await rejectsWithCode(SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: new Uint8Array(0), crypto }), "INVALID_ARGUMENT");
    throwsWithCode(() => new SFrameDecryptor({ suite: GCM, crypto, replayWindowSize: 0 }), "INVALID_ARGUMENT");
    const { encryptor, decryptor } = await pair(crypto);
    await rejectsWithCode(encryptor.encrypt("frame" as unknown as Uint8Array), "INVALID_ARGUMENT");
    await rejectsWithCode(decryptor.decrypt(await encryptor.encrypt(testBytes(3)), "meta" as unknown as Uint8Array), "INVALID_ARGUMENT");
    await rejectsWithCode(decryptor.setKey(KID, BASE_KEY, { notAfter: Number.NaN }), "INVALID_ARGUMENT");
    await rejectsWithCode(SFrameEncryptor.create({ suite: GCM, kid: KID, baseKey: BASE_KEY, crypto: {} as SFrameCrypto }), "INVALID_ARGUMENT");
    throwsWithCode(() => new SFrameDecryptor({ suite: GCM, crypto: undefined as unknown as SFrameCrypto }), "INVALID_ARGUMENT");
    throwsWithCode(() => new SFrameDecryptor({ suite: GCM, crypto, now: 5 as unknown as () => number }), "INVALID_ARGUMENT");
    for (const suite of SFRAME_CIPHER_SUITES) {
      await rejectsWithCode(crypto.importAeadKey(suite, new Uint8Array(suite.Nk - 1)), "INVALID_ARGUMENT");
    }
  });
}
