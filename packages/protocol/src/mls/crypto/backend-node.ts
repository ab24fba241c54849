/**
 * The node:crypto back end of the MLS suite primitives (see ./backend.ts): synchronous X25519 and
 * AES-GCM from OpenSSL, which in Node are several times faster than awaited WebCrypto calls. Only
 * the Node entry (`@conclave/protocol/node`) imports this module.
 */
import * as c from "node:crypto";
import type { KeyObject, CipherGCMTypes } from "node:crypto";
import { ProtocolError } from "../../errors.js";
import {
  GCM_TAG_BYTES,
  base64url,
  checkSharedSecret,
  checkX25519Bytes,
  fromBase64url,
  pkcs8,
  type MlsCryptoBackend,
  type X25519KeyPair,
} from "./backend.js";

export function nodeMlsBackend(): MlsCryptoBackend {

  const pair = (key: KeyObject): X25519KeyPair => {
    const jwk = key.export({ format: "jwk" });
    if (jwk.d === undefined || jwk.x === undefined) throw new ProtocolError("INVALID_ARGUMENT", "X25519: could not export the key");
    return { privateKey: fromBase64url(jwk.d), publicKey: fromBase64url(jwk.x), handle: key };
  };
  const importPrivate = (privateKey: Uint8Array): KeyObject => {
    // JWK import of a raw private key is ~8x faster than PKCS#8 in OpenSSL 3. Node derives the
    // public key from `d` and only checks that `x` is a string; should a future Node insist on
    // a matching `x`, the import throws and PKCS#8 (always exact) takes over.
    try {
      return c.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: base64url(privateKey), x: "" }, format: "jwk" });
    } catch {
      return c.createPrivateKey({ key: Buffer.from(pkcs8(privateKey)), format: "der", type: "pkcs8" });
    }
  };
  const aes = (key: Uint8Array): CipherGCMTypes => {
    if (key.length === 16) return "aes-128-gcm";
    if (key.length === 32) return "aes-256-gcm";
    throw new ProtocolError("INVALID_ARGUMENT", "AES-GCM key: expected 16 or 32 bytes");
  };
  return {
    name: "node",
    async x25519Generate() {
      return pair(c.generateKeyPairSync("x25519").privateKey);
    },
    async x25519FromPrivate(privateKey) {
      checkX25519Bytes("privateKey", privateKey);
      const key = importPrivate(privateKey);
      const x = c.createPublicKey(key).export({ format: "jwk" }).x;
      if (x === undefined) throw new ProtocolError("INVALID_ARGUMENT", "X25519: could not derive the public key");
      return { privateKey: privateKey.slice(), publicKey: fromBase64url(x), handle: key };
    },
    async x25519(own, peerPublic) {
      checkX25519Bytes("publicKey", peerPublic);
      const publicKey = c.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: base64url(peerPublic) }, format: "jwk" });
      let shared: Uint8Array;
      try {
        shared = c.diffieHellman({ privateKey: own.handle as KeyObject, publicKey });
      } catch {
        // OpenSSL refuses a small-order peer key itself.
        throw new ProtocolError("MLS_MESSAGE_REJECTED", "X25519 failed (small-order public key)");
      }
      return checkSharedSecret(new Uint8Array(shared.buffer, shared.byteOffset, shared.byteLength));
    },
    async aesGcmSeal(key, nonce, aad, plaintext) {
      const cipher = c.createCipheriv(aes(key), key, nonce, { authTagLength: GCM_TAG_BYTES });
      if (aad.length > 0) cipher.setAAD(aad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      const tag = cipher.getAuthTag();
      const out = new Uint8Array(head.length + tail.length + tag.length);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(tag, head.length + tail.length);
      return out;
    },
    async aesGcmOpen(key, nonce, aad, ciphertextAndTag) {
      if (ciphertextAndTag.length < GCM_TAG_BYTES) throw new ProtocolError("MLS_MESSAGE_REJECTED", "AES-GCM: ciphertext shorter than its tag");
      const split = ciphertextAndTag.length - GCM_TAG_BYTES;
      const decipher = c.createDecipheriv(aes(key), key, nonce, { authTagLength: GCM_TAG_BYTES });
      decipher.setAuthTag(ciphertextAndTag.subarray(split));
      if (aad.length > 0) decipher.setAAD(aad);
      const head = decipher.update(ciphertextAndTag.subarray(0, split));
      let tail: Buffer;
      try {
        tail = decipher.final();
      } catch {
        throw new ProtocolError("MLS_MESSAGE_REJECTED", "AES-GCM: authentication failed");
      }
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    },
  };
}

