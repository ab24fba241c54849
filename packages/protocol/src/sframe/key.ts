/**
 * One derived SFrame key: sframe_key imported into the crypto back end plus sframe_salt,
 * for one (cipher suite, KID). Internal to the package: frames are sealed and opened only
 * through SFrameEncryptor (which owns the counter) and SFrameDecryptor.
 */
import { ProtocolError } from "../errors.js";
import { concatBytes, encodeBigEndian, utf8 } from "../bytes.js";
import type { SFrameAead, SFrameCrypto } from "./crypto.js";
import type { SFrameCipherSuite } from "./suites.js";
import { checkSFrameValue } from "./header.js";
import { ScratchSlab } from "./scratch.js";

const KEY_LABEL = utf8.encode("SFrame 1.0 Secret key ");
const SALT_LABEL = utf8.encode("SFrame 1.0 Secret salt ");

/** RFC 9605 §4.4.2: "SFrame 1.0 Secret key " + encode_big_endian(KID, 8) + encode_big_endian(suite, 2). */
export function sframeKeyLabel(kid: bigint, suiteId: number): Uint8Array {
  return concatBytes(KEY_LABEL, encodeBigEndian(kid, 8), encodeBigEndian(suiteId, 2));
}

/** RFC 9605 §4.4.2: "SFrame 1.0 Secret salt " + encode_big_endian(KID, 8) + encode_big_endian(suite, 2). */
export function sframeSaltLabel(kid: bigint, suiteId: number): Uint8Array {
  return concatBytes(SALT_LABEL, encodeBigEndian(kid, 8), encodeBigEndian(suiteId, 2));
}


export class SFrameKey {
  readonly suite: SFrameCipherSuite;
  readonly kid: bigint;
  readonly #aead: SFrameAead;
  /** sframe_salt: the bytes before the last 8, then the last 8 as two 32-bit halves (all suites have Nn >= 8). */
  readonly #saltHead: Uint8Array;
  readonly #saltHi: number;
  readonly #saltLo: number;
  readonly #nonces = new ScratchSlab();

  private constructor(suite: SFrameCipherSuite, kid: bigint, aead: SFrameAead, salt: Uint8Array) {
    this.suite = suite;
    this.kid = kid;
    this.#aead = aead;
    this.#saltHead = salt.slice(0, suite.Nn - 8);
    const tail = new DataView(salt.buffer, salt.byteOffset + suite.Nn - 8, 8);
    this.#saltHi = tail.getUint32(0);
    this.#saltLo = tail.getUint32(4);
  }

  /** RFC 9605 §4.4.2 derive_key_salt(KID, base_key), then imports sframe_key. */
  static async derive(crypto: SFrameCrypto, suite: SFrameCipherSuite, kid: bigint, baseKey: Uint8Array): Promise<SFrameKey> {
    checkSFrameValue("kid", kid);
    if (!(baseKey instanceof Uint8Array) || baseKey.length === 0) {
      throw new ProtocolError("INVALID_ARGUMENT", "baseKey: expected a non-empty Uint8Array");
    }
    // sframe_secret = HKDF-Extract("", base_key); the provider's hkdf does Extract then Expand.
    const [key, salt] = await Promise.all([
      crypto.hkdf(suite.hash, baseKey, sframeKeyLabel(kid, suite.id), suite.Nk),
      crypto.hkdf(suite.hash, baseKey, sframeSaltLabel(kid, suite.id), suite.Nn),
    ]);
    try {
      const aead = await crypto.importAeadKey(suite, key);
      return new SFrameKey(suite, kid, aead, salt);
    } finally {
      // The back end holds its own copy now; do not leave key bytes lying in the heap.
      key.fill(0);
      salt.fill(0);
    }
  }

  /** RFC 9605 §4.4.3: nonce = xor(sframe_salt, encode_big_endian(CTR, Nn)). */
  nonce(ctr: bigint): Uint8Array {
    const nn = this.suite.Nn;
    const nonce = this.#nonces.take(nn);
    nonce.set(this.#saltHead);
    // CTR as two 32-bit halves; below 2^32 that needs no bigint arithmetic.
    const ctrHi = ctr <= 0xffff_ffffn ? 0 : Number(ctr >> 32n);
    const ctrLo = ctr <= 0xffff_ffffn ? Number(ctr) : Number(ctr & 0xffff_ffffn);
    const hi = this.#saltHi ^ ctrHi;
    const lo = this.#saltLo ^ ctrLo;
    nonce[nn - 8] = hi >>> 24;
    nonce[nn - 7] = hi >>> 16;
    nonce[nn - 6] = hi >>> 8;
    nonce[nn - 5] = hi;
    nonce[nn - 4] = lo >>> 24;
    nonce[nn - 3] = lo >>> 16;
    nonce[nn - 2] = lo >>> 8;
    nonce[nn - 1] = lo;
    return nonce;
  }

  /** RFC 9605 §4.4.3: aad = header || metadata; returns header || ciphertext || tag. */
  seal(ctr: bigint, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array> {
    return this.#aead.seal(this.nonce(ctr), header, metadata, plaintext, output);
  }

  /** RFC 9605 §4.4.4: the same nonce and aad; rejects with SFRAME_BAD_TAG on failure. */
  open(ctr: bigint, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array> {
    return this.#aead.open(this.nonce(ctr), header, metadata, ciphertextAndTag);
  }

  /** What logs and JSON see: the suite and KID, never key material. */
  toString(): string {
    return `SFrameKey(${this.suite.name}, KID ${this.kid}) [key redacted]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
