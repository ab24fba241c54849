/**
 * The server's HTTP API as the web app uses it (same origin): create a meeting (admin token)
 * and read a meeting's public facts. Failures become UiErrors with the server's codes.
 */
import { UiError, uiErrorFromCode } from "./errors.js";

export type Encryption = "e2ee" | "enhanced";

export interface CreatedMeeting {
  id: string;
  url: string;
  passcode: string | null;
  encryption: Encryption;
}

export interface MeetingInfo {
  id: string;
  encryption: Encryption;
  passcodeRequired: boolean;
  ended: boolean;
}

export async function createMeeting(token: string, encryption: Encryption): Promise<CreatedMeeting> {
  const body = await request("/api/meetings", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ encryption }),
  });
  return body as CreatedMeeting;
}

export async function getMeeting(id: string): Promise<MeetingInfo> {
  return (await request(`/api/meetings/${encodeURIComponent(id)}`, { method: "GET" })) as MeetingInfo;
}

async function request(path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: "no-store", credentials: "omit" });
  } catch {
    throw new UiError("SERVER_UNREACHABLE");
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: handled below
  }
  if (res.ok) return body;
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (typeof code === "string") throw uiErrorFromCode(code);
  if (res.status === 401) throw new UiError("UNAUTHORIZED");
  if (res.status === 429) throw new UiError("RATE_LIMITED");
  if (res.status >= 500) throw new UiError("SERVER_UNREACHABLE");
  throw new UiError("INTERNAL");
}
