/**
 * SDP Security Descriptions for media streams (RFC 4568): the `a=crypto` attribute that carries
 * SRTP master keys inside the signaling. Only safe when the signaling itself is encrypted (SIP over
 * TLS): over UDP or TCP the keys cross the network in clear, and Conclave then counts the far leg
 * as unencrypted.
 *
 *   a=crypto:<tag> <crypto-suite> inline:<base64(key || salt)>[|<lifetime>][|<MKI>:<length>] [<params>]
 *
 * Suites supported (what our SRTP, werift's, implements): AES_CM_128_HMAC_SHA1_80 (RFC 4568
 * §6.2.1: 16-byte key, 14-byte salt) and AEAD_AES_128_GCM (RFC 7714 §12: 16-byte key, 12-byte
 * salt). Offers with an MKI, several keys, or session parameters are not accepted (we cannot honour
 * them), so such lines are skipped and another offered line may be chosen.
 */
import { randomBytes } from "node:crypto";
import { ConnectorError } from "../errors.js";

export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { keyLength: 16, saltLength: 14, profile: 0x0001 },
  AEAD_AES_128_GCM: { keyLength: 16, saltLength: 12, profile: 0x0007 },
} as const;

export type SrtpSuite = keyof typeof SRTP_SUITES;

/** Our preference when a device offers several (RFC 7714 GCM first). */
export const SRTP_SUITE_PREFERENCE: readonly SrtpSuite[] = ["AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"];

/** Opaque SRTP master key and salt for one direction. Never logged, never serialised. */
export class SrtpKeyMaterial {
  readonly suite: SrtpSuite;
  readonly #key: Buffer;
  readonly #salt: Buffer;

  private constructor(suite: SrtpSuite, key: Buffer, salt: Buffer) {
    this.suite = suite;
    this.#key = key;
    this.#salt = salt;
  }

  static generate(suite: SrtpSuite): SrtpKeyMaterial {
    const s = SRTP_SUITES[suite];
    return new SrtpKeyMaterial(suite, randomBytes(s.keyLength), randomBytes(s.saltLength));
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
  static fromTransfer(t: { suite: SrtpSuite; keySalt: string }): SrtpKeyMaterial {
    return SrtpKeyMaterial.fromInline(t.suite, t.keySalt);
  }

  toTransfer(): { suite: SrtpSuite; keySalt: string } {
    return { suite: this.suite, keySalt: this.inline() };
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

/**
 * Reads one a=crypto value (without "crypto:"). Returns null for a line we cannot use (unknown
 * suite, MKI, several keys, session parameters); throws SRTP_BAD_KEY for a malformed one.
 */
export function parseCryptoAttribute(config: string): CryptoAttribute | null {
  const m = /^(\d{1,9}) ([A-Z0-9_]+) ([^ ]+)(?: (.+))?$/.exec(config.trim());
  if (!m) throw new ConnectorError("SRTP_BAD_KEY", "malformed a=crypto");
  const suite = m[2] as SrtpSuite;
  if (!(suite in SRTP_SUITES)) return null;
  if (m[4] !== undefined) return null; // session parameters (e.g. UNENCRYPTED_SRTP): not honoured
  const keyParams = m[3]!.split(";");
  if (keyParams.length !== 1) return null; // several master keys
  const kp = keyParams[0]!;
  if (!kp.startsWith("inline:")) throw new ConnectorError("SRTP_BAD_KEY", "key method must be inline");
  const [inline, ...rest] = kp.slice(7).split("|");
  for (const r of rest) {
    if (r.includes(":")) return null; // MKI
    if (!/^(2\^\d{1,2}|\d{1,20})$/.test(r)) throw new ConnectorError("SRTP_BAD_KEY", "malformed key lifetime");
  }
  return { tag: Number(m[1]), suite, keys: SrtpKeyMaterial.fromInline(suite, inline!) };
}

export function formatCryptoAttribute(tag: number, keys: SrtpKeyMaterial): string {
  return `${tag} ${keys.suite} inline:${keys.inline()}`;
}
