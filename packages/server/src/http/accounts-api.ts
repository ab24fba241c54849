/**
 * Accounts over HTTP: first-run setup, sign-in and sign-out, the signed-in user, user
 * management and invitations. Passwords, session ids, CSRF and invitation tokens never reach a
 * log line or an error message; sign-in failures say only "wrong email or password".
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { burnVerification, checkNewPassword, hashPassword, needsRehash, verifyPassword } from "../accounts/password.js";
import { ASSIGNABLE_ROLES, canAssignRole, canManageUser, type Actor } from "../accounts/roles.js";
import { TOKEN_PATTERN } from "../auth/tokens.js";
import { ServerError } from "../errors.js";
import type { Invitation } from "../storage/invitations.js";
import { principalName } from "./audit-principal.js";
import type { User } from "../storage/users.js";
import type { ApiDeps } from "./api-deps.js";
import { actorOf, type ApiRoutes, type Principal } from "./api-routes.js";
import { SESSION_COOKIE, clearedSessionCookies, parseCookies, sessionCookies } from "./cookies.js";
import type { JsonResponse, RouteRequest } from "./router.js";
import { emailField, nameField, parseBody, passwordField, uuidPattern } from "./validation.js";

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: User["role"];
  groupId: string | null;
  disabled: boolean;
  createdAt: string;
}

export function userView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    groupId: user.groupId,
    disabled: user.disabled,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

function invitationView(invitation: Invitation): Record<string, unknown> {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    groupId: invitation.groupId,
    invitedBy: invitation.invitedBy,
    createdAt: new Date(invitation.createdAt).toISOString(),
    expiresAt: new Date(invitation.expiresAt).toISOString(),
  };
}

const setupBody = z.strictObject({ email: emailField, name: nameField, password: passwordField });
/** Sign-in takes any string as email: a malformed one just fails like a wrong one. */
const loginBody = z.strictObject({ email: z.string().max(320), password: z.string().max(4096) });
const meBody = z.strictObject({ name: nameField });
const passwordChangeBody = z.strictObject({ currentPassword: z.string().max(4096), newPassword: passwordField });
const roleField = z.enum(ASSIGNABLE_ROLES as [string, ...string[]]) as z.ZodType<"admin" | "member">;
const groupIdField = z.string().regex(uuidPattern, "must be a group id").nullable();
const createUserBody = z.strictObject({
  email: emailField,
  name: nameField,
  password: passwordField,
  role: roleField.default("member"),
  groupId: groupIdField.optional(),
});
const updateUserBody = z.strictObject({ name: nameField.optional(), role: roleField.optional(), disabled: z.boolean().optional() });
const inviteBody = z.strictObject({ email: emailField, role: roleField.default("member"), groupId: groupIdField.optional() });
const acceptBody = z.strictObject({ token: z.string().max(100), name: nameField, password: passwordField });

export function registerAccountsApi(api: ApiRoutes, deps: ApiDeps): void {
  const { users, sessions, invitations, groups } = deps.database;
  const { attempts, invitationFailures } = deps.limiters;

  /** Start a session: cookies on the response, the CSRF token also in the body for the app. */
  const signIn = (request: RouteRequest, user: User, status: number): JsonResponse => {
    // A new sign-in replaces the session this browser had, if any.
    const previous = parseCookies(request.headers).get(SESSION_COOKIE);
    if (previous !== undefined && TOKEN_PATTERN.test(previous)) {
      const old = sessions.lookup(previous);
      if (old !== undefined) sessions.delete(old.idHash);
    }
    const session = sessions.create(user.id);
    return {
      status,
      body: { user: userView(user), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() },
      headers: { "Set-Cookie": sessionCookies(session.sessionId, session.csrfToken) },
    };
  };

  const requireGroup = (groupId: string | null | undefined): void => {
    if (groupId != null && groups.get(groupId) === undefined) throw new ServerError("GROUP_NOT_FOUND");
  };

  // --- First run -------------------------------------------------------------------------

  api.route("GET", "/api/setup", "public", () => ({ body: { setupRequired: users.count() === 0 } }));

  api.route("POST", "/api/setup", "public", async ({ request }) => {
    if (users.count() > 0) throw new ServerError("SETUP_DONE");
    const body = await parseBody(request, setupBody);
    checkNewPassword(body.password);
    const passwordHash = await hashPassword(body.password);
    // Checked again atomically: of two concurrent set-ups exactly one creates the owner.
    const owner = users.createOwnerIfNone({ email: body.email, name: body.name, passwordHash });
    if (owner === undefined) throw new ServerError("SETUP_DONE");
    return signIn(request, owner, 201);
  });

  // --- Sessions --------------------------------------------------------------------------

  api.route("POST", "/api/auth/login", "public", async ({ request }) => {
    const body = await parseBody(request, loginBody);
    const email = body.email.trim().toLowerCase();
    const address = request.remoteAddress;
    // Limited before any password check, so guessing stops even at the right password. An account
    // under attack refuses only addresses that failed: its owner can still sign in.
    // The account is named by a digest: rate-limit logs show no email address.
    const account = `account:${createHash("sha256").update(email).digest("hex").slice(0, 16)}`;
    if (attempts.attempt(address, account) !== null) throw new ServerError("RATE_LIMITED");
    const user = users.getByEmail(email);
    const hash = user === undefined ? undefined : users.passwordHashOf(user.id);
    let ok = false;
    if (user === undefined || hash === undefined) await burnVerification(body.password);
    else ok = await verifyPassword(body.password, hash);
    if (!ok || user === undefined || hash === undefined) {
      // The address, not the email (personal data, and a typo of a password in the wrong field).
      deps.security?.warn("sign-in failed", undefined, { event: "signin_failed", ip: address });
      await attempts.failure(address, account);
      throw new ServerError("LOGIN_FAILED");
    }
    // Said only to someone who knows the password.
    if (user.disabled) throw new ServerError("ACCOUNT_DISABLED");
    if (needsRehash(hash)) users.setPasswordHash(user.id, await hashPassword(body.password));
    return signIn(request, user, 200);
  });

  api.route("POST", "/api/auth/logout", "session", ({ principal }) => {
    sessions.delete(principal.session.idHash);
    return { status: 204, body: null, headers: { "Set-Cookie": clearedSessionCookies() } };
  });

  api.route("POST", "/api/auth/logout-all", "session", ({ principal }) => {
    sessions.deleteAllForUser(principal.user.id);
    return { status: 204, body: null, headers: { "Set-Cookie": clearedSessionCookies() } };
  });

  // --- The signed-in user ----------------------------------------------------------------

  api.route("GET", "/api/me", "session", ({ principal }) => ({
    body: { user: userView(principal.user), sessionExpiresAt: new Date(principal.session.expiresAt).toISOString() },
  }));

  api.route("PATCH", "/api/me", "session", async ({ request, principal }) => {
    const body = await parseBody(request, meBody);
    return { body: { user: userView(users.update(principal.user.id, { name: body.name })) } };
  });

  api.route("POST", "/api/me/password", "session", async ({ request, principal }) => {
    const body = await parseBody(request, passwordChangeBody);
    const account = `account:${createHash("sha256").update(principal.user.email).digest("hex").slice(0, 16)}`;
    if (attempts.attempt(request.remoteAddress, account) !== null) throw new ServerError("RATE_LIMITED");
    const hash = users.passwordHashOf(principal.user.id);
    if (hash === undefined || !(await verifyPassword(body.currentPassword, hash))) {
      await attempts.failure(request.remoteAddress, account);
      throw new ServerError("CURRENT_PASSWORD_WRONG");
    }
    checkNewPassword(body.newPassword);
    users.setPasswordHash(principal.user.id, await hashPassword(body.newPassword));
    // Whoever may have learnt the old password is signed out; this browser stays signed in.
    sessions.deleteAllForUser(principal.user.id, { except: principal.session.idHash });
    return { status: 204, body: null };
  });

  // --- Users (owner and admins) ----------------------------------------------------------

  api.route("GET", "/api/users", "admin", () => ({ body: { users: users.list().map(userView) } }));

  api.route("POST", "/api/users", "admin", async ({ request, principal }) => {
    const body = await parseBody(request, createUserBody);
    if (!canAssignRole(actorOf(principal), body.role)) throw new ServerError("FORBIDDEN", "only the owner can make admins");
    checkNewPassword(body.password);
    requireGroup(body.groupId);
    const passwordHash = await hashPassword(body.password);
    const user = users.create({ email: body.email, name: body.name, role: body.role, passwordHash, groupId: body.groupId ?? null });
    return { status: 201, body: { user: userView(user) }, headers: { Location: `/api/users/${user.id}` } };
  });

  api.route("PATCH", "/api/users/:id", "admin", async ({ request, principal }) => {
    const body = await parseBody(request, updateUserBody);
    const actor = actorOf(principal);
    const target = managedUser(actor, request.params.id!, users, body.role !== undefined || body.disabled !== undefined);
    if (body.role !== undefined && !canAssignRole(actor, body.role)) throw new ServerError("FORBIDDEN", "only the owner can make admins");
    const updated = users.update(target.id, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.role !== undefined ? { role: body.role } : {}),
      ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
    });
    if (body.disabled === true) sessions.deleteAllForUser(target.id);
    return { body: { user: userView(updated) } };
  });

  api.route("DELETE", "/api/users/:id", "admin", ({ request, principal }) => {
    const target = managedUser(actorOf(principal), request.params.id!, users, true);
    users.delete(target.id);
    return { status: 204, body: null };
  });

  // --- Invitations -----------------------------------------------------------------------

  api.route("GET", "/api/invitations", "admin", async ({ principal }) => ({
    body: { invitations: (await invitations.listPending(principalName(principal))).map(invitationView) },
  }));

  api.route("POST", "/api/invitations", "admin", async ({ request, principal }) => {
    const body = await parseBody(request, inviteBody);
    if (!canAssignRole(actorOf(principal), body.role)) throw new ServerError("FORBIDDEN", "only the owner can invite admins");
    requireGroup(body.groupId);
    const { invitation, token } = await invitations.create(
      { email: body.email, role: body.role, groupId: body.groupId ?? null, invitedBy: invitedBy(principal) },
      principalName(principal),
    );
    // The token is shown this once; the server keeps only its hash.
    return { status: 201, body: { invitation: invitationView(invitation), token } };
  });

  api.route("DELETE", "/api/invitations/:id", "admin", async ({ request, principal }) => {
    if (!(await invitations.delete(request.params.id!, principalName(principal)))) throw new ServerError("INVITATION_INVALID");
    return { status: 204, body: null };
  });

  api.route("POST", "/api/invitations/accept", "public", async ({ request }) => {
    const address = request.remoteAddress;
    if (invitationFailures.isLimited(address)) throw new ServerError("RATE_LIMITED");
    const body = await parseBody(request, acceptBody);
    // Checked before the (slow) password hash, and again atomically when the token is spent.
    if (!TOKEN_PATTERN.test(body.token) || !invitations.isPending(body.token)) {
      invitationFailures.record(address);
      throw new ServerError("INVITATION_INVALID");
    }
    checkNewPassword(body.password);
    const passwordHash = await hashPassword(body.password);
    const user = await invitations.accept(body.token, { name: body.name, passwordHash });
    return signIn(request, user, 201);
  });
}

function invitedBy(principal: Principal): string | null {
  return principal.kind === "user" ? principal.user.id : null;
}

/**
 * The user `id` if `actor` may manage them. The owner is OWNER_PROTECTED from role changes,
 * disabling and deletion (`protectedChange`); other refusals are FORBIDDEN.
 */
function managedUser(actor: Actor, id: string, users: ApiDeps["database"]["users"], protectedChange: boolean): User {
  const target = users.get(id);
  if (target === undefined) throw new ServerError("USER_NOT_FOUND");
  if (target.role === "owner" && protectedChange) throw new ServerError("OWNER_PROTECTED");
  if (!canManageUser(actor, target)) {
    throw new ServerError("FORBIDDEN", actor.kind === "user" && actor.userId === target.id ? "change your own account through /api/me" : undefined);
  }
  return target;
}
