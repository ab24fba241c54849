/**
 * SHA-256 certificate fingerprints: how `conclave serve` shows its self-signed certificate and
 * how clients pin it. Shown as colon-separated upper-case hex (the format of
 * `openssl x509 -fingerprint -sha256` and X509Certificate.fingerprint256).
 */
import { X509Certificate, timingSafeEqual } from "node:crypto";

/** The SHA-256 fingerprint of the first certificate in a PEM (or DER) buffer. */
export function certificateFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}

/**
 * Parse a user-typed fingerprint: 64 hex digits, with or without colons or spaces, any case,
 * optionally prefixed "sha256:" / "SHA256=". Returns the canonical AB:CD:… form, or undefined.
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
  // Fingerprints are public, but constant time costs nothing here and keeps the habit.
  return timingSafeEqual(Buffer.from(na), Buffer.from(nb));
}
