/**
 * A master-key back end: wraps and unwraps data keys under a master key it holds (a key file,
 * a PKCS#11 token, a KMIP server), with AAD, and rotates to a new master key. The master key
 * never leaves the back end through this interface; data keys cross it only in memory.
 */

export type BackendKind = "local" | "pkcs11" | "kmip";

/** A data key wrapped by a master key. `blob` is back-end specific and opaque to callers. */
export interface WrappedKey {
  /** Which master key wrapped it (local-…, a PKCS#11 label, a KMIP unique identifier). */
  readonly masterKeyId: string;
  readonly blob: Uint8Array;
}

export interface BackendStatus {
  readonly kind: BackendKind;
  /** The master key new data keys are wrapped with. */
  readonly currentMasterKeyId: string;
  /** Every master key the back end can unwrap with (current and older ones). */
  readonly masterKeyIds: readonly string[];
  /** Where the keys are, for the operator (a path, a token label, host:port); never a secret. */
  readonly location: string;
}

export interface MasterKeyBackend {
  readonly kind: BackendKind;
  /** Wrap `key` under the current master key, binding `aad`. */
  wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey>;
  /** KMS_DECRYPT_FAILED on a wrong AAD or an altered blob, KMS_MASTER_KEY_NOT_FOUND, KMS_UNAVAILABLE. */
  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array>;
  /** Make a new master key current; older ones stay for unwrapping. Returns the new id. */
  rotate(): Promise<string>;
  status(): Promise<BackendStatus>;
  /** Idempotent. */
  close(): Promise<void>;
}
