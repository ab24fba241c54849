/**
 * @conclave/kms: data at rest. Envelope encryption with AES-256-GCM data keys (one per
 * protected object), chunked streams for large objects, and master keys held by a back end:
 * a local key file, a PKCS#11 HSM, or a KMIP 1.4 server.
 */
export { KMS_ERRORS, KMS_RETRY_AFTER_SECONDS, KmsError, isKmsError, type KmsErrorCode } from "./errors.js";
export { describeRef, type ObjectRef } from "./object-ref.js";
export { DataKey, exportDataKey, importDataKey, type DataKeyTransfer } from "./data-key.js";
export { seal, open, openString, looksSealed, decodeSealedHeader, type SealedHeader } from "./envelope.js";
export {
  DEFAULT_CHUNK_SIZE,
  CHUNK_OVERHEAD,
  StreamCipher,
  EncryptedFileWriter,
  EncryptedFileReader,
  streamFileKeyId,
  decodeStreamHeader,
  streamLayout,
  type StreamHeader,
  type StreamLayout,
} from "./stream.js";
export type { BackendKind, BackendStatus, MasterKeyBackend, WrappedKey } from "./backend.js";
export { LocalKeyFileBackend, type LocalBackendOptions } from "./backends/local.js";
export { KmipBackend, DEFAULT_KMIP_PORT, type KmipBackendOptions } from "./backends/kmip.js";
export { KmipClient, KmipOperationError, type KmipClientOptions } from "./kmip/client.js";
export { encodeTtlv, decodeTtlv, ttlvMessageLength, type TtlvItem, type TtlvType } from "./kmip/ttlv.js";
export { Pkcs11Backend, DEFAULT_PKCS11_MODULE, DEFAULT_PKCS11_KEY_LABEL, type Pkcs11BackendOptions } from "./backends/pkcs11.js";
export {
  KeyManager,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CACHE_MAX_KEYS,
  type KeyStore,
  type StoredDataKey,
  type AuditEntry,
  type AuditAction,
  type AuditSink,
  type KmsMetrics,
  type KmsLogger,
  type KeyManagerOptions,
  type KeyManagerStatus,
  type RotationReport,
  type VerifyReport,
} from "./manager.js";
export { FileAuditLog, MemoryAuditLog } from "./audit.js";
export { MemoryKeyStore } from "./memory-store.js";
