/**
 * A data key: the AES-256 key of one protected object. It exists in clear only in memory (and
 * only while cached); on disk it exists only wrapped by a master key. The class is opaque: no
 * accessor returns the key bytes outside this package (CONVENTIONS.md habit 4), and it counts
 * its random-nonce encryptions so it cannot pass the NIST SP 800-38D §8.3 limit.
 */
import { randomBytes } from "node:crypto";
import { KmsError } from "./errors.js";
import { checkObjectRef, describeRef, type ObjectRef } from "./object-ref.js";

export const DATA_KEY_BYTES = 32;
/** 2^32 encryptions with random 96-bit nonces per key (NIST SP 800-38D §8.3). */
const MAX_RANDOM_NONCE_USES = 2 ** 32;

const DATA_KEY_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Package-internal access to the key bytes (envelope.ts, stream.ts, manager.ts). Not exported from index.ts. */
const secrets = new WeakMap<DataKey, { bytes: Buffer; uses: number }>();

export class DataKey {
  /** Random, 128 bits as hex; names the data key in ciphertext headers and the key store. */
  readonly id: string;
  readonly object: ObjectRef;
  #destroyed = false;

  private constructor(id: string, object: ObjectRef, bytes: Buffer) {
    this.id = id;
    this.object = Object.freeze({ kind: object.kind, id: object.id });
    secrets.set(this, { bytes, uses: 0 });
  }

  /** A fresh random data key for `object`. */
  static generate(object: ObjectRef): DataKey {
    checkObjectRef(object);
    return new DataKey(randomBytes(16).toString("hex"), object, randomBytes(DATA_KEY_BYTES));
  }

  /** @internal From an unwrapped key (the bytes are copied; the caller should wipe its copy). */
  static fromBytes(id: string, object: ObjectRef, bytes: Uint8Array): DataKey {
    checkObjectRef(object);
    if (!DATA_KEY_ID_PATTERN.test(id)) throw new KmsError("KMS_BAD_FORMAT", "data key id must be 32 hex digits");
    if (bytes.length !== DATA_KEY_BYTES) throw new KmsError("KMS_BAD_FORMAT", `a data key has ${DATA_KEY_BYTES} bytes`);
    return new DataKey(id, object, Buffer.from(bytes));
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Overwrite the key bytes in memory. Idempotent; the key is unusable afterwards. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const s = secrets.get(this);
    s?.bytes.fill(0);
    secrets.delete(this);
  }

  toString(): string {
    return `DataKey(${this.id} for ${describeRef(this.object)})`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export function isDataKeyId(s: string): boolean {
  return DATA_KEY_ID_PATTERN.test(s);
}

/** @internal The key bytes, for this package's ciphers. Throws once destroyed. */
export function keyBytes(key: DataKey): Buffer {
  const s = secrets.get(key);
  if (s === undefined) throw new KmsError("KMS_CLOSED", "this data key was destroyed (evicted from the cache or shredded)");
  return s.bytes;
}

/** @internal Count one random-nonce encryption; refuses past the safe limit. */
export function countRandomNonceUse(key: DataKey): void {
  const s = secrets.get(key);
  if (s === undefined) throw new KmsError("KMS_CLOSED", "this data key was destroyed (evicted from the cache or shredded)");
  if (s.uses >= MAX_RANDOM_NONCE_USES) throw new KmsError("KMS_CONFIG_INVALID", "this data key has encrypted 2^32 values; rotate it");
  s.uses++;
}

/** A data key in transit to a connector process over its IPC channel (never logged, never on disk). */
export interface DataKeyTransfer {
  id: string;
  kind: string;
  objectId: string;
  /** The key bytes, base64. */
  key: string;
}

/**
 * Hands a data key to a supervised connector process (the recording connector encrypts what it
 * writes itself, so no clear media ever crosses into the server or onto disk). Only for the
 * parent→child IPC pipe; the caller must not log or store the result.
 */
export function exportDataKey(key: DataKey): DataKeyTransfer {
  return { id: key.id, kind: key.object.kind, objectId: key.object.id, key: keyBytes(key).toString("base64") };
}

/** The inverse of exportDataKey, in the connector process. */
export function importDataKey(t: DataKeyTransfer): DataKey {
  const bytes = Buffer.from(t.key, "base64");
  try {
    return DataKey.fromBytes(t.id, { kind: t.kind, id: t.objectId }, bytes);
  } finally {
    bytes.fill(0);
  }
}
