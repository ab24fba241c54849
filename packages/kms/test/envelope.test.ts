import { test } from "node:test";
import assert from "node:assert/strict";
import { DataKey, decodeSealedHeader, isKmsError, looksSealed, open, openString, seal } from "../src/index.js";

const meeting = { kind: "meeting", id: "12345678901" };

test("a sealed value opens to its plaintext and does not contain it", () => {
  const key = DataKey.generate(meeting);
  const sealed = seal(key, "topic", "Quarterly numbers (confidential)");
  assert.ok(!sealed.includes(Buffer.from("Quarterly")));
  assert.ok(looksSealed(sealed));
  assert.equal(openString(key, "topic", sealed), "Quarterly numbers (confidential)");
  assert.equal(decodeSealedHeader(sealed).dataKeyId, key.id);
});

test("sealing the same value twice gives different ciphertexts (random nonces)", () => {
  const key = DataKey.generate(meeting);
  assert.notDeepEqual(seal(key, "topic", "same"), seal(key, "topic", "same"));
});

test("a sealed value moved to another object, another field or another key fails to open", () => {
  const key = DataKey.generate(meeting);
  const sealed = seal(key, "topic", "x");
  const other = DataKey.fromBytes(key.id, { kind: "meeting", id: "12345678902" }, Buffer.alloc(32, 1));
  // Same id, other object: the AAD differs (and so does the key here).
  assert.throws(() => open(other, "topic", sealed), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  assert.throws(() => open(key, "description", sealed), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  assert.throws(() => open(DataKey.generate(meeting), "topic", sealed), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
});

test("every single-bit change to a sealed value is detected", () => {
  const key = DataKey.generate(meeting);
  const sealed = seal(key, "topic", "abc");
  for (let i = 0; i < sealed.length; i++) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 0x80;
    assert.throws(() => open(key, "topic", bad), (e) => isKmsError(e, "KMS_DECRYPT_FAILED") || isKmsError(e, "KMS_BAD_FORMAT"), `byte ${i}`);
  }
});

test("malformed sealed values are refused with KMS_BAD_FORMAT: magic, version, algorithm, key id, length", () => {
  const key = DataKey.generate(meeting);
  const good = seal(key, "topic", "abc");
  const cases: [string, Buffer][] = [
    ["empty", Buffer.alloc(0)],
    ["clear text", Buffer.from("just a topic")],
    ["version 2", Buffer.from(good).fill(2, 4, 5)],
    ["algorithm 9", Buffer.from(good).fill(9, 5, 6)],
    ["key id not hex", Buffer.from(good).fill(0x47, 7, 8)],
    ["truncated", good.subarray(0, good.length - 20)],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => open(key, "topic", bytes), (e) => isKmsError(e, "KMS_BAD_FORMAT"), what);
  }
});

test("a destroyed data key refuses to seal or open", () => {
  const key = DataKey.generate(meeting);
  const sealed = seal(key, "topic", "abc");
  key.destroy();
  key.destroy();
  assert.throws(() => seal(key, "topic", "abc"), (e) => isKmsError(e, "KMS_CLOSED"));
  assert.throws(() => open(key, "topic", sealed), (e) => isKmsError(e, "KMS_CLOSED"));
});

test("a data key's string and JSON forms name it without its bytes", () => {
  const key = DataKey.generate(meeting);
  assert.equal(JSON.stringify({ key }), JSON.stringify({ key: `DataKey(${key.id} for meeting/12345678901)` }));
});

test("object references and field names are checked by name", () => {
  assert.throws(() => DataKey.generate({ kind: "Meeting", id: "1" }), /object kind/);
  assert.throws(() => DataKey.generate({ kind: "meeting", id: "" }), /object id/);
  assert.throws(() => seal(DataKey.generate(meeting), "", "x"), /field/);
});

test("random and mutated bytes given to the sealed-value and stream-header decoders fail only with KmsError", async () => {
  const { decodeStreamHeader, StreamCipher, isKmsError: isErr } = await import("../src/index.js");
  const { prng } = await import("./ttlv-fuzz-core.js");
  const rnd = prng(2718);
  const key = DataKey.generate(meeting);
  const seeds = [seal(key, "topic", "abc"), StreamCipher.create(key, "media", 4096).header.bytes];
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const base = seeds[i & 1]!;
    const input = Buffer.from(rnd() < 0.3 ? Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)) : base);
    if (input === base || input.length === base.length) {
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) if (input.length > 0) input[Math.floor(rnd() * input.length)]! ^= 1 << Math.floor(rnd() * 8);
    }
    const cut = rnd() < 0.2 ? input.subarray(0, Math.floor(rnd() * input.length)) : input;
    for (const decode of [() => open(key, "topic", cut), () => decodeStreamHeader(cut)]) {
      try {
        decode();
        accepted++;
      } catch (e) {
        assert.ok(isErr(e), `threw ${String(e)} for ${cut.toString("hex")}`);
      }
    }
  }
  // Only intact headers decode (a flipped salt bit still makes a well-formed header); no value does.
  assert.ok(accepted < 20_000);
});
