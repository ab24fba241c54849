/**
 * Live transcription over HTTP: a meeting's owner (or an admin) starts and stops it, and reads
 * its state. The captions themselves never pass through here: they go from the transcription
 * connector to the members as end-to-end encrypted MLS application messages.
 */
import { ServerError } from "../errors.js";
import type { TranscriptionService, TranscriptionView } from "../connectors/transcription-service.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes, Principal } from "./api-routes.js";

export function transcriptionView(v: TranscriptionView): Record<string, unknown> {
  return {
    meetingId: v.meetingId,
    status: v.status,
    startedAt: new Date(v.startedAt).toISOString(),
    stoppedAt: v.stoppedAt === null ? null : new Date(v.stoppedAt).toISOString(),
    memberId: v.memberId,
    captions: v.captions,
    speakers: v.speakers,
    engineFailures: v.engineFailures,
    error: v.error,
  };
}

export function registerTranscriptionApi(api: ApiRoutes, deps: ApiDeps): void {
  const service = (): TranscriptionService => {
    const s = deps.transcriptions?.();
    if (!s) throw new ServerError("TRANSCRIPTION_NOT_ALLOWED", "this server does not run live transcription");
    return s;
  };
  const meetings = deps.database.meetings;
  /** The meeting's owner and admins control its transcription. */
  const manageMeeting = (principal: Principal, id: string): void => {
    const policy = meetings.meetingPolicy(id);
    if (policy === undefined) throw new ServerError("MEETING_NOT_FOUND");
    const admin = principal.kind === "adminToken" || principal.user.role !== "member";
    if (!admin && !(principal.kind === "user" && principal.user.id === policy.ownerUserId)) {
      throw new ServerError("FORBIDDEN", "only the meeting's owner or an admin can transcribe it");
    }
  };

  api.route("POST", "/api/meetings/:id/transcription", "user", ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    return { status: 202, body: { transcription: transcriptionView(service().start(request.params.id!)) } };
  });

  api.route("GET", "/api/meetings/:id/transcription", "user", ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    const v = service().active(request.params.id!);
    return { body: { transcription: v ? transcriptionView(v) : null } };
  });

  api.route("DELETE", "/api/meetings/:id/transcription", "user", async ({ request, principal }) => {
    manageMeeting(principal, request.params.id!);
    return { body: { transcription: transcriptionView(await service().stop(request.params.id!)) } };
  });
}
