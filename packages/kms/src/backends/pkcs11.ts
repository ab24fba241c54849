/**
 * The PKCS#11 back end: master keys are non-extractable AES-256 secret keys on an HSM token
 * (tested with SoftHSM 2 through pkcs11js). Data keys are encrypted with CKM_AES_GCM (PKCS#11
 * v2.40 §2.12.3) by the token itself — SoftHSM cannot *wrap* with GCM, and encrypting the data
 * key bytes as data gives the same envelope with AAD — so the master key never leaves the token:
 *
 *   blob = version (1) ‖ IV (12) ‖ ciphertext (32) ‖ tag (16)
 *
 * Master keys are named by CKA_LABEL "<prefix>-<n>"; the highest n is current, rotation
 * generates n+1. The PIN comes from configuration or the environment, never from argv, and is
 * never part of an error message or log line.
 */
import { createRequire } from "node:module";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type * as Pkcs11Types from "pkcs11js";
import type { BackendStatus, MasterKeyBackend, WrappedKey } from "../backend.js";
import { KmsError } from "../errors.js";

type Pkcs11Module = typeof Pkcs11Types;
type PKCS11 = Pkcs11Types.PKCS11;
type Handle = Pkcs11Types.Handle;

export const DEFAULT_PKCS11_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
export const DEFAULT_PKCS11_KEY_LABEL = "conclave-master";
const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Pkcs11BackendOptions {
  /** Path of the PKCS#11 library. Default DEFAULT_PKCS11_MODULE (SoftHSM 2 on Debian). */
  readonly module?: string;
  /** The token's label (CKA_LABEL of the token, as set by softhsm2-util --init-token --label). */
  readonly tokenLabel: string;
  /** The slot id; when given it must hold the token with tokenLabel. */
  readonly slot?: number;
  /** The user PIN. Never logged, never in argv. */
  readonly pin: string;
  /** Master keys are labelled "<prefix>-<n>". Default DEFAULT_PKCS11_KEY_LABEL. */
  readonly keyLabelPrefix?: string;
}

const require = createRequire(import.meta.url);
let lib: Pkcs11Module | undefined;
/** One loaded library per module path, shared by every back end of the process (C_Initialize is per process). */
const loaded = new Map<string, { pkcs11: PKCS11; users: number }>();
/**
 * Login state is per application and token: a second C_Login answers CKR_USER_ALREADY_LOGGED_IN
 * without checking the PIN. So the process remembers a salted digest of the PIN each token was
 * logged in with, and a later open with another PIN is refused as the token would refuse it.
 */
const loginSalt = randomBytes(16);
const loggedIn = new Map<string, Buffer>();
const pinDigest = (pin: string): Buffer => createHash("sha256").update(loginSalt).update(pin, "utf8").digest();

function pkcs11js(): Pkcs11Module {
  lib ??= require("pkcs11js") as Pkcs11Module;
  return lib;
}

function acquire(module: string): PKCS11 {
  const entry = loaded.get(module);
  if (entry !== undefined) {
    entry.users++;
    return entry.pkcs11;
  }
  const P = pkcs11js();
  const pkcs11 = new P.PKCS11();
  try {
    pkcs11.load(module);
  } catch (e) {
    throw new KmsError("KMS_CONFIG_INVALID", `cannot load the PKCS#11 library ${module}`, { cause: e });
  }
  try {
    pkcs11.C_Initialize();
  } catch (e) {
    if (ckr(e) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") throw mapError(e, "initialising the PKCS#11 library");
  }
  loaded.set(module, { pkcs11, users: 1 });
  return pkcs11;
}

function release(module: string): void {
  const entry = loaded.get(module);
  if (entry === undefined) return;
  if (--entry.users > 0) return;
  loaded.delete(module);
  try {
    entry.pkcs11.C_Finalize();
  } catch {
    // Finalising is best effort at shutdown.
  }
}

export class Pkcs11Backend implements MasterKeyBackend {
  readonly kind = "pkcs11" as const;
  readonly #module: string;
  readonly #pkcs11: PKCS11;
  readonly #session: Handle;
  readonly #tokenLabel: string;
  readonly #prefix: string;
  /** Master keys by label. */
  #keys = new Map<string, Handle>();
  #current: string;
  #closed = false;

  private constructor(module: string, pkcs11: PKCS11, session: Handle, tokenLabel: string, prefix: string) {
    this.#module = module;
    this.#pkcs11 = pkcs11;
    this.#session = session;
    this.#tokenLabel = tokenLabel;
    this.#prefix = prefix;
    this.#current = "";
  }

  /** Log in to the token and find (or, on first start, generate) the master key. */
  static async open(options: Pkcs11BackendOptions): Promise<Pkcs11Backend> {
    const module = options.module ?? DEFAULT_PKCS11_MODULE;
    const prefix = options.keyLabelPrefix ?? DEFAULT_PKCS11_KEY_LABEL;
    if (!/^[A-Za-z0-9_.-]{1,48}$/.test(prefix)) throw new KmsError("KMS_CONFIG_INVALID", "the PKCS#11 key label prefix must be 1-48 letters, digits, _ . or -");
    if (typeof options.pin !== "string" || options.pin.length === 0) throw new KmsError("KMS_CONFIG_INVALID", "a PKCS#11 PIN is required (CONCLAVE_KMS_PKCS11_PIN)");
    const pkcs11 = acquire(module);
    const P = pkcs11js();
    let session: Handle | undefined;
    try {
      const slot = findSlot(pkcs11, options.tokenLabel, options.slot);
      session = pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      const tokenKey = `${module}\0${options.tokenLabel}`;
      try {
        pkcs11.C_Login(session, P.CKU_USER, options.pin);
        loggedIn.set(tokenKey, pinDigest(options.pin));
      } catch (e) {
        if (ckr(e) !== "CKR_USER_ALREADY_LOGGED_IN") throw e;
        const known = loggedIn.get(tokenKey);
        if (known === undefined || !timingSafeEqual(known, pinDigest(options.pin))) {
          throw new KmsError("KMS_CONFIG_INVALID", "the token refused the PIN (CKR_PIN_INCORRECT)");
        }
      }
      const backend = new Pkcs11Backend(module, pkcs11, session, options.tokenLabel, prefix);
      backend.#loadKeys();
      if (backend.#keys.size === 0) backend.#generate(1);
      return backend;
    } catch (e) {
      if (session !== undefined) {
        try {
          pkcs11.C_CloseSession(session);
        } catch {
          // already failing
        }
      }
      release(module);
      throw mapError(e, "opening the PKCS#11 token");
    }
  }

  #loadKeys(): void {
    const P = pkcs11js();
    const pkcs11 = this.#pkcs11;
    pkcs11.C_FindObjectsInit(this.#session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
    ]);
    const handles: Handle[] = [];
    try {
      for (;;) {
        const batch = pkcs11.C_FindObjects(this.#session, 64);
        if (batch.length === 0) break;
        handles.push(...batch);
      }
    } finally {
      pkcs11.C_FindObjectsFinal(this.#session);
    }
    const pattern = new RegExp(`^${this.#prefix.replace(/[.]/g, "\\.")}-(\\d{1,9})$`);
    let best = 0;
    const keys = new Map<string, Handle>();
    for (const h of handles) {
      const [attr] = pkcs11.C_GetAttributeValue(this.#session, h, [{ type: P.CKA_LABEL }]);
      const label = Buffer.isBuffer(attr?.value) ? attr.value.toString("utf8") : "";
      const m = pattern.exec(label);
      if (!m) continue;
      keys.set(label, h);
      const n = Number(m[1]);
      if (n > best) {
        best = n;
        this.#current = label;
      }
    }
    this.#keys = keys;
  }

  /** Generate master key number n on the token: AES-256, sensitive, never extractable. */
  #generate(n: number): string {
    const P = pkcs11js();
    const label = `${this.#prefix}-${n}`;
    const handle = this.#pkcs11.C_GenerateKey(this.#session, { mechanism: P.CKM_AES_KEY_GEN }, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_VALUE_LEN, value: 32 },
      { type: P.CKA_LABEL, value: label },
      { type: P.CKA_ID, value: Buffer.from(label, "utf8") },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_WRAP, value: false },
      { type: P.CKA_UNWRAP, value: false },
    ]);
    this.#keys.set(label, handle);
    this.#current = label;
    return label;
  }

  #gcm(iv: Buffer, aad: Uint8Array): Pkcs11Types.Mechanism {
    const P = pkcs11js();
    const parameter: Pkcs11Types.GcmParams = { type: P.CK_PARAMS_AES_GCM, iv, aad: Buffer.from(aad), ivBits: IV_BYTES * 8, tagBits: TAG_BYTES * 8 };
    return { mechanism: P.CKM_AES_GCM, parameter };
  }

  async wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    this.#checkOpen();
    const handle = this.#keys.get(this.#current)!;
    const iv = randomBytes(IV_BYTES);
    try {
      this.#pkcs11.C_EncryptInit(this.#session, this.#gcm(iv, aad), handle);
      const out = this.#pkcs11.C_Encrypt(this.#session, Buffer.from(key), Buffer.alloc(key.length + TAG_BYTES + 16));
      return { masterKeyId: this.#current, blob: Buffer.concat([Buffer.from([BLOB_VERSION]), iv, out]) };
    } catch (e) {
      throw mapError(e, "encrypting a data key on the token");
    }
  }

  async unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    if (!this.#keys.has(wrapped.masterKeyId)) this.#loadKeys(); // rotated by another process
    const handle = this.#keys.get(wrapped.masterKeyId);
    if (handle === undefined) throw new KmsError("KMS_MASTER_KEY_NOT_FOUND", `${wrapped.masterKeyId} is not on token ${this.#tokenLabel}`);
    const b = Buffer.from(wrapped.blob);
    if (b.length < 1 + IV_BYTES + TAG_BYTES || b[0] !== BLOB_VERSION) throw new KmsError("KMS_BAD_FORMAT", "wrapped key blob");
    try {
      this.#pkcs11.C_DecryptInit(this.#session, this.#gcm(b.subarray(1, 1 + IV_BYTES), aad), handle);
      const body = b.subarray(1 + IV_BYTES);
      return Buffer.from(this.#pkcs11.C_Decrypt(this.#session, body, Buffer.alloc(body.length)));
    } catch (e) {
      // SoftHSM reports a failed GCM tag check as CKR_GENERAL_ERROR or CKR_ENCRYPTED_DATA_INVALID:
      // any failure of a decryption that was set up is an authentication failure, unless the
      // token itself went away.
      const mapped = mapError(e, "decrypting a data key on the token");
      if (mapped.code === "KMS_UNAVAILABLE") throw mapped;
      throw new KmsError("KMS_DECRYPT_FAILED", "unwrapping a data key", { cause: e });
    }
  }

  async rotate(): Promise<string> {
    this.#checkOpen();
    this.#loadKeys();
    const n = Math.max(0, ...[...this.#keys.keys()].map((l) => Number(l.slice(this.#prefix.length + 1))));
    try {
      return this.#generate(n + 1);
    } catch (e) {
      throw mapError(e, "generating a master key on the token");
    }
  }

  async status(): Promise<BackendStatus> {
    this.#checkOpen();
    return { kind: "pkcs11", currentMasterKeyId: this.#current, masterKeyIds: [...this.#keys.keys()].sort(), location: `token ${this.#tokenLabel}` };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#pkcs11.C_CloseSession(this.#session);
    } catch {
      // best effort
    }
    release(this.#module);
  }

  #checkOpen(): void {
    if (this.#closed) throw new KmsError("KMS_CLOSED");
  }
}

function findSlot(pkcs11: PKCS11, tokenLabel: string, slotId: number | undefined): Handle {
  for (const slot of pkcs11.C_GetSlotList(true)) {
    const info = pkcs11.C_GetTokenInfo(slot);
    if (info.label.trim() !== tokenLabel) continue;
    if (slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== slotId) continue;
    return slot;
  }
  throw new KmsError(
    "KMS_CONFIG_INVALID",
    `no PKCS#11 token labelled "${tokenLabel}"${slotId !== undefined ? ` in slot ${slotId}` : ""}; list tokens with softhsm2-util --show-slots`,
  );
}

/** The CKR_… name of a pkcs11js error, if it is one. */
function ckr(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  return /CKR_[A-Z_]+/.exec(e.message)?.[0];
}

const UNAVAILABLE = new Set(["CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT", "CKR_DEVICE_ERROR", "CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED", "CKR_DEVICE_MEMORY"]);
const BAD_PIN = new Set(["CKR_PIN_INCORRECT", "CKR_PIN_INVALID", "CKR_PIN_LEN_RANGE", "CKR_PIN_LOCKED", "CKR_PIN_EXPIRED"]);

function mapError(e: unknown, doing: string): KmsError {
  if (e instanceof KmsError) return e;
  const name = ckr(e);
  if (name !== undefined && UNAVAILABLE.has(name)) return new KmsError("KMS_UNAVAILABLE", `${doing}: ${name}`, { cause: e });
  if (name !== undefined && BAD_PIN.has(name)) return new KmsError("KMS_CONFIG_INVALID", `the token refused the PIN (${name})`);
  return new KmsError("KMS_PKCS11_FAILED", `${doing}: ${name ?? "library error"}`, { cause: e });
}
