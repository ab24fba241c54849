// The E2EE worker's frame rules, in Node (WebCrypto is the same API): what is encrypted, what is
// dropped, what waits for the next epoch. The browser tests cover the same code inside Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MediaKeyRing, createWebCryptoSFrameCrypto, type MlsEpochSource } from "@conclave/protocol";
import { FrameCryptor, FUTURE_EPOCH_HOLD_MS } from "../src/e2ee/worker/frame-cryptor.js";

/** The exporter length the key ring asks for (the secret the page exports must have it). */
async function exporterLength(): Promise<number> {
  let asked = 0;
  const probe: MlsEpochSource = {
    epoch: 0n,
    ownLeafIndex: 0,
    async exportSecret(_label, _context, length) {
      asked = length;
      return new Uint8Array(length);
    },
  };
  await MediaKeyRing.create({ crypto: createWebCryptoSFrameCrypto() }).advance(probe);
  return asked;
}

/** One epoch secret shared by every member (as MLS gives them), copied per member. */
async function epochSecrets(): Promise<Map<bigint, Uint8Array>> {
  const n = await exporterLength();
  return new Map([0n, 1n, 2n, 3n].map((e) => [e, crypto.getRandomValues(new Uint8Array(n))]));
}

function opusFrame(size = 60): Uint8Array {
  const f = crypto.getRandomValues(new Uint8Array(size));
  f[0] = 0x78; // TOC byte: stays clear, authenticated
  return f;
}

async function at(c: FrameCryptor, secrets: Map<bigint, Uint8Array>, epoch: bigint, leaf: number): Promise<void> {
  await c.setEpoch({ epoch, ownLeafIndex: leaf, secret: secrets.get(epoch)!.slice() });
}

test("a frame one member's worker encrypts is decrypted by another's; the payload never travels in the clear", async () => {
  const secrets = await epochSecrets();
  const ada = new FrameCryptor();
  const bob = new FrameCryptor();
  await at(ada, secrets, 0n, 0);
  await at(bob, secrets, 0n, 1);
  const frame = opusFrame();
  const sent = await ada.protect("opus", frame);
  assert.ok(sent);
  assert.equal(sent[0], frame[0], "the Opus TOC byte stays clear");
  assert.equal(Buffer.from(sent).includes(Buffer.from(frame.subarray(1, 17))), false, "payload bytes do not appear in the output");
  const got = await bob.unprotect("opus", sent);
  assert.deepEqual(got, frame);
  assert.equal(bob.stats.decrypted, 1);
  assert.deepEqual(bob.stats.perSender, { 0: 1 });
  assert.equal(ada.stats.encrypted, 1);
});

test("a tampered frame, or one under a key this member does not have, is dropped (null), never passed on", async () => {
  const secrets = await epochSecrets();
  const ada = new FrameCryptor();
  const bob = new FrameCryptor();
  await at(ada, secrets, 0n, 0);
  await at(bob, secrets, 0n, 1);
  const sent = (await ada.protect("opus", opusFrame()))!;
  const tampered = sent.slice();
  tampered[tampered.length - 1]! ^= 1;
  assert.equal(await bob.unprotect("opus", tampered), null);
  const clearPrefix = sent.slice();
  clearPrefix[0] = 0x79; // the clear TOC byte is authenticated too
  assert.equal(await bob.unprotect("opus", clearPrefix), null);
  const outsider = new FrameCryptor();
  await outsider.setEpoch({ epoch: 0n, ownLeafIndex: 2, secret: crypto.getRandomValues(new Uint8Array(secrets.get(0n)!.length)) });
  assert.equal(await outsider.unprotect("opus", sent), null);
  assert.equal(bob.stats.failed, 2);
  assert.equal(bob.stats.decrypted, 0);
});

test("before the first key arrives, outgoing frames are dropped rather than sent unencrypted", async () => {
  const c = new FrameCryptor();
  assert.equal(await c.protect("opus", opusFrame()), null);
  assert.equal(await c.protect("vp8", new Uint8Array(100)), null);
  assert.equal(c.stats.droppedNoKey, 2);
  assert.equal(c.stats.encrypted, 0);
});

test("a frame for the next epoch waits until this member's key ring gets there, then plays", async () => {
  const secrets = await epochSecrets();
  const ada = new FrameCryptor();
  const bob = new FrameCryptor();
  await at(ada, secrets, 1n, 0);
  await at(bob, secrets, 0n, 1);
  const frame = opusFrame();
  const sent = (await ada.protect("opus", frame))!; // Ada already applied the commit; Bob has not
  const pending = bob.unprotect("opus", sent);
  await new Promise((r) => setTimeout(r, 50));
  await at(bob, secrets, 1n, 1);
  assert.deepEqual(await pending, frame);
  assert.equal(bob.stats.held, 1);
  assert.equal(bob.stats.failed, 0);
});

test(`a frame for the next epoch is dropped if the key ring does not advance within ${FUTURE_EPOCH_HOLD_MS} ms of its arrival`, async () => {
  const secrets = await epochSecrets();
  const ada = new FrameCryptor();
  const bob = new FrameCryptor();
  await at(ada, secrets, 1n, 0);
  await at(bob, secrets, 0n, 1);
  const sent = (await ada.protect("opus", opusFrame()))!;
  // It arrived FUTURE_EPOCH_HOLD_MS - 20 ms ago: 20 ms of patience left.
  const started = Date.now();
  assert.equal(await bob.unprotect("opus", sent, Date.now() - FUTURE_EPOCH_HOLD_MS + 20), null);
  assert.ok(Date.now() - started < 500);
  assert.equal(bob.stats.failed, 1);
});

test("frames from an epoch before this member joined are skipped, not counted as failures", async () => {
  const secrets = await epochSecrets();
  const ada = new FrameCryptor();
  await at(ada, secrets, 1n, 0);
  const old = (await ada.protect("opus", opusFrame()))!;
  const late = new FrameCryptor();
  await at(late, secrets, 2n, 1);
  assert.equal(await late.unprotect("opus", old), null);
  assert.equal(late.stats.skipped, 1);
  assert.equal(late.stats.failed, 0);
});

test("a stale or repeated epoch is ignored, and every secret handed to the worker is wiped after use", async () => {
  const secrets = await epochSecrets();
  const c = new FrameCryptor();
  const s2 = secrets.get(2n)!.slice();
  await c.setEpoch({ epoch: 2n, ownLeafIndex: 0, secret: s2 });
  assert.ok(s2.every((b) => b === 0), "wiped after use");
  const s1 = secrets.get(1n)!.slice();
  await c.setEpoch({ epoch: 1n, ownLeafIndex: 0, secret: s1 });
  await c.setEpoch({ epoch: 2n, ownLeafIndex: 0, secret: secrets.get(2n)!.slice() });
  assert.ok(s1.every((b) => b === 0), "wiped even when ignored");
  assert.equal(c.stats.epoch, "2");
  c.clear();
  assert.equal(await c.protect("opus", opusFrame()), null, "after clear() nothing is sent");
});
