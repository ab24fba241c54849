/**
 * Per-sender media keys from MLS (RFC 9605 §5.2) and the rules for when they may be used.
 *
 *     base_key   = MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk)          once per epoch
 *     KID        = (sender_index << E) + (epoch % 2^E)                      (see kid.ts)
 *     sframe_key, sframe_salt = derive_key_salt(KID, base_key)             (RFC 9605 §4.4.2)
 *
 * Because the KID (so the sender's leaf index) is part of the key derivation, every sender has its
 * own key and salt in every epoch (never one key for the whole meeting, the first finding of the
 * Citizen Lab report), and every join or leave (a new MLS epoch) replaces all keys.
 *
 * Timing rules:
 * - A sender switches to the new epoch's key as soon as the commit is applied (`advance`).
 * - A receiver keeps accepting the previous epoch's keys for a bounded grace period (default
 *   1,000 ms, at most MAX_GRACE_MS) so frames already in flight still play; after that those keys
 *   are refused with SFRAME_KEY_EXPIRED, and epochs older than the previous one are forgotten.
 *   A member removed by a commit never learns the new epoch secret, so nothing sent under the new
 *   epoch is readable to it; the grace period bounds how long the others accept the old keys.
 *
 * The epoch secrets stay inside this object; base keys exist only long enough to derive SFrame
 * keys (RFC 9605 §4.4.2).
 */
import { ProtocolError } from "../errors.js";
import { clearPrefixLength, type MediaCodec } from "../codec-framing.js";
import type { SFrameCrypto } from "../sframe/crypto.js";
import { decodeSFrameHeader } from "../sframe/header.js";
import { SFrameEncryptor } from "../sframe/encryptor.js";
import { SFrameDecryptor } from "../sframe/decryptor.js";
import { getSFrameCipherSuite, SFrameCipherSuiteId, type SFrameCipherSuite } from "../sframe/suites.js";
import { decodeMediaKid, encodeMediaKid, KID_EPOCH_BITS } from "./kid.js";

export const SFRAME_MLS_EXPORTER_LABEL = "SFrame 1.0 Base Key";
export const DEFAULT_GRACE_MS = 1000;
export const MAX_GRACE_MS = 1000;

/** What the key ring needs from an MLS group session. */
export interface MlsEpochSource {
  readonly epoch: bigint;
  readonly ownLeafIndex: number;
  exportSecret(label: string, context: Uint8Array, length: number): Promise<Uint8Array>;
}

export interface MediaKeyRingOptions {
  crypto: SFrameCrypto;
  /** SFrame cipher suite; default AES_128_GCM_SHA256_128 (0x0004). */
  suite?: number;
  /** How long the previous epoch's keys stay valid after a new epoch starts (ms, <= 1000). */
  graceMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

interface EpochEntry {
  epoch: bigint;
  /** The epoch's SFrame base_key; SFrame keys for each KID are derived from it on demand. */
  baseKey: Uint8Array;
  /** Keys of this epoch are refused after this instant (set when the next epoch starts). */
  notAfter: number | null;
  kids: Set<bigint>;
  /** This member's sender for the epoch: kept with it so a rewind continues its counter. */
  encryptor: SFrameEncryptor;
  ownIndex: number;
}

export interface UnprotectedFrame {
  frame: Uint8Array;
  senderIndex: number;
  epoch: bigint;
}

export class MediaKeyRing {
  readonly suite: SFrameCipherSuite;
  readonly #crypto: SFrameCrypto;
  readonly #graceMs: number;
  readonly #now: () => number;
  readonly #decryptor: SFrameDecryptor;
  /** Current and (during its grace period) previous epoch, by the low KID_EPOCH_BITS bits. */
  readonly #epochs = new Map<number, EpochEntry>();
  readonly #deriving = new Map<bigint, Promise<void>>();
  #current: EpochEntry | null = null;
  /** The first epoch this ring was given: frames from before it were never meant for us. */
  #firstEpoch: bigint | null = null;
  #encryptor: SFrameEncryptor | null = null;
  #ownIndex = -1;

  private constructor(opts: MediaKeyRingOptions) {
    this.suite = getSFrameCipherSuite(opts.suite ?? SFrameCipherSuiteId.AES_128_GCM_SHA256_128);
    this.#crypto = opts.crypto;
    const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
    if (!(grace >= 0 && grace <= MAX_GRACE_MS)) throw new ProtocolError("INVALID_ARGUMENT", `graceMs: must be in [0, ${MAX_GRACE_MS}]`);
    this.#graceMs = grace;
    this.#now = opts.now ?? Date.now;
    this.#decryptor = new SFrameDecryptor({ crypto: opts.crypto, suite: this.suite.id, now: this.#now });
  }

  static create(opts: MediaKeyRingOptions): MediaKeyRing {
    return new MediaKeyRing(opts);
  }

  /** The epoch whose key this member sends with, or null before the first epoch. */
  get epoch(): bigint | null {
    return this.#current?.epoch ?? null;
  }

  /**
   * Moves to the session's current epoch: derives the new epoch secret, switches the sender key
   * now, and starts the previous epoch's grace period.
   */
  async advance(session: MlsEpochSource): Promise<void> {
    const epoch = session.epoch;
    if (this.#current && epoch <= this.#current.epoch) {
      throw new ProtocolError("MLS_WRONG_EPOCH", `key ring is at epoch ${this.#current.epoch}`);
    }
    // RFC 9605 §5.2
    const baseKey = await session.exportSecret(SFRAME_MLS_EXPORTER_LABEL, new Uint8Array(0), this.suite.Nk);
    const ownIndex = session.ownLeafIndex;
    const kid = encodeMediaKid(epoch, ownIndex);
    const encryptor = await SFrameEncryptor.create({ suite: this.suite.id, kid, baseKey, crypto: this.#crypto });

    const now = this.#now();
    const previous = this.#current;
    // Forget everything older than the previous epoch; give the previous one its grace period.
    for (const [bits, entry] of this.#epochs) {
      if (entry !== previous) this.#forget(bits, entry);
    }
    if (previous) {
      previous.notAfter = now + this.#graceMs;
      for (const k of previous.kids) this.#decryptor.setKeyNotAfter(k, previous.notAfter);
    }
    const bits = epochBits(epoch);
    const clash = this.#epochs.get(bits);
    if (clash) this.#forget(bits, clash);
    const entry: EpochEntry = { epoch, baseKey, notAfter: null, kids: new Set(), encryptor, ownIndex };
    this.#epochs.set(bits, entry);
    this.#current = entry;
    this.#firstEpoch ??= epoch;
    this.#encryptor = encryptor;
    this.#ownIndex = ownIndex;
  }

  /**
   * Goes back to the session's epoch after the delivery service voided the commit that started the
   * current one (docs/protocol.md §6): the voided epoch's keys are forgotten, and the epoch before
   * it is current again, with no grace deadline and with its own sender, whose counter carries on
   * (a fresh sender would reuse (key, CTR) pairs, so nonces). Only the previous epoch can be
   * returned to: MLS_CANNOT_REVERT otherwise.
   */
  rewind(session: MlsEpochSource): void {
    const epoch = session.epoch;
    const target = this.#epochs.get(epochBits(epoch));
    if (!target || target.epoch !== epoch || !this.#current || this.#current.epoch <= epoch) {
      throw new ProtocolError("MLS_CANNOT_REVERT", `the media keys of epoch ${epoch} are not kept`);
    }
    for (const [bits, entry] of this.#epochs) if (entry.epoch > epoch) this.#forget(bits, entry);
    target.notAfter = null;
    for (const k of target.kids) this.#decryptor.setKeyNotAfter(k, undefined);
    this.#current = target;
    this.#encryptor = target.encryptor;
    this.#ownIndex = target.ownIndex;
  }

  /** Encrypts one encoded frame for sending: clear codec prefix || SFrame ciphertext. */
  async protect(codec: MediaCodec, frame: Uint8Array): Promise<Uint8Array> {
    const encryptor = this.#encryptor;
    if (!encryptor) throw new ProtocolError("SFRAME_UNKNOWN_KID", "no epoch yet: cannot send");
    const n = clearPrefixLength(codec, frame);
    const clear = frame.subarray(0, n);
    const payload = frame.subarray(n);
    // One allocation, no copy of the ciphertext: SFrame writes straight after the clear prefix.
    const out = new Uint8Array(n + encryptor.maxFrameLength(payload.length));
    out.set(clear, 0);
    // The clear prefix is SFrame metadata: authenticated, not encrypted (RFC 9605 §4.4.3).
    const sealed = await encryptor.encryptInto(payload, out.subarray(n), clear);
    return out.subarray(0, n + sealed.length);
  }

  /** Decrypts a received protected frame; throws ProtocolError (bad tag, replay, expired, unknown KID). */
  async unprotect(codec: MediaCodec, data: Uint8Array): Promise<UnprotectedFrame> {
    const n = clearPrefixLength(codec, data);
    const clear = data.subarray(0, n);
    const sframe = data.subarray(n);
    const { kid } = decodeSFrameHeader(sframe);
    const entry = await this.#ensureKey(kid);
    const { plaintext } = await this.#decryptor.decrypt(sframe, clear);
    const out = new Uint8Array(n + plaintext.length);
    out.set(clear, 0);
    out.set(plaintext, n);
    return { frame: out, senderIndex: decodeMediaKid(kid).senderIndex, epoch: entry.epoch };
  }

  /**
   * Where a protected frame's epoch lies relative to this ring, from the low epoch bits in its KID:
   * "next" (its commit is not applied here yet — worth holding briefly; also any frame before the
   * first epoch), "current", "previous" (within or past the grace period), "beforeFirst" (sent
   * before this member joined: never decryptable, and not a failure), or "other" (unreadable header,
   * or too far away).
   */
  frameEpoch(codec: MediaCodec, data: Uint8Array): "next" | "current" | "previous" | "beforeFirst" | "other" {
    const current = this.#current?.epoch ?? null;
    if (current === null || this.#firstEpoch === null) return "next";
    let bits: number;
    try {
      bits = decodeMediaKid(decodeSFrameHeader(data.subarray(clearPrefixLength(codec, data))).kid).epochBits;
    } catch {
      return "other";
    }
    const mod = 1 << KID_EPOCH_BITS;
    const cur = epochBits(current);
    if (bits === cur) return "current";
    if (bits === (cur + 1) % mod) return "next";
    const behind = (cur - bits + mod) % mod;
    if (current - BigInt(behind) < this.#firstEpoch) return "beforeFirst";
    return behind === 1 ? "previous" : "other";
  }

  /** Forgets every key (on leaving a meeting). */
  clear(): void {
    for (const [bits, entry] of this.#epochs) this.#forget(bits, entry);
    this.#current = null;
    this.#firstEpoch = null;
    this.#encryptor = null;
  }

  async #ensureKey(kid: bigint): Promise<EpochEntry> {
    const { epochBits: bits, context } = decodeMediaKid(kid);
    const entry = this.#epochs.get(bits);
    if (!entry || context !== 0n) throw new ProtocolError("SFRAME_UNKNOWN_KID");
    if (entry.notAfter !== null && this.#now() > entry.notAfter) throw new ProtocolError("SFRAME_KEY_EXPIRED");
    if (entry.kids.has(kid)) return entry;
    let pending = this.#deriving.get(kid);
    if (!pending) {
      pending = (async () => {
        await this.#decryptor.setKey(kid, entry.baseKey, entry.notAfter === null ? {} : { notAfter: entry.notAfter });
        // The epoch may have been forgotten while deriving: then the key must not stay.
        if (this.#epochs.get(bits) === entry) entry.kids.add(kid);
        else this.#decryptor.deleteKey(kid);
      })().finally(() => this.#deriving.delete(kid));
      this.#deriving.set(kid, pending);
    }
    await pending;
    if (!entry.kids.has(kid)) throw new ProtocolError("SFRAME_UNKNOWN_KID");
    return entry;
  }

  #forget(bits: number, entry: EpochEntry): void {
    for (const k of entry.kids) this.#decryptor.deleteKey(k);
    entry.kids.clear();
    entry.baseKey.fill(0);
    if (this.#epochs.get(bits) === entry) this.#epochs.delete(bits);
  }

  /** The sender index this member encrypts with (its MLS leaf index). */
  get ownIndex(): number {
    return this.#ownIndex;
  }
}

function epochBits(epoch: bigint): number {
  return Number(epoch & ((1n << BigInt(KID_EPOCH_BITS)) - 1n));
}
