/**
 * Signaling over WSS for Node participants, with the TLS trust choices a self-hosted server needs:
 * the system CAs, a given CA/self-signed certificate (PEM), or a pinned SHA-256 fingerprint.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { WebSocket } from "ws";
import type { SignalingChannel } from "./meeting-session.js";

export interface NodeSignalingOptions {
  /** PEM of a CA or self-signed certificate to trust (in addition to nothing else). */
  ca?: string | Buffer;
  /** SHA-256 fingerprint ("AB:CD:…" or hex) the server's certificate must have. */
  fingerprint?: string;
  /** Extra HTTP headers for the upgrade request (e.g. Authorization: Bearer <admin token> to host). */
  headers?: Record<string, string>;
  /** Accept any certificate (testing only). */
  insecure?: boolean;
  /** Timeout for the TLS + WebSocket handshake. */
  timeoutMs?: number;
}

export function normaliseFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
}

/** Opens a WSS connection to `url` (wss://host:port/ws) and resolves once it is open. */
export function connectNodeSignaling(url: string, opts: NodeSignalingOptions = {}): Promise<SignalingChannel> {
  const pinned = opts.fingerprint ? normaliseFingerprint(opts.fingerprint) : null;
  const ws = new WebSocket(url, {
    minVersion: "TLSv1.2",
    handshakeTimeout: opts.timeoutMs ?? 10_000,
    maxPayload: 8 * 1024 * 1024,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
    // With a pinned fingerprint the chain is not checked against CAs: the pin is the trust, and it
    // is checked on the upgrade response, before the connection is handed to the caller.
    ...(pinned || opts.insecure ? { rejectUnauthorized: false } : {}),
  });
  let pinFailure: Error | null = null;
  if (pinned) {
    ws.once("upgrade", (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate(false);
      const got = cert?.raw ? normaliseFingerprint(new X509Certificate(cert.raw).fingerprint256) : "";
      if (got !== pinned) {
        pinFailure = new Error("the server's certificate does not match the pinned fingerprint");
        ws.terminate();
      }
    });
  }
  return new Promise((resolve, reject) => {
    ws.once("error", (e) => reject(pinFailure ?? e));
    ws.once("close", () => reject(pinFailure ?? new Error("the connection closed during the handshake")));
    ws.once("open", () => {
      if (pinFailure) return;
      ws.removeAllListeners("error");
      ws.removeAllListeners("close");
      ws.on("error", () => {
        // 'close' follows and is reported through onClose
      });
      resolve({
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        onMessage: (handler) => ws.on("message", (data, isBinary) => {
          if (!isBinary) handler(data.toString());
        }),
        onClose: (handler) => ws.on("close", (code, reason) => handler(code, reason.toString())),
      });
    });
  });
}
