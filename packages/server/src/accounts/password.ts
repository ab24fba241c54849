/**
 * Account passwords: hashed with scrypt (RFC 7914), a memory-hard KDF, with a fresh salt per
 * hash, off the event loop, and verified in constant time.
 *
 * Stored form (versioned, so parameters can grow later without breaking old hashes):
 *   $scrypt$v=1$ln=<log2 N>,r=<r>,p=<p>$<salt, base64url>$<hash, base64url>
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { ServerError } from "../errors.js";

export const MIN_PASSWORD_LENGTH = 10;
/** Longer input is refused before hashing, so a caller cannot make the server hash megabytes. */
export const MAX_PASSWORD_LENGTH = 1024;

/** RFC 7914 §2 parameters: N = 2^15, r = 8, p = 1 — 32 MiB and roughly 50-100 ms per hash. */
const CURRENT = { ln: 15, r: 8, p: 1 } as const;
const VERSION = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds for parameters read back from storage, so a damaged row cannot stall the server. */
const MIN_LN = 14;
const MAX_LN = 20;

const HASH_PATTERN = /^\$scrypt\$v=(\d+)\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

/**
 * Throws WEAK_PASSWORD for passwords under MIN_PASSWORD_LENGTH characters and BAD_REQUEST for
 * ones over MAX_PASSWORD_LENGTH. Length counts Unicode code points after NFC normalisation.
 */
export function checkNewPassword(password: string): void {
  const length = [...normalize(password)].length;
  if (length < MIN_PASSWORD_LENGTH) throw new ServerError("WEAK_PASSWORD");
  if (length > MAX_PASSWORD_LENGTH) throw new ServerError("BAD_REQUEST", `password: at most ${MAX_PASSWORD_LENGTH} characters`);
}

/** The same password typed on different systems may arrive composed or decomposed. */
function normalize(password: string): string {
  return password.normalize("NFC");
}

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function options(ln: number, r: number, p: number): ScryptOptions {
  const N = 2 ** ln;
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that at ln=15, r=8.
  return { N, r, p, maxmem: 256 * N * r };
}

/** Hash a password for storage. Call checkNewPassword first for passwords users choose. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(normalize(password), salt, options(CURRENT.ln, CURRENT.r, CURRENT.p));
  return `$scrypt$v=${VERSION}$ln=${CURRENT.ln},r=${CURRENT.r},p=${CURRENT.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

interface ParsedHash {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): ParsedHash | undefined {
  const m = HASH_PATTERN.exec(stored);
  if (m === null) return undefined;
  const [version, ln, r, p] = m.slice(1, 5).map(Number) as [number, number, number, number];
  if (version !== VERSION) return undefined;
  if (ln < MIN_LN || ln > MAX_LN || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(m[5]!, "base64url");
  const hash = Buffer.from(m[6]!, "base64url");
  if (salt.length < SALT_BYTES || hash.length !== HASH_BYTES) return undefined;
  return { ln, r, p, salt, hash };
}

/** True if `password` matches `stored`. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (parsed === undefined || password.length > MAX_PASSWORD_LENGTH * 2) return false;
  const candidate = await scryptAsync(normalize(password), parsed.salt, options(parsed.ln, parsed.r, parsed.p));
  return timingSafeEqual(candidate, parsed.hash);
}

/** True if `stored` was made with weaker parameters than today's (rehash it at the next sign-in). */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return parsed === undefined || parsed.ln < CURRENT.ln || parsed.r < CURRENT.r || parsed.p < CURRENT.p;
}

let dummyHash: Promise<string> | undefined;

/**
 * Spend the time of one verification without an account to verify against, so a sign-in for an
 * unknown email takes as long as one with a wrong password (no user enumeration by timing).
 */
export async function burnVerification(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(16).toString("base64url"));
  await verifyPassword(password, await dummyHash);
}
