/**
 * SHA-256 certificate fingerprints: how `conclave serve` shows its certificate so clients can
 * pin it. Colon-separated upper-case hex, the format of `openssl x509 -fingerprint -sha256`
 * and X509Certificate.fingerprint256. (Parsing a user-typed fingerprint is the client's job:
 * packages/cli/src/fingerprint.ts.)
 */
import { X509Certificate } from "node:crypto";

/** The SHA-256 fingerprint of the first certificate in a PEM (or DER) buffer. */
export function certificateFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}
