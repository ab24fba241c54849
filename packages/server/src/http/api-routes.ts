/**
 * API routes that declare who may call them. Deny by default: a route cannot be registered
 * without an access level, and the level is checked before its handler runs.
 *
 * | access    | who                                                              |
 * |-----------|------------------------------------------------------------------|
 * | `public`  | anyone; the caller is identified when they send credentials      |
 * | `session` | a signed-in user (session cookie); not the admin token           |
 * | `user`    | a signed-in user, or the admin API token                         |
 * | `admin`   | a signed-in owner or admin, or the admin API token               |
 *
 * Credentials, in this order:
 * 1. `Authorization: Bearer <admin token>`. A wrong token is 401 UNAUTHORIZED and counts
 *    towards the per-address limit (then 429 RATE_LIMITED, even with the right token). Bearer
 *    requests carry no ambient credentials, so they need no CSRF token.
 * 2. The `conclave_session` cookie. An unknown, forged or expired session is 401 SESSION_EXPIRED
 *    (and the cookies are cleared). State-changing methods (anything but GET, HEAD, OPTIONS)
 *    must also carry the session's CSRF token in X-CSRF-Token, equal to the `conclave_csrf`
 *    cookie, else 403 CSRF_FAILED.
 * 3. Nothing: 401 UNAUTHENTICATED.
 * On `public` routes, failed credentials just leave the caller anonymous.
 */
import type { Logger } from "../observability/logger.js";
import type { AdminToken } from "../auth/admin-token.js";
import { TOKEN_PATTERN, constantTimeEqual } from "../auth/tokens.js";
import type { Actor } from "../accounts/roles.js";
import { ServerError, type ServerErrorCode } from "../errors.js";
import { SessionStore, type SessionInfo } from "../storage/sessions.js";
import type { User, UserStore } from "../storage/users.js";
import { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, clearedSessionCookies, parseCookies } from "./cookies.js";
import type { RateLimiter } from "./rate-limit.js";
import type { HttpMethod, JsonResponse, RESPONDED, RouteRequest, Router } from "./router.js";

export type Access = "public" | "session" | "user" | "admin";
export const ACCESS_LEVELS: readonly Access[] = ["public", "session", "user", "admin"];

export interface UserPrincipal {
  readonly kind: "user";
  readonly user: User;
  readonly session: SessionInfo;
}
export interface AdminTokenPrincipal {
  readonly kind: "adminToken";
}
export type Principal = UserPrincipal | AdminTokenPrincipal;

type PrincipalFor<A extends Access> = A extends "public" ? Principal | null : A extends "session" ? UserPrincipal : Principal;

export interface ApiCall<A extends Access> {
  readonly request: RouteRequest;
  readonly principal: PrincipalFor<A>;
}

/** A handler answers JSON, or RESPONDED when it wrote the response itself (a file download). */
export type ApiHandler<A extends Access> = (call: ApiCall<A>) => JsonResponse | typeof RESPONDED | Promise<JsonResponse | typeof RESPONDED>;

export interface RouteOptions {
  /** The code for a request with no credentials at all (default UNAUTHENTICATED). */
  readonly missingCredentials?: Extract<ServerErrorCode, "UNAUTHENTICATED" | "UNAUTHORIZED">;
}

export interface DeclaredRoute {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly access: Access;
}

export interface AuthenticatorDeps {
  readonly adminToken: AdminToken;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  /** Failed admin-token authentications per client address. */
  readonly adminTokenFailures: RateLimiter;
  /** The security log. */
  readonly security?: Pick<Logger, "warn">;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function actorOf(principal: Principal): Actor {
  return principal.kind === "adminToken" ? { kind: "adminToken" } : { kind: "user", userId: principal.user.id, role: principal.user.role };
}

export class ApiRoutes {
  readonly #router: Router;
  readonly #deps: AuthenticatorDeps;
  readonly #declared: DeclaredRoute[] = [];

  constructor(router: Router, deps: AuthenticatorDeps) {
    this.#router = router;
    this.#deps = deps;
  }

  route<A extends Access>(method: HttpMethod, pattern: string, access: A, handler: ApiHandler<A>, options: RouteOptions = {}): this {
    if (!ACCESS_LEVELS.includes(access)) throw new TypeError(`unknown access level for ${method} ${pattern}`);
    this.#router.add(method, pattern, async (request) => {
      const principal = this.#authenticate(request, access, options);
      return handler({ request, principal: principal as PrincipalFor<A> });
    });
    this.#declared.push({ method, pattern, access });
    return this;
  }

  /** Every route registered here with its access level. */
  declared(): readonly DeclaredRoute[] {
    return this.#declared;
  }

  #authenticate(request: RouteRequest, access: Access, options: RouteOptions): Principal | null {
    const optional = access === "public";
    const principal = this.#identify(request, optional, options);
    if (principal === null) return null;
    if (access === "session" && principal.kind !== "user") {
      throw new ServerError("FORBIDDEN", "this needs a signed-in user; the admin API token does not stand for one");
    }
    if (access === "admin" && principal.kind === "user" && principal.user.role === "member") throw new ServerError("FORBIDDEN");
    return principal;
  }

  #identify(request: RouteRequest, optional: boolean, options: RouteOptions): Principal | null {
    const { adminToken, adminTokenFailures } = this.#deps;
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      // Failures count on public routes too: a correct token shows more there, so they could
      // otherwise be used to test tokens without limit.
      const client = request.remoteAddress;
      if (adminTokenFailures.isLimited(client)) {
        this.#deps.security?.warn("admin token refused: rate limited", undefined, { event: "rate_limited", reason: "admin_token", ip: client });
        if (optional) return null;
        throw new ServerError("RATE_LIMITED");
      }
      if (!adminToken.verifyAuthorization(authorization)) {
        adminTokenFailures.record(client);
        this.#deps.security?.warn("wrong admin token", undefined, { event: "admin_token_failed", ip: client });
        if (optional) return null;
        throw new ServerError("UNAUTHORIZED");
      }
      return { kind: "adminToken" };
    }

    const cookies = parseCookies(request.headers);
    const sessionId = cookies.get(SESSION_COOKIE);
    if (sessionId === undefined) {
      if (optional) return null;
      throw new ServerError(options.missingCredentials ?? "UNAUTHENTICATED");
    }
    const session = TOKEN_PATTERN.test(sessionId) ? this.#deps.sessions.lookup(sessionId) : undefined;
    const user = session === undefined ? undefined : this.#deps.users.get(session.userId);
    if (session === undefined || user === undefined) {
      if (optional) return null;
      request.response.setHeader("Set-Cookie", clearedSessionCookies());
      throw new ServerError("SESSION_EXPIRED");
    }
    if (!SAFE_METHODS.has(request.method) && !csrfOk(request, cookies, session)) {
      if (optional) return null;
      throw new ServerError("CSRF_FAILED");
    }
    return { kind: "user", user, session };
  }
}

/** Double submit, bound to the session: header = cookie = the token issued with this session. */
function csrfOk(request: RouteRequest, cookies: Map<string, string>, session: SessionInfo): boolean {
  const header = request.headers[CSRF_HEADER];
  const cookie = cookies.get(CSRF_COOKIE);
  if (typeof header !== "string" || cookie === undefined || header === "") return false;
  // Both comparisons always run, so the time taken does not say which one failed.
  const sameAsCookie = constantTimeEqual(header, cookie);
  const issuedWithSession = SessionStore.csrfMatches(session, header);
  return sameAsCookie && issuedWithSession;
}
