/**
 * Groups over HTTP (owner and admins): create, rename, delete, and membership. A user is in at
 * most one group, so putting them in a group moves them out of their previous one.
 */
import { z } from "zod";
import { ServerError } from "../errors.js";
import type { Group } from "../storage/groups.js";
import { userView } from "./accounts-api.js";
import type { ApiDeps } from "./api-deps.js";
import type { ApiRoutes } from "./api-routes.js";
import { groupNameField, parseBody } from "./validation.js";

const groupBody = z.strictObject({ name: groupNameField });

function groupView(group: Group): Record<string, unknown> {
  return { id: group.id, name: group.name, memberCount: group.memberCount, createdAt: new Date(group.createdAt).toISOString() };
}

export function registerGroupsApi(api: ApiRoutes, deps: ApiDeps): void {
  const { groups, users } = deps.database;

  const existingGroup = (id: string): Group => {
    const group = groups.get(id);
    if (group === undefined) throw new ServerError("GROUP_NOT_FOUND");
    return group;
  };

  api.route("GET", "/api/groups", "admin", () => ({ body: { groups: groups.list().map(groupView) } }));

  api.route("POST", "/api/groups", "admin", async ({ request }) => {
    const body = await parseBody(request, groupBody);
    const group = groups.create(body.name);
    return { status: 201, body: { group: groupView(group) }, headers: { Location: `/api/groups/${group.id}` } };
  });

  api.route("GET", "/api/groups/:id", "admin", ({ request }) => {
    const group = existingGroup(request.params.id!);
    return { body: { group: groupView(group), members: users.list({ groupId: group.id }).map(userView) } };
  });

  api.route("PATCH", "/api/groups/:id", "admin", async ({ request }) => {
    const body = await parseBody(request, groupBody);
    return { body: { group: groupView(groups.rename(request.params.id!, body.name)) } };
  });

  api.route("DELETE", "/api/groups/:id", "admin", ({ request }) => {
    if (!groups.delete(request.params.id!)) throw new ServerError("GROUP_NOT_FOUND");
    return { status: 204, body: null };
  });

  api.route("PUT", "/api/groups/:id/members/:userId", "admin", ({ request }) => {
    const group = existingGroup(request.params.id!);
    if (users.get(request.params.userId!) === undefined) throw new ServerError("USER_NOT_FOUND");
    return { body: { user: userView(users.update(request.params.userId!, { groupId: group.id })) } };
  });

  api.route("DELETE", "/api/groups/:id/members/:userId", "admin", ({ request }) => {
    const group = existingGroup(request.params.id!);
    const user = users.get(request.params.userId!);
    if (user === undefined) throw new ServerError("USER_NOT_FOUND");
    // Idempotent: a user who is not in this group stays where they are.
    if (user.groupId === group.id) users.update(user.id, { groupId: null });
    return { status: 204, body: null };
  });
}
