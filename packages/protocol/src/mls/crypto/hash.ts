/**
 * Synchronous SHA-2, HMAC and HKDF (RFC 5869) from `@noble/hashes` (audited, maintained), behind
 * ts-mls's `Hash` and `Kdf` interfaces.
 *
 * Stock ts-mls awaits one WebCrypto call per digest or MAC (and imports an HMAC key for each
 * one); an MLS commit at N=1000 does thousands of them, so the round trips through the event
 * loop and the thread pool cost more than the hashing. These compute in place and hand back an
 * already-resolved promise. The outputs are the same bytes (the tests compare them with the
 * stock WebCrypto implementations).
 */
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { extract, expand } from "@noble/hashes/hkdf.js";
import type { CHash } from "@noble/hashes/utils.js";
import type { Hash, Kdf } from "../library.js";
import { constantTimeEqual } from "../../bytes.js";

export type MlsHashName = "SHA-256" | "SHA-384" | "SHA-512";

type NobleHash = CHash;

function noble(name: MlsHashName): NobleHash {
  switch (name) {
    case "SHA-256":
      return sha256;
    case "SHA-384":
      return sha384;
    case "SHA-512":
      return sha512;
  }
}

/** A computed value as a settled promise: a throw becomes a rejection, as with the async stock code. */
function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** ts-mls `Hash` (digest, HMAC, constant-time HMAC check) on @noble/hashes. */
export function syncHash(name: MlsHashName): Hash {
  const h = noble(name);
  return {
    digest: (data) => settle(() => h(data)),
    mac: (key, data) => settle(() => hmac(h, key, data)),
    verifyMac: (key, mac, data) => settle(() => constantTimeEqual(hmac(h, key, data), mac)),
  };
}

/** ts-mls `Kdf` (HKDF-Extract / HKDF-Expand, RFC 5869) on @noble/hashes. */
export function syncKdf(name: MlsHashName): Kdf {
  const h = noble(name);
  return {
    // RFC 5869 §2.2: an absent salt is HashLen zeros; HMAC pads an empty key with zeros, so an
    // empty salt gives the same PRK as the stock implementation.
    extract: (salt, ikm) => settle(() => extract(h, ikm, salt)),
    expand: (prk, info, len) => settle(() => expand(h, prk, info, len)),
    size: h.outputLen,
  };
}

/** The same functions, synchronous, for the HPKE key schedule. */
export function hkdfSync(name: MlsHashName): {
  extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  expand(prk: Uint8Array, info: Uint8Array, len: number): Uint8Array;
  size: number;
} {
  const h = noble(name);
  return {
    extract: (salt, ikm) => extract(h, ikm, salt),
    expand: (prk, info, len) => expand(h, prk, info, len),
    size: h.outputLen,
  };
}
