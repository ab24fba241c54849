/**
 * The encrypted-file transport for Node participants: HTTPS to the meeting's server with the same
 * trust choices as its signaling (a CA/self-signed certificate, a pinned fingerprint, or the
 * system CAs). Only ciphertext travels here.
 */
import { request } from "node:https";
import type { FileTransport } from "./collaboration/chat.js";
import { FILE_TOKEN_HEADER } from "./collaboration/files-transport.js";
import { pinMismatch, tlsClientOptions, type NodeTlsTrust } from "./node-tls.js";

/** Largest download accepted (the server's own limit is lower). */
const MAX_DOWNLOAD_BYTES = 4 * 1024 ** 3 + 1024 ** 2;

export function nodeFileTransport(baseUrl: string, tls: NodeTlsTrust = {}): FileTransport {
  const call = (method: "GET" | "POST", path: string, token: string, body?: Uint8Array): Promise<{ status: number; bytes: Buffer }> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, baseUrl);
      const req = request(
        url,
        {
          ...tlsClientOptions(tls),
          method,
          headers: {
            [FILE_TOKEN_HEADER]: token,
            ...(body ? { "Content-Type": "application/octet-stream", "Content-Length": String(body.length) } : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const pinFailure = pinMismatch(res.socket, tls);
          if (pinFailure) {
            res.destroy();
            reject(pinFailure);
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_DOWNLOAD_BYTES) res.destroy(new Error("the download is larger than any shared file"));
            else chunks.push(c);
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("the server did not answer in time")));
      req.on("error", reject);
      req.end(body);
    });

  const failure = (status: number, bytes: Buffer): Error => {
    try {
      const body = JSON.parse(bytes.toString("utf8")) as { error?: { code?: string; message?: string } };
      const e = new Error(body.error?.message ?? `HTTP ${status}`) as Error & { code?: string };
      if (body.error?.code) e.code = body.error.code;
      return e;
    } catch {
      return new Error(`HTTP ${status}`);
    }
  };

  return {
    async upload(meetingId, token, ciphertext) {
      const { status, bytes } = await call("POST", `/api/meetings/${encodeURIComponent(meetingId)}/files`, token, ciphertext);
      if (status !== 201) throw failure(status, bytes);
      const body = JSON.parse(bytes.toString("utf8")) as { fileId?: unknown };
      if (typeof body.fileId !== "string") throw new Error("the server's answer has no fileId");
      return body.fileId;
    },
    async download(meetingId, token, fileId) {
      const { status, bytes } = await call("GET", `/api/meetings/${encodeURIComponent(meetingId)}/files/${encodeURIComponent(fileId)}`, token);
      if (status !== 200) throw failure(status, bytes);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
