/**
 * The public HTTP API of the foundation: health, creating meetings (admin token) and reading
 * a meeting's public facts. Join links carry the passcode in the URL fragment, which browsers
 * never send to a server, so it does not reach access logs or proxies.
 */
import { z } from "zod";
import type { AdminToken } from "../auth/admin-token.js";
import { ServerError } from "../errors.js";
import type { MeetingStore } from "../storage/meetings.js";
import type { RateLimiter } from "./rate-limit.js";
import type { RouteRequest, Router } from "./router.js";

/** POST /api/meetings body. Unknown keys are refused so a typo ("encription") is not ignored. */
const createMeetingBody = z
  .object({
    encryption: z.enum(["e2ee", "enhanced"]).default("e2ee"),
    passcode: z.boolean().default(true),
  })
  .strict();

export interface CreateMeetingResponse {
  id: string;
  /** `${publicUrl}/m/${id}`, plus `#pwd=<passcode>` when the meeting has one. */
  url: string;
  passcode: string | null;
  encryption: "e2ee" | "enhanced";
}

export interface MeetingInfoResponse {
  id: string;
  encryption: "e2ee" | "enhanced";
  passcodeRequired: boolean;
  ended: boolean;
}

export interface MeetingsApiDeps {
  readonly meetings: MeetingStore;
  readonly adminToken: AdminToken;
  /** Counts failed admin authentications per client address. */
  readonly authFailures: RateLimiter;
  /** Base of join links; a function because the port is known only after listening. */
  readonly publicUrl: () => string;
}

export function joinUrl(publicUrl: string, id: string, passcode: string | null): string {
  const base = `${publicUrl}/m/${id}`;
  return passcode === null ? base : `${base}#pwd=${encodeURIComponent(passcode)}`;
}

export function registerMeetingsApi(router: Router, deps: MeetingsApiDeps): void {
  router.get("/healthz", () => ({ body: { ok: true } }));

  router.post("/api/meetings", async (request) => {
    requireAdmin(request, deps);
    const parsed = createMeetingBody.safeParse((await request.json()) ?? {});
    if (!parsed.success) throw new ServerError("BAD_REQUEST", describeIssues(parsed.error.issues));
    const { meeting, passcode } = await deps.meetings.create(parsed.data);
    const body: CreateMeetingResponse = {
      id: meeting.id,
      url: joinUrl(deps.publicUrl(), meeting.id, passcode),
      passcode,
      encryption: meeting.encryption,
    };
    return { status: 201, body, headers: { Location: `/api/meetings/${meeting.id}` } };
  });

  router.get("/api/meetings/:id", (request) => {
    const meeting = deps.meetings.get(request.params.id ?? "");
    if (meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    const body: MeetingInfoResponse = {
      id: meeting.id,
      encryption: meeting.encryption,
      passcodeRequired: meeting.passcodeRequired,
      ended: meeting.endedAt !== undefined,
    };
    return { body };
  });
}

/** Throws RATE_LIMITED after repeated failures from one address, UNAUTHORIZED on a bad token. */
function requireAdmin(request: RouteRequest, deps: MeetingsApiDeps): void {
  const client = request.remoteAddress;
  if (deps.authFailures.isLimited(client)) throw new ServerError("RATE_LIMITED");
  if (!deps.adminToken.verifyAuthorization(request.headers.authorization)) {
    deps.authFailures.record(client);
    throw new ServerError("UNAUTHORIZED");
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const where = i.path.length > 0 ? i.path.join(".") : "body";
      // Zod's messages name expected types and keys, never the submitted values.
      return `${where}: ${i.message}`;
    })
    .join("; ");
}
