import { test } from "node:test";
import assert from "node:assert/strict";
import { MediaKeyRing, type MlsEpochSource } from "../src/media-keys/key-ring.js";
import { createWebCryptoSFrameCrypto, decodeSFrameHeader, encodeSFrameHeader, encodeMediaKid, SFrameDecryptor } from "../src/index.js";
import { isProtocolError } from "../src/errors.js";

/** A stand-in for an MLS session: the exporter is HMAC(groupSecret[epoch], label). */
function fakeGroup() {
  const secrets = new Map<bigint, Uint8Array>();
  const secretFor = (epoch: bigint) => {
    let s = secrets.get(epoch);
    if (!s) secrets.set(epoch, (s = crypto.getRandomValues(new Uint8Array(32))));
    return s;
  };
  return (epoch: bigint, ownLeafIndex: number): MlsEpochSource => ({
    epoch,
    ownLeafIndex,
    async exportSecret(label, context, length) {
      const key = await crypto.subtle.importKey("raw", secretFor(epoch) as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const data = new Uint8Array([...new TextEncoder().encode(label), ...context]);
      return new Uint8Array(await crypto.subtle.sign("HMAC", key, data)).slice(0, length);
    },
  });
}

function vp8Delta(size: number, fill = 0x55): Uint8Array {
  const f = new Uint8Array(size).fill(fill);
  f[0] = 0x01; // delta frame
  return f;
}

const cryptoImpl = createWebCryptoSFrameCrypto();

test("members of the same epoch decrypt each other's frames; the codec prefix stays clear", async () => {
  const g = fakeGroup();
  const clock = 0;
  const a = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  const b = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  await a.advance(g(1n, 0));
  await b.advance(g(1n, 1));
  const frame = vp8Delta(500);
  const protectedFrame = await a.protect("vp8", frame);
  assert.deepEqual(protectedFrame.subarray(0, 3), frame.subarray(0, 3));
  assert.notDeepEqual(protectedFrame.subarray(3, 40), frame.subarray(3, 40));
  const out = await b.unprotect("vp8", protectedFrame);
  assert.deepEqual(out.frame, frame);
  assert.equal(out.senderIndex, 0);
  assert.equal(out.epoch, 1n);
});

test("identical plaintext frames give different ciphertexts (no ECB, no nonce reuse)", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  await a.advance(g(0n, 0));
  const frame = vp8Delta(200, 0);
  const c1 = await a.protect("vp8", frame);
  const c2 = await a.protect("vp8", frame);
  assert.notDeepEqual(c1, c2);
});

test("each sender has its own key: a's frame relabelled with b's KID fails authentication", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const c = MediaKeyRing.create({ crypto: cryptoImpl });
  await a.advance(g(0n, 0));
  await c.advance(g(0n, 2));
  const p = await a.protect("opus", new Uint8Array([0xfc, 1, 2, 3, 4]));
  const header = decodeSFrameHeader(p.subarray(1));
  assert.equal(header.kid, encodeMediaKid(0n, 0));
  const relabelled = encodeSFrameHeader({ kid: encodeMediaKid(0n, 1), ctr: header.ctr });
  const forged = new Uint8Array([p[0]!, ...relabelled, ...p.subarray(1 + header.headerLength)]);
  await assert.rejects(c.unprotect("opus", forged), (e) => isProtocolError(e, "SFRAME_BAD_TAG"));
  await c.unprotect("opus", p);
});

test("a tampered clear prefix is detected (it is authenticated as AAD)", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const b = MediaKeyRing.create({ crypto: cryptoImpl });
  await a.advance(g(0n, 0));
  await b.advance(g(0n, 1));
  const p = await a.protect("vp8", vp8Delta(100));
  p[1]! ^= 0x10;
  await assert.rejects(b.unprotect("vp8", p), (e) => isProtocolError(e, "SFRAME_BAD_TAG"));
});

test("after a new epoch the previous epoch's keys work during the grace period, then are refused", async () => {
  const g = fakeGroup();
  let clock = 1_000_000;
  const a = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  const b = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  await a.advance(g(4n, 0));
  await b.advance(g(4n, 1));
  const old1 = await a.protect("vp8", vp8Delta(64));
  const old2 = await a.protect("vp8", vp8Delta(64));
  await b.unprotect("vp8", old1); // key derived during epoch 4
  await b.advance(g(5n, 1));
  clock += 999;
  assert.equal((await b.unprotect("vp8", old2)).epoch, 4n);
  const old3 = await a.protect("vp8", vp8Delta(64));
  clock += 2;
  await assert.rejects(b.unprotect("vp8", old3), (e) => isProtocolError(e, "SFRAME_KEY_EXPIRED"));
});

test("a grace period longer than 1 s is refused", () => {
  assert.throws(() => MediaKeyRing.create({ crypto: cryptoImpl, graceMs: 1001 }), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
});

test("a member removed at epoch 5 cannot decrypt epoch-6 frames", async () => {
  const g = fakeGroup();
  const sender = MediaKeyRing.create({ crypto: cryptoImpl });
  const removed = MediaKeyRing.create({ crypto: cryptoImpl });
  await sender.advance(g(5n, 0));
  await removed.advance(g(5n, 2));
  await removed.unprotect("vp8", await sender.protect("vp8", vp8Delta(80)));
  // The commit removing leaf 2 moves everyone else to epoch 6; the removed member never gets it.
  await sender.advance(g(6n, 0));
  const after = await sender.protect("vp8", vp8Delta(80));
  await assert.rejects(removed.unprotect("vp8", after), (e) => isProtocolError(e, "SFRAME_UNKNOWN_KID"));
});

test("epochs older than the previous one are forgotten at once", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const b = MediaKeyRing.create({ crypto: cryptoImpl });
  await a.advance(g(1n, 0));
  await b.advance(g(1n, 1));
  const e1 = await a.protect("opus", new Uint8Array([0xfc, 9, 9]));
  await b.advance(g(2n, 1));
  await b.advance(g(3n, 1));
  await assert.rejects(b.unprotect("opus", e1), (e) => isProtocolError(e, "SFRAME_UNKNOWN_KID"));
});

test("replayed frames are refused", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const b = MediaKeyRing.create({ crypto: cryptoImpl });
  await a.advance(g(0n, 0));
  await b.advance(g(0n, 1));
  const p = await a.protect("opus", new Uint8Array([0xfc, 1]));
  await b.unprotect("opus", p);
  await assert.rejects(b.unprotect("opus", p), (e) => isProtocolError(e, "SFRAME_REPLAY"));
});

test("keys follow RFC 9605 §5.2: base_key = MLS-Exporter(\"SFrame 1.0 Base Key\", \"\", Nk), per-sender keys via the KID", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const source = g(9n, 3);
  await a.advance(source);
  const frame = new Uint8Array([0xfc, 10, 20, 30, 40]);
  const p = await a.protect("opus", frame);
  // An independent SFrame stack provisioned only with the exporter output and the KID layout.
  const baseKey = await source.exportSecret("SFrame 1.0 Base Key", new Uint8Array(0), 16);
  const plain = new SFrameDecryptor({ suite: 4, crypto: cryptoImpl });
  await plain.setKey(encodeMediaKid(9n, 3), baseKey);
  const out = await plain.decrypt(p.subarray(1), p.subarray(0, 1));
  assert.deepEqual(out.plaintext, frame.subarray(1));
  assert.equal(out.kid, (3n << 8n) | 9n);
});

test("frameEpoch places a frame relative to the ring: next, current, previous, before the first epoch", async () => {
  const g = fakeGroup();
  const a = MediaKeyRing.create({ crypto: cryptoImpl });
  const b = MediaKeyRing.create({ crypto: cryptoImpl });
  const f = () => new Uint8Array([0xfc, 1, 2]);
  await a.advance(g(3n, 0));
  assert.equal(b.frameEpoch("opus", await a.protect("opus", f())), "next", "before any key: the first is coming");
  await b.advance(g(4n, 1));
  assert.equal(b.frameEpoch("opus", await a.protect("opus", f())), "beforeFirst");
  await a.advance(g(4n, 0));
  assert.equal(b.frameEpoch("opus", await a.protect("opus", f())), "current");
  await a.advance(g(5n, 0));
  assert.equal(b.frameEpoch("opus", await a.protect("opus", f())), "next");
  await b.advance(g(5n, 1));
  await b.advance(g(6n, 1));
  assert.equal(b.frameEpoch("opus", await a.protect("opus", f())), "previous");
  assert.equal(b.frameEpoch("opus", new Uint8Array([0xfc, 0xff])), "other");
});

test("after a voided commit the ring rewinds to the previous epoch: its sender's counter carries on (no nonce reuse) and the voided epoch's keys are gone", async () => {
  const g = fakeGroup();
  const voided = fakeGroup(); // epoch 6 of the voided commit: a different secret than the replacement's
  let clock = 0;
  const a = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  const b = MediaKeyRing.create({ crypto: cryptoImpl, now: () => clock });
  await a.advance(g(5n, 0));
  await b.advance(g(5n, 1));
  const ctrOf = (frame: Uint8Array) => decodeSFrameHeader(frame.subarray(3)).ctr;
  const before = [await a.protect("vp8", vp8Delta(40)), await a.protect("vp8", vp8Delta(40))];
  await a.advance(voided(6n, 0));
  const underVoided = await a.protect("vp8", vp8Delta(40));
  clock += 5000; // well past the grace period of epoch 5
  a.rewind(g(5n, 0));
  assert.equal(a.epoch, 5n);
  const after = await a.protect("vp8", vp8Delta(40));
  assert.ok(ctrOf(after) > ctrOf(before[1]!), "the epoch-5 counter continues after the rewind");
  // b reads the rewound epoch's frames; nobody can use the voided epoch's keys any more.
  assert.deepEqual((await b.unprotect("vp8", after)).frame, vp8Delta(40));
  await assert.rejects(a.unprotect("vp8", underVoided), (e) => isProtocolError(e, "SFRAME_UNKNOWN_KID"));
  // The replacement epoch 6 (another secret) works for both.
  await a.advance(g(6n, 0));
  await b.advance(g(6n, 1));
  assert.deepEqual((await b.unprotect("vp8", await a.protect("vp8", vp8Delta(30, 7)))).frame, vp8Delta(30, 7));
  // Only one epoch back: a second rewind has nothing to return to.
  assert.throws(() => a.rewind(g(4n, 0)), (e) => isProtocolError(e, "MLS_CANNOT_REVERT"));
});
