/**
 * The TLS profile of every listener, after Mozilla's "intermediate" configuration
 * (https://ssl-config.mozilla.org/guidelines/5.7.json): TLS 1.3, and TLS 1.2 only with ECDHE key
 * exchange and AEAD ciphers (AES-GCM, ChaCha20-Poly1305). No CBC suite (LUCKY13, padding
 * oracles), no CCM, no ARIA, no static RSA key exchange, no finite-field DHE, no TLS 1.0/1.1.
 */
import type { SecureContextOptions, TlsOptions } from "node:tls";

/** TLS 1.3 suites (RFC 8446 §B.4), all AEAD; CCM suites are left out. */
export const TLS13_CIPHERSUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] as const;

/** TLS 1.2 suites: ECDHE + AEAD only, in Mozilla intermediate's order. */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
] as const;

/** Key-exchange groups: X25519 first, then the NIST curves browsers offer. */
export const TLS_GROUPS = ["X25519", "prime256v1", "secp384r1"] as const;

/** Options for tls.createSecureContext / https.createServer / setSecureContext (without cert and key). */
export const TLS_PROFILE: SecureContextOptions & Pick<TlsOptions, "honorCipherOrder"> = {
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.3",
  // Node takes the TLS 1.3 suites from the same string (they are set with SSL_CTX_set_ciphersuites).
  ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(":"),
  ecdhCurve: TLS_GROUPS.join(":"),
  // Every suite offered is strong; let clients pick (ChaCha20 on devices without AES hardware).
  honorCipherOrder: false,
};

/** The profile with a certificate chain and its key, for a listener or a secure-context swap. */
export function secureContextOptions(material: { cert: Buffer; key: Buffer }): SecureContextOptions & Pick<TlsOptions, "honorCipherOrder"> {
  return { ...TLS_PROFILE, cert: material.cert, key: material.key };
}
