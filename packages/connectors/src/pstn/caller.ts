/**
 * What the meeting learns about a phone caller: "Phone ••• 1234", the last four digits of the
 * caller's number and nothing more (the number itself stays in the gateway's memory for the
 * call). The server's per-caller failure limits get a keyed digest of the number instead.
 */
import { createHmac } from "node:crypto";
import type { NameAddr } from "../sip/headers.js";

/** The caller's number from the From header's user part (or its display name), digits only. */
export function callerDigits(from: NameAddr): string {
  const user = from.uri.user ?? "";
  const digits = user.replace(/^tel:/, "").replace(/[^0-9]/g, "");
  if (digits.length > 0) return digits.slice(0, 32);
  return (from.displayName ?? "").replace(/[^0-9]/g, "").slice(0, 32);
}

/** "Phone ••• 1234"; "Phone" alone when the number is withheld or too short to shorten. */
export function phoneDisplayName(digits: string): string {
  if (digits.length < 5) return "Phone";
  return `Phone \u2022\u2022\u2022 ${digits.slice(-4)}`;
}

/** A keyed digest of the number (base64url, 22 characters): the same caller, the same key. */
export function callerKey(digits: string, secret: Uint8Array): string {
  return createHmac("sha256", secret).update(`conclave dial-in caller\0${digits}`).digest("base64url").slice(0, 22);
}
