/**
 * Sealed values: one small confidential value (a meeting topic, an invitation's email, a
 * participant record) encrypted with its object's data key.
 *
 *   offset  size  field
 *   0       4     magic "CLVS" (Conclave sealed value)
 *   4       1     format version = 1
 *   5       1     algorithm = 1 (AES-256-GCM, 96-bit random nonce, 128-bit tag)
 *   6       1     n = length of the data key id (32)
 *   7       n     data key id (ASCII hex)
 *   7+n     12    nonce
 *   19+n    …     ciphertext
 *   end-16  16    GCM tag
 *
 * AAD = the header (bytes 0 .. 7+n) ‖ encodeStrings(object kind, object id, field): the header
 * cannot be edited, and the value cannot be moved to another object or another field of the
 * same object (NIST SP 800-38D §5.2.1.1: the AAD is authenticated, not encrypted).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { countRandomNonceUse, isDataKeyId, keyBytes, type DataKey } from "./data-key.js";
import { KmsError } from "./errors.js";
import { checkField, encodeStrings, type ObjectRef } from "./object-ref.js";

export const SEALED_MAGIC = Buffer.from("CLVS", "ascii");
export const SEALED_VERSION = 1;
/** Algorithm identifiers of the headers (values and streams). */
export const ALG_AES_256_GCM = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface SealedHeader {
  readonly version: number;
  readonly algorithm: number;
  readonly dataKeyId: string;
  /** Header length in bytes (where the nonce starts). */
  readonly length: number;
}

function encodeHeader(dataKeyId: string): Buffer {
  const id = Buffer.from(dataKeyId, "ascii");
  return Buffer.concat([SEALED_MAGIC, Buffer.from([SEALED_VERSION, ALG_AES_256_GCM, id.length]), id]);
}

/** Strict: wrong magic, unknown version or algorithm, a bad key id or a short body are KMS_BAD_FORMAT. */
export function decodeSealedHeader(sealed: Uint8Array): SealedHeader {
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (b.length < 7 || !b.subarray(0, 4).equals(SEALED_MAGIC)) throw new KmsError("KMS_BAD_FORMAT", "not a sealed value");
  const version = b[4]!;
  if (version !== SEALED_VERSION) throw new KmsError("KMS_BAD_FORMAT", `sealed value format version ${version} is unknown`);
  const algorithm = b[5]!;
  if (algorithm !== ALG_AES_256_GCM) throw new KmsError("KMS_BAD_FORMAT", `algorithm ${algorithm} is unknown`);
  const n = b[6]!;
  const length = 7 + n;
  if (b.length < length + NONCE_BYTES + TAG_BYTES) throw new KmsError("KMS_BAD_FORMAT", "sealed value is too short");
  const dataKeyId = b.subarray(7, length).toString("latin1");
  if (!isDataKeyId(dataKeyId)) throw new KmsError("KMS_BAD_FORMAT", "bad data key id in the header");
  return { version, algorithm, dataKeyId, length };
}

/** True when `value` starts like a sealed value (used by the clear-text migration). */
export function looksSealed(value: Uint8Array): boolean {
  return value.length >= 4 && Buffer.from(value.buffer, value.byteOffset, 4).equals(SEALED_MAGIC);
}

function aadFor(header: Buffer, object: ObjectRef, field: string): Buffer {
  return Buffer.concat([header, encodeStrings(object.kind, object.id, field)]);
}

/** Encrypt `plaintext` as `field` of the key's object. */
export function seal(key: DataKey, field: string, plaintext: Uint8Array | string): Buffer {
  checkField(field);
  countRandomNonceUse(key);
  const header = encodeHeader(key.id);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keyBytes(key), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadFor(header, key.object, field));
  const data = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
}

/** Decrypt a sealed value of `field`; KMS_DECRYPT_FAILED when it was altered, moved or is under another key. */
export function open(key: DataKey, field: string, sealed: Uint8Array): Buffer {
  checkField(field);
  const h = decodeSealedHeader(sealed);
  if (h.dataKeyId !== key.id) throw new KmsError("KMS_DECRYPT_FAILED", "the value was sealed under another data key");
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = b.subarray(h.length, h.length + NONCE_BYTES);
  const body = b.subarray(h.length + NONCE_BYTES, b.length - TAG_BYTES);
  const tag = b.subarray(b.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", keyBytes(key), nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aadFor(b.subarray(0, h.length), key.object, field));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (e) {
    throw new KmsError("KMS_DECRYPT_FAILED", undefined, { cause: e });
  }
}

/** As open, decoded as UTF-8 (fatal on invalid sequences). */
export function openString(key: DataKey, field: string, sealed: Uint8Array): string {
  const bytes = open(key, field, sealed);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new KmsError("KMS_BAD_FORMAT", "the decrypted value is not UTF-8 text", { cause: e });
  } finally {
    bytes.fill(0);
  }
}
