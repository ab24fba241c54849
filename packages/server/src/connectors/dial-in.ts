/**
 * Phone dial-in on the server's side: the numeric phone passcode of a meeting, and whether a
 * meeting takes phone calls.
 *
 * Meeting passcodes are letters and digits, which a phone keypad cannot enter unambiguously, and
 * the server keeps only their scrypt hash. The phone passcode is therefore derived: 8 digits of
 * HMAC-SHA256(dial-in key, meeting ID, stored passcode hash). Resetting the meeting's passcode
 * changes the hash and so the phone passcode; a copy of the database without the dial-in key
 * (a file in the data directory, 0600) yields no phone passcode. Checks compare in constant time,
 * and every wrong entry counts against the guessing limits web joins use (MeetingRegistry,
 * http/attempt-guard.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PHONE_PASSCODE_DIGITS = 8;
const KEY_FILE = "dial-in.key";

export class DialInPasscodes {
  readonly #key: Buffer;
  readonly #hashOf: (meetingId: string) => string | null | undefined;

  private constructor(key: Buffer, hashOf: (meetingId: string) => string | null | undefined) {
    this.#key = key;
    this.#hashOf = hashOf;
  }

  /** The dial-in key from `dataDir` (created on first use). */
  static open(dataDir: string, hashOf: (meetingId: string) => string | null | undefined): DialInPasscodes {
    const path = join(dataDir, KEY_FILE);
    let key: Buffer;
    try {
      key = readFileSync(path);
      if (key.length !== 32) throw new Error(`${path} is damaged (expected 32 bytes): move it away to create a new dial-in key`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      key = randomBytes(32);
      writeFileSync(path, key, { mode: 0o600, flag: "wx" });
    }
    return new DialInPasscodes(key, hashOf);
  }

  /** The meeting's phone passcode; null when it has no passcode, undefined when it does not exist. */
  phonePasscode(meetingId: string): string | null | undefined {
    const hash = this.#hashOf(meetingId);
    if (hash === undefined || hash === null) return hash;
    const mac = createHmac("sha256", this.#key).update(`conclave phone passcode\0${meetingId}\0${hash}`).digest();
    // 64 bits reduced mod 10^8: the bias (2^64 mod 10^8 out of 2^64) is below 10^-11.
    const n = mac.readBigUInt64BE(0) % 10n ** BigInt(PHONE_PASSCODE_DIGITS);
    return n.toString().padStart(PHONE_PASSCODE_DIGITS, "0");
  }

  /**
   * The key the SIP gateway digests callers' numbers with (base64url, 32 bytes): derived one-way
   * from the dial-in key, so it is the same after a gateway or server restart (a caller's
   * failures keep counting against the guessing limits) and the gateway never holds the key that
   * makes phone passcodes.
   */
  callerSecret(): string {
    return createHmac("sha256", this.#key).update("conclave dial-in caller key").digest("base64url");
  }

  /** Whether `entered` is the meeting's phone passcode (constant time). */
  verify(meetingId: string, entered: string): boolean {
    const expected = this.phonePasscode(meetingId);
    if (expected === undefined) return false;
    if (expected === null) return true;
    const a = Buffer.from(expected.padEnd(32, "\0"));
    const b = Buffer.from(entered.slice(0, 32).padEnd(32, "\0"));
    return timingSafeEqual(a, b) && entered.length === expected.length;
  }
}
