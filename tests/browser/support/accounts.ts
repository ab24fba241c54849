/**
 * Accounts for browser tests, through the pages themselves: requests are made with the page's
 * own fetch (same origin, its cookies, the X-CSRF-Token the app would send), so the browser's
 * cookie handling is exercised exactly as the web app uses it.
 */
import type { Page } from "playwright-core";

export interface Person {
  email: string;
  name: string;
  password: string;
}

export const OWNER: Person = { email: "olive@example.com", name: "Olive Owner", password: "correct horse battery" };

export interface ApiResult<T = unknown> {
  status: number;
  body: T;
}

/** Calls the server's API from `page` (which must be on the server's origin). */
export function api<T = Record<string, unknown>>(page: Page, method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = document.cookie
        .split(";")
        .map((c) => c.trim())
        .find((c) => c.startsWith("conclave_csrf="))
        ?.slice("conclave_csrf=".length);
      const headers: Record<string, string> = {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
      const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    { method, path, body },
  ) as Promise<ApiResult<T>>;
}

/** Like api(), but fails unless the status is 2xx. */
export async function apiOk<T = Record<string, unknown>>(page: Page, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api<T>(page, method, path, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Creates the server's owner and signs `page` in as them. */
export async function setupOwner(page: Page, who: Person = OWNER): Promise<{ id: string }> {
  const r = await apiOk<{ user: { id: string } }>(page, "POST", "/api/setup", who);
  return r.user;
}

/** The owner (signed in on `ownerPage`) invites `who`; `memberPage` accepts and is signed in. */
export async function invitedMember(ownerPage: Page, memberPage: Page, who: Person, groupId?: string): Promise<{ id: string }> {
  const inv = await apiOk<{ token: string }>(ownerPage, "POST", "/api/invitations", { email: who.email, ...(groupId ? { groupId } : {}) });
  const r = await apiOk<{ user: { id: string } }>(memberPage, "POST", "/api/invitations/accept", { token: inv.token, name: who.name, password: who.password });
  return r.user;
}

/** The names of the cookies a page's context holds for the server. */
export async function cookieNames(page: Page): Promise<string[]> {
  return (await page.context().cookies()).map((c) => c.name).sort();
}
