/**
 * SFrame crypto on WebCrypto (`crypto.subtle`): browsers, workers and Node alike.
 * Keys are non-extractable CryptoKeys.
 */
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual } from "../bytes.js";
import { checkAeadKeyLength, writeSFrame } from "./crypto.js";
import type { SFrameAead, SFrameCrypto } from "./crypto.js";
import type { SFrameCipherSuite, SFrameHash } from "./suites.js";
import { ctrHmacAuthPrefix, ctrInitialCounter, splitCtrHmacKey } from "./aes-ctr-hmac.js";

/** WebCrypto wants ArrayBuffer-backed views; ours always are (never SharedArrayBuffer). */
type Bytes = Uint8Array<ArrayBuffer>;
const bytes = (b: Uint8Array): Bytes => b as Bytes;

const EMPTY = new Uint8Array(0);
const allocate = (length: number): Uint8Array => new Uint8Array(length);

/** Builds the WebCrypto back end; `subtle` defaults to `globalThis.crypto.subtle`. */
export function createWebCryptoSFrameCrypto(subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): SFrameCrypto {
  if (!subtle) throw new ProtocolError("INVALID_ARGUMENT", "subtle: WebCrypto is not available here (needs a secure context)");
  return new WebCryptoSFrameCrypto(subtle);
}

class WebCryptoSFrameCrypto implements SFrameCrypto {
  readonly name = "webcrypto";
  readonly #subtle: SubtleCrypto;

  constructor(subtle: SubtleCrypto) {
    this.#subtle = subtle;
  }

  async hkdf(hash: SFrameHash, ikm: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    const base = await this.#subtle.importKey("raw", bytes(ikm), "HKDF", false, ["deriveBits"]);
    const bits = await this.#subtle.deriveBits({ name: "HKDF", hash, salt: EMPTY, info: bytes(info) }, base, length * 8);
    return new Uint8Array(bits);
  }

  async importAeadKey(suite: SFrameCipherSuite, key: Uint8Array): Promise<SFrameAead> {
    checkAeadKeyLength(suite, key);
    if (suite.aead === "AES-GCM") {
      // The default 128-bit tag (both GCM suites have Nt = 16); naming it costs time per frame.
      if (suite.Nt !== 16) throw new ProtocolError("SFRAME_UNKNOWN_SUITE", "GCM with a non-default tag length");
      const k = await this.#subtle.importKey("raw", bytes(key), "AES-GCM", false, ["encrypt", "decrypt"]);
      return new WebCryptoGcm(this.#subtle, suite, k);
    }
    const { encKey, authKey } = splitCtrHmacKey(suite, key);
    const [enc, auth] = await Promise.all([
      this.#subtle.importKey("raw", bytes(encKey), "AES-CTR", false, ["encrypt", "decrypt"]),
      this.#subtle.importKey("raw", bytes(authKey), { name: "HMAC", hash: suite.hash }, false, ["sign"]),
    ]);
    return new WebCryptoCtrHmac(this.#subtle, suite, enc, auth);
  }
}

/** aad = header || metadata without a copy when there is no metadata (the common case). */
function joinAad(header: Uint8Array, metadata: Uint8Array): Uint8Array {
  return metadata.length === 0 ? header : concatBytes(header, metadata);
}

class WebCryptoGcm implements SFrameAead {
  readonly #subtle: SubtleCrypto;
  readonly #suite: SFrameCipherSuite;
  readonly #key: CryptoKey;

  constructor(subtle: SubtleCrypto, suite: SFrameCipherSuite, key: CryptoKey) {
    this.#subtle = subtle;
    this.#suite = suite;
    this.#key = key;
  }

  async seal(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array> {
    // WebCrypto returns ciphertext || tag together; it copies `plaintext` before returning.
    const sealed = new Uint8Array(await this.#subtle.encrypt(
      { name: "AES-GCM", iv: bytes(nonce), additionalData: bytes(joinAad(header, metadata)) },
      this.#key,
      bytes(plaintext),
    ));
    return writeSFrame(output, allocate, header, sealed, EMPTY);
  }

  async open(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array> {
    if (ciphertextAndTag.length < this.#suite.Nt) throw new ProtocolError("SFRAME_CIPHERTEXT_TOO_SHORT");
    let plain: ArrayBuffer;
    try {
      plain = await this.#subtle.decrypt(
        { name: "AES-GCM", iv: bytes(nonce), additionalData: bytes(joinAad(header, metadata)) },
        this.#key,
        bytes(ciphertextAndTag),
      );
    } catch {
      // WebCrypto reports a bad tag as an OperationError; it is the only way decrypt fails here.
      throw new ProtocolError("SFRAME_BAD_TAG");
    }
    return new Uint8Array(plain);
  }
}

class WebCryptoCtrHmac implements SFrameAead {
  readonly #subtle: SubtleCrypto;
  readonly #suite: SFrameCipherSuite;
  readonly #enc: CryptoKey;
  readonly #auth: CryptoKey;

  constructor(subtle: SubtleCrypto, suite: SFrameCipherSuite, enc: CryptoKey, auth: CryptoKey) {
    this.#subtle = subtle;
    this.#suite = suite;
    this.#enc = enc;
    this.#auth = auth;
  }

  // RFC 9605 §4.5.1 AES-CTR with a 32-bit block counter after the 96-bit nonce.
  #ctr(nonce: Uint8Array, data: Uint8Array): Promise<ArrayBuffer> {
    return this.#subtle.encrypt({ name: "AES-CTR", counter: bytes(ctrInitialCounter(nonce)), length: 32 }, this.#enc, bytes(data));
  }

  // RFC 9605 §4.5.1 compute_tag: HMAC over the lengths, nonce, aad and ct, truncated to Nt.
  async #tag(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ct: Uint8Array): Promise<Uint8Array> {
    const aadLength = header.length + metadata.length;
    const authData = concatBytes(ctrHmacAuthPrefix(this.#suite, aadLength, ct.length, nonce), header, metadata, ct);
    const mac = await this.#subtle.sign("HMAC", this.#auth, bytes(authData));
    return new Uint8Array(mac, 0, this.#suite.Nt);
  }

  async seal(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array> {
    // RFC 9605 §4.5.1 AEAD.Encrypt: ct = AES-CTR(enc_key, nonce || 0^32, pt); return ct || tag.
    const ct = new Uint8Array(await this.#ctr(nonce, plaintext));
    const tag = await this.#tag(nonce, header, metadata, ct);
    return writeSFrame(output, allocate, header, ct, tag);
  }

  async open(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array> {
    const nt = this.#suite.Nt;
    if (ciphertextAndTag.length < nt) throw new ProtocolError("SFRAME_CIPHERTEXT_TOO_SHORT");
    // RFC 9605 §4.5.1 AEAD.Decrypt: verify the tag first, decrypt only authentic frames.
    const ct = ciphertextAndTag.subarray(0, ciphertextAndTag.length - nt);
    const tag = ciphertextAndTag.subarray(ciphertextAndTag.length - nt);
    const expected = await this.#tag(nonce, header, metadata, ct);
    if (!constantTimeEqual(expected, tag)) throw new ProtocolError("SFRAME_BAD_TAG");
    return new Uint8Array(await this.#ctr(nonce, ct));
  }
}
