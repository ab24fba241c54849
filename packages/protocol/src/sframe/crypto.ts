/**
 * The crypto provider seam for SFrame: the few primitives RFC 9605 needs, so the same
 * SFrame code runs on WebCrypto (browsers, Node) or on node:crypto (faster on servers).
 *
 * Providers see raw key bytes only while importing them; after that keys live inside
 * provider objects (CryptoKey, KeyObject) that never expose their bytes.
 */
import { ProtocolError } from "../errors.js";
import type { SFrameCipherSuite, SFrameHash } from "./suites.js";

export interface SFrameCrypto {
  /** A short label for benchmarks and test names ("webcrypto", "node"). */
  readonly name: string;

  /**
   * HKDF (RFC 5869) with an empty salt: HKDF-Expand(HKDF-Extract("", ikm), info, length),
   * the derivation RFC 9605 §4.4.2 uses for sframe_key and sframe_salt.
   */
  hkdf(hash: SFrameHash, ikm: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;

  /** Imports `key` (suite.Nk bytes) as the suite's AEAD (RFC 9605 §4.5, §4.5.1). */
  importAeadKey(suite: SFrameCipherSuite, key: Uint8Array): Promise<SFrameAead>;
}

/**
 * An imported AEAD key. The additional data is always `header || metadata` (RFC 9605
 * §4.4.3); they are passed apart so back ends can avoid concatenating them.
 *
 * This is the raw primitive: it seals under whatever nonce it is given. Frame code goes
 * through SFrameEncryptor, which owns the counter and never repeats a nonce.
 */
export interface SFrameAead {
  /**
   * AEAD.Encrypt; returns `header || ciphertext || tag` in one buffer: at the start of
   * `output` when given (the caller has checked it is long enough), else in a new one.
   */
  seal(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array>;
  /**
   * AEAD.Decrypt of `ciphertext || tag`; rejects with SFRAME_BAD_TAG when authentication
   * fails (no plaintext is released) and SFRAME_CIPHERTEXT_TOO_SHORT when there is no room
   * for a tag.
   */
  open(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array>;
}

/** For back ends: rejects an AEAD key that is not exactly suite.Nk bytes. */
export function checkAeadKeyLength(suite: SFrameCipherSuite, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== suite.Nk) {
    throw new ProtocolError("INVALID_ARGUMENT", `key: expected ${suite.Nk} bytes for ${suite.name}`);
  }
}

/**
 * For back ends: lays out `header || ciphertext || tag` at the start of `output` (or of a buffer
 * from `allocate`) and returns exactly that part. Called once the ciphertext exists, so the
 * plaintext has been fully read before anything is written.
 */
export function writeSFrame(
  output: Uint8Array | undefined,
  allocate: (length: number) => Uint8Array,
  header: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Uint8Array {
  const length = header.length + ciphertext.length + tag.length;
  const out = output ? output.subarray(0, length) : allocate(length);
  out.set(header, 0);
  out.set(ciphertext, header.length);
  out.set(tag, header.length + ciphertext.length);
  return out;
}

/** Rejects anything that is not an SFrameCrypto, naming the argument. */
export function checkSFrameCrypto(crypto: unknown): SFrameCrypto {
  const c = crypto as Partial<SFrameCrypto> | null | undefined;
  if (typeof c?.hkdf !== "function" || typeof c.importAeadKey !== "function") {
    throw new ProtocolError("INVALID_ARGUMENT", "crypto: expected an SFrameCrypto back end");
  }
  return c as SFrameCrypto;
}
