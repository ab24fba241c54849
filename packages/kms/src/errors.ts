/**
 * Every error the kms package raises, with a stable string code (CONVENTIONS.md habit 3).
 * docs/protocol.md §8 lists them; tests/e2e/docs-errors.test.ts checks both directions.
 *
 * Messages say what happened and what to do. They never contain key material, plaintext,
 * PINs or wrapped keys: a `detail` must be safe to log and to show to an operator.
 */
export const KMS_ERRORS = {
  // Configuration and set-up
  KMS_CONFIG_INVALID: { message: "The key management configuration is not valid." },
  KMS_KEY_FILE_INVALID: { message: "The master key file is unreadable, malformed or open to other users; restore it from your backup (docs/operations.md)." },
  KMS_MASTER_KEY_NOT_FOUND: { message: "The master key this data key was wrapped with is not in the key management system; restore the key (or its backup) before reading this data." },

  // Availability: callers retry later; meetings in progress do not depend on the KMS.
  KMS_UNAVAILABLE: { message: "The key management system cannot be reached; try again in a minute (live meetings are not affected)." },
  KMS_CLOSED: { message: "The key manager has been closed." },

  // Integrity and data
  KMS_DECRYPT_FAILED: { message: "Decryption failed: the data was altered, moved to another object, or belongs to another master key." },
  KMS_BAD_FORMAT: { message: "The encrypted data is not in a format this version can read." },
  KMS_KEY_SHREDDED: { message: "This object's data key has been destroyed (crypto-shredded); its content cannot be recovered." },
  KMS_STREAM_TRUNCATED: { message: "The encrypted stream ends before its final chunk: it was cut off or never finished writing." },
  KMS_STREAM_CLOSED: { message: "The encrypted stream is already finished or closed." },
  KMS_RANGE_INVALID: { message: "The requested byte range is outside the object." },

  // Back-end protocol failures
  KMS_PKCS11_FAILED: { message: "The PKCS#11 token refused the operation." },
  KMS_KMIP_MALFORMED: { message: "A KMIP message is malformed (TTLV)." },
  KMS_KMIP_FAILED: { message: "The KMIP server refused the operation." },
} as const satisfies Record<string, { message: string }>;

export type KmsErrorCode = keyof typeof KMS_ERRORS;

/** A retry hint for KMS_UNAVAILABLE, in seconds (HTTP Retry-After). */
export const KMS_RETRY_AFTER_SECONDS = 30;

export class KmsError extends Error {
  readonly code: KmsErrorCode;
  /** For KMS_UNAVAILABLE: when to try again. */
  readonly retryAfterSeconds: number | undefined;

  /** `detail` is appended to the table's message; it must not contain secrets. */
  constructor(code: KmsErrorCode, detail?: string, options?: { cause?: unknown }) {
    const base = KMS_ERRORS[code].message;
    super(detail ? `${base} (${detail})` : base, options);
    this.name = "KmsError";
    this.code = code;
    this.retryAfterSeconds = code === "KMS_UNAVAILABLE" ? KMS_RETRY_AFTER_SECONDS : undefined;
  }
}

export function isKmsError(e: unknown, code?: KmsErrorCode): e is KmsError {
  return e instanceof KmsError && (code === undefined || e.code === code);
}
