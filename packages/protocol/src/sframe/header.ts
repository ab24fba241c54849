/**
 * The SFrame header (RFC 9605 §4.3): a config byte, then the KID and CTR in minimal
 * big-endian form when they do not fit in the config byte's 3-bit fields.
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+---------------------------+---------------------------+
 *   |X|  K  |Y|  C  |   KID... (length=K+1)     |   CTR... (length=C+1)     |
 *   +-+-+-+-+-+-+-+-+---------------------------+---------------------------+
 */
import { ProtocolError } from "../errors.js";

export interface SFrameHeader {
  /** Key identifier, 0 … 2^64-1. */
  readonly kid: bigint;
  /** Frame counter, 0 … 2^64-1. */
  readonly ctr: bigint;
}

export interface DecodedSFrameHeader extends SFrameHeader {
  /** Number of bytes the header occupies at the start of the input. */
  readonly headerLength: number;
}

/** Largest KID or CTR the header can carry (RFC 9605 §4.3: up to 8 bytes each). */
export const SFRAME_MAX_VALUE = 0xffff_ffff_ffff_ffffn;

/** Longest possible header: config byte + 8-byte KID + 8-byte CTR. */
export const SFRAME_MAX_HEADER_LENGTH = 17;

/** Checks that `value` is a bigint in 0 … 2^64-1, naming `name` in the error. */
export function checkSFrameValue(name: string, value: unknown): bigint {
  if (typeof value !== "bigint") throw new ProtocolError("INVALID_ARGUMENT", `${name}: expected a bigint`);
  if (value < 0n) throw new ProtocolError("INVALID_ARGUMENT", `${name}: must not be negative`);
  if (value > SFRAME_MAX_VALUE) throw new ProtocolError("SFRAME_VALUE_TOO_LARGE", `${name}: exceeds 2^64-1`);
  return value;
}

/** Bytes needed for `v` (8 … 2^64-1) in minimal big-endian form. Comparisons only: this runs per frame. */
function extendedLength(v: bigint): number {
  if (v < 0x1_0000_0000n) return v < 0x100n ? 1 : v < 0x1_0000n ? 2 : v < 0x100_0000n ? 3 : 4;
  return v < 0x100_0000_0000n ? 5 : v < 0x1_0000_0000_0000n ? 6 : v < 0x100_0000_0000_0000n ? 7 : 8;
}

/** Writes `v` big-endian in exactly `len` (1 … 8) bytes at `out[offset]`. */
function writeExtended(out: Uint8Array, offset: number, v: bigint, len: number): void {
  // Two 32-bit halves keep the byte loop in plain numbers; values below 2^32 (every CTR for
  // a long time) need no bigint arithmetic at all.
  let lo: number;
  let hi: number;
  if (len <= 4) {
    lo = Number(v);
    hi = 0;
  } else {
    lo = Number(v & 0xffff_ffffn);
    hi = Number(v >> 32n);
  }
  for (let i = offset + len - 1; i >= offset; i--) {
    out[i] = lo & 0xff;
    lo = (lo >>> 8) | ((hi & 0xff) << 24);
    hi >>>= 8;
  }
}

/** Length of the header `encodeSFrameHeader` produces for these values. */
export function sframeHeaderLength(header: SFrameHeader): number {
  return headerLength(checkSFrameValue("kid", header.kid), checkSFrameValue("ctr", header.ctr));
}

/** sframeHeaderLength for already-validated values (the encryptor's per-frame path). */
export function headerLength(kid: bigint, ctr: bigint): number {
  return 1 + (kid < 8n ? 0 : extendedLength(kid)) + (ctr < 8n ? 0 : extendedLength(ctr));
}

/** Encodes a header in its unique minimal form (RFC 9605 §4.3). */
export function encodeSFrameHeader(header: SFrameHeader): Uint8Array {
  const out = new Uint8Array(sframeHeaderLength(header));
  writeSFrameHeader(out, header.kid, header.ctr);
  return out;
}

/**
 * Writes the header for already-validated values at the start of `out` (at least
 * headerLength(kid, ctr) bytes) and returns its length. For the encryptor's per-frame path.
 */
export function writeSFrameHeader(out: Uint8Array, kid: bigint, ctr: bigint): number {
  const kidLength = kid < 8n ? 0 : extendedLength(kid);
  const ctrLength = ctr < 8n ? 0 : extendedLength(ctr);
  // RFC 9605 §4.3: X=0 puts a KID below 8 in K; X=1 makes K the KID's length minus one.
  let config = kidLength === 0 ? Number(kid) << 4 : 0x80 | ((kidLength - 1) << 4);
  // The same rule for CTR with Y and C.
  config |= ctrLength === 0 ? Number(ctr) : 0x08 | (ctrLength - 1);
  out[0] = config;
  if (kidLength > 0) writeExtended(out, 1, kid, kidLength);
  if (ctrLength > 0) writeExtended(out, 1 + kidLength, ctr, ctrLength);
  return 1 + kidLength + ctrLength;
}

/**
 * Decodes the header at the start of `bytes` (RFC 9605 §4.3). The header is a prefix of an
 * SFrame ciphertext, so bytes after it are the ciphertext, not an error; `headerLength` says
 * where it ends. Truncated input throws SFRAME_HEADER_TRUNCATED; a KID or CTR in a longer form
 * than needed (extended form for a value below 8, or a leading zero byte) throws
 * SFRAME_HEADER_NON_MINIMAL, so every (KID, CTR) has exactly one accepted encoding.
 */
export function decodeSFrameHeader(bytes: Uint8Array): DecodedSFrameHeader {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "bytes: expected a Uint8Array");
  if (bytes.length < 1) throw new ProtocolError("SFRAME_HEADER_TRUNCATED", "no config byte");
  const config = bytes[0]!;
  let offset = 1;
  let kid: bigint;
  if (config & 0x80) {
    const len = ((config >> 4) & 0x07) + 1;
    kid = readMinimal(bytes, offset, len, "KID");
    offset += len;
  } else {
    kid = SMALL[(config >> 4) & 0x07]!;
  }
  let ctr: bigint;
  if (config & 0x08) {
    const len = (config & 0x07) + 1;
    ctr = readMinimal(bytes, offset, len, "CTR");
    offset += len;
  } else {
    ctr = SMALL[config & 0x07]!;
  }
  return { kid, ctr, headerLength: offset };
}

function readMinimal(bytes: Uint8Array, offset: number, len: number, field: string): bigint {
  if (offset + len > bytes.length) {
    throw new ProtocolError("SFRAME_HEADER_TRUNCATED", `${field} needs ${len} bytes`);
  }
  if (len > 1 && bytes[offset] === 0) {
    throw new ProtocolError("SFRAME_HEADER_NON_MINIMAL", `${field} has a leading zero byte`);
  }
  // Accumulate in numbers (exact below 2^53) and convert once: this runs for every frame.
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < len - 4; i++) hi = hi * 256 + bytes[offset + i]!;
  for (let i = Math.max(0, len - 4); i < len; i++) lo = lo * 256 + bytes[offset + i]!;
  if (len === 1 && lo < 8) throw new ProtocolError("SFRAME_HEADER_NON_MINIMAL", `${field} below 8 in extended form`);
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** The values a config byte can hold directly, so decoding them allocates nothing. */
const SMALL: readonly bigint[] = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n];
