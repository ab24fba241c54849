/**
 * Request validation at the API boundary: bodies and query values go through strict zod schemas
 * (unknown keys refused, so a typo is not silently ignored) and fail as 400 BAD_REQUEST naming
 * the field, never as a 500. The shared field schemas for emails, names and passwords live here.
 */
import { z } from "zod";
import { MAX_PASSWORD_LENGTH } from "../accounts/password.js";
import { ServerError } from "../errors.js";
import type { RouteRequest } from "./router.js";

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const where = i.path.length > 0 ? i.path.join(".") : "body";
      // Zod's messages name expected types and keys, never the submitted values.
      return `${where}: ${i.message}`;
    })
    .join("; ");
}

/**
 * Read and validate the JSON body. Routes that take a body require one: a JSON object (`{}` when
 * every field is optional). A missing or empty body, `null`, an array or a scalar is 400
 * BAD_REQUEST, never read as "all defaults".
 */
export async function parseBody<T>(request: RouteRequest, schema: z.ZodType<T>): Promise<T> {
  const json = await request.json();
  if (json === undefined) throw new ServerError("BAD_REQUEST", "a JSON object body is required (Content-Type: application/json; {} if every field is optional)");
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new ServerError("BAD_REQUEST", "body: must be a JSON object");
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ServerError("BAD_REQUEST", describeIssues(parsed.error.issues));
  return parsed.data;
}

/** Text without control characters (names, topics): shown to people, so no hidden characters. */
function displayText(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => ![...s].some(isControlCharacter), { message: "must not contain control characters" });
}

function isControlCharacter(c: string): boolean {
  const code = c.codePointAt(0)!;
  return code < 0x20 || (code >= 0x7f && code < 0xa0);
}

export const emailField = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((e) => e.toLowerCase());

export const nameField = displayText(100);
export const groupNameField = displayText(100);
export const topicField = displayText(200);

/** Length rules beyond the maximum (WEAK_PASSWORD) are checked by checkNewPassword. */
export const passwordField = z.string().max(MAX_PASSWORD_LENGTH * 4);

/** Ids of users, groups, invitations: UUIDs. Anything else cannot exist. */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
