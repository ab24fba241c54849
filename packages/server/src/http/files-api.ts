/**
 * Files shared in a meeting's chat, over HTTP: upload and download of CIPHERTEXT only
 * (files/meeting-files.ts; docs/api.md "Files shared in meetings").
 *
 * These routes are `public` to the account layer — participants of a meeting need no account —
 * and are guarded by the meeting's own capability instead: the `X-Conclave-File-Token` header
 * must carry the token the server gave this participant in `joined`, valid while it is in this
 * meeting. Nothing about a file's content is visible here; the key travels inside the MLS message
 * that shares it.
 */
import { ServerError } from "../errors.js";
import { isMeetingId } from "../storage/meetings.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes } from "./api-routes.js";
import { RESPONDED, type RouteRequest } from "./router.js";

export const FILE_TOKEN_HEADER = "x-conclave-file-token";

export function registerFilesApi(api: ApiRoutes, deps: ApiDeps): void {
  const files = deps.files;

  const memberOf = (request: RouteRequest): { meetingId: string; memberId: string } => {
    const meetingId = request.params.id!;
    if (!isMeetingId(meetingId)) throw new ServerError("FILE_TOKEN_INVALID");
    const header = request.headers[FILE_TOKEN_HEADER];
    const memberId = files.authorize(meetingId, typeof header === "string" ? header : undefined);
    return { meetingId, memberId };
  };

  api.route("POST", "/api/meetings/:id/files", "public", async ({ request }) => {
    const { meetingId, memberId } = memberOf(request);
    const type = request.headers["content-type"];
    if (type !== undefined && type.split(";")[0]!.trim().toLowerCase() !== "application/octet-stream") {
      throw new ServerError("UNSUPPORTED_MEDIA_TYPE", "send the encrypted file as application/octet-stream");
    }
    const lengthHeader = request.headers["content-length"];
    if (lengthHeader === undefined || !/^[0-9]{1,15}$/.test(lengthHeader)) throw new ServerError("LENGTH_REQUIRED");
    const length = Number(lengthHeader);
    if (length > files.limits.maxFileBytes) {
      // Refused before reading; the rest of the body is still on the wire, so the connection closes.
      request.response.setHeader("Connection", "close");
      throw new ServerError("FILE_TOO_LARGE", `at most ${files.limits.maxFileBytes} bytes`);
    }
    const stored = await files.store(meetingId, memberId, request.raw, length);
    return { status: 201, body: { fileId: stored.fileId, size: stored.size } };
  });

  api.route("GET", "/api/meetings/:id/files/:fileId", "public", async ({ request }): Promise<typeof RESPONDED> => {
    const { meetingId } = memberOf(request);
    const file = await files.open(meetingId, request.params.fileId!);
    const res = request.response;
    res.statusCode = 200;
    res.setHeader("Content-Type", "application/octet-stream");
    res.setHeader("Content-Length", file.size);
    res.setHeader("Cache-Control", "no-store");
    if (request.method === "HEAD") {
      file.stream.destroy();
      res.end();
      return RESPONDED;
    }
    await new Promise<void>((resolve) => {
      file.stream.on("error", () => {
        res.destroy();
        resolve();
      });
      res.on("close", () => {
        file.stream.destroy();
        resolve();
      });
      file.stream.pipe(res);
    });
    return RESPONDED;
  });
}
