// Garbage and mutated input to every MLS entry point that takes bytes from the network: only
// ProtocolErrors come out, and the session is unharmed afterwards. Deterministic (seeded PRNG).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MlsSession,
  ProtocolError,
  bytesToHex,
  createKeyPackage,
  decodeMemberIdentity,
  peekKeyPackage,
  peekMessage,
  utf8,
  type MemberIdentity,
} from "../src/index.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });

/** xorshift32: reproducible "randomness" so a failure can be replayed. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function randomBytes(rand: (n: number) => number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = rand(256);
  return out;
}

/** A random corruption of a valid message: bit flips, truncation, extension or a spliced run. */
function mutate(rand: (n: number) => number, valid: Uint8Array): Uint8Array {
  const m = valid.slice();
  switch (rand(4)) {
    case 0: {
      const flips = 1 + rand(3);
      for (let i = 0; i < flips; i++) m[rand(m.length)]! ^= 1 << rand(8);
      return m;
    }
    case 1:
      return m.subarray(0, rand(m.length));
    case 2:
      return new Uint8Array([...m, ...randomBytes(rand, 1 + rand(8))]);
    default: {
      const at = rand(m.length);
      m.set(randomBytes(rand, Math.min(1 + rand(16), m.length - at)), at);
      return m;
    }
  }
}

function isOnlyProtocolError(e: unknown): boolean {
  assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  return true;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

test("garbage and corrupted messages give only ProtocolErrors, and the session keeps working", async () => {
  const rand = prng(0xc0ac1a7e);
  const a = await MlsSession.create(utf8.encode("fuzz"), person("A"));
  const kb = await createKeyPackage(person("B"));
  const added = await a.commit({ add: [kb.keyPackage] });
  await a.applyPendingCommit();
  const b = await MlsSession.joinFromWelcome(added.welcome!, kb.secret);

  const update = await a.commit({}); // pending: B has not seen it
  const app = await a.encryptApplicationMessage(utf8.encode("payload"));
  const kc = await createKeyPackage(person("C"));
  const samples = [update.commit, app, added.welcome!, kb.keyPackage];

  for (let i = 0; i < 150; i++) {
    const garbage = randomBytes(rand, rand(300));
    await assert.rejects(b.processMessage(garbage), isOnlyProtocolError);
    await assert.rejects(MlsSession.joinFromWelcome(garbage, kc.secret), isOnlyProtocolError);
    for (const peek of [peekMessage, peekKeyPackage]) {
      try {
        peek(garbage);
      } catch (e) {
        isOnlyProtocolError(e);
      }
    }
    assert.throws(() => decodeMemberIdentity(garbage), isOnlyProtocolError);
  }

  for (let i = 0; i < 300; i++) {
    const original = samples[i % samples.length]!;
    const bad = mutate(rand, original);
    if (same(bad, original)) continue;
    // Every byte of a commit and of application data is authenticated: a corrupted one never
    // passes. (A mutated KeyPackage or Welcome is not a group message, so it is refused too.)
    await assert.rejects(b.processMessage(bad), isOnlyProtocolError);
    await assert.rejects(MlsSession.joinFromWelcome(bad, kc.secret), isOnlyProtocolError);
    for (const peek of [peekMessage, peekKeyPackage]) {
      try {
        peek(bad); // unauthenticated reads may succeed on a corrupted message
      } catch (e) {
        isOnlyProtocolError(e);
      }
    }
  }

  // Nothing above moved B off epoch 1 or consumed C's key package secret.
  assert.equal(b.epoch, 1n);
  assert.equal(kc.secret.used, false);
  await a.applyPendingCommit();
  assert.equal((await b.processMessage(update.commit)).kind, "commit");
  assert.equal(bytesToHex(b.epochAuthenticator), bytesToHex(a.epochAuthenticator));
});

test("non-byte arguments are refused with INVALID_ARGUMENT", async () => {
  const a = await MlsSession.create(utf8.encode("types"), person("A"));
  const kb = await createKeyPackage(person("B"));
  for (const bad of ["string", 42, null, undefined, [1, 2, 3], new ArrayBuffer(4)] as unknown[]) {
    await assert.rejects(a.processMessage(bad as Uint8Array), (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_ARGUMENT");
    await assert.rejects(MlsSession.joinFromWelcome(bad as Uint8Array, kb.secret), (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_ARGUMENT");
    assert.throws(() => peekMessage(bad as Uint8Array), (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_ARGUMENT");
  }
  await assert.rejects(MlsSession.joinFromWelcome(new Uint8Array(), {} as never), (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_ARGUMENT");
  await assert.rejects(MlsSession.create(new Uint8Array(), person("A")), (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_ARGUMENT");
});
