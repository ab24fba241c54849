/**
 * Signaling over WSS for Node participants, with the TLS trust choices a self-hosted server needs:
 * the system CAs, a given CA/self-signed certificate (PEM), or a pinned SHA-256 fingerprint.
 */
import { request } from "node:https";
import { WebSocket } from "ws";
import type { SignalingChannel } from "./meeting-session.js";
import { pinMismatch, tlsClientOptions, type NodeTlsTrust } from "./node-tls.js";

export { normaliseFingerprint } from "./node-tls.js";

export interface NodeSignalingOptions extends NodeTlsTrust {
  /** Extra HTTP headers for the upgrade request (e.g. Authorization: Bearer <admin token> to host). */
  headers?: Record<string, string>;
  /** Timeout for the TLS + WebSocket handshake. */
  timeoutMs?: number;
}

/** Opens a WSS connection to `url` (wss://host:port/ws) and resolves once it is open. */
export function connectNodeSignaling(url: string, opts: NodeSignalingOptions = {}): Promise<SignalingChannel> {
  const ws = new WebSocket(url, {
    ...tlsClientOptions(opts),
    handshakeTimeout: opts.timeoutMs ?? 10_000,
    maxPayload: 8 * 1024 * 1024,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  // A pinned fingerprint is checked on the upgrade response, before the connection is handed over.
  let pinFailure: Error | null = null;
  if (opts.fingerprint) {
    ws.once("upgrade", (res) => {
      pinFailure = pinMismatch(res.socket, opts);
      if (pinFailure) ws.terminate();
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
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ...tlsClientOptions(opts),
        method: "GET",
        timeout: opts.timeoutMs ?? 10_000,
        headers: { accept: "application/json" },
      },
      (res) => {
        const pinFailure = pinMismatch(res.socket, opts);
        if (pinFailure) {
          res.destroy();
          reject(pinFailure);
          return;
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
