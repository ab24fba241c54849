/**
 * Moving encrypted files to and from the meeting's server (POST/GET /api/meetings/:id/files,
 * docs/api.md). Only ciphertext crosses here; the participant's file token (from `joined`) is the
 * credential, in the X-Conclave-File-Token header.
 */
import type { FileTransport } from "./chat.js";

export const FILE_TOKEN_HEADER = "X-Conclave-File-Token";

/** A transport over `fetch` (browsers; same origin as the page). */
export function fetchFileTransport(baseUrl: string, fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): FileTransport {
  const url = (meetingId: string, fileId?: string) =>
    `${baseUrl.replace(/\/$/, "")}/api/meetings/${encodeURIComponent(meetingId)}/files${fileId === undefined ? "" : `/${encodeURIComponent(fileId)}`}`;
  return {
    async upload(meetingId, fileToken, ciphertext) {
      const res = await fetchImpl(url(meetingId), {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream", [FILE_TOKEN_HEADER]: fileToken },
        body: ciphertext as Uint8Array<ArrayBuffer>,
        cache: "no-store",
      });
      const body = (await res.json().catch(() => null)) as { fileId?: unknown; error?: { code?: string; message?: string } } | null;
      if (!res.ok || typeof body?.fileId !== "string") throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
      return body.fileId;
    },
    async download(meetingId, fileToken, fileId) {
      const res = await fetchImpl(url(meetingId, fileId), { headers: { [FILE_TOKEN_HEADER]: fileToken }, cache: "no-store" });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
      }
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
