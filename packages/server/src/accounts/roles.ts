/**
 * Roles and who may manage whom. There is exactly one owner (the first user); owner and admins
 * manage users, groups and settings; members manage their own user-level settings and meetings.
 *
 * - Nobody can disable, delete or change the role of the owner (OWNER_PROTECTED).
 * - Only the owner (or the admin API token, which stands for the operator) grants or revokes the
 *   admin role and manages other admins; an admin manages members.
 */
export type Role = "owner" | "admin" | "member";
export const ROLES: readonly Role[] = ["owner", "admin", "member"];
/** Roles an invitation or an admin can give; the owner role is taken by setup only. */
export type AssignableRole = Exclude<Role, "owner">;
export const ASSIGNABLE_ROLES: readonly AssignableRole[] = ["admin", "member"];

/** Who is making a request: a signed-in user, or a caller holding the admin API token. */
export type Actor = { readonly kind: "user"; readonly userId: string; readonly role: Role } | { readonly kind: "adminToken" };

export function isAdmin(actor: Actor): boolean {
  return actor.kind === "adminToken" || actor.role === "owner" || actor.role === "admin";
}

/** True for the owner and the admin token: they manage admins. */
function isOwnerLevel(actor: Actor): boolean {
  return actor.kind === "adminToken" || actor.role === "owner";
}

/** May `actor` give `role` to someone (by invitation, creation or change)? */
export function canAssignRole(actor: Actor, role: AssignableRole): boolean {
  if (!isAdmin(actor)) return false;
  return role === "member" || isOwnerLevel(actor);
}

/**
 * May `actor` edit, disable or delete the account `target`? The owner's account is protected
 * (callers report OWNER_PROTECTED); an actor acting on themselves goes through /api/me instead.
 */
export function canManageUser(actor: Actor, target: { readonly id: string; readonly role: Role }): boolean {
  if (!isAdmin(actor) || target.role === "owner") return false;
  if (actor.kind === "user" && actor.userId === target.id) return false;
  return target.role === "member" || isOwnerLevel(actor);
}
