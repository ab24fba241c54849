/**
 * The whole HTTP API of the server: health and meetings, accounts, groups, settings, and the
 * OpenAPI document describing them. docs/api.md is the reader's guide to the same routes.
 */
import { registerAccountsApi } from "./accounts-api.js";
import type { ApiDeps, ApiLimiters } from "./api-deps.js";
import { ApiRoutes } from "./api-routes.js";
import { registerGroupsApi } from "./groups-api.js";
import { registerFilesApi } from "./files-api.js";
import { registerMeetingsApi } from "./meetings-api.js";
import { registerRecordingsApi } from "./recordings-api.js";
import { registerStreamsApi } from "./streams-api.js";
import { registerTranscriptionApi } from "./transcription-api.js";
import { OPENAPI_DOCUMENT } from "./openapi.js";
import { RateLimiter } from "./rate-limit.js";
import { AttemptGuard } from "./attempt-guard.js";
import type { Router } from "./router.js";
import { registerSettingsApi } from "./settings-api.js";

/** The limits of docs/operations.md: 10 failures per minute for each. */
export function defaultLimiters(attempts: AttemptGuard = new AttemptGuard()): ApiLimiters {
  const perMinute = (): RateLimiter => new RateLimiter({ limit: 10, windowMs: 60_000 });
  return {
    adminTokenFailures: perMinute(),
    attempts,
    invitationFailures: perMinute(),
  };
}

/** Register every API route on `router`; returns the routes with their declared access. */
export function registerApi(router: Router, deps: ApiDeps): ApiRoutes {
  const { users, sessions } = deps.database;
  const api = new ApiRoutes(router, {
    ...(deps.security ? { security: deps.security } : {}),
    adminToken: deps.adminToken,
    users,
    sessions,
    adminTokenFailures: deps.limiters.adminTokenFailures,
  });
  registerMeetingsApi(api, deps);
  registerRecordingsApi(api, deps);
  registerStreamsApi(api, deps);
  registerTranscriptionApi(api, deps);
  registerAccountsApi(api, deps);
  registerGroupsApi(api, deps);
  registerSettingsApi(api, deps);
  registerFilesApi(api, deps);
  api.route("GET", "/api/openapi.json", "public", () => ({ body: OPENAPI_DOCUMENT }));
  return api;
}
