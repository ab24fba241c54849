/**
 * Where a protected object belongs: its kind ("meeting", "recording", "invitation") and its id.
 * Every ciphertext and every wrapped data key is bound to it through the AAD, so a ciphertext
 * copied to another row or file, or a data key moved to another object, fails to decrypt.
 */
import { KmsError } from "./errors.js";

export interface ObjectRef {
  readonly kind: string;
  readonly id: string;
}

const KIND_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const FIELD_PATTERN = /^[a-z][a-zA-Z0-9_.-]{0,63}$/;
const MAX_ID_BYTES = 200;

/** Throws KMS_CONFIG_INVALID naming the argument when `ref` cannot be encoded unambiguously. */
export function checkObjectRef(ref: ObjectRef): void {
  if (typeof ref?.kind !== "string" || !KIND_PATTERN.test(ref.kind)) {
    throw new KmsError("KMS_CONFIG_INVALID", "object kind must be 1-32 characters of a-z, 0-9, _ or -, starting with a letter");
  }
  if (typeof ref.id !== "string" || ref.id.length === 0 || Buffer.byteLength(ref.id) > MAX_ID_BYTES || ref.id.includes("\0")) {
    throw new KmsError("KMS_CONFIG_INVALID", `object id must be 1-${MAX_ID_BYTES} bytes without NUL`);
  }
}

export function checkField(field: string): void {
  if (typeof field !== "string" || !FIELD_PATTERN.test(field)) {
    throw new KmsError("KMS_CONFIG_INVALID", "field must be 1-64 characters of letters, digits, _ . or -, starting with a lower-case letter");
  }
}

/** "meeting/12345678901", for logs and the audit trail (ids are not secret). */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind}/${ref.id}`;
}

/** Length-prefixed (u16 big-endian) UTF-8 strings, concatenated: no two inputs encode alike. */
export function encodeStrings(...parts: string[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, "utf8");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    out.push(len, b);
  }
  return Buffer.concat(out);
}

/** The AAD under which a data key is wrapped by the master key: label, object, data key id. */
export function wrapAad(ref: ObjectRef, dataKeyId: string): Buffer {
  return encodeStrings("conclave/kms/data-key/v1", ref.kind, ref.id, dataKeyId);
}
