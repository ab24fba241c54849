import type { Principal } from "./api-routes.js";

/** How the KMS audit log names who asked for a data key: "user:<id>" or "admin-token". */
export function principalName(principal: Principal): string {
  return principal.kind === "adminToken" ? "admin-token" : `user:${principal.user.id}`;
}
