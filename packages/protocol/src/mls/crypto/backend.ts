/**
 * The two public-key and AEAD primitives MLS suite 1 needs beyond hashing (X25519 for its HPKE
 * KEM, AES-GCM for HPKE and message protection), on the fastest back end of the runtime:
 *
 * - Browsers, and Node unless told otherwise: WebCrypto's X25519 and AES-GCM (this module).
 * - Node: `node:crypto`, synchronous (OpenSSL), in ./backend-node.ts. The Node-only entry
 *   (`@conclave/protocol/node`) installs it when imported, so this isomorphic module never names
 *   a Node built-in and the browser bundle stays free of one.
 *
 * Both give byte-identical results (X25519 and AES-GCM are deterministic); the tests check them
 * against each other and against the stock ts-mls primitives.
 */
import { ProtocolError } from "../../errors.js";

/** An X25519 key pair whose private half may be held by the back end (KeyObject, CryptoKey). */
export interface X25519KeyPair {
  /** RFC 7748 raw private scalar (32 bytes), as HPKE's SerializePrivateKey outputs it. */
  readonly privateKey: Uint8Array;
  /** RFC 7748 raw public u-coordinate (32 bytes). */
  readonly publicKey: Uint8Array;
  /** The back end's handle for the private key. */
  readonly handle: unknown;
}

export interface MlsCryptoBackend {
  /** "node" or "webcrypto", for benchmarks and test names. */
  readonly name: string;
  x25519Generate(): Promise<X25519KeyPair>;
  /** The key pair for a raw private key (computes the public key). */
  x25519FromPrivate(privateKey: Uint8Array): Promise<X25519KeyPair>;
  /** X25519(k, u) (RFC 7748 §5); rejects an all-zero output (RFC 9180 §7.1.4). */
  x25519(own: X25519KeyPair, peerPublic: Uint8Array): Promise<Uint8Array>;
  /** AES-GCM (128 or 256 by key length) with a 12-byte nonce; returns ciphertext || tag. */
  aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Rejects when the tag does not verify; nothing is released then. */
  aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array>;
}

const X25519_BYTES = 32;
export const GCM_TAG_BYTES = 16;

export function checkX25519Bytes(name: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== X25519_BYTES) {
    throw new ProtocolError("INVALID_ARGUMENT", `${name}: expected a ${X25519_BYTES}-byte X25519 key`);
  }
}

export function checkSharedSecret(s: Uint8Array): Uint8Array {
  // RFC 9180 §7.1.4: "the DH function ... MUST check whether the output is the all-zero value
  // and abort if so" (the peer's public key had small order).
  let acc = 0;
  for (const b of s) acc |= b;
  if (acc === 0) throw new ProtocolError("MLS_MESSAGE_REJECTED", "X25519 produced the all-zero shared secret (small-order public key)");
  return s;
}

export function base64url(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// RFC 8410 PKCS#8 wrapping of a raw X25519 private key (OID 1.3.101.110).
const PKCS8_X25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

export function pkcs8(privateKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(PKCS8_X25519_PREFIX.length + X25519_BYTES);
  out.set(PKCS8_X25519_PREFIX, 0);
  out.set(privateKey, PKCS8_X25519_PREFIX.length);
  return out;
}

function webCryptoBackend(subtle: SubtleCrypto): MlsCryptoBackend {
  const X25519 = { name: "X25519" } as const;
  const pair = async (key: CryptoKey): Promise<X25519KeyPair> => {
    const jwk = await subtle.exportKey("jwk", key);
    if (jwk.d === undefined || jwk.x === undefined) throw new ProtocolError("INVALID_ARGUMENT", "X25519: could not export the key");
    return { privateKey: fromBase64url(jwk.d), publicKey: fromBase64url(jwk.x), handle: key };
  };
  const aesKey = (key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> => {
    if (key.length !== 16 && key.length !== 32) throw new ProtocolError("INVALID_ARGUMENT", "AES-GCM key: expected 16 or 32 bytes");
    return subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, [usage]);
  };
  const params = (nonce: Uint8Array, aad: Uint8Array): AesGcmParams =>
    aad.length > 0
      ? { name: "AES-GCM", iv: nonce as Uint8Array<ArrayBuffer>, additionalData: aad as Uint8Array<ArrayBuffer> }
      : { name: "AES-GCM", iv: nonce as Uint8Array<ArrayBuffer> };
  return {
    name: "webcrypto",
    async x25519Generate() {
      const kp = (await subtle.generateKey(X25519, true, ["deriveBits"])) as CryptoKeyPair;
      return pair(kp.privateKey);
    },
    async x25519FromPrivate(privateKey) {
      checkX25519Bytes("privateKey", privateKey);
      const key = await subtle.importKey("pkcs8", pkcs8(privateKey) as Uint8Array<ArrayBuffer>, X25519, true, ["deriveBits"]);
      return pair(key);
    },
    async x25519(own, peerPublic) {
      checkX25519Bytes("publicKey", peerPublic);
      const pub = await subtle.importKey("raw", peerPublic as Uint8Array<ArrayBuffer>, X25519, false, []);
      let bits: ArrayBuffer;
      try {
        bits = await subtle.deriveBits({ name: "X25519", public: pub }, own.handle as CryptoKey, 256);
      } catch {
        throw new ProtocolError("MLS_MESSAGE_REJECTED", "X25519 failed (small-order public key)");
      }
      return checkSharedSecret(new Uint8Array(bits));
    },
    async aesGcmSeal(key, nonce, aad, plaintext) {
      const k = await aesKey(key, "encrypt");
      return new Uint8Array(await subtle.encrypt(params(nonce, aad), k, plaintext as Uint8Array<ArrayBuffer>));
    },
    async aesGcmOpen(key, nonce, aad, ciphertextAndTag) {
      const k = await aesKey(key, "decrypt");
      try {
        return new Uint8Array(await subtle.decrypt(params(nonce, aad), k, ciphertextAndTag as Uint8Array<ArrayBuffer>));
      } catch {
        throw new ProtocolError("MLS_MESSAGE_REJECTED", "AES-GCM: authentication failed");
      }
    },
  };
}

let selected: MlsCryptoBackend | undefined;

/** The WebCrypto back end (every runtime with `crypto.subtle`). */
export function webCryptoMlsBackend(): MlsCryptoBackend {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) throw new ProtocolError("MLS_UNSUPPORTED_SUITE", "this runtime has no WebCrypto");
  return webCryptoBackend(subtle);
}

/**
 * Installs the back end MLS suites use from now on (the Node entry installs node:crypto's). Suites
 * already built keep the one they were built with: install it before the first MLS operation.
 */
export function useMlsCryptoBackend(backend: MlsCryptoBackend): void {
  selected = backend;
}

/** The installed back end; WebCrypto when none was installed. */
export function mlsCryptoBackend(): MlsCryptoBackend {
  selected ??= webCryptoMlsBackend();
  return selected;
}
