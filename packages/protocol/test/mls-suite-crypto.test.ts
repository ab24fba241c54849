// The fast MLS primitives of packages/protocol/src/mls/crypto give the stock ts-mls outputs byte for
// byte: SHA-2 / HMAC / HKDF against the stock WebCrypto implementations, and suite 1's HPKE
// (RFC 9180, DHKEM(X25519, HKDF-SHA256), AES-128-GCM) against @hpke/core, which ts-mls uses:
// the same ephemeral key gives the same enc and ciphertext, each opens what the other sealed,
// derived key pairs and exported secrets agree, and the node:crypto and WebCrypto back ends agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import { getCiphersuiteFromName, type CiphersuiteImpl } from "ts-mls/crypto/ciphersuite.js";
import { makeHashImpl } from "ts-mls/crypto/implementation/default/makeHashImpl.js";
import { makeKdf, makeKdfImpl } from "ts-mls/crypto/implementation/default/makeKdfImpl.js";
import { CryptoError } from "ts-mls/mlsError.js";
import { syncHash, syncKdf, type MlsHashName } from "../src/mls/crypto/hash.js";
import { x25519Hpke } from "../src/mls/crypto/hpke.js";
import { mlsCryptoBackend, webCryptoMlsBackend, type MlsCryptoBackend } from "../src/mls/crypto/backend.js";
import { nodeMlsBackend } from "../src/node.js";
import { fastCiphersuite } from "../src/mls/suites.js";
import { bytesToHex } from "../src/index.js";

const SUITE1 = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" as const;
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const hex = bytesToHex;
const LENGTHS = [0, 1, 31, 32, 55, 56, 63, 64, 65, 127, 128, 129, 1000, 4096];

const node = nodeMlsBackend();
const backends: MlsCryptoBackend[] = [webCryptoMlsBackend(), node];

test("importing the Node entry installs the node:crypto back end for MLS suites (what Node participants run)", () => {
  assert.equal(mlsCryptoBackend().name, "node");
});

for (const name of ["SHA-256", "SHA-384", "SHA-512"] as MlsHashName[]) {
  test(`${name}: noble digest, HMAC and HMAC check equal the stock WebCrypto ones for inputs of 0..4096 bytes`, async () => {
    const stock = makeHashImpl(crypto.subtle, name);
    const fast = syncHash(name);
    for (const len of LENGTHS) {
      const data = rnd(len);
      assert.equal(hex(await fast.digest(data)), hex(await stock.digest(data)), `digest of ${len} bytes`);
      // (WebCrypto refuses an empty HMAC key, so the stock side cannot be asked about one.)
      for (const keyLen of [1, 16, 32, 64, 129]) {
        const key = rnd(keyLen);
        const mac = await stock.mac(key, data);
        assert.equal(hex(await fast.mac(key, data)), hex(mac), `HMAC, ${keyLen}-byte key, ${len} bytes`);
        assert.equal(await fast.verifyMac(key, mac, data), true);
        const bad = mac.slice();
        bad[bad.length - 1]! ^= 1;
        assert.equal(await fast.verifyMac(key, bad, data), false, "a MAC with one flipped bit is refused");
        assert.equal(await fast.verifyMac(key, mac.subarray(1), data), false, "a truncated MAC is refused");
      }
    }
  });

  test(`HKDF-${name}: noble extract (empty or given salt) and expand equal the stock implementation`, async () => {
    const stock = makeKdfImpl(makeKdf(`HKDF-${name.replace("-", "")}` as "HKDF-SHA256"));
    const fast = syncKdf(name);
    assert.equal(fast.size, stock.size);
    // (the stock extract takes only an empty salt or one of HashLen bytes, as MLS always passes)
    for (const saltLen of [0, fast.size]) {
      const salt = rnd(saltLen);
      const ikm = rnd(32);
      const prk = await stock.extract(salt, ikm);
      assert.equal(hex(await fast.extract(salt, ikm)), hex(prk), `extract, ${saltLen}-byte salt`);
      for (const len of [1, 12, 16, 32, 48, 64, 255]) {
        const info = rnd(len % 40);
        assert.equal(hex(await fast.expand(prk, info, len)), hex(await stock.expand(prk, info, len)), `expand to ${len}`);
      }
    }
    await assert.rejects(fast.expand(rnd(fast.size), rnd(3), 255 * fast.size + 1), "expanding past 255*HashLen rejects");
  });
}

/** @hpke/core, the HPKE ts-mls 1.6.4 uses for suite 1, with a chosen ephemeral (RFC 9180 ekm). */
const hpkeCore = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
const ab = (b: Uint8Array): ArrayBuffer => b.slice().buffer;

async function stockSuite(): Promise<CiphersuiteImpl> {
  return getCiphersuiteImpl(getCiphersuiteFromName(SUITE1));
}

for (const backend of backends) {
  test(`HPKE (${backend.name}): DeriveKeyPair gives the stock private and public keys`, async () => {
    const stock = (await stockSuite()).hpke;
    const fast = x25519Hpke(backend, { aeadKeyLength: 16 });
    for (let i = 0; i < 20; i++) {
      const ikm = rnd(32);
      const a = await stock.deriveKeyPair(ikm);
      const b = await fast.deriveKeyPair(ikm);
      assert.equal(hex(await fast.exportPublicKey(b.publicKey)), hex(await stock.exportPublicKey(a.publicKey)));
      assert.equal(hex(await fast.exportPrivateKey(b.privateKey)), hex(await stock.exportPrivateKey(a.privateKey)));
    }
  });

  test(`HPKE (${backend.name}): with the same ephemeral key, Seal gives @hpke/core's enc and ciphertext byte for byte`, async () => {
    for (let i = 0; i < 20; i++) {
      const ekm = rnd(32);
      const recipient = await hpkeCore.kem.deriveKeyPair(ab(rnd(32)));
      const pkR = new Uint8Array(await hpkeCore.kem.serializePublicKey(recipient.publicKey));
      const info = rnd(i * 3);
      const aad = rnd(i % 5);
      const plaintext = rnd(1 + i * 7);
      const stock = await hpkeCore.seal({ recipientPublicKey: recipient.publicKey, info: ab(info), ekm: ab(ekm) }, ab(plaintext), ab(aad));
      // Our sender, with the ephemeral key pair RFC 9180 DeriveKeyPair(ekm) gives.
      const derived = await x25519Hpke(backend, { aeadKeyLength: 16 }).deriveKeyPair(ekm);
      const eSk = await x25519Hpke(backend, { aeadKeyLength: 16 }).exportPrivateKey(derived.privateKey);
      const fast = x25519Hpke(backend, { aeadKeyLength: 16, ephemeral: () => backend.x25519FromPrivate(eSk) });
      const ours = await fast.seal(await fast.importPublicKey(pkR), plaintext, info, aad);
      assert.equal(hex(ours.enc), hex(new Uint8Array(stock.enc)), "enc");
      assert.equal(hex(ours.ct), hex(new Uint8Array(stock.ct)), "ciphertext");
    }
  });

  test(`HPKE (${backend.name}): each side opens what the other sealed; secret export agrees; a tampered ciphertext is refused`, async () => {
    const stock = (await stockSuite()).hpke;
    const fast = x25519Hpke(backend, { aeadKeyLength: 16 });
    const ikm = rnd(32);
    const sKeys = await stock.deriveKeyPair(ikm);
    const fKeys = await fast.deriveKeyPair(ikm);
    const pub = await stock.exportPublicKey(sKeys.publicKey);
    const info = rnd(40);
    const plaintext = rnd(32);

    const byStock = await stock.seal(await stock.importPublicKey(pub), plaintext, info);
    assert.equal(hex(await fast.open(fKeys.privateKey, byStock.enc, byStock.ct, info)), hex(plaintext));
    const byFast = await fast.seal(await fast.importPublicKey(pub), plaintext, info);
    assert.equal(hex(await stock.open(sKeys.privateKey, byFast.enc, byFast.ct, info)), hex(plaintext));

    const ctx = rnd(16);
    const exported = await fast.exportSecret(await fast.importPublicKey(pub), ctx, 32, info);
    assert.equal(hex(await stock.importSecret(sKeys.privateKey, ctx, exported.enc, 32, info)), hex(exported.secret));
    const exported2 = await stock.exportSecret(await stock.importPublicKey(pub), ctx, 32, info);
    assert.equal(hex(await fast.importSecret(fKeys.privateKey, ctx, exported2.enc, 32, info)), hex(exported2.secret));

    const tampered = byStock.ct.slice();
    tampered[0]! ^= 0x80;
    await assert.rejects(fast.open(fKeys.privateKey, byStock.enc, tampered, info), CryptoError);
    await assert.rejects(fast.open(fKeys.privateKey, byStock.enc, byStock.ct, rnd(40)), CryptoError, "other info");
    await assert.rejects(fast.open(fKeys.privateKey, byStock.enc.subarray(1), byStock.ct, info), CryptoError, "short enc");
    // RFC 9180 §7.1.4: a small-order point gives an all-zero shared secret and must be refused.
    await assert.rejects(fast.open(fKeys.privateKey, new Uint8Array(32), byStock.ct, info), CryptoError, "all-zero enc");
    await assert.rejects(fast.importPublicKey(rnd(31)), CryptoError);
  });

  test(`AEAD (${backend.name}): MLS message protection's AES-128-GCM equals the stock output and refuses tampering`, async () => {
    const stock = (await stockSuite()).hpke;
    const fast = x25519Hpke(backend, { aeadKeyLength: 16 });
    for (const len of [0, 1, 16, 100, 1500]) {
      const key = rnd(16);
      const nonce = rnd(12);
      const aad = rnd(len % 23);
      const pt = rnd(len);
      const ct = await stock.encryptAead(key, nonce, aad, pt);
      assert.equal(hex(await fast.encryptAead(key, nonce, aad, pt)), hex(ct));
      assert.equal(hex(await fast.decryptAead(key, nonce, aad, ct)), hex(pt));
      const bad = ct.slice();
      bad[bad.length - 1]! ^= 1;
      await assert.rejects(fast.decryptAead(key, nonce, aad, bad), CryptoError);
    }
  });
}

test("the node:crypto and WebCrypto back ends agree on X25519 and AES-GCM", async () => {
  const web = webCryptoMlsBackend();
  for (let i = 0; i < 10; i++) {
    const sk = rnd(32);
    const a = await node.x25519FromPrivate(sk);
    const b = await web.x25519FromPrivate(sk);
    assert.equal(hex(a.publicKey), hex(b.publicKey));
    const peer = await web.x25519Generate();
    assert.equal(hex(await node.x25519(a, peer.publicKey)), hex(await web.x25519(b, peer.publicKey)));
    const key = rnd(i % 2 ? 16 : 32);
    const nonce = rnd(12);
    const pt = rnd(i * 50);
    const ad = rnd(i);
    const ct = await node.aesGcmSeal(key, nonce, ad, pt);
    assert.equal(hex(await web.aesGcmSeal(key, nonce, ad, pt)), hex(ct));
    assert.equal(hex(await web.aesGcmOpen(key, nonce, ad, ct)), hex(pt));
  }
});

test("suite 1 as Conclave builds it swaps hash, KDF and HPKE and keeps the stock signature scheme", async () => {
  const stock = await stockSuite();
  const fast = await fastCiphersuite(stock);
  assert.notEqual(fast.hash, stock.hash);
  assert.notEqual(fast.kdf, stock.kdf);
  assert.notEqual(fast.hpke, stock.hpke);
  assert.equal(fast.signature, stock.signature);
  assert.equal(fast.rng, stock.rng);
  assert.equal(fast.name, SUITE1);
  assert.equal(fast.hpke.keyLength, stock.hpke.keyLength);
  assert.equal(fast.hpke.nonceLength, stock.hpke.nonceLength);
  assert.equal(fast.kdf.size, stock.kdf.size);
});
