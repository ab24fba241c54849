/**
 * Files shared in chat, encrypted on the sender's device before upload (docs/protocol.md §6.4).
 * The server stores only this ciphertext; the key travels inside the MLS message that shares the
 * file, so only members of that epoch (or the one recipient of a private chat) can read it.
 *
 * Construction: STREAM (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption
 * and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015 — the chunked AEAD behind Tink's
 * streaming AEAD and age) over AES-256-GCM:
 *
 *   plaintext   = chunk_0 || chunk_1 || ... || chunk_n        every chunk FILE_CHUNK_BYTES, the last 0..FILE_CHUNK_BYTES
 *   nonce_i     = 0x00 * 7 || uint32_be(i) || last_i          last_i = 0x01 for chunk n only
 *   sealed_i    = AES-256-GCM(key, nonce_i, aad = FILE_AAD, chunk_i)      = ciphertext || 16-byte tag
 *   ciphertext  = sealed_0 || sealed_1 || ... || sealed_n      (an empty file is one empty last chunk)
 *
 * The chunk index in the nonce stops reordering; the last-chunk flag stops truncation (a stream
 * cut at a chunk boundary has no chunk sealed as last). Every file gets a fresh random 256-bit key
 * that is used for that one file only, so the nonce needs no random prefix: (key, nonce) pairs
 * never repeat. A FileKey refuses a second encryption.
 */
import { ProtocolError } from "../errors.js";
import { webCryptoBytes } from "../bytes.js";

export const FILE_CHUNK_BYTES = 64 * 1024;
export const FILE_TAG_BYTES = 16;
export const FILE_KEY_BYTES = 32;
/** Largest file Conclave encrypts (and the server's upper bound for its own limit): 4 GiB. */
export const MAX_FILE_BYTES = 4 * 1024 ** 3;
const FILE_AAD = new TextEncoder().encode("conclave file v1");

const CONSTRUCT = Symbol("FileKey");

/** The key of one shared file. Opaque: its bytes leave only through `exportBytes` (into an MLS message). */
export class FileKey {
  readonly #bytes: Uint8Array;
  #used = false;
  #key: Promise<CryptoKey> | null = null;

  /** @internal Use FileKey.generate or FileKey.fromBytes. */
  constructor(token: symbol, bytes: Uint8Array) {
    if (token !== CONSTRUCT) throw new ProtocolError("INVALID_ARGUMENT", "FileKey: use generate() or fromBytes()");
    this.#bytes = bytes;
  }

  /** A fresh random key for one new file. */
  static generate(): FileKey {
    return new FileKey(CONSTRUCT, globalThis.crypto.getRandomValues(new Uint8Array(FILE_KEY_BYTES)));
  }

  /** A received file's key (from the MLS message that shared it): decryption only. */
  static fromBytes(bytes: Uint8Array): FileKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== FILE_KEY_BYTES) {
      throw new ProtocolError("INVALID_ARGUMENT", `key: expected ${FILE_KEY_BYTES} bytes`);
    }
    const key = new FileKey(CONSTRUCT, bytes.slice());
    key.#used = true; // a key that arrived from someone else never encrypts
    return key;
  }

  /** The raw key, to put in the MLS message that shares the file. */
  exportBytes(): Uint8Array {
    return this.#bytes.slice();
  }

  /** Zeroes the key. */
  destroy(): void {
    this.#bytes.fill(0);
    this.#key = null;
  }

  /** @internal */
  takeForEncryption(): Promise<CryptoKey> {
    if (this.#used) throw new ProtocolError("FILE_KEY_REUSED");
    this.#used = true;
    return this.#cryptoKey();
  }

  /** @internal */
  forDecryption(): Promise<CryptoKey> {
    return this.#cryptoKey();
  }

  #cryptoKey(): Promise<CryptoKey> {
    this.#key ??= globalThis.crypto.subtle.importKey("raw", webCryptoBytes(this.#bytes), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    return this.#key;
  }
}

/** Size of the ciphertext of a `plainSize`-byte file. */
export function encryptedFileSize(plainSize: number): number {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0 || plainSize > MAX_FILE_BYTES) {
    throw new ProtocolError("INVALID_ARGUMENT", `size: expected 0..${MAX_FILE_BYTES} bytes`);
  }
  const chunks = plainSize === 0 ? 1 : Math.ceil(plainSize / FILE_CHUNK_BYTES);
  return plainSize + chunks * FILE_TAG_BYTES;
}

function nonce(index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(7, index);
  n[11] = last ? 1 : 0;
  return n;
}

/** Encrypts a whole file with a fresh key (which may never encrypt again). */
export async function encryptFile(key: FileKey, data: Uint8Array): Promise<Uint8Array> {
  if (!(data instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "data: expected a Uint8Array");
  const out = new Uint8Array(encryptedFileSize(data.length));
  const cryptoKey = await key.takeForEncryption();
  const chunks = data.length === 0 ? 1 : Math.ceil(data.length / FILE_CHUNK_BYTES);
  for (let i = 0; i < chunks; i++) {
    const plain = data.subarray(i * FILE_CHUNK_BYTES, Math.min(data.length, (i + 1) * FILE_CHUNK_BYTES));
    const sealed = new Uint8Array(
      await globalThis.crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(i, i === chunks - 1), additionalData: webCryptoBytes(FILE_AAD), tagLength: 128 }, cryptoKey, webCryptoBytes(plain)),
    );
    out.set(sealed, i * (FILE_CHUNK_BYTES + FILE_TAG_BYTES));
  }
  return out;
}

/**
 * Decrypts a file of `plainSize` bytes (the size its MLS message announced). Any altered,
 * reordered, truncated or extended chunk, or the wrong key, is FILE_DECRYPT_FAILED; nothing of a
 * file that fails is returned.
 */
export async function decryptFile(key: FileKey, ciphertext: Uint8Array, plainSize: number): Promise<Uint8Array> {
  if (!(ciphertext instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "ciphertext: expected a Uint8Array");
  // The size comes from the sender's chat message: one that no file can have is a failed file.
  if (!Number.isSafeInteger(plainSize) || plainSize < 0 || plainSize > MAX_FILE_BYTES) {
    throw new ProtocolError("FILE_DECRYPT_FAILED", "the claimed size is not a size a shared file can have");
  }
  if (ciphertext.length !== encryptedFileSize(plainSize)) {
    throw new ProtocolError("FILE_DECRYPT_FAILED", `${ciphertext.length} bytes of ciphertext for a ${plainSize}-byte file`);
  }
  const cryptoKey = await key.forDecryption();
  const out = new Uint8Array(plainSize);
  const chunks = plainSize === 0 ? 1 : Math.ceil(plainSize / FILE_CHUNK_BYTES);
  const stride = FILE_CHUNK_BYTES + FILE_TAG_BYTES;
  for (let i = 0; i < chunks; i++) {
    const sealed = ciphertext.subarray(i * stride, Math.min(ciphertext.length, (i + 1) * stride));
    let plain: ArrayBuffer;
    try {
      plain = await globalThis.crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce(i, i === chunks - 1), additionalData: webCryptoBytes(FILE_AAD), tagLength: 128 }, cryptoKey, webCryptoBytes(sealed));
    } catch {
      out.fill(0);
      throw new ProtocolError("FILE_DECRYPT_FAILED", `chunk ${i}`);
    }
    out.set(new Uint8Array(plain), i * FILE_CHUNK_BYTES);
  }
  return out;
}
