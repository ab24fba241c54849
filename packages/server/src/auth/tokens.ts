/**
 * Opaque bearer secrets (session ids, CSRF tokens, invitation tokens): 256 bits from the CSPRNG,
 * base64url. The server stores only their SHA-256, so a copy of the database does not hand out
 * live sessions or invitations; 256 random bits need no salt or slow hash.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Hex SHA-256 of a token, as stored. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time equality of two strings of any lengths (both are hashed first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a, "utf8").digest();
  const db = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(da, db);
}
