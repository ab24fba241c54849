/**
 * The meeting security code: the MLS epoch authenticator (RFC 9420 §8.7) rendered as digits
 * that people read aloud to each other.
 *
 * Format: 35 decimal digits in 7 groups of 5 ("12345 67890 …"), i.e. log2(10^35) ≈ 116 bits.
 * The authenticator (Hash.Nh bytes, 32 for suite 1) is read as one big-endian integer and reduced
 * modulo 10^35. Because 2^256 is so much larger than 10^35, the reduction bias is below 2^-140 and
 * every digit string is equally likely for practical purposes.
 *
 * All members of an epoch compute the same authenticator, so the same code; a new epoch (every join
 * or leave) gives an unrelated code. A man in the middle who ran two separate MLS groups would show
 * two different codes, which is what reading it aloud detects.
 */
import { ProtocolError } from "./errors.js";

export const SECURITY_CODE_DIGITS = 35;
export const SECURITY_CODE_GROUP = 5;
const MODULUS = 10n ** BigInt(SECURITY_CODE_DIGITS);
/** At least this many bytes of authenticator are needed for the code to carry >= 116 bits. */
const MIN_AUTHENTICATOR_BYTES = 16;

/** Renders an epoch authenticator as "ddddd ddddd ddddd ddddd ddddd ddddd ddddd". */
export function securityCodeFromAuthenticator(authenticator: Uint8Array): string {
  if (authenticator.length < MIN_AUTHENTICATOR_BYTES) {
    throw new ProtocolError("INVALID_ARGUMENT", `authenticator: expected at least ${MIN_AUTHENTICATOR_BYTES} bytes`);
  }
  let n = 0n;
  for (const b of authenticator) n = (n << 8n) | BigInt(b);
  const digits = (n % MODULUS).toString().padStart(SECURITY_CODE_DIGITS, "0");
  const groups: string[] = [];
  for (let i = 0; i < SECURITY_CODE_DIGITS; i += SECURITY_CODE_GROUP) groups.push(digits.slice(i, i + SECURITY_CODE_GROUP));
  return groups.join(" ");
}

/** Compares two codes as people would type them: whitespace is ignored. */
export function securityCodesMatch(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\s+/g, "");
  return norm(a) === norm(b) && norm(a).length === SECURITY_CODE_DIGITS;
}
