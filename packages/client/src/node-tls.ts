/**
 * The TLS trust choices of a Node participant, shared by its signaling (WSS), its meeting lookups
 * and its file transfers (HTTPS): the system CAs, a given CA/self-signed certificate (PEM), or a
 * pinned SHA-256 fingerprint of the server's certificate.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";

export interface NodeTlsTrust {
  /** PEM of a CA or self-signed certificate to trust (in addition to nothing else). */
  ca?: string | Buffer;
  /** SHA-256 fingerprint ("AB:CD:…" or hex) the server's certificate must have. */
  fingerprint?: string;
  /** Accept any certificate (testing only). */
  insecure?: boolean;
}

export function normaliseFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
}

/**
 * The client TLS options for `trust`. With a pinned fingerprint the chain is not checked against
 * CAs: the pin is the trust, checked by `pinMismatch` before anything is read or handed over.
 */
export function tlsClientOptions(trust: NodeTlsTrust): { minVersion: "TLSv1.2"; ca?: string | Buffer; rejectUnauthorized?: false } {
  return {
    minVersion: "TLSv1.2",
    ...(trust.ca ? { ca: trust.ca } : {}),
    ...(trust.fingerprint || trust.insecure ? { rejectUnauthorized: false } : {}),
  };
}

/** With a pinned fingerprint, the error when the server's certificate on `socket` is not the pinned one. */
export function pinMismatch(socket: unknown, trust: NodeTlsTrust): Error | null {
  if (!trust.fingerprint) return null;
  const cert = (socket as TLSSocket).getPeerCertificate(false);
  const got = cert?.raw ? normaliseFingerprint(new X509Certificate(cert.raw).fingerprint256) : "";
  return got === normaliseFingerprint(trust.fingerprint) ? null : new Error("the server's certificate does not match the pinned fingerprint");
}
