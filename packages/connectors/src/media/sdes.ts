/**
 * SDP Security Descriptions for media streams (RFC 4568): the `a=crypto` attribute that carries
 * SRTP master keys inside the signaling. Only safe when the signaling itself is encrypted (SIP over
 * TLS): over UDP or TCP the keys cross the network in clear, and Conclave then counts the far leg
 * as unencrypted.
 *
 *   a=crypto:<tag> <crypto-suite> inline:<base64(key || salt)>[|<lifetime>][|<MKI>:<length>] [<params>]
 *
 * Suites: AES_CM_128_HMAC_SHA1_80 (RFC 4568 §6.2.1: 16-byte key, 14-byte salt) and
 * AEAD_AES_128_GCM (RFC 7714 §12: 16-byte key, 12-byte salt) under the "standard" profile (werift's
 * SRTP); the "microsoft" profile (Skype for Business, Teams Direct Routing SBCs) also takes
 * AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2.2) and an MKI on the AES_CM suites (our own SRTP,
 * microsoft/srtp-aes-cm.ts). Lines a profile cannot honour (another suite, an MKI under
 * "standard", several keys, session parameters) are skipped, so another offered line may be chosen;
 * malformed ones throw.
 */
import { randomBytes } from "node:crypto";
import { ConnectorError } from "../errors.js";

export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { keyLength: 16, saltLength: 14, profile: 0x0001 },
  AES_CM_128_HMAC_SHA1_32: { keyLength: 16, saltLength: 14, profile: 0x0002 },
  AEAD_AES_128_GCM: { keyLength: 16, saltLength: 12, profile: 0x0007 },
} as const;

export type SrtpSuite = keyof typeof SRTP_SUITES;

/** Which SRTP dialect a SIP peer speaks: "microsoft" adds the 32-bit tag and the MKI. */
export type SrtpProfile = "standard" | "microsoft";

/** Our preference when a device offers several (RFC 7714 GCM first). */
export const SRTP_SUITE_PREFERENCE: readonly SrtpSuite[] = ["AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"];

/**
 * The Microsoft profile's preference: the 80-bit tag first (the stronger one), then the 32-bit tag
 * Skype for Business and some SBCs offer; no GCM (Microsoft's SIP stacks do not offer it).
 */
export const MICROSOFT_SRTP_SUITE_PREFERENCE: readonly SrtpSuite[] = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"];

export function srtpSuitePreference(profile: SrtpProfile): readonly SrtpSuite[] {
  return profile === "microsoft" ? MICROSOFT_SRTP_SUITE_PREFERENCE : SRTP_SUITE_PREFERENCE;
}

/** RFC 4568 §6.1: the MKI's length is 1..128 bytes. */
const MAX_MKI_LENGTH = 128;

/** Opaque SRTP master key and salt for one direction. Never logged, never serialised. */
export class SrtpKeyMaterial {
  readonly suite: SrtpSuite;
  readonly #key: Buffer;
  readonly #salt: Buffer;
  /** The Master Key Identifier sent in every packet under this key (RFC 3711 §3.1), if any. */
  readonly mki: Buffer | undefined;

  private constructor(suite: SrtpSuite, key: Buffer, salt: Buffer, mki?: Buffer) {
    if (mki !== undefined && (mki.length < 1 || mki.length > MAX_MKI_LENGTH)) throw new ConnectorError("SRTP_BAD_KEY", `the MKI length must be 1..${MAX_MKI_LENGTH} bytes`);
    if (mki !== undefined && suite === "AEAD_AES_128_GCM") throw new ConnectorError("SRTP_BAD_KEY", "an MKI is supported with the AES_CM suites only");
    this.suite = suite;
    this.#key = key;
    this.#salt = salt;
    this.mki = mki;
  }

  /** A fresh key; with `mkiLength`, the MKI 1 in that many bytes (one key per call, never rekeyed). */
  static generate(suite: SrtpSuite, mkiLength?: number): SrtpKeyMaterial {
    const s = SRTP_SUITES[suite];
    return new SrtpKeyMaterial(suite, randomBytes(s.keyLength), randomBytes(s.saltLength), mkiLength === undefined ? undefined : mkiBytes(1n, mkiLength));
  }

  /** The same key with the MKI of an a=crypto line (value, length in bytes). */
  withMki(mki: Buffer | undefined): SrtpKeyMaterial {
    return new SrtpKeyMaterial(this.suite, this.#key, this.#salt, mki);
  }

  /** From the inline key-salt of an a=crypto line (base64). */
  static fromInline(suite: SrtpSuite, inline: string): SrtpKeyMaterial {
    const s = SRTP_SUITES[suite];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(inline)) throw new ConnectorError("SRTP_BAD_KEY", "the key is not base64");
    const raw = Buffer.from(inline, "base64");
    if (raw.length !== s.keyLength + s.saltLength) throw new ConnectorError("SRTP_BAD_KEY", `${suite} needs ${s.keyLength + s.saltLength} bytes of key and salt`);
    return new SrtpKeyMaterial(suite, raw.subarray(0, s.keyLength), raw.subarray(s.keyLength));
  }

  /** Keys exported from a DTLS-SRTP handshake (RFC 5764 §4.2). */
  static fromRaw(suite: SrtpSuite, key: Buffer, salt: Buffer): SrtpKeyMaterial {
    const s = SRTP_SUITES[suite];
    if (key.length !== s.keyLength || salt.length !== s.saltLength) throw new ConnectorError("SRTP_BAD_KEY", `${suite} needs a ${s.keyLength}-byte key and a ${s.saltLength}-byte salt`);
    return new SrtpKeyMaterial(suite, Buffer.from(key), Buffer.from(salt));
  }

  /** Serialisation for a child process's IPC (the connector domain only). */
  static fromTransfer(t: { suite: SrtpSuite; keySalt: string; mki?: string | undefined }): SrtpKeyMaterial {
    const k = SrtpKeyMaterial.fromInline(t.suite, t.keySalt);
    return t.mki === undefined ? k : k.withMki(Buffer.from(t.mki, "base64"));
  }

  toTransfer(): { suite: SrtpSuite; keySalt: string; mki?: string } {
    return { suite: this.suite, keySalt: this.inline(), ...(this.mki ? { mki: this.mki.toString("base64") } : {}) };
  }

  inline(): string {
    return Buffer.concat([this.#key, this.#salt]).toString("base64");
  }

  get key(): Buffer {
    return this.#key;
  }

  get salt(): Buffer {
    return this.#salt;
  }

  toJSON(): string {
    return "[SrtpKeyMaterial]";
  }
}

export interface CryptoAttribute {
  tag: number;
  suite: SrtpSuite;
  keys: SrtpKeyMaterial;
}

/** The MKI value as `length` big-endian bytes (RFC 4568 §6.1: "MKI:length", both decimal). */
function mkiBytes(value: bigint, length: number): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > MAX_MKI_LENGTH) throw new ConnectorError("SRTP_BAD_KEY", `the MKI length must be 1..${MAX_MKI_LENGTH} bytes`);
  if (value >= 1n << BigInt(8 * length)) throw new ConnectorError("SRTP_BAD_KEY", "the MKI value does not fit its length");
  const out = Buffer.alloc(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Reads one a=crypto value (without "crypto:"). Returns null for a line the profile cannot use
 * (another suite, an MKI under "standard", several keys, session parameters); throws SRTP_BAD_KEY
 * for a malformed one: a non-base64 or wrong-length key, a malformed lifetime or MKI, a lifetime
 * after the MKI, or either given twice.
 */
export function parseCryptoAttribute(config: string, profile: SrtpProfile = "standard"): CryptoAttribute | null {
  const m = /^(\d{1,9}) ([A-Z0-9_]+) ([^ ]+)(?: (.+))?$/.exec(config.trim());
  if (!m) throw new ConnectorError("SRTP_BAD_KEY", "malformed a=crypto");
  const suite = m[2] as SrtpSuite;
  if (!Object.hasOwn(SRTP_SUITES, suite)) return null;
  if (suite === "AES_CM_128_HMAC_SHA1_32" && profile !== "microsoft") return null;
  if (m[4] !== undefined) return null; // session parameters (e.g. UNENCRYPTED_SRTP): not honoured
  const keyParams = m[3]!.split(";");
  if (keyParams.length !== 1) return null; // several master keys
  const kp = keyParams[0]!;
  if (!kp.startsWith("inline:")) throw new ConnectorError("SRTP_BAD_KEY", "key method must be inline");
  // RFC 4568 §9.2: key-info = key-salt ["|" lifetime] ["|" mki], in that order, each at most once.
  const [inline, ...rest] = kp.slice(7).split("|");
  if (rest.length > 2) throw new ConnectorError("SRTP_BAD_KEY", "too many key parameters");
  // An MKI under the standard profile: a line we cannot answer, skipped (not refused) whatever
  // its spelling, so the offer's other lines still count.
  if (profile !== "microsoft" && rest.some((r) => r.includes(":"))) return null;
  let mki: Buffer | undefined;
  for (const [i, r] of rest.entries()) {
    // RFC 4568 §9.2: mki-value = 1*DIGIT, mki-length = 1*3DIGIT (leading zeros allowed); the
    // value's and length's ranges are checked by mkiBytes.
    const mk = /^(\d{1,39}):(\d{1,3})$/.exec(r);
    if (mk) {
      if (i !== rest.length - 1) throw new ConnectorError("SRTP_BAD_KEY", "the MKI must come last");
      mki = mkiBytes(BigInt(mk[1]!), Number(mk[2]));
      continue;
    }
    if (i === 1) throw new ConnectorError("SRTP_BAD_KEY", "malformed MKI");
    if (!/^(2\^\d{1,2}|\d{1,20})$/.test(r)) throw new ConnectorError("SRTP_BAD_KEY", "malformed key lifetime");
  }
  const keys = SrtpKeyMaterial.fromInline(suite, inline!);
  if (mki !== undefined && (profile !== "microsoft" || suite === "AEAD_AES_128_GCM")) return null; // an MKI we cannot send back
  return { tag: Number(m[1]), suite, keys: mki ? keys.withMki(mki) : keys };
}

/** One a=crypto value for our key: with its MKI as "1:<length>" (we never rekey, so MKI 1 it is). */
export function formatCryptoAttribute(tag: number, keys: SrtpKeyMaterial): string {
  return `${tag} ${keys.suite} ${cryptoKeyParams(keys)}`;
}

/** The key-params of an a=crypto line for our key (RFC 4568 §9.2). */
export function cryptoKeyParams(keys: SrtpKeyMaterial): string {
  if (!keys.mki) return `inline:${keys.inline()}`;
  let value = 0n;
  for (const b of keys.mki) value = (value << 8n) | BigInt(b);
  return `inline:${keys.inline()}|2^31|${value}:${keys.mki.length}`;
}
