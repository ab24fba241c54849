/**
 * Meeting passcodes: generated from a CSPRNG, stored only as a salted scrypt hash, verified in
 * constant time. Passcodes are on by default (the Citizen Lab finding on guessable meeting
 * IDs); 10 characters from a 31-letter alphabet give about 49.5 bits.
 */
import { randomBytes, randomInt, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** No 0/o, 1/l/i: nothing a reader can confuse when a passcode is read aloud or retyped. */
export const PASSCODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
export const PASSCODE_LENGTH = 10;
/** Longer input is refused before hashing, so a caller cannot make the server hash megabytes. */
const MAX_PASSCODE_INPUT = 64;

// scrypt N=2^14, r=8, p=1 (RFC 7914 §2): ~16 MiB and tens of ms per hash.
const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds for parameters read back from storage, so a damaged row cannot stall the server. */
const MAX_LOG2_N = 20;

/** A fresh passcode: each character drawn uniformly (randomInt rejects biased samples). */
export function generatePasscode(): string {
  let out = "";
  for (let i = 0; i < PASSCODE_LENGTH; i++) out += PASSCODE_ALPHABET[randomInt(PASSCODE_ALPHABET.length)];
  return out;
}

/** Passcodes compare case-insensitively and ignore surrounding spaces (people retype them). */
function normalize(passcode: string): string {
  return passcode.trim().toLowerCase();
}

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Stored form: `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`, so parameters can change later. */
export async function hashPasscode(passcode: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(normalize(passcode), salt, HASH_BYTES, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

interface ParsedHash {
  options: ScryptOptions;
  salt: Buffer;
  hash: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const validN = Number.isInteger(N) && N >= 2 && N <= 2 ** MAX_LOG2_N && (N & (N - 1)) === 0;
  if (!validN || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(parts[4]!, "base64url");
  const hash = Buffer.from(parts[5]!, "base64url");
  if (salt.length < SALT_BYTES || hash.length !== HASH_BYTES) return undefined;
  return { options: { N, r, p, maxmem: 256 * N * r }, salt, hash };
}

/** Blocks the event loop for one scrypt (tens of ms); prefer verifyPasscodeHashAsync on hot paths. */
export function verifyPasscodeHash(passcode: string, stored: string): boolean {
  const parsed = parseHash(stored);
  if (parsed === undefined || passcode.length > MAX_PASSCODE_INPUT) return false;
  const candidate = scryptSync(normalize(passcode), parsed.salt, HASH_BYTES, parsed.options);
  return timingSafeEqual(candidate, parsed.hash);
}

/** As verifyPasscodeHash, with scrypt on libuv's thread pool. */
export async function verifyPasscodeHashAsync(passcode: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === undefined || passcode.length > MAX_PASSCODE_INPUT) return false;
  const candidate = await scryptAsync(normalize(passcode), parsed.salt, HASH_BYTES, parsed.options);
  return timingSafeEqual(candidate, parsed.hash);
}
