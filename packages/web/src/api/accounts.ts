/**
 * Accounts in the HTTP API: first-run setup, sign-in and sign-out, the signed-in user, users,
 * invitations and groups (docs/api.md).
 */
import { z } from "zod";
import { apiRequest, csrfToken } from "./http.js";

export type Role = "owner" | "admin" | "member";

const user = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(["owner", "admin", "member"]),
  groupId: z.string().nullable(),
  disabled: z.boolean(),
  createdAt: z.string(),
});
export type User = z.infer<typeof user>;

const group = z.object({ id: z.string(), name: z.string(), memberCount: z.number(), createdAt: z.string() });
export type Group = z.infer<typeof group>;

const invitation = z.object({
  id: z.string(),
  email: z.string(),
  role: z.enum(["admin", "member"]),
  groupId: z.string().nullable(),
  invitedBy: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
});
export type Invitation = z.infer<typeof invitation>;

const signedIn = z.object({ user, csrfToken: z.string(), expiresAt: z.string() });
const me = z.object({ user, sessionExpiresAt: z.string() });
const userBody = z.object({ user });

export function isAdmin(u: User): boolean {
  return u.role === "owner" || u.role === "admin";
}

// --- first run and sessions -----------------------------------------------------------------

export async function setupRequired(): Promise<boolean> {
  return (await apiRequest("/api/setup", { credentials: { kind: "none" }, schema: z.object({ setupRequired: z.boolean() }) })).setupRequired;
}

export async function setup(email: string, name: string, password: string): Promise<User> {
  return (await apiRequest("/api/setup", { method: "POST", body: { email, name, password }, schema: signedIn })).user;
}

export async function signIn(email: string, password: string): Promise<User> {
  return (await apiRequest("/api/auth/login", { method: "POST", body: { email, password }, schema: signedIn })).user;
}

export function signOut(): Promise<null> {
  return apiRequest("/api/auth/logout", { method: "POST" });
}

export function signOutEverywhere(): Promise<null> {
  return apiRequest("/api/auth/logout-all", { method: "POST" });
}

/**
 * The signed-in user, or null when this browser has no session. Without the (script-readable)
 * CSRF cookie there is no session to ask about, so no request is made.
 */
export async function currentUser(opts: { quietExpiry?: boolean } = {}): Promise<User | null> {
  if (csrfToken() === null) return null;
  return (await apiRequest("/api/me", { schema: me, ...opts })).user;
}

export async function renameMe(name: string): Promise<User> {
  return (await apiRequest("/api/me", { method: "PATCH", body: { name }, schema: userBody })).user;
}

export function changePassword(currentPassword: string, newPassword: string): Promise<null> {
  return apiRequest("/api/me/password", { method: "POST", body: { currentPassword, newPassword } });
}

export async function acceptInvitation(token: string, name: string, password: string): Promise<User> {
  return (await apiRequest("/api/invitations/accept", { method: "POST", body: { token, name, password }, schema: signedIn })).user;
}

// --- users and invitations ------------------------------------------------------------------

export async function listUsers(): Promise<User[]> {
  return (await apiRequest("/api/users", { schema: z.object({ users: z.array(user) }) })).users;
}

export async function updateUser(id: string, changes: { name?: string; role?: "admin" | "member"; disabled?: boolean }): Promise<User> {
  return (await apiRequest(`/api/users/${encodeURIComponent(id)}`, { method: "PATCH", body: changes, schema: userBody })).user;
}

export function deleteUser(id: string): Promise<null> {
  return apiRequest(`/api/users/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function listInvitations(): Promise<Invitation[]> {
  return (await apiRequest("/api/invitations", { schema: z.object({ invitations: z.array(invitation) }) })).invitations;
}

/** Invites someone; the token is returned this once (the server keeps only its hash). */
export function invite(email: string, role: "admin" | "member", groupId: string | null): Promise<{ invitation: Invitation; token: string }> {
  return apiRequest("/api/invitations", {
    method: "POST",
    body: { email, role, ...(groupId ? { groupId } : {}) },
    schema: z.object({ invitation, token: z.string() }),
  });
}

export function withdrawInvitation(id: string): Promise<null> {
  return apiRequest(`/api/invitations/${encodeURIComponent(id)}`, { method: "DELETE" });
}

/** The link an invitee opens: the token travels in the #fragment, which browsers never send. */
export function invitationLink(token: string): string {
  return `${location.origin}/#invite=${encodeURIComponent(token)}`;
}

// --- groups ---------------------------------------------------------------------------------

export async function listGroups(): Promise<Group[]> {
  return (await apiRequest("/api/groups", { schema: z.object({ groups: z.array(group) }) })).groups;
}

export function getGroup(id: string): Promise<{ group: Group; members: User[] }> {
  return apiRequest(`/api/groups/${encodeURIComponent(id)}`, { schema: z.object({ group, members: z.array(user) }) });
}

export async function createGroup(name: string): Promise<Group> {
  return (await apiRequest("/api/groups", { method: "POST", body: { name }, schema: z.object({ group }) })).group;
}

export async function renameGroup(id: string, name: string): Promise<Group> {
  return (await apiRequest(`/api/groups/${encodeURIComponent(id)}`, { method: "PATCH", body: { name }, schema: z.object({ group }) })).group;
}

export function deleteGroup(id: string): Promise<null> {
  return apiRequest(`/api/groups/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function addGroupMember(groupId: string, userId: string): Promise<User> {
  return (await apiRequest(`/api/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`, { method: "PUT", schema: userBody })).user;
}

export function removeGroupMember(groupId: string, userId: string): Promise<null> {
  return apiRequest(`/api/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`, { method: "DELETE" });
}
