// The official RFC 9605 vectors for the AEADs (§4.5, §4.5.1) and for whole frames (§4.4),
// run against every crypto back end.
import { test } from "node:test";
import { prerequisite } from "@conclave/test-support";
import assert from "node:assert/strict";
import {
  SFrameDecryptor,
  SFrameEncryptor,
  bytesToHex,
  concatBytes,
  encodeSFrameHeader,
  getSFrameCipherSuite,
  hexToBytes,
} from "../src/index.js";
import { splitCtrHmacKey } from "../src/sframe/aes-ctr-hmac.js";
import { SFrameKey, sframeKeyLabel, sframeSaltLabel } from "../src/sframe/key.js";
import { BACKENDS, VECTORS, VECTORS_SKIP } from "./sframe-support.js";

const EMPTY = new Uint8Array(0);

for (const crypto of BACKENDS) {
  test(`[${crypto.name}] AES-CTR-HMAC vectors (suites 1-3): seal gives the listed ciphertext and open returns the plaintext`, prerequisite(VECTORS_SKIP), async () => {
    assert.ok(VECTORS, VECTORS_SKIP || undefined);
    assert.equal(VECTORS.aes_ctr_hmac.length, 3);
    for (const v of VECTORS.aes_ctr_hmac) {
      const suite = getSFrameCipherSuite(v.cipher_suite);
      const key = hexToBytes(v.key);
      // RFC 9605 §4.5.1 derive_subkeys
      const { encKey, authKey } = splitCtrHmacKey(suite, key);
      assert.equal(bytesToHex(encKey), v.enc_key, suite.name);
      assert.equal(bytesToHex(authKey), v.auth_key, suite.name);
      const aead = await crypto.importAeadKey(suite, key);
      const nonce = hexToBytes(v.nonce);
      // The AEAD's aad is header || metadata; the vector's aad goes in as "metadata".
      const sealed = await aead.seal(nonce, EMPTY, hexToBytes(v.aad), hexToBytes(v.pt));
      assert.equal(bytesToHex(sealed), v.ct, suite.name);
      const opened = await aead.open(nonce, EMPTY, hexToBytes(v.aad), hexToBytes(v.ct));
      assert.equal(bytesToHex(opened), v.pt, suite.name);
      // Splitting the aad differently between header and metadata changes nothing.
      const aad = hexToBytes(v.aad);
      const split = await aead.open(nonce, aad.subarray(0, 3), aad.subarray(3), hexToBytes(v.ct));
      assert.equal(bytesToHex(split), v.pt, suite.name);
    }
  });

  test(`[${crypto.name}] SFrame vectors (suites 1-5): labels, sframe_key, sframe_salt and nonce match (§4.4.2, §4.4.3)`, prerequisite(VECTORS_SKIP), async () => {
    assert.ok(VECTORS, VECTORS_SKIP || undefined);
    assert.deepEqual(VECTORS.sframe.map((v) => v.cipher_suite), [1, 2, 3, 4, 5]);
    for (const v of VECTORS.sframe) {
      const suite = getSFrameCipherSuite(v.cipher_suite);
      const baseKey = hexToBytes(v.base_key);
      assert.equal(bytesToHex(sframeKeyLabel(v.kid, suite.id)), v.sframe_key_label, suite.name);
      assert.equal(bytesToHex(sframeSaltLabel(v.kid, suite.id)), v.sframe_salt_label, suite.name);
      const key = await crypto.hkdf(suite.hash, baseKey, hexToBytes(v.sframe_key_label), suite.Nk);
      assert.equal(bytesToHex(key), v.sframe_key, suite.name);
      const salt = await crypto.hkdf(suite.hash, baseKey, hexToBytes(v.sframe_salt_label), suite.Nn);
      assert.equal(bytesToHex(salt), v.sframe_salt, suite.name);
      const derived = await SFrameKey.derive(crypto, suite, v.kid, baseKey);
      assert.equal(bytesToHex(derived.nonce(v.ctr)), v.nonce, suite.name);
      const aad = concatBytes(encodeSFrameHeader({ kid: v.kid, ctr: v.ctr }), hexToBytes(v.metadata));
      assert.equal(bytesToHex(aad), v.aad, suite.name);
    }
  });

  test(`[${crypto.name}] SFrame vectors (suites 1-5): the encryptor produces the listed frame and the decryptor recovers the plaintext`, prerequisite(VECTORS_SKIP), async () => {
    assert.ok(VECTORS, VECTORS_SKIP || undefined);
    for (const v of VECTORS.sframe) {
      const suite = getSFrameCipherSuite(v.cipher_suite);
      const baseKey = hexToBytes(v.base_key);
      const encryptor = await SFrameEncryptor.create({ suite: suite.id, kid: v.kid, baseKey, crypto, initialCounter: v.ctr });
      const frame = await encryptor.encrypt(hexToBytes(v.pt), hexToBytes(v.metadata));
      assert.equal(bytesToHex(frame), v.ct, suite.name);
      assert.equal(encryptor.nextCounter, v.ctr + 1n, suite.name);

      const decryptor = new SFrameDecryptor({ suite: suite.id, crypto });
      await decryptor.setKey(v.kid, baseKey);
      const result = await decryptor.decrypt(hexToBytes(v.ct), hexToBytes(v.metadata));
      assert.equal(result.kid, v.kid, suite.name);
      assert.equal(result.ctr, v.ctr, suite.name);
      assert.equal(bytesToHex(result.plaintext), v.pt, suite.name);
    }
  });
}
