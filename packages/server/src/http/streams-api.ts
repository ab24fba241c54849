/**
 * Live streaming over HTTP. A meeting's owner (or an admin) starts, reads and stops its stream:
 * `POST /api/meetings/:id/stream` with `{ "url": "rtmp(s)://host[:port]/app", "streamKey": "…" }`
 * (and optionally `"layout": "speaker" | "grid"`)
 * answers once the destination accepted the stream (or with STREAM_REFUSED). The stream key is
 * never echoed back, logged or stored in clear.
 */
import { z } from "zod";
import { ServerError } from "../errors.js";
import type { StreamInfo, StreamingService } from "../connectors/streaming-service.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes, Principal } from "./api-routes.js";
import { principalName } from "./audit-principal.js";
import { parseBody } from "./validation.js";

/** Checked by the service (STREAM_URL_INVALID), so no message ever quotes the key back. */
const startBody = z.strictObject({ url: z.unknown().optional(), streamKey: z.unknown().optional(), layout: z.unknown().optional() });

export function streamView(s: StreamInfo): Record<string, unknown> {
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  return {
    id: s.id,
    meetingId: s.meetingId,
    destination: s.destination,
    tls: s.tls,
    layout: s.layout,
    status: s.status,
    startedAt: iso(s.startedAt),
    connectedAt: iso(s.connectedAt),
    reconnects: s.reconnects,
    error: s.error,
  };
}

function isAdmin(principal: Principal): boolean {
  return principal.kind === "adminToken" || principal.user.role !== "member";
}

export function registerStreamsApi(api: ApiRoutes, deps: ApiDeps): void {
  const service = (): StreamingService => {
    const s = deps.streams?.();
    if (!s) throw new ServerError("STREAMING_NOT_ALLOWED", "this server does not run live streaming");
    return s;
  };
  /** The meeting's owner and admins control its stream. */
  const manageMeeting = (principal: Principal, id: string): void => {
    const policy = deps.database.meetings.meetingPolicy(id);
    if (policy === undefined) throw new ServerError("MEETING_NOT_FOUND");
    if (!isAdmin(principal) && !(principal.kind === "user" && principal.user.id === policy.ownerUserId)) {
      throw new ServerError("FORBIDDEN", "only the meeting's owner or an admin can stream it");
    }
  };

  api.route("POST", "/api/meetings/:id/stream", "user", async ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const body = await parseBody(request, startBody);
    const s = await service().startStream(request.params.id!, principalName(principal), body);
    return { status: 201, body: { stream: streamView(s) } };
  });

  api.route("GET", "/api/meetings/:id/stream", "user", ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const s = service().active(request.params.id!);
    return { body: { stream: s ? streamView(s) : null } };
  });

  api.route("DELETE", "/api/meetings/:id/stream", "user", async ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const s = await service().stopStream(request.params.id!);
    return { body: { stream: streamView(s) } };
  });
}
