/**
 * Parsing and comparing the SHA-256 certificate fingerprints users pass to --fingerprint.
 * `conclave serve` prints them as colon-separated upper-case hex (X509Certificate.fingerprint256).
 */
import { timingSafeEqual } from "node:crypto";

/**
 * Accepts 64 hex digits, with or without colons or spaces, any case, optionally prefixed
 * "sha256:" / "SHA256=". Returns the canonical AB:CD:… form, or undefined.
 */
export function normalizeFingerprint(input: string): string | undefined {
  const hex = input
    .trim()
    .replace(/^sha-?256[:=]/i, "")
    .replace(/[\s:]/g, "")
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(":");
}

/** Compare two fingerprints in any accepted notation; false if either is malformed. */
export function fingerprintsEqual(a: string, b: string): boolean {
  const na = normalizeFingerprint(a);
  const nb = normalizeFingerprint(b);
  if (na === undefined || nb === undefined) return false;
  // Fingerprints are public; constant time costs nothing and keeps the habit.
  return timingSafeEqual(Buffer.from(na), Buffer.from(nb));
}
