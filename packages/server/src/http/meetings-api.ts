/**
 * Meetings over HTTP: health, scheduling (create, list, read, edit, delete), and passcode resets.
 * Join links carry the passcode in the URL fragment, which browsers never send to a server, so it
 * does not reach access logs or proxies. A passcode is shown once: when the meeting is created or
 * its passcode reset. Options are checked against the owner's effective settings
 * (settings/meeting-options.ts); meetings created with the admin token follow the account level.
 */
import { z } from "zod";
import { ServerError } from "../errors.js";
import {
  decideEncryption,
  decideLockable,
  decideMeetingOptions,
  decidePasscode,
  meetingSettingsSnapshot,
} from "../settings/meeting-options.js";
import { resolveAll, type ResolvedSettings } from "../settings/resolve.js";
import type { Encryption, Meeting, MeetingChanges, ScheduledMeeting } from "../storage/meetings.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes, Principal } from "./api-routes.js";
import { principalName } from "./audit-principal.js";
import { parseBody, topicField } from "./validation.js";

export interface CreateMeetingResponse {
  id: string;
  /** `${publicUrl}/m/${id}`, plus `#pwd=<passcode>` when the meeting has one. */
  url: string;
  passcode: string | null;
  encryption: Encryption;
  /** The meeting's MLS group uses the X-Wing post-quantum suite. */
  postQuantum: boolean;
  /** Phone dial-in for the invitation (when the server has trunks and the meeting takes phones). */
  dialIn?: { numbers: string[]; phonePasscode: string | null };
}

export interface MeetingInfoResponse {
  id: string;
  encryption: Encryption;
  /** Clients need it before joining: their key package must be for the meeting's MLS suite. */
  postQuantum: boolean;
  passcodeRequired: boolean;
  ended: boolean;
}

export function joinUrl(publicUrl: string, id: string, passcode: string | null): string {
  const base = `${publicUrl}/m/${id}`;
  return passcode === null ? base : `${base}#pwd=${encodeURIComponent(passcode)}`;
}

const encryptionField = z.enum(["e2ee", "enhanced"]);
/** RFC 3339 with an explicit offset ("2030-01-31T09:00:00Z", "…+01:00"), years 2000-2999. */
const startAtField = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .refine((ms) => ms >= Date.UTC(2000, 0, 1) && ms < Date.UTC(3000, 0, 1), { message: "must be between the years 2000 and 2999" });
const durationField = z.number().int().min(1).max(1440);

/** POST /api/meetings. Unknown keys are refused so a typo ("encription") is not ignored. */
const createMeetingBody = z.strictObject({
  encryption: encryptionField.optional(),
  postQuantum: z.boolean().optional(),
  passcode: z.boolean().optional(),
  topic: topicField.optional(),
  startAt: startAtField.optional(),
  durationMin: durationField.optional(),
  waitingRoom: z.boolean().optional(),
  joinBeforeHost: z.boolean().optional(),
});

// The invited connector's member name: what an MLS member identity takes (no C0/C1 control or
// bidi-override characters; a line break would also end the SIP header the name is sent in).
// eslint-disable-next-line no-control-regex
const CONNECTOR_NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** POST /api/meetings/:id/sip-invites. */
const sipInviteBody = z.strictObject({
  uri: z.string().regex(/^sips?:[^\s<>"]{1,500}$/, "must be a sip: or sips: URI"),
  displayName: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .refine((s) => !CONNECTOR_NAME_FORBIDDEN.test(s), { message: "must not contain control or bidi-override characters" })
    .optional(),
});

/** PATCH /api/meetings/:id: null clears topic, start time and duration. */
const updateMeetingBody = z.strictObject({
  encryption: encryptionField.optional(),
  topic: topicField.nullable().optional(),
  startAt: startAtField.nullable().optional(),
  durationMin: durationField.nullable().optional(),
  waitingRoom: z.boolean().optional(),
  joinBeforeHost: z.boolean().optional(),
});

export function registerMeetingsApi(api: ApiRoutes, deps: ApiDeps): void {
  const { meetings, settings, users } = deps.database;

  /** The effective settings of whoever owns a meeting: a user's, or the account's for admin-token meetings. */
  const ownerSettings = (ownerUserId: string | null): ResolvedSettings => {
    const owner = ownerUserId === null ? undefined : users.get(ownerUserId);
    return resolveAll(owner === undefined ? { account: settings.account() } : settings.levelsFor(owner));
  };

  /** The meeting's clear record (no KMS needed), once the principal may manage it. */
  const recordFor = (principal: Principal, id: string): { meeting: Meeting; ownerUserId: string | null } => {
    const policy = meetings.meetingPolicy(id);
    const meeting = meetings.get(id);
    if (policy === undefined || meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    if (!canManage(principal, policy)) throw new ServerError("FORBIDDEN", "only the meeting's owner or an admin can do this");
    return { meeting, ownerUserId: policy.ownerUserId };
  };

  /** The meeting with its sealed details, once the principal may manage it (checked on clear columns first). */
  const meetingFor = async (principal: Principal, id: string): Promise<ScheduledMeeting> => {
    const policy = meetings.meetingPolicy(id);
    if (policy === undefined) throw new ServerError("MEETING_NOT_FOUND");
    if (!canManage(principal, policy)) throw new ServerError("FORBIDDEN", "only the meeting's owner or an admin can do this");
    const meeting = await meetings.details(id, principalName(principal));
    if (meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    return meeting;
  };

  const detailsView = (m: ScheduledMeeting): Record<string, unknown> => ({
    id: m.id,
    encryption: m.encryption,
    postQuantum: m.postQuantum,
    passcodeRequired: m.passcodeRequired,
    ended: m.endedAt !== undefined,
    url: joinUrl(deps.publicUrl(), m.id, null),
    ownerUserId: m.ownerUserId,
    topic: m.topic,
    startAt: m.startAt === null ? null : new Date(m.startAt).toISOString(),
    durationMin: m.durationMin,
    waitingRoom: m.waitingRoom,
    joinBeforeHost: m.joinBeforeHost,
    createdAt: new Date(m.createdAt).toISOString(),
    endedAt: m.endedAt === undefined ? null : new Date(m.endedAt).toISOString(),
    settings: m.settings,
  });

  api.route("GET", "/healthz", "public", () => ({ body: { ok: true } }));

  api.route(
    "POST",
    "/api/meetings",
    "user",
    async ({ request, principal }) => {
      const body = await parseBody(request, createMeetingBody);
      const ownerUserId = principal.kind === "user" ? principal.user.id : null;
      const resolved = ownerSettings(ownerUserId);
      const options = decideMeetingOptions(resolved, body, ownerUserId === null ? "open" : "settings");
      const { meeting, passcode } = await meetings.create(
        {
          ...options,
          ownerUserId,
          topic: body.topic ?? null,
          startAt: body.startAt ?? null,
          durationMin: body.durationMin ?? null,
          settings: meetingSettingsSnapshot(resolved, options.encryption),
        },
        principalName(principal),
      );
      const response: CreateMeetingResponse = {
        id: meeting.id,
        url: joinUrl(deps.publicUrl(), meeting.id, passcode),
        passcode,
        encryption: meeting.encryption,
        postQuantum: meeting.postQuantum,
      };
      // E2EE meetings take no phones: no dial-in details for them.
      const dialIn = meeting.encryption === "enhanced" ? deps.connectors?.()?.dialIn?.(meeting.id) : undefined;
      if (dialIn) response.dialIn = dialIn;
      return { status: 201, body: response, headers: { Location: `/api/meetings/${meeting.id}` } };
    },
    // Before accounts this route took only the admin token; clients expect UNAUTHORIZED.
    { missingCredentials: "UNAUTHORIZED" },
  );

  api.route("GET", "/api/meetings", "user", async ({ principal }) => {
    const all = principal.kind === "adminToken" || principal.user.role !== "member";
    const by = principalName(principal);
    const list = all ? await meetings.listDetails({}, by) : await meetings.listDetails({ ownerUserId: principal.user.id }, by);
    return { body: { meetings: list.map(detailsView) } };
  });

  // Lookups spend the same per-address budget as joins: an unknown ID is a failed guess (answered
  // slower and slower, then RATE_LIMITED), so meeting IDs cannot be enumerated over HTTP either.
  api.route("GET", "/api/meetings/:id", "public", async ({ request, principal }) => {
    const { attempts } = deps.limiters;
    if (attempts.attempt(request.remoteAddress) !== null) throw new ServerError("RATE_LIMITED");
    const policy = meetings.meetingPolicy(request.params.id!);
    if (policy === undefined) {
      await attempts.failure(request.remoteAddress);
      throw new ServerError("MEETING_NOT_FOUND");
    }
    // Only those who manage the meeting get its sealed details (and cause an unwrap).
    if (principal !== null && canManage(principal, policy)) return { body: detailsView(await meetingFor(principal, request.params.id!)) };
    const meeting = meetings.get(request.params.id!);
    if (meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    const body: MeetingInfoResponse = {
      id: meeting.id,
      encryption: meeting.encryption,
      postQuantum: meeting.postQuantum,
      passcodeRequired: meeting.passcodeRequired,
      ended: meeting.endedAt !== undefined,
    };
    return { body };
  });

  api.route("PATCH", "/api/meetings/:id", "user", async ({ request, principal }) => {
    const body = await parseBody(request, updateMeetingBody);
    const meeting = await meetingFor(principal, request.params.id!);
    if (meeting.endedAt !== undefined) throw new ServerError("MEETING_ENDED");
    const resolved = ownerSettings(meeting.ownerUserId);
    // Only what changes is checked: a lock added since creation does not block editing the topic.
    const changes: { -readonly [K in keyof MeetingChanges]: MeetingChanges[K] } = {};
    if (body.encryption !== undefined) changes.encryption = decideEncryption(resolved, body.encryption);
    if (body.waitingRoom !== undefined) changes.waitingRoom = decideLockable(resolved, "waitingRoom", body.waitingRoom);
    if (body.joinBeforeHost !== undefined) changes.joinBeforeHost = decideLockable(resolved, "joinBeforeHost", body.joinBeforeHost);
    if (body.topic !== undefined) changes.topic = body.topic;
    if (body.startAt !== undefined) changes.startAt = body.startAt;
    if (body.durationMin !== undefined) changes.durationMin = body.durationMin;
    changes.settings = meetingSettingsSnapshot(resolved, changes.encryption ?? meeting.encryption);
    return { body: detailsView(await meetings.update(meeting.id, changes, principalName(principal))) };
  });

  api.route("DELETE", "/api/meetings/:id", "user", async ({ request, principal }) => {
    const { meeting } = recordFor(principal, request.params.id!);
    // Deleting needs no KMS: the data key is destroyed with the row (crypto-shredding).
    await meetings.delete(meeting.id, principalName(principal));
    return { status: 204, body: null };
  });

  api.route("GET", "/api/meetings/:id/chat", "user", async ({ request, principal }) => {
    const { meeting } = recordFor(principal, request.params.id!);
    const chat = await deps.database.chat.list(meeting.id, principalName(principal));
    return {
      body: {
        messages: chat.map((e) => ({ at: new Date(e.at).toISOString(), memberId: e.memberId, displayName: e.displayName, text: e.text, room: e.room })),
      },
    };
  });

  api.route("GET", "/api/meetings/:id/participants", "user", async ({ request, principal }) => {
    const { meeting } = recordFor(principal, request.params.id!);
    const log = await deps.database.participants.list(meeting.id, principalName(principal));
    return {
      body: {
        participants: log.map((e) => ({
          at: new Date(e.at).toISOString(),
          event: e.event,
          memberId: e.memberId,
          displayName: e.displayName,
          kind: e.kind,
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        })),
      },
    };
  });

  api.route("POST", "/api/meetings/:id/passcode", "user", async ({ request, principal }) => {
    const { meeting } = recordFor(principal, request.params.id!);
    if (meeting.endedAt !== undefined) throw new ServerError("MEETING_ENDED");
    const passcode = await meetings.resetPasscode(meeting.id);
    // The phone passcode derives from the passcode: a reset changes it too.
    const dialIn = meeting.encryption === "enhanced" ? deps.connectors?.()?.dialIn?.(meeting.id) : undefined;
    return { body: { passcode, url: joinUrl(deps.publicUrl(), meeting.id, passcode), ...(dialIn ? { dialIn } : {}) } };
  });

  // A host calls a room system into the meeting (the SIP connector joins as a visible member).
  api.route("POST", "/api/meetings/:id/sip-invites", "user", async ({ request, principal }) => {
    const body = await parseBody(request, sipInviteBody);
    const meeting = await meetingFor(principal, request.params.id!);
    if (meeting.endedAt !== undefined) throw new ServerError("MEETING_ENDED");
    if (meeting.encryption === "e2ee") throw new ServerError("CONNECTOR_NOT_ALLOWED");
    const connectors = deps.connectors?.();
    if (!connectors) throw new ServerError("SIP_DISABLED");
    const r = connectors.inviteRoomSystem(meeting.id, body.uri, body.displayName);
    if (!r.ok) throw new ServerError(r.code, r.detail);
    return { status: 202, body: { inviteId: "inviteId" in r ? r.inviteId : null } };
  });

  api.route("DELETE", "/api/meetings/:id/passcode", "user", ({ request, principal }) => {
    const { meeting, ownerUserId } = recordFor(principal, request.params.id!);
    if (meeting.endedAt !== undefined) throw new ServerError("MEETING_ENDED");
    decidePasscode(ownerSettings(ownerUserId), false);
    meetings.removePasscode(meeting.id);
    return { status: 204, body: null };
  });
}

/** The owner of a meeting, owner and admins, and the admin token manage it. */
function canManage(principal: Principal, meeting: { readonly ownerUserId: string | null }): boolean {
  return principal.kind === "adminToken" || principal.user.role !== "member" || principal.user.id === meeting.ownerUserId;
}
