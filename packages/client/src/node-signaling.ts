/**
 * Signaling over WSS for Node participants, with the TLS trust choices a self-hosted server needs:
 * the system CAs, a given CA/self-signed certificate (PEM), or a pinned SHA-256 fingerprint.
 */
import { X509Certificate } from "node:crypto";
import { request } from "node:https";
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

/** A meeting's public facts (GET /api/meetings/:id), what a participant needs before joining. */
export interface MeetingPublicInfo {
  encryption: "e2ee" | "enhanced";
  /** The meeting's MLS group uses the X-Wing post-quantum suite. */
  postQuantum: boolean;
}

/**
 * Reads a meeting's public facts over HTTPS from the server behind `signalingUrl`
 * (wss://host:port/ws), with the same TLS trust as the signaling connection.
 */
export function fetchMeetingInfo(signalingUrl: string, meetingId: string, opts: NodeSignalingOptions = {}): Promise<MeetingPublicInfo> {
  const url = new URL(`/api/meetings/${encodeURIComponent(meetingId)}`, signalingUrl.replace(/^wss:/, "https:"));
  const pinned = opts.fingerprint ? normaliseFingerprint(opts.fingerprint) : null;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "GET",
        minVersion: "TLSv1.2",
        timeout: opts.timeoutMs ?? 10_000,
        headers: { accept: "application/json" },
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(pinned || opts.insecure ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        if (pinned) {
          const cert = (res.socket as TLSSocket).getPeerCertificate(false);
          const got = cert?.raw ? normaliseFingerprint(new X509Certificate(cert.raw).fingerprint256) : "";
          if (got !== pinned) {
            res.destroy();
            reject(new Error("the server's certificate does not match the pinned fingerprint"));
            return;
          }
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024) res.destroy(new Error("the meeting information is too large"));
          else chunks.push(c);
        });
        res.on("error", reject);
        res.on("end", () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            reject(new Error(`the server answered ${res.statusCode} without JSON`));
            return;
          }
          const b = body as { encryption?: unknown; postQuantum?: unknown; code?: unknown; message?: unknown };
          if (res.statusCode !== 200) {
            // The server's error code (MEETING_NOT_FOUND, RATE_LIMITED…) travels as `serverCode`.
            reject(Object.assign(new Error(typeof b.message === "string" ? b.message : `HTTP ${res.statusCode}`), { serverCode: typeof b.code === "string" ? b.code : "REQUEST_FAILED" }));
            return;
          }
          if ((b.encryption !== "e2ee" && b.encryption !== "enhanced") || (b.postQuantum !== undefined && typeof b.postQuantum !== "boolean")) {
            reject(new Error("the server's meeting information is malformed"));
            return;
          }
          // A server from before post-quantum meetings does not say: its meetings use suite 1.
          resolve({ encryption: b.encryption, postQuantum: b.postQuantum === true });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("the server did not answer in time")));
    req.on("error", reject);
    req.end();
  });
}
