/**
 * SFrame cipher suites (RFC 9605 §4.5, registry in §8.1).
 *
 * Each suite fixes the HKDF hash used for key derivation (§4.4.2) and the AEAD used for
 * frames: AES-GCM, or AES-CTR with a truncated HMAC tag (§4.5.1).
 */
import { ProtocolError } from "../errors.js";

/** The hash function behind HKDF (and, for the CTR suites, behind HMAC). */
export type SFrameHash = "SHA-256" | "SHA-512";

/** How frames are sealed: AES-GCM, or AES-CTR + truncated HMAC (RFC 9605 §4.5.1). */
export type SFrameAeadKind = "AES-GCM" | "AES-CTR-HMAC";

export interface SFrameCipherSuite {
  /** The 16-bit registry value (RFC 9605 §8.1). */
  readonly id: number;
  readonly name: string;
  readonly aead: SFrameAeadKind;
  readonly hash: SFrameHash;
  /** Output size of the hash, in bytes. */
  readonly Nh: number;
  /** Size of the AES key inside the AEAD key (AES-CTR-HMAC suites only; 0 for AES-GCM). */
  readonly Nka: number;
  /** Size of the AEAD key, in bytes. */
  readonly Nk: number;
  /** Size of the AEAD nonce, in bytes. */
  readonly Nn: number;
  /** Size of the authentication tag, in bytes. */
  readonly Nt: number;
}

/** The registry values, by name (RFC 9605 §8.1). */
export const SFrameCipherSuiteId = {
  AES_128_CTR_HMAC_SHA256_80: 0x0001,
  AES_128_CTR_HMAC_SHA256_64: 0x0002,
  AES_128_CTR_HMAC_SHA256_32: 0x0003,
  AES_128_GCM_SHA256_128: 0x0004,
  AES_256_GCM_SHA512_128: 0x0005,
} as const;

// RFC 9605 §4.5 table (Nh, Nka, Nk, Nn, Nt); Nka is "n/a" for the GCM suites.
const SUITES: readonly SFrameCipherSuite[] = Object.freeze([
  suite(0x0001, "AES_128_CTR_HMAC_SHA256_80", "AES-CTR-HMAC", "SHA-256", 32, 16, 48, 12, 10),
  suite(0x0002, "AES_128_CTR_HMAC_SHA256_64", "AES-CTR-HMAC", "SHA-256", 32, 16, 48, 12, 8),
  suite(0x0003, "AES_128_CTR_HMAC_SHA256_32", "AES-CTR-HMAC", "SHA-256", 32, 16, 48, 12, 4),
  suite(0x0004, "AES_128_GCM_SHA256_128", "AES-GCM", "SHA-256", 32, 0, 16, 12, 16),
  suite(0x0005, "AES_256_GCM_SHA512_128", "AES-GCM", "SHA-512", 64, 0, 32, 12, 16),
]);

function suite(
  id: number, name: string, aead: SFrameAeadKind, hash: SFrameHash,
  Nh: number, Nka: number, Nk: number, Nn: number, Nt: number,
): SFrameCipherSuite {
  return Object.freeze({ id, name, aead, hash, Nh, Nka, Nk, Nn, Nt });
}

/** Every suite this implementation supports, in registry order. */
export const SFRAME_CIPHER_SUITES: readonly SFrameCipherSuite[] = SUITES;

/** Look a suite up by its registry value; throws SFRAME_UNKNOWN_SUITE for anything else. */
export function getSFrameCipherSuite(id: number): SFrameCipherSuite {
  const found = Number.isInteger(id) ? SUITES.find((s) => s.id === id) : undefined;
  if (!found) throw new ProtocolError("SFRAME_UNKNOWN_SUITE", `suite: ${String(id)}`);
  return found;
}
