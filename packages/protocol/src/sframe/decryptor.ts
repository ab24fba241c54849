/**
 * The receiving side of SFrame: keys by KID, each with its own replay window and optional
 * expiry, and decryption of frames whose KID is read from their header (RFC 9605 §4.4.4).
 */
import { ProtocolError } from "../errors.js";
import { checkSFrameCrypto } from "./crypto.js";
import type { SFrameCrypto } from "./crypto.js";
import { checkSFrameValue, decodeSFrameHeader } from "./header.js";
import { SFrameKey } from "./key.js";
import { ReplayWindow } from "./replay-window.js";
import { getSFrameCipherSuite } from "./suites.js";
import type { SFrameCipherSuite } from "./suites.js";

export interface SFrameDecryptorOptions {
  /** Cipher suite registry value (see SFrameCipherSuiteId); every KID uses this suite. */
  readonly suite: number;
  readonly crypto: SFrameCrypto;
  /** Width of each KID's replay window, in counters (default 1024). */
  readonly replayWindowSize?: number;
  /** Clock for key expiry, in milliseconds (default Date.now). */
  readonly now?: () => number;
}

export interface SFrameKeyOptions {
  /** Frames are refused with SFRAME_KEY_EXPIRED once now() is later than this (ms). */
  readonly notAfter?: number;
}

export interface SFrameDecryptResult {
  readonly kid: bigint;
  readonly ctr: bigint;
  readonly plaintext: Uint8Array;
}

/**
 * An SFrame ciphertext whose header has been parsed, so a caller can look at the KID (to
 * route the frame, or fetch a missing key) and then decrypt without parsing twice. Only
 * `parseSFrame` makes these, so the KID and CTR always match the frame's own header bytes.
 */
export class ParsedSFrame {
  readonly kid: bigint;
  readonly ctr: bigint;
  readonly headerLength: number;
  /** The whole frame: header || ciphertext || tag. */
  readonly frame: Uint8Array;

  private constructor(kid: bigint, ctr: bigint, headerLength: number, frame: Uint8Array) {
    this.kid = kid;
    this.ctr = ctr;
    this.headerLength = headerLength;
    this.frame = frame;
  }

  /** Parses the header of an SFrame ciphertext (RFC 9605 §4.3); throws its header error codes. */
  static parse(frame: Uint8Array): ParsedSFrame {
    const { kid, ctr, headerLength } = decodeSFrameHeader(frame);
    return new ParsedSFrame(kid, ctr, headerLength, frame);
  }
}

/** Parses an SFrame ciphertext's header; see ParsedSFrame. */
export function parseSFrame(frame: Uint8Array): ParsedSFrame {
  return ParsedSFrame.parse(frame);
}

interface KeyEntry {
  readonly key: SFrameKey;
  readonly window: ReplayWindow;
  notAfter: number | undefined;
}

const EMPTY = new Uint8Array(0);

export class SFrameDecryptor {
  readonly suite: SFrameCipherSuite;
  readonly replayWindowSize: number;
  readonly #crypto: SFrameCrypto;
  readonly #now: () => number;
  readonly #keys = new Map<bigint, KeyEntry>();
  /** The latest setKey per KID still deriving; a slow setKey must not undo a later call. */
  readonly #pending = new Map<bigint, symbol>();

  constructor(options: SFrameDecryptorOptions) {
    this.suite = getSFrameCipherSuite(options.suite);
    this.#crypto = checkSFrameCrypto(options.crypto);
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new ProtocolError("INVALID_ARGUMENT", "now: expected a function returning milliseconds");
    }
    this.#now = options.now ?? Date.now;
    // Validates the size once, here, rather than on the first setKey.
    this.replayWindowSize = new ReplayWindow(options.replayWindowSize).size;
  }

  /**
   * Derives and installs the key for `kid` (RFC 9605 §4.4.2). Replacing a KID's key starts a
   * fresh replay window, so a KID must never be given the same base_key twice.
   */
  async setKey(kid: bigint, baseKey: Uint8Array, options: SFrameKeyOptions = {}): Promise<void> {
    checkSFrameValue("kid", kid);
    const notAfter = checkNotAfter(options.notAfter);
    const token = Symbol("setKey");
    this.#pending.set(kid, token);
    let key: SFrameKey;
    try {
      key = await SFrameKey.derive(this.#crypto, this.suite, kid, baseKey);
    } catch (e) {
      if (this.#pending.get(kid) === token) this.#pending.delete(kid);
      throw e;
    }
    if (this.#pending.get(kid) !== token) return; // a later setKey or deleteKey won
    this.#pending.delete(kid);
    this.#keys.set(kid, { key, window: new ReplayWindow(this.replayWindowSize), notAfter });
  }

  /** Forgets the key for `kid`; later frames with it fail with SFRAME_UNKNOWN_KID. */
  deleteKey(kid: bigint): boolean {
    const wasPending = this.#pending.delete(kid);
    return this.#keys.delete(kid) || wasPending;
  }

  /** Sets (or, with undefined, clears) the time after which `kid`'s frames are refused. */
  setKeyNotAfter(kid: bigint, notAfter: number | undefined): void {
    const entry = this.#keys.get(kid);
    if (!entry) throw new ProtocolError("SFRAME_UNKNOWN_KID");
    entry.notAfter = checkNotAfter(notAfter);
  }

  hasKey(kid: bigint): boolean {
    return this.#keys.has(kid);
  }

  /** Decrypts an SFrame ciphertext, taking the KID from its header. */
  decrypt(frame: Uint8Array, metadata: Uint8Array = EMPTY): Promise<SFrameDecryptResult> {
    try {
      return this.decryptParsed(ParsedSFrame.parse(frame), metadata);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Decrypts a frame already parsed with parseSFrame (RFC 9605 §4.4.4). Fails with
   * SFRAME_UNKNOWN_KID, SFRAME_KEY_EXPIRED, SFRAME_REPLAY, SFRAME_CIPHERTEXT_TOO_SHORT or
   * SFRAME_BAD_TAG. The replay window only moves once the tag has verified.
   */
  async decryptParsed(parsed: ParsedSFrame, metadata: Uint8Array = EMPTY): Promise<SFrameDecryptResult> {
    if (!(parsed instanceof ParsedSFrame)) throw new ProtocolError("INVALID_ARGUMENT", "parsed: expected a ParsedSFrame");
    if (!(metadata instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "metadata: expected a Uint8Array");
    const { kid, ctr, headerLength, frame } = parsed;
    const entry = this.#keys.get(kid);
    if (!entry) throw new ProtocolError("SFRAME_UNKNOWN_KID");
    if (entry.notAfter !== undefined && this.#now() > entry.notAfter) throw new ProtocolError("SFRAME_KEY_EXPIRED");
    // Cheap early reject; the authoritative check is accept() below, after the tag.
    if (!entry.window.check(ctr)) throw new ProtocolError("SFRAME_REPLAY");
    const plaintext = await entry.key.open(ctr, frame.subarray(0, headerLength), metadata, frame.subarray(headerLength));
    // A concurrent decrypt of the same frame may have been accepted meanwhile: accept()
    // re-checks, so exactly one of them succeeds.
    entry.window.accept(ctr);
    return { kid, ctr, plaintext };
  }

  /** What logs and JSON see: the suite and how many keys, never key material. */
  toString(): string {
    return `SFrameDecryptor(${this.suite.name}, ${this.#keys.size} keys) [keys redacted]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function checkNotAfter(notAfter: unknown): number | undefined {
  if (notAfter === undefined) return undefined;
  if (typeof notAfter !== "number" || Number.isNaN(notAfter)) {
    throw new ProtocolError("INVALID_ARGUMENT", "notAfter: expected a time in milliseconds");
  }
  return notAfter;
}
