/**
 * Cloud recordings over HTTP. A meeting's owner (or an admin) starts and stops its recording;
 * the owner and admins list, play, download and delete recordings. Playing decrypts on the fly
 * (KMS chunked streams are read at random), with byte ranges so a browser can seek; the clear
 * bytes exist only in this response, never on disk.
 */
import { ServerError } from "../errors.js";
import type { RecordingFileName, RecordingMeta, RecordingService } from "../connectors/recording-service.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes, Principal } from "./api-routes.js";
import { RESPONDED } from "./router.js";
import { principalName } from "./audit-principal.js";

const FILES: Record<string, RecordingFileName> = { "recording.webm": "recording.webm", "audio.webm": "audio.webm", "captions.vtt": "captions.vtt" };
const CONTENT_TYPES: Record<RecordingFileName, string> = { "recording.webm": "video/webm", "audio.webm": "audio/webm", "captions.vtt": "text/vtt; charset=utf-8" };
const DOWNLOAD_SUFFIX: Record<RecordingFileName, string> = { "recording.webm": ".webm", "audio.webm": "-audio.webm", "captions.vtt": "-captions.vtt" };

export function recordingView(m: RecordingMeta): Record<string, unknown> {
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  return {
    id: m.id,
    meetingId: m.meetingId,
    ownerUserId: m.ownerUserId,
    status: m.status,
    recovered: m.recovered,
    createdAt: iso(m.createdAt),
    startedAt: iso(m.startedAt),
    stoppedAt: iso(m.stoppedAt),
    durationMs: m.durationMs,
    tracks: m.tracks,
    files: m.files.map((f) => ({ name: f.name, bytes: f.bytes, url: `/api/recordings/${m.id}/${f.name}` })),
    error: m.error,
  };
}

function isAdmin(principal: Principal): boolean {
  return principal.kind === "adminToken" || principal.user.role !== "member";
}

export function registerRecordingsApi(api: ApiRoutes, deps: ApiDeps): void {
  const service = (): RecordingService => {
    const s = deps.recordings?.();
    if (!s) throw new ServerError("RECORDING_NOT_ALLOWED", "this server does not run cloud recording");
    return s;
  };
  const meetings = deps.database.meetings;
  /** The meeting's owner and admins control its recording. */
  const manageMeeting = (principal: Principal, id: string): void => {
    const policy = meetings.meetingPolicy(id);
    if (policy === undefined) throw new ServerError("MEETING_NOT_FOUND");
    if (!isAdmin(principal) && !(principal.kind === "user" && principal.user.id === policy.ownerUserId)) {
      throw new ServerError("FORBIDDEN", "only the meeting's owner or an admin can record it");
    }
  };
  /** A recording its owner or an admin may see; others get not-found (no existence oracle). */
  const recordingFor = (principal: Principal, id: string): RecordingMeta => {
    const m = service().get(id);
    if (!isAdmin(principal) && !(principal.kind === "user" && principal.user.id === m.ownerUserId)) throw new ServerError("RECORDING_NOT_FOUND");
    return m;
  };

  api.route("POST", "/api/meetings/:id/recording", "user", async ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const m = await service().startRecording(request.params.id!, principalName(principal));
    return { status: 202, body: { recording: recordingView(m) } };
  });

  api.route("GET", "/api/meetings/:id/recording", "user", ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const m = service().active(request.params.id!);
    return { body: { recording: m ? recordingView(m) : null } };
  });

  api.route("DELETE", "/api/meetings/:id/recording", "user", async ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const m = await service().stopRecording(request.params.id!);
    return { body: { recording: recordingView(m) } };
  });

  api.route("GET", "/api/recordings", "user", ({ principal }) => {
    const list = isAdmin(principal) ? service().list() : service().list(principal.kind === "user" ? principal.user.id : "");
    return { body: { recordings: list.map(recordingView) } };
  });

  api.route("GET", "/api/recordings/:id", "user", ({ request, principal }) => ({ body: { recording: recordingView(recordingFor(principal, request.params.id!)) } }));

  api.route("DELETE", "/api/recordings/:id", "user", async ({ request, principal }) => {
    recordingFor(principal, request.params.id!);
    await service().delete(request.params.id!, principalName(principal));
    return { status: 204, body: null };
  });

  api.route("GET", "/api/recordings/:id/:file", "user", async ({ request, principal }): Promise<typeof RESPONDED> => {
    const m = recordingFor(principal, request.params.id!);
    const name = FILES[request.params.file!];
    if (!name) throw new ServerError("NOT_FOUND");
    const reader = await service().openFile(m.id, name, principalName(principal));
    const res = request.response;
    try {
      const size = reader.size;
      let start = 0;
      let end = size; // exclusive
      const range = request.headers.range;
      if (range !== undefined) {
        // RFC 9110 §14.1.2: one range of bytes is all a media element asks for.
        const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        if (!r || (r[1] === "" && r[2] === "")) throw new ServerError("RANGE_NOT_SATISFIABLE");
        if (r[1] === "") {
          start = Math.max(0, size - Number(r[2]));
        } else {
          start = Number(r[1]);
          end = r[2] === "" ? size : Math.min(size, Number(r[2]) + 1);
        }
        if (!Number.isSafeInteger(start) || start >= size || end <= start) {
          res.setHeader("Content-Range", `bytes */${size}`);
          throw new ServerError("RANGE_NOT_SATISFIABLE");
        }
        res.statusCode = 206;
        res.setHeader("Content-Range", `bytes ${start}-${end - 1}/${size}`);
      } else {
        res.statusCode = 200;
      }
      res.setHeader("Content-Type", CONTENT_TYPES[name]);
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader("Content-Length", String(end - start));
      res.setHeader("Cache-Control", "private, no-store");
      if (request.query.get("download") === "1") res.setHeader("Content-Disposition", `attachment; filename="recording-${m.meetingId}-${m.id.slice(0, 8)}${DOWNLOAD_SUFFIX[name]}"`);
      if (request.method === "HEAD") {
        res.end();
        return RESPONDED;
      }
      const stream = reader.createReadStream({ start, end });
      await new Promise<void>((resolve) => {
        stream.on("error", () => {
          res.destroy();
          resolve();
        });
        res.on("close", () => {
          stream.destroy();
          resolve();
        });
        stream.pipe(res);
      });
      return RESPONDED;
    } finally {
      await reader.close();
    }
  });
}
