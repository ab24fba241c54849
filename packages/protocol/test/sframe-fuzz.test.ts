// Fuzzing the SFrame receive path with seeded random input: whatever arrives, the header
// decoder and the decryptor either succeed or throw a ProtocolError, never anything else.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SFRAME_CIPHER_SUITES,
  SFrameDecryptor,
  SFrameEncryptor,
  decodeSFrameHeader,
  encodeSFrameHeader,
  isProtocolError,
} from "../src/index.js";
import { BACKENDS, prng, testBytes } from "./sframe-support.js";

function randomBytes(rnd: () => number, maxLength: number): Uint8Array {
  const out = new Uint8Array(Math.floor(rnd() * (maxLength + 1)));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

function assertOnlyProtocolError(e: unknown, what: string): void {
  assert.ok(isProtocolError(e), `${what}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
}

test("random bytes given to decodeSFrameHeader either decode canonically or throw a ProtocolError", () => {
  const rnd = prng(9605);
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = randomBytes(rnd, 20);
    try {
      const h = decodeSFrameHeader(input);
      decoded++;
      assert.ok(h.headerLength <= input.length);
      // Whatever decodes re-encodes to exactly the bytes it came from: one encoding per value.
      assert.deepEqual(encodeSFrameHeader(h), input.subarray(0, h.headerLength));
    } catch (e) {
      assertOnlyProtocolError(e, `decodeSFrameHeader(${Buffer.from(input).toString("hex")})`);
    }
  }
  assert.ok(decoded > 1000, "the generator should also produce valid headers");
});

for (const crypto of BACKENDS) {
  test(`[${crypto.name}] random and mutated frames given to decrypt reject only with a ProtocolError, and only genuine frames are accepted`, async () => {
    const rnd = prng(4242);
    for (const suite of SFRAME_CIPHER_SUITES) {
      const decryptor = new SFrameDecryptor({ suite: suite.id, crypto, replayWindowSize: 32 });
      const encryptors = [];
      // Small KIDs (so random headers often name a known key) and a large one.
      for (const kid of [0n, 1n, 3n, 7n, 200n]) {
        await decryptor.setKey(kid, testBytes(16, Number(kid)));
        encryptors.push(await SFrameEncryptor.create({ suite: suite.id, kid, baseKey: testBytes(16, Number(kid)), crypto }));
      }
      const genuine: Uint8Array[] = [];
      for (const e of encryptors) for (let i = 0; i < 4; i++) genuine.push(await e.encrypt(randomBytes(rnd, 64), testBytes(3)));

      const inputs: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) inputs.push(randomBytes(rnd, 48));
      for (let i = 0; i < 300; i++) {
        const frame = genuine[Math.floor(rnd() * genuine.length)]!.slice();
        const mutation = Math.floor(rnd() * 3);
        if (mutation === 0) frame[Math.floor(rnd() * frame.length)]! ^= 1 << Math.floor(rnd() * 8);
        if (mutation === 1) inputs.push(frame.subarray(0, Math.floor(rnd() * frame.length)));
        else inputs.push(frame);
      }
      const genuineHex = new Set(genuine.map((f) => Buffer.from(f).toString("hex")));
      for (const input of inputs) {
        let accepted = false;
        try {
          await decryptor.decrypt(input, testBytes(3));
          accepted = true;
        } catch (e) {
          assertOnlyProtocolError(e, `${suite.name} decrypt(${Buffer.from(input).toString("hex")})`);
        }
        if (accepted) assert.ok(genuineHex.has(Buffer.from(input).toString("hex")), `${suite.name}: accepted a frame nobody sent`);
      }
    }
  });
}
