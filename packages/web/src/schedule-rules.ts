/**
 * What a person may choose when scheduling, from their effective settings (GET
 * /api/settings/effective); the server applies the same rules (docs/api.md "Meetings within
 * settings"). No DOM here, so the rules are unit-tested in Node.
 */
import type { Encryption } from "./api/meetings.js";
import type { EffectiveSetting } from "./api/settings.js";
import { t } from "./i18n/i18n.js";

export type Effective = Record<string, EffectiveSetting>;

/** "Locked by your account admin" for a setting locked above the user, else null. */
export function lockReason(s: EffectiveSetting | undefined): string | null {
  return s?.locked ? (s.lockedAt === "group" ? t("lock.byGroup") : t("lock.byAccount")) : null;
}

/** Which encryptions the person may choose, and why not the others. */
export function encryptionChoices(effective: Effective): { allowed: Record<Encryption, string | null>; preferred: Encryption } {
  const allowE2ee = effective.allowE2ee;
  const def = effective.defaultEncryption;
  const allowed: Record<Encryption, string | null> = { e2ee: null, enhanced: null };
  if (allowE2ee && allowE2ee.value === false) {
    allowed.e2ee = allowE2ee.locked
      ? t("rules.e2eeOffLocked", { reason: lockReason(allowE2ee)!.toLowerCase() })
      : t("rules.e2eeOff");
  }
  if (def?.locked && (def.value === "e2ee" || def.value === "enhanced")) {
    const other: Encryption = def.value === "e2ee" ? "enhanced" : "e2ee";
    allowed[other] ??= def.value === "e2ee" ? t("rules.alwaysE2ee", { reason: lockReason(def) ?? "" }) : t("rules.alwaysEnhanced", { reason: lockReason(def) ?? "" });
  }
  const wanted: Encryption = def?.value === "enhanced" ? "enhanced" : "e2ee";
  const preferred: Encryption = allowed[wanted] === null ? wanted : wanted === "e2ee" ? "enhanced" : "e2ee";
  return { allowed, preferred };
}

/** An RFC 3339 time → the value of a datetime-local input, in this browser's time zone. */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
