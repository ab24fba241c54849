/**
 * Requests to the server's HTTP API (same origin, docs/api.md). Every response body is checked
 * against a schema before the app uses it; failures become UiErrors carrying the server's stable
 * code. Session requests send cookies, and every state-changing one echoes the `conclave_csrf`
 * cookie in `X-CSRF-Token` (double submit). A `401 SESSION_EXPIRED` on a page that needs a
 * session is reported once to the handler main.ts installs, which returns to sign-in.
 */
import type { z } from "zod";
import { UiError, uiErrorFromCode } from "../errors.js";

export const CSRF_COOKIE = "conclave_csrf";

export type Credentials =
  /** The session cookies, if any (the web app's normal way). */
  | { kind: "session" }
  /** No cookies at all. */
  | { kind: "none" }
  /** The admin API token; judged by the header alone, so no cookies either. */
  | { kind: "token"; token: string };

export interface RequestOptions<T> {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  credentials?: Credentials;
  /** The response's schema; omitted for 204 answers. */
  schema?: z.ZodType<T>;
  /** A 401 SESSION_EXPIRED is only thrown, not reported to the expiry handler (pages that work signed out). */
  quietExpiry?: boolean;
}

let onSessionExpired: (() => void) | null = null;

/** Installs what happens when the server says the session is gone (main.ts: back to sign-in). */
export function setSessionExpiredHandler(handler: () => void): void {
  onSessionExpired = handler;
}

/** The CSRF token of this browser's session, or null when there is none (signed out). */
export function csrfToken(): string | null {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return rest.join("=") || null;
  }
  return null;
}

export async function apiRequest<T = null>(path: string, opts: RequestOptions<T> = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const creds = opts.credentials ?? { kind: "session" };
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (creds.kind === "token") headers.Authorization = `Bearer ${creds.token}`;
  if (creds.kind === "session" && method !== "GET") {
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      cache: "no-store",
      credentials: creds.kind === "session" ? "same-origin" : "omit",
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  } catch {
    throw new UiError("SERVER_UNREACHABLE");
  }
  let body: unknown = null;
  if (res.status !== 204) {
    try {
      body = await res.json();
    } catch {
      // not JSON: handled below
    }
  }
  if (res.ok) {
    if (!opts.schema) return null as T;
    const parsed = opts.schema.safeParse(body);
    if (!parsed.success) throw new UiError("INTERNAL");
    return parsed.data;
  }
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof err?.code === "string") {
    if (err.code === "SESSION_EXPIRED" && !opts.quietExpiry) onSessionExpired?.();
    throw uiErrorFromCode(err.code, typeof err.message === "string" ? err.message : undefined);
  }
  if (res.status === 401) throw new UiError("UNAUTHORIZED");
  if (res.status === 429) throw new UiError("RATE_LIMITED");
  if (res.status >= 500) throw new UiError("SERVER_UNREACHABLE");
  throw new UiError("INTERNAL");
}
