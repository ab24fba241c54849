/**
 * Confidential fields as stored: a JSON object sealed with its object's data key (kms
 * envelope format: versioned header, AES-256-GCM, AAD binding object kind, id and field), in a
 * `sealed` BLOB column. This is the one way the stores write anything confidential.
 */
import { open, seal, type ObjectRef } from "@conclave/kms";
import { kmsCall } from "../kms/runtime.js";
import type { Database } from "./database.js";

/** Who the key manager records in its audit log when a store needs a data key. */
export type Principal = string;
/** The principal of work the server does on its own (meeting records, the migration). */
export const SERVER_PRINCIPAL: Principal = "server";

export async function sealJson(db: Database, object: ObjectRef, field: string, value: Record<string, unknown>, by: Principal): Promise<Buffer> {
  return kmsCall(async () => {
    const key = await db.keys.keyFor(object, by);
    return seal(key, field, JSON.stringify(value));
  });
}

/** The sealed JSON object; its properties are checked by the caller. */
export async function openJson(db: Database, object: ObjectRef, field: string, sealed: Uint8Array, by: Principal): Promise<Record<string, unknown>> {
  return kmsCall(async () => {
    const key = await db.keys.existingKey(object, by);
    const bytes = open(key, field, sealed);
    try {
      const value = JSON.parse(bytes.toString("utf8")) as unknown;
      return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    } finally {
      bytes.fill(0);
    }
  });
}

export function stringOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
