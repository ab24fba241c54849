/**
 * The HTTP API as an OpenAPI 3.1 document, served at GET /api/openapi.json. Written by hand,
 * route by route; a test checks that it lists exactly the registered routes with the access
 * level each declares (x-access), and that every error code it names is in the server's table.
 * The settings schemas are built from the settings table so they cannot drift from it.
 */
import { SERVER_ERRORS, type ServerErrorCode } from "../errors.js";
import { SETTINGS, SETTING_KEYS, type SettingDefinition } from "../settings/catalog.js";
import type { Access } from "./api-routes.js";
import type { HttpMethod } from "./router.js";

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

const iso = { type: "string", format: "date-time" } as const;
const uuid = { type: "string", format: "uuid" } as const;

function settingValueSchema(d: SettingDefinition): Json {
  return d.type === "boolean" ? { type: "boolean" } : { type: "string", enum: [...d.values] };
}

function perSetting(make: (d: SettingDefinition) => Json): Json {
  const properties: Json = {};
  for (const key of SETTING_KEYS) properties[key] = make(SETTINGS[key]);
  return properties;
}

const schemas: Json = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: { code: { type: "string", enum: Object.keys(SERVER_ERRORS) }, message: { type: "string" } },
      },
    },
  },
  User: {
    type: "object",
    required: ["id", "email", "name", "role", "groupId", "disabled", "createdAt"],
    properties: {
      id: uuid,
      email: { type: "string", format: "email" },
      name: { type: "string" },
      role: { type: "string", enum: ["owner", "admin", "member"] },
      groupId: { oneOf: [uuid, { type: "null" }] },
      disabled: { type: "boolean" },
      createdAt: iso,
    },
  },
  SessionStarted: {
    type: "object",
    description: "Also sets the conclave_session (HttpOnly) and conclave_csrf cookies.",
    required: ["user", "csrfToken", "expiresAt"],
    properties: { user: ref("User"), csrfToken: { type: "string" }, expiresAt: iso },
  },
  Me: { type: "object", required: ["user", "sessionExpiresAt"], properties: { user: ref("User"), sessionExpiresAt: iso } },
  ChatHistory: {
    type: "object",
    required: ["messages"],
    properties: {
      messages: {
        type: "array",
        items: {
          type: "object",
          required: ["at", "memberId", "displayName", "text", "room"],
          properties: { at: iso, memberId: { type: "string" }, displayName: { type: "string" }, text: { type: "string" }, room: { type: ["string", "null"] } },
        },
      },
    },
  },
  FileStored: {
    type: "object",
    required: ["fileId", "size"],
    properties: {
      fileId: { type: "string", description: "Where the ciphertext is kept, until the meeting ends." },
      size: { type: "integer", description: "Bytes of ciphertext stored." },
    },
  },
  UserList: { type: "object", required: ["users"], properties: { users: { type: "array", items: ref("User") } } },
  UserResponse: { type: "object", required: ["user"], properties: { user: ref("User") } },
  Group: {
    type: "object",
    required: ["id", "name", "memberCount", "createdAt"],
    properties: { id: uuid, name: { type: "string" }, memberCount: { type: "integer" }, createdAt: iso },
  },
  GroupResponse: { type: "object", required: ["group"], properties: { group: ref("Group") } },
  GroupDetails: {
    type: "object",
    required: ["group", "members"],
    properties: { group: ref("Group"), members: { type: "array", items: ref("User") } },
  },
  GroupList: { type: "object", required: ["groups"], properties: { groups: { type: "array", items: ref("Group") } } },
  Invitation: {
    type: "object",
    required: ["id", "email", "role", "groupId", "invitedBy", "createdAt", "expiresAt"],
    properties: {
      id: uuid,
      email: { type: "string", format: "email" },
      role: { type: "string", enum: ["admin", "member"] },
      groupId: { oneOf: [uuid, { type: "null" }] },
      invitedBy: { oneOf: [uuid, { type: "null" }] },
      createdAt: iso,
      expiresAt: iso,
    },
  },
  InvitationCreated: {
    type: "object",
    required: ["invitation", "token"],
    properties: { invitation: ref("Invitation"), token: { type: "string", description: "Shown once; stored only as a hash." } },
  },
  InvitationList: { type: "object", required: ["invitations"], properties: { invitations: { type: "array", items: ref("Invitation") } } },
  SettingsCatalog: {
    type: "object",
    required: ["settings"],
    properties: {
      settings: {
        type: "array",
        items: {
          type: "object",
          required: ["key", "type", "default", "label", "description", "needsServerSideMember"],
          properties: {
            key: { type: "string", enum: [...SETTING_KEYS] },
            type: { type: "string", enum: ["boolean", "enum"] },
            values: { type: "array", items: { type: "string" } },
            default: {},
            label: { type: "string" },
            description: { type: "string" },
            needsServerSideMember: { type: "boolean" },
            unavailableInE2ee: { type: "string" },
            notBuilt: { type: "boolean", enum: [true], description: "The feature is not built yet: the setting does nothing for now." },
          },
        },
      },
    },
  },
  SettingView: {
    type: "object",
    required: ["value", "locked", "effective", "source", "writable"],
    properties: {
      value: { description: "The value set at this level; null if not set here." },
      locked: { type: "boolean", description: "Whether this level locks the key (never for users)." },
      effective: { description: "The value in effect at this level." },
      source: { type: "string", enum: ["default", "account", "group", "user"] },
      lockedAt: { type: "string", enum: ["account", "group"], description: "The level holding the lock in effect, if any." },
      writable: { type: "boolean", description: "False when a level above locks the key." },
      needsServerSideMember: { type: "boolean", enum: [true] },
    },
  },
  LevelSettings: {
    type: "object",
    required: ["settings"],
    properties: {
      settings: { type: "object", additionalProperties: false, required: [...SETTING_KEYS], properties: perSetting(() => ref("SettingView")) },
    },
  },
  LevelPatch: {
    type: "object",
    additionalProperties: false,
    description: "value null clears the level's value; absent fields stay as they are.",
    properties: perSetting((d) => ({
      type: "object",
      additionalProperties: false,
      properties: { value: { oneOf: [settingValueSchema(d), { type: "null" }] }, locked: { type: "boolean" } },
    })),
  },
  UserLevelPatch: {
    type: "object",
    additionalProperties: false,
    description: "Users cannot lock; value null clears.",
    properties: perSetting((d) => ({
      type: "object",
      additionalProperties: false,
      properties: { value: { oneOf: [settingValueSchema(d), { type: "null" }] } },
    })),
  },
  EffectiveSettings: {
    type: "object",
    required: ["settings"],
    properties: {
      settings: {
        type: "object",
        additionalProperties: false,
        required: [...SETTING_KEYS],
        properties: perSetting((d) => ({
          type: "object",
          required: ["value", "source", "locked"],
          properties: {
            value: settingValueSchema(d),
            source: { type: "string", enum: ["default", "account", "group", "user"] },
            locked: { type: "boolean" },
            lockedAt: { type: "string", enum: ["account", "group"] },
            ...(d.needsServerSideMember ? { unavailableInE2ee: { type: "string" } } : {}),
          },
        })),
      },
    },
  },
  CreateMeeting: {
    type: "object",
    additionalProperties: false,
    description: "Every field is optional; what is left out comes from the caller's effective settings.",
    properties: {
      encryption: { type: "string", enum: ["e2ee", "enhanced"] },
      postQuantum: { type: "boolean", description: "Fixed at creation. MLS group keys with the X-Wing post-quantum suite (MLS_256_XWING_AES256GCM_SHA512_Ed25519)." },
      passcode: { type: "boolean" },
      topic: { type: "string", minLength: 1, maxLength: 200 },
      startAt: iso,
      durationMin: { type: "integer", minimum: 1, maximum: 1440 },
      waitingRoom: { type: "boolean" },
      joinBeforeHost: { type: "boolean" },
    },
  },
  UpdateMeeting: {
    type: "object",
    additionalProperties: false,
    properties: {
      encryption: { type: "string", enum: ["e2ee", "enhanced"] },
      topic: { oneOf: [{ type: "string", minLength: 1, maxLength: 200 }, { type: "null" }] },
      startAt: { oneOf: [iso, { type: "null" }] },
      durationMin: { oneOf: [{ type: "integer", minimum: 1, maximum: 1440 }, { type: "null" }] },
      waitingRoom: { type: "boolean" },
      joinBeforeHost: { type: "boolean" },
    },
  },
  CreatedMeeting: {
    type: "object",
    required: ["id", "url", "passcode", "encryption", "postQuantum"],
    properties: {
      id: { type: "string", pattern: "^[1-9][0-9]{10}$" },
      url: { type: "string", description: "Join link; the passcode is in its #fragment." },
      passcode: { oneOf: [{ type: "string" }, { type: "null" }], description: "Shown once." },
      dialIn: {
        type: "object",
        description: "Phone dial-in, when the server has SIP trunks and the meeting takes phones: the numbers to call and the 8-digit phone passcode (shown once, like the passcode).",
        required: ["numbers", "phonePasscode"],
        properties: { numbers: { type: "array", items: { type: "string" } }, phonePasscode: { oneOf: [{ type: "string", pattern: "^[0-9]{8}$" }, { type: "null" }] } },
      },
      encryption: { type: "string", enum: ["e2ee", "enhanced"] },
      postQuantum: { type: "boolean", description: "MLS group keys with the X-Wing post-quantum suite (MLS_256_XWING_AES256GCM_SHA512_Ed25519)." },
    },
  },
  MeetingInfo: {
    type: "object",
    required: ["id", "encryption", "postQuantum", "passcodeRequired", "ended"],
    properties: {
      id: { type: "string" },
      encryption: { type: "string", enum: ["e2ee", "enhanced"] },
      postQuantum: { type: "boolean", description: "A client's key package must be for this suite. MLS group keys with the X-Wing post-quantum suite (MLS_256_XWING_AES256GCM_SHA512_Ed25519)." },
      passcodeRequired: { type: "boolean" },
      ended: { type: "boolean" },
    },
  },
  MeetingDetails: {
    type: "object",
    required: ["id", "encryption", "postQuantum", "passcodeRequired", "ended", "url", "ownerUserId", "topic", "startAt", "durationMin", "waitingRoom", "joinBeforeHost", "createdAt", "endedAt", "settings"],
    properties: {
      id: { type: "string" },
      encryption: { type: "string", enum: ["e2ee", "enhanced"] },
      postQuantum: { type: "boolean", description: "MLS group keys with the X-Wing post-quantum suite (MLS_256_XWING_AES256GCM_SHA512_Ed25519)." },
      passcodeRequired: { type: "boolean" },
      ended: { type: "boolean" },
      url: { type: "string", description: "Join link without the passcode." },
      ownerUserId: { oneOf: [uuid, { type: "null" }] },
      topic: { oneOf: [{ type: "string" }, { type: "null" }] },
      startAt: { oneOf: [iso, { type: "null" }] },
      durationMin: { oneOf: [{ type: "integer" }, { type: "null" }] },
      waitingRoom: { type: "boolean" },
      joinBeforeHost: { type: "boolean" },
      createdAt: iso,
      endedAt: { oneOf: [iso, { type: "null" }] },
      settings: {
        oneOf: [
          {
            type: "object",
            required: ["values", "unavailable"],
            properties: {
              values: { type: "object", properties: perSetting(settingValueSchema) },
              unavailable: { type: "object", additionalProperties: { type: "string" }, description: "Features off because the meeting is E2EE, with the reason." },
            },
          },
          { type: "null" },
        ],
      },
    },
  },
  MeetingView: {
    description: "Details for the meeting's owner, admins and the admin token; public facts for anyone else.",
    oneOf: [ref("MeetingDetails"), ref("MeetingInfo")],
  },
  MeetingList: { type: "object", required: ["meetings"], properties: { meetings: { type: "array", items: ref("MeetingDetails") } } },
  PasscodeReset: {
    type: "object",
    required: ["passcode", "url"],
    properties: {
      passcode: { type: "string" },
      url: { type: "string" },
      dialIn: { type: "object", description: "The new phone passcode (it derives from the passcode), when the meeting takes phones.", required: ["numbers", "phonePasscode"], properties: { numbers: { type: "array", items: { type: "string" } }, phonePasscode: { oneOf: [{ type: "string", pattern: "^[0-9]{8}$" }, { type: "null" }] } } },
    },
  },
  SipInviteAccepted: { type: "object", required: ["inviteId"], properties: { inviteId: { type: ["string", "null"] } } },
  Recording: {
    type: "object",
    required: ["id", "meetingId", "status", "recovered", "createdAt", "files"],
    properties: {
      id: { type: "string" },
      meetingId: { type: "string" },
      ownerUserId: { type: ["string", "null"] },
      status: { type: "string", enum: ["starting", "recording", "finalizing", "ready", "failed"] },
      recovered: { type: "boolean" },
      createdAt: { type: "string", format: "date-time" },
      startedAt: { type: ["string", "null"], format: "date-time" },
      stoppedAt: { type: ["string", "null"], format: "date-time" },
      durationMs: { type: ["integer", "null"] },
      tracks: { type: ["integer", "null"] },
      files: { type: "array", items: { type: "object", required: ["name", "bytes", "url"], properties: { name: { type: "string", enum: ["recording.webm", "audio.webm", "captions.vtt"] }, bytes: { type: "integer" }, url: { type: "string" } } } },
      error: { type: ["string", "null"] },
    },
  },
  RecordingEnvelope: { type: "object", required: ["recording"], properties: { recording: { $ref: "#/components/schemas/Recording" } } },
  ActiveRecording: { type: "object", required: ["recording"], properties: { recording: { oneOf: [{ $ref: "#/components/schemas/Recording" }, { type: "null" }] } } },
  RecordingList: { type: "object", required: ["recordings"], properties: { recordings: { type: "array", items: { $ref: "#/components/schemas/Recording" } } } },
  Stream: {
    type: "object",
    description: "A live stream under way. The stream key is never returned.",
    required: ["id", "meetingId", "destination", "tls", "layout", "status", "startedAt", "reconnects"],
    properties: {
      id: { type: "string" },
      meetingId: { type: "string" },
      destination: { type: "string", description: "rtmp://host[:port]/app or rtmps://…, without the stream key." },
      tls: { type: "boolean", description: "true for rtmps:// (TLS to the ingest); false: unencrypted beyond the connector." },
      layout: { type: "string", enum: ["speaker", "grid"], description: "speaker: the active speaker's camera; grid: up to four cameras in a 2×2 grid." },
      status: { type: "string", enum: ["connecting", "live", "reconnecting", "stopped", "failed"] },
      startedAt: { type: "string", format: "date-time" },
      connectedAt: { type: ["string", "null"], format: "date-time" },
      reconnects: { type: "integer", description: "Restarts after the ingest dropped." },
      error: { type: ["string", "null"] },
    },
  },
  StreamEnvelope: { type: "object", required: ["stream"], properties: { stream: { $ref: "#/components/schemas/Stream" } } },
  ActiveStream: { type: "object", required: ["stream"], properties: { stream: { oneOf: [{ $ref: "#/components/schemas/Stream" }, { type: "null" }] } } },
  Transcription: {
    type: "object",
    required: ["meetingId", "status", "startedAt", "captions"],
    properties: {
      meetingId: { type: "string" },
      status: { type: "string", enum: ["starting", "transcribing", "stopped", "failed"] },
      startedAt: { type: "string", format: "date-time" },
      stoppedAt: { type: ["string", "null"], format: "date-time" },
      memberId: { type: ["string", "null"] },
      captions: { type: "integer" },
      speakers: { type: "integer" },
      engineFailures: { type: "integer" },
      error: { type: ["string", "null"] },
    },
  },
  TranscriptionEnvelope: { type: "object", required: ["transcription"], properties: { transcription: { $ref: "#/components/schemas/Transcription" } } },
  ActiveTranscription: { type: "object", required: ["transcription"], properties: { transcription: { oneOf: [{ $ref: "#/components/schemas/Transcription" }, { type: "null" }] } } },
  ParticipantLog: {
    type: "object",
    required: ["participants"],
    properties: {
      participants: {
        type: "array",
        items: {
          type: "object",
          required: ["at", "event", "memberId", "displayName", "kind"],
          properties: {
            at: { type: "string", format: "date-time" },
            event: { type: "string", enum: ["joined", "left"] },
            memberId: { type: "string" },
            displayName: { type: "string" },
            kind: { type: "string", description: "person, or the connector's kind" },
            reason: { type: "string", enum: ["left", "disconnected", "removed"] },
          },
        },
      },
    },
  },
};

interface Operation {
  readonly access: Access;
  readonly summary: string;
  readonly description?: string;
  /** Request body schema name. */
  readonly body?: string;
  /** Success status and response schema name (none for 204). */
  readonly ok: readonly [number, string?];
  /** Errors besides the authentication ones implied by `access` and the body ones implied by `body`. */
  readonly errors?: readonly ServerErrorCode[];
  /** The request body is raw bytes (application/octet-stream), not JSON. */
  readonly binaryBody?: boolean;
  /** The success response is raw bytes (application/octet-stream). */
  readonly binaryResponse?: boolean;
  /** Headers the operation reads (besides the authentication ones). */
  readonly headers?: readonly { readonly name: string; readonly description: string }[];
}

const BODY_ERRORS: readonly ServerErrorCode[] = ["BAD_REQUEST", "MALFORMED_JSON", "UNSUPPORTED_MEDIA_TYPE", "BODY_TOO_LARGE"];

function authErrors(access: Access, method: HttpMethod): ServerErrorCode[] {
  if (access === "public") return [];
  const codes: ServerErrorCode[] = ["UNAUTHENTICATED", "UNAUTHORIZED", "RATE_LIMITED", "SESSION_EXPIRED"];
  if (method !== "GET") codes.push("CSRF_FAILED");
  if (access === "session" || access === "admin") codes.push("FORBIDDEN");
  return codes;
}

function security(access: Access, method: HttpMethod): Json[] {
  const session = method === "GET" ? { sessionCookie: [] } : { sessionCookie: [], csrfHeader: [] };
  switch (access) {
    case "public":
      return [];
    case "session":
      return [session];
    case "user":
    case "admin":
      return [session, { adminToken: [] }];
  }
}

function operation(method: HttpMethod, path: string, op: Operation): Json {
  const codes = [...new Set([...(op.body ? BODY_ERRORS : []), ...authErrors(op.access, method), ...(op.errors ?? [])])];
  const responses: Json = {};
  const [okStatus, okSchema] = op.ok;
  responses[String(okStatus)] = op.binaryResponse
    ? { description: "Success: the bytes.", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } }
    : okSchema
      ? { description: "Success.", content: { "application/json": { schema: ref(okSchema) } } }
      : { description: "Success; no body." };
  const byStatus = new Map<number, ServerErrorCode[]>();
  for (const code of codes) {
    const status = SERVER_ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = {
      description: list.map((c) => `\`${c}\``).join(", "),
      "x-error-codes": list,
      content: { "application/json": { schema: ref("Error") } },
    };
  }
  const params: Json[] = [
    ...[...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } })),
    ...(op.headers ?? []).map((h) => ({ name: h.name, in: "header", required: true, description: h.description, schema: { type: "string" } })),
  ];
  return {
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    operationId: `${method.toLowerCase()}${path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    "x-access": op.access,
    security: security(op.access, method),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: false, content: { "application/json": { schema: ref(op.body) } } } } : {}),
    ...(op.binaryBody ? { requestBody: { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } } } : {}),
    responses,
  };
}

/** Route by route: path (OpenAPI form) → method → operation. */
const OPERATIONS: Readonly<Record<string, Partial<Record<HttpMethod, Operation>>>> = {
  "/healthz": { GET: { access: "public", summary: "Health check: 200 {ok: true} once the server listens.", ok: [200] } },
  "/api/openapi.json": { GET: { access: "public", summary: "This document.", ok: [200] } },
  "/api/setup": {
    GET: { access: "public", summary: "Whether the server still needs its first user (the owner).", ok: [200] },
    POST: {
      access: "public",
      summary: "Create the owner account on a fresh server and sign in. Only while there are no users.",
      body: "SetupRequest",
      ok: [201, "SessionStarted"],
      errors: ["SETUP_DONE", "WEAK_PASSWORD"],
    },
  },
  "/api/auth/login": {
    POST: {
      access: "public",
      summary: "Sign in with email and password; starts a session (cookies).",
      body: "LoginRequest",
      ok: [200, "SessionStarted"],
      errors: ["LOGIN_FAILED", "ACCOUNT_DISABLED", "RATE_LIMITED"],
    },
  },
  "/api/auth/logout": { POST: { access: "session", summary: "Sign out this session.", ok: [204] } },
  "/api/auth/logout-all": { POST: { access: "session", summary: "Sign out every session of the signed-in user.", ok: [204] } },
  "/api/me": {
    GET: { access: "session", summary: "The signed-in user.", ok: [200, "Me"] },
    PATCH: { access: "session", summary: "Change your display name.", body: "MeUpdate", ok: [200, "UserResponse"] },
  },
  "/api/me/password": {
    POST: {
      access: "session",
      summary: "Change your password; signs out your other sessions.",
      body: "PasswordChange",
      ok: [204],
      errors: ["CURRENT_PASSWORD_WRONG", "WEAK_PASSWORD"],
    },
  },
  "/api/users": {
    GET: { access: "admin", summary: "Every user.", ok: [200, "UserList"] },
    POST: {
      access: "admin",
      summary: "Create a user with a password (only the owner creates admins).",
      body: "CreateUser",
      ok: [201, "UserResponse"],
      errors: ["EMAIL_TAKEN", "WEAK_PASSWORD", "GROUP_NOT_FOUND"],
    },
  },
  "/api/users/{id}": {
    PATCH: {
      access: "admin",
      summary: "Rename, change the role of, disable or enable a user. Disabling signs them out.",
      body: "UpdateUser",
      ok: [200, "UserResponse"],
      errors: ["USER_NOT_FOUND", "OWNER_PROTECTED"],
    },
    DELETE: {
      access: "admin",
      summary: "Delete a user with their sessions, settings and meetings.",
      ok: [204],
      errors: ["USER_NOT_FOUND", "OWNER_PROTECTED"],
    },
  },
  "/api/invitations": {
    GET: { access: "admin", summary: "Pending invitations.", ok: [200, "InvitationList"], errors: ["KMS_UNAVAILABLE", "DATA_UNREADABLE"] },
    POST: {
      access: "admin",
      summary: "Invite an email address with a role; the token is returned once and works once, for 7 days.",
      body: "CreateInvitation",
      ok: [201, "InvitationCreated"],
      errors: ["EMAIL_TAKEN", "GROUP_NOT_FOUND", "KMS_UNAVAILABLE"],
    },
  },
  "/api/invitations/{id}": {
    DELETE: { access: "admin", summary: "Withdraw a pending invitation.", ok: [204], errors: ["INVITATION_INVALID"] },
  },
  "/api/invitations/accept": {
    POST: {
      access: "public",
      summary: "Accept an invitation: create the account and sign in.",
      body: "AcceptInvitation",
      ok: [201, "SessionStarted"],
      errors: ["INVITATION_INVALID", "EMAIL_TAKEN", "WEAK_PASSWORD", "RATE_LIMITED", "KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
  },
  "/api/groups": {
    GET: { access: "admin", summary: "Every group.", ok: [200, "GroupList"] },
    POST: { access: "admin", summary: "Create a group.", body: "GroupRequest", ok: [201, "GroupResponse"], errors: ["GROUP_NAME_TAKEN"] },
  },
  "/api/groups/{id}": {
    GET: { access: "admin", summary: "A group and its members.", ok: [200, "GroupDetails"], errors: ["GROUP_NOT_FOUND"] },
    PATCH: {
      access: "admin",
      summary: "Rename a group.",
      body: "GroupRequest",
      ok: [200, "GroupResponse"],
      errors: ["GROUP_NOT_FOUND", "GROUP_NAME_TAKEN"],
    },
    DELETE: {
      access: "admin",
      summary: "Delete a group; its members stay, without a group, and its settings go.",
      ok: [204],
      errors: ["GROUP_NOT_FOUND"],
    },
  },
  "/api/groups/{id}/members/{userId}": {
    PUT: {
      access: "admin",
      summary: "Put a user in this group (out of any other: one group per user).",
      ok: [200, "UserResponse"],
      errors: ["GROUP_NOT_FOUND", "USER_NOT_FOUND"],
    },
    DELETE: { access: "admin", summary: "Take a user out of this group.", ok: [204], errors: ["GROUP_NOT_FOUND", "USER_NOT_FOUND"] },
  },
  "/api/settings/catalog": { GET: { access: "public", summary: "The table of settings.", ok: [200, "SettingsCatalog"] } },
  "/api/settings/account": {
    GET: { access: "admin", summary: "Account-level settings.", ok: [200, "LevelSettings"] },
    PATCH: { access: "admin", summary: "Set or lock account-level settings.", body: "LevelPatch", ok: [200, "LevelSettings"] },
  },
  "/api/settings/groups/{id}": {
    GET: { access: "admin", summary: "A group's settings.", ok: [200, "LevelSettings"], errors: ["GROUP_NOT_FOUND"] },
    PATCH: {
      access: "admin",
      summary: "Set or lock a group's settings (not keys the account locks).",
      body: "LevelPatch",
      ok: [200, "LevelSettings"],
      errors: ["GROUP_NOT_FOUND", "SETTING_LOCKED"],
    },
  },
  "/api/settings/users/{id}": {
    GET: {
      access: "user",
      summary: "A user's settings (yourself; admins: anyone).",
      ok: [200, "LevelSettings"],
      errors: ["USER_NOT_FOUND", "FORBIDDEN"],
    },
    PATCH: {
      access: "user",
      summary: "Set a user's settings (yourself, or users you manage; not keys locked above).",
      body: "UserLevelPatch",
      ok: [200, "LevelSettings"],
      errors: ["USER_NOT_FOUND", "FORBIDDEN", "SETTING_LOCKED"],
    },
  },
  "/api/settings/effective": {
    GET: { access: "session", summary: "The signed-in user's effective settings, with where each comes from.", ok: [200, "EffectiveSettings"] },
  },
  "/api/meetings": {
    GET: {
      access: "user",
      summary: "Your meetings (owner, admins and the admin token: every meeting).",
      ok: [200, "MeetingList"],
      errors: ["KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
    POST: {
      access: "user",
      summary: "Schedule or start a meeting. The passcode is returned this once.",
      description:
        "Without credentials this answers UNAUTHORIZED (as before accounts existed). Options are checked against the owner's effective settings; admin-token meetings follow the account level and default to no waiting room and join before host.",
      body: "CreateMeeting",
      ok: [201, "CreatedMeeting"],
      errors: ["E2EE_NOT_ALLOWED", "SETTING_LOCKED", "KMS_UNAVAILABLE"],
    },
  },
  "/api/meetings/{id}": {
    GET: {
      access: "public",
      summary: "A meeting: public facts for anyone; details for its owner, admins and the admin token.",
      ok: [200, "MeetingView"],
      errors: ["MEETING_NOT_FOUND", "KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
    PATCH: {
      access: "user",
      summary: "Edit a meeting (owner or admin).",
      body: "UpdateMeeting",
      ok: [200, "MeetingDetails"],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "E2EE_NOT_ALLOWED", "SETTING_LOCKED", "KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
    DELETE: { access: "user", summary: "Delete a meeting (owner or admin).", ok: [204], errors: ["MEETING_NOT_FOUND", "FORBIDDEN"] },
  },
  "/api/meetings/{id}/chat": {
    GET: {
      access: "user",
      summary:
        "The saved chat of an Enhanced meeting whose settings keep chat (owner or admin): group messages participants handed to the server, sealed at rest, so it needs the KMS. E2EE meetings have none.",
      ok: [200, "ChatHistory"],
      errors: ["MEETING_NOT_FOUND", "FORBIDDEN", "KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
  },
  "/api/meetings/{id}/sip-invites": {
    POST: {
      access: "user",
      summary: "Call a room system (SIP URI) into an Enhanced meeting; it joins as a visible sip connector member (owner or admin).",
      body: "SipInvite",
      ok: [202, "SipInviteAccepted"],
      errors: ["BAD_REQUEST", "MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "CONNECTOR_NOT_ALLOWED", "SIP_DISABLED"],
    },
  },
  "/api/meetings/{id}/recording": {
    POST: {
      access: "user",
      summary: "Start cloud recording of an Enhanced meeting (owner or admin): the recording connector joins as a visible member; cloudRecording must be on for the owner.",
      ok: [202, "RecordingEnvelope"],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "CONNECTOR_NOT_ALLOWED", "RECORDING_NOT_ALLOWED", "RECORDING_ACTIVE", "KMS_UNAVAILABLE"],
    },
    GET: { access: "user", summary: "The meeting's recording under way, or null (owner or admin).", ok: [200, "ActiveRecording"], errors: ["MEETING_NOT_FOUND", "FORBIDDEN"] },
    DELETE: {
      access: "user",
      summary: "Stop the meeting's recording; answers once the recording is finalized (owner or admin).",
      ok: [200, "RecordingEnvelope"],
      errors: ["MEETING_NOT_FOUND", "FORBIDDEN", "RECORDING_NOT_ACTIVE"],
    },
  },
  "/api/meetings/{id}/stream": {
    POST: {
      access: "user",
      summary: "Start live streaming an Enhanced meeting to an RTMP or RTMPS destination (owner or admin): answers once the destination accepted the stream and the streaming connector joined as a visible member; liveStreaming must be on for the owner. The stream key is sealed under a KMS data key and never returned or logged.",
      body: "StreamStart",
      ok: [201, "StreamEnvelope"],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "CONNECTOR_NOT_ALLOWED", "STREAMING_NOT_ALLOWED", "STREAM_ACTIVE", "STREAM_URL_INVALID", "BAD_REQUEST", "STREAM_REFUSED", "STREAM_FAILED", "KMS_UNAVAILABLE"],
    },
    GET: { access: "user", summary: "The meeting's live stream under way, or null (owner or admin).", ok: [200, "ActiveStream"], errors: ["MEETING_NOT_FOUND", "FORBIDDEN"] },
    DELETE: {
      access: "user",
      summary: "Stop the meeting's live stream; answers once the connector left the meeting and the stream ended (owner or admin).",
      ok: [200, "StreamEnvelope"],
      errors: ["MEETING_NOT_FOUND", "FORBIDDEN", "STREAM_NOT_ACTIVE"],
    },
  },
  "/api/meetings/{id}/transcription": {
    POST: {
      access: "user",
      summary: "Start live transcription of an Enhanced meeting (owner or admin): the transcription connector joins as a visible member and sends captions to the members end to end encrypted; liveTranscription must be on for the owner.",
      ok: [202, "TranscriptionEnvelope"],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "CONNECTOR_NOT_ALLOWED", "TRANSCRIPTION_NOT_ALLOWED", "TRANSCRIPTION_ACTIVE"],
    },
    GET: { access: "user", summary: "The meeting's live transcription under way, or null (owner or admin).", ok: [200, "ActiveTranscription"], errors: ["MEETING_NOT_FOUND", "FORBIDDEN"] },
    DELETE: {
      access: "user",
      summary: "Stop live transcription; answers once the last captions are sent and the connector has left (owner or admin).",
      ok: [200, "TranscriptionEnvelope"],
      errors: ["MEETING_NOT_FOUND", "FORBIDDEN", "TRANSCRIPTION_NOT_ACTIVE"],
    },
  },
  "/api/recordings": {
    GET: { access: "user", summary: "Cloud recordings: the caller's own, or all for admins.", ok: [200, "RecordingList"] },
  },
  "/api/recordings/{id}": {
    GET: { access: "user", summary: "One recording (its owner or an admin).", ok: [200, "RecordingEnvelope"], errors: ["RECORDING_NOT_FOUND"] },
    DELETE: { access: "user", summary: "Delete a recording by destroying its data key (crypto-shredding), then its files (owner or admin).", ok: [204], errors: ["RECORDING_NOT_FOUND", "KMS_UNAVAILABLE"] },
  },
  "/api/recordings/{id}/{file}": {
    GET: {
      access: "user",
      summary: "A finalized file (recording.webm, audio.webm, or captions.vtt when live transcription ran), decrypted on the fly; honours Range (206) so players can seek (206 Partial Content); ?download=1 adds Content-Disposition: attachment (owner or admin).",
      ok: [200],
      errors: ["RECORDING_NOT_FOUND", "RECORDING_NOT_READY", "RANGE_NOT_SATISFIABLE", "NOT_FOUND", "KMS_UNAVAILABLE"],
    },
  },
  "/api/meetings/{id}/participants": {
    GET: {
      access: "user",
      summary: "Who joined and left the meeting, and when (owner or admin); sealed at rest, so it needs the KMS.",
      ok: [200, "ParticipantLog"],
      errors: ["MEETING_NOT_FOUND", "FORBIDDEN", "KMS_UNAVAILABLE", "DATA_UNREADABLE"],
    },
  },
  "/api/meetings/{id}/passcode": {
    POST: {
      access: "user",
      summary: "Give the meeting a new passcode, returned this once (owner or admin).",
      ok: [200, "PasscodeReset"],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN"],
    },
    DELETE: {
      access: "user",
      summary: "Remove the meeting's passcode (refused while passcodeRequired is locked on).",
      ok: [204],
      errors: ["MEETING_NOT_FOUND", "MEETING_ENDED", "FORBIDDEN", "SETTING_LOCKED"],
    },
  },
  "/api/meetings/{id}/files": {
    POST: {
      access: "public",
      summary: "Upload the ciphertext of a file shared in the meeting's chat (participants in the meeting only, by their file token).",
      description:
        "The body is the file as the participant's app encrypted it (chunked AES-256-GCM under a fresh key that travels only inside an MLS message); the server stores it until the meeting ends.",
      binaryBody: true,
      headers: [{ name: "X-Conclave-File-Token", description: "The fileToken the server gave this participant in `joined`." }],
      ok: [201, "FileStored"],
      errors: ["FILE_TOKEN_INVALID", "FEATURE_DISABLED", "LENGTH_REQUIRED", "FILE_TOO_LARGE", "FILE_QUOTA_EXCEEDED", "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST", "RATE_LIMITED", "MEETING_ENDED"],
    },
  },
  "/api/meetings/{id}/files/{fileId}": {
    GET: {
      access: "public",
      summary: "Download the ciphertext of a file shared in the meeting (participants in the meeting only, by their file token).",
      headers: [{ name: "X-Conclave-File-Token", description: "The fileToken the server gave this participant in `joined`." }],
      binaryResponse: true,
      ok: [200],
      errors: ["FILE_TOKEN_INVALID", "FILE_NOT_FOUND"],
    },
  },
};

const requestSchemas: Json = {
  StreamStart: {
    type: "object",
    additionalProperties: false,
    required: ["url", "streamKey"],
    properties: {
      url: { type: "string", pattern: "^rtmps?://", maxLength: 1024, description: "The ingest application URL without the key: no user, password, query or fragment." },
      streamKey: { type: "string", minLength: 1, maxLength: 512, pattern: "^[!-~]+$", description: "Printable ASCII without spaces, '/', '?' or '#'." },
      layout: { type: "string", enum: ["speaker", "grid"], default: "speaker", description: "speaker: the active speaker's camera full frame; grid: up to four cameras in a 2×2 grid (tiles stay put; with more cameras, the most recent speakers)." },
    },
  },
  SipInvite: {
    type: "object",
    additionalProperties: false,
    required: ["uri"],
    properties: {
      uri: { type: "string", pattern: "^sips?:", maxLength: 504 },
      displayName: { type: "string", minLength: 1, maxLength: 64, description: "The member's name in the meeting: no control or bidi-override characters." },
    },
  },
  SetupRequest: {
    type: "object",
    additionalProperties: false,
    required: ["email", "name", "password"],
    properties: { email: { type: "string", format: "email" }, name: { type: "string", minLength: 1, maxLength: 100 }, password: { type: "string", minLength: 10 } },
  },
  LoginRequest: {
    type: "object",
    additionalProperties: false,
    required: ["email", "password"],
    properties: { email: { type: "string" }, password: { type: "string" } },
  },
  MeUpdate: { type: "object", additionalProperties: false, required: ["name"], properties: { name: { type: "string", minLength: 1, maxLength: 100 } } },
  PasswordChange: {
    type: "object",
    additionalProperties: false,
    required: ["currentPassword", "newPassword"],
    properties: { currentPassword: { type: "string" }, newPassword: { type: "string", minLength: 10 } },
  },
  CreateUser: {
    type: "object",
    additionalProperties: false,
    required: ["email", "name", "password"],
    properties: {
      email: { type: "string", format: "email" },
      name: { type: "string", minLength: 1, maxLength: 100 },
      password: { type: "string", minLength: 10 },
      role: { type: "string", enum: ["admin", "member"], default: "member" },
      groupId: { oneOf: [uuid, { type: "null" }] },
    },
  },
  UpdateUser: {
    type: "object",
    additionalProperties: false,
    properties: { name: { type: "string", minLength: 1, maxLength: 100 }, role: { type: "string", enum: ["admin", "member"] }, disabled: { type: "boolean" } },
  },
  CreateInvitation: {
    type: "object",
    additionalProperties: false,
    required: ["email"],
    properties: {
      email: { type: "string", format: "email" },
      role: { type: "string", enum: ["admin", "member"], default: "member" },
      groupId: { oneOf: [uuid, { type: "null" }] },
    },
  },
  AcceptInvitation: {
    type: "object",
    additionalProperties: false,
    required: ["token", "name", "password"],
    properties: { token: { type: "string" }, name: { type: "string", minLength: 1, maxLength: 100 }, password: { type: "string", minLength: 10 } },
  },
  GroupRequest: { type: "object", additionalProperties: false, required: ["name"], properties: { name: { type: "string", minLength: 1, maxLength: 100 } } },
};

function buildDocument(): Json {
  const paths: Json = {};
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    const item: Json = {};
    for (const [method, op] of Object.entries(methods) as [HttpMethod, Operation][]) item[method.toLowerCase()] = operation(method, path, op);
    paths[path] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Conclave HTTP API",
      version: "1",
      description:
        "Accounts, settings (account → group → user, with locks) and meetings. Errors are {error: {code, message}} with the codes of docs/protocol.md §8. See docs/api.md.",
    },
    paths,
    components: {
      schemas: { ...schemas, ...requestSchemas },
      securitySchemes: {
        sessionCookie: { type: "apiKey", in: "cookie", name: "conclave_session", description: "Set by sign-in; HttpOnly, Secure, SameSite=Strict." },
        csrfHeader: {
          type: "apiKey",
          in: "header",
          name: "X-CSRF-Token",
          description: "With a session, on every method but GET/HEAD/OPTIONS: the value of the conclave_csrf cookie.",
        },
        adminToken: { type: "http", scheme: "bearer", description: "The admin API token from the data directory." },
      },
    },
  };
}

export const OPENAPI_DOCUMENT: Readonly<Json> = buildDocument();

/** "/api/users/:id" → "/api/users/{id}". */
export function openApiPath(pattern: string): string {
  return pattern.replace(/:(\w+)/g, "{$1}");
}
