/**
 * The sending side of SFrame: one key (suite, KID, base_key) and the counter that goes with
 * it. The counter lives here and nowhere else, so a (key, CTR) pair — hence an AEAD nonce —
 * is never used twice (RFC 9605 §4.4.3).
 */
import { ProtocolError } from "../errors.js";
import { checkSFrameCrypto } from "./crypto.js";
import type { SFrameCrypto } from "./crypto.js";
import { SFRAME_MAX_HEADER_LENGTH, SFRAME_MAX_VALUE, checkSFrameValue, headerLength, writeSFrameHeader } from "./header.js";
import { SFrameKey } from "./key.js";
import { ScratchSlab } from "./scratch.js";
import { getSFrameCipherSuite } from "./suites.js";
import type { SFrameCipherSuite } from "./suites.js";

export interface SFrameEncryptorOptions {
  /** Cipher suite registry value (see SFrameCipherSuiteId). */
  readonly suite: number;
  readonly kid: bigint;
  /** The base_key for this KID (RFC 9605 §4.4.2). Not retained: only derived keys are kept. */
  readonly baseKey: Uint8Array;
  readonly crypto: SFrameCrypto;
  /**
   * Highest CTR this encryptor may use (default 2^64-1, the most the header can carry).
   * Lower it to rotate keys earlier, or to test exhaustion.
   */
  readonly maxCounter?: bigint;
  /**
   * First CTR to use (default 0). Only for resuming a counter persisted by an earlier
   * encryptor of the same key, and for test vectors: starting two encryptors of one key at
   * the same counter reuses nonces.
   */
  readonly initialCounter?: bigint;
}

const EMPTY = new Uint8Array(0);

export class SFrameEncryptor {
  readonly suite: SFrameCipherSuite;
  readonly kid: bigint;
  readonly #key: SFrameKey;
  readonly #maxCounter: bigint;
  /** The next CTR to use; once it passes #maxCounter the encryptor is exhausted for good. */
  #next = 0n;
  readonly #headers = new ScratchSlab();

  private constructor(key: SFrameKey, initialCounter: bigint, maxCounter: bigint) {
    this.suite = key.suite;
    this.kid = key.kid;
    this.#key = key;
    this.#next = initialCounter;
    this.#maxCounter = maxCounter;
  }

  /** Derives the key for (suite, kid, baseKey); the encryptor's counter starts at 0 (or initialCounter). */
  static async create(options: SFrameEncryptorOptions): Promise<SFrameEncryptor> {
    const suite = getSFrameCipherSuite(options.suite);
    const kid = checkSFrameValue("kid", options.kid);
    const maxCounter = options.maxCounter === undefined ? SFRAME_MAX_VALUE : checkSFrameValue("maxCounter", options.maxCounter);
    const initialCounter = options.initialCounter === undefined ? 0n : checkSFrameValue("initialCounter", options.initialCounter);
    const key = await SFrameKey.derive(checkSFrameCrypto(options.crypto), suite, kid, options.baseKey);
    return new SFrameEncryptor(key, initialCounter, maxCounter);
  }

  /** The CTR the next frame will carry (frames sent so far, while not exhausted). */
  get nextCounter(): bigint {
    return this.#next;
  }

  /** True once every counter up to maxCounter has been used; a new key (KID) is needed. */
  get exhausted(): boolean {
    return this.#next > this.#maxCounter;
  }

  /**
   * Encrypts one frame (RFC 9605 §4.4.3) and returns `header || ciphertext || tag` in a new
   * buffer. `metadata` is authenticated but not sent; the receiver must pass the same bytes.
   * The counter is taken before anything asynchronous happens, so concurrent calls always
   * get distinct counters; a call that fails after that still consumes its counter.
   */
  encrypt(plaintext: Uint8Array, metadata: Uint8Array = EMPTY): Promise<Uint8Array> {
    try {
      checkBytes("plaintext", plaintext);
      checkBytes("metadata", metadata);
      return this.#seal(plaintext, metadata, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Like `encrypt`, but writes the frame at the start of `output` (at least
   * `maxFrameLength(plaintext.length)` bytes, not overlapping `plaintext`) and returns the
   * part of `output` it filled. Lets a sender reuse buffers instead of allocating per frame.
   */
  encryptInto(plaintext: Uint8Array, output: Uint8Array, metadata: Uint8Array = EMPTY): Promise<Uint8Array> {
    try {
      checkBytes("plaintext", plaintext);
      checkBytes("output", output);
      checkBytes("metadata", metadata);
      if (output.length < this.maxFrameLength(plaintext.length)) {
        throw new ProtocolError("INVALID_ARGUMENT", "output: shorter than maxFrameLength(plaintext.length)");
      }
      if (overlaps(plaintext, output)) throw new ProtocolError("INVALID_ARGUMENT", "output: overlaps plaintext");
      return this.#seal(plaintext, metadata, output);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Upper bound on the size of the frame for a plaintext of this length (longest header + tag). */
  maxFrameLength(plaintextLength: number): number {
    return SFRAME_MAX_HEADER_LENGTH + plaintextLength + this.suite.Nt;
  }

  #seal(plaintext: Uint8Array, metadata: Uint8Array, output: Uint8Array | undefined): Promise<Uint8Array> {
    // RFC 9605 §4.4.3: each (base_key, KID, CTR) is used for at most one encryption. The
    // counter is reserved here, synchronously, and never handed out again.
    const ctr = this.#next;
    if (ctr > this.#maxCounter) throw new ProtocolError("SFRAME_COUNTER_EXHAUSTED");
    this.#next = ctr + 1n;
    const header = this.#headers.take(headerLength(this.kid, ctr));
    writeSFrameHeader(header, this.kid, ctr);
    return this.#key.seal(ctr, header, metadata, plaintext, output);
  }

  /** What logs and JSON see: the suite and KID, never key material. */
  toString(): string {
    return `SFrameEncryptor(${this.suite.name}, KID ${this.kid}, next CTR ${this.#next}) [key redacted]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function checkBytes(name: string, value: unknown): void {
  if (!(value instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", `${name}: expected a Uint8Array`);
}

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
