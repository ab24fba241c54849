/**
 * The customer-hosted back end: master keys live in the customer's KMIP 1.4 server (an
 * enterprise KMS, or PyKMIP in the tests) and never leave it. Data keys are encrypted there
 * with AES-256-GCM and AAD (KMIP 1.4 Encrypt/Decrypt with Authenticated Encryption Additional
 * Data), over mutual TLS:
 *
 *   blob = version (1) ‖ IV (12) ‖ ciphertext (32) ‖ tag (16)
 *
 * The master keys Conclave uses are listed in a small state file in the data directory (their
 * KMIP unique identifiers, current last): unwrap refuses any other key on the server, and
 * rotation creates and activates a new key and records it there.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open as openFile, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { BackendStatus, MasterKeyBackend, WrappedKey } from "../backend.js";
import { KmsError, isKmsError } from "../errors.js";
import { KmipClient, KmipOperationError, type KmipClientOptions } from "../kmip/client.js";
import { Tag, activatePayload, bytesOf, createAesKeyPayload, decryptPayload, encryptPayload, uniqueIdentifierOf } from "../kmip/messages.js";

const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DEFAULT_KMIP_PORT = 5696;

/** KMIP 1.4 §9.1.3.2.29 Result Reason values this back end tells apart. */
const REASON_ITEM_NOT_FOUND = 0x01;
const REASON_PERMISSION_DENIED = 0x0c;

export interface KmipBackendOptions extends KmipClientOptions {
  /** Where the unique identifiers of Conclave's master keys are recorded, e.g. <data>/kms/kmip-keys.json. */
  readonly stateFile: string;
  /** An existing key on the server to start with (first start only); absent: Conclave creates one. */
  readonly keyId?: string;
  /** Name given to keys Conclave creates. Default "conclave-master". */
  readonly keyName?: string;
}

const stateSchema = z.strictObject({
  format: z.literal("conclave-kmip-keys"),
  version: z.literal(1),
  /** Oldest first; the last is current. */
  keys: z.array(z.string().min(1).max(256)).min(1),
});
type State = z.infer<typeof stateSchema>;

export class KmipBackend implements MasterKeyBackend {
  readonly kind = "kmip" as const;
  readonly #client: KmipClient;
  readonly #stateFile: string;
  readonly #keyName: string;
  #state: State;
  #closed = false;

  private constructor(client: KmipClient, stateFile: string, keyName: string, state: State) {
    this.#client = client;
    this.#stateFile = stateFile;
    this.#keyName = keyName;
    this.#state = state;
  }

  /** Connect lazily; on first start, adopt `keyId` or create and activate a master key. */
  static async open(options: KmipBackendOptions): Promise<KmipBackend> {
    const client = new KmipClient(options);
    const keyName = options.keyName ?? "conclave-master";
    try {
      let state = await readState(options.stateFile);
      if (state === undefined) {
        const uid = options.keyId ?? (await createKey(client, keyName));
        state = { format: "conclave-kmip-keys", version: 1, keys: [uid] };
        await writeState(options.stateFile, state);
      }
      return new KmipBackend(client, options.stateFile, keyName, state);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get #current(): string {
    return this.#state.keys.at(-1)!;
  }

  async wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    this.#checkOpen();
    const uid = this.#current;
    const iv = randomBytes(IV_BYTES);
    const payload = await this.#client.request("Encrypt", encryptPayload(uid, key, iv, aad)).catch((e: unknown) => {
      throw mapFailure(e, "encrypting a data key");
    });
    const ct = bytesOf(payload, Tag.Data);
    const tag = bytesOf(payload, Tag.AuthenticatedEncryptionTag);
    if (ct.length !== key.length || tag.length !== TAG_BYTES) throw new KmsError("KMS_KMIP_MALFORMED", "Encrypt returned unexpected lengths");
    return { masterKeyId: uid, blob: Buffer.concat([Buffer.from([BLOB_VERSION]), iv, ct, tag]) };
  }

  async unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    if (!this.#state.keys.includes(wrapped.masterKeyId)) {
      // Rotated by another process (`conclave kms rotate` while the server runs): read the list again.
      this.#state = (await readState(this.#stateFile)) ?? this.#state;
    }
    if (!this.#state.keys.includes(wrapped.masterKeyId)) {
      throw new KmsError("KMS_MASTER_KEY_NOT_FOUND", `KMIP key ${wrapped.masterKeyId} is not one of Conclave's (${this.#stateFile})`);
    }
    const b = Buffer.from(wrapped.blob);
    if (b.length < 1 + IV_BYTES + TAG_BYTES || b[0] !== BLOB_VERSION) throw new KmsError("KMS_BAD_FORMAT", "wrapped key blob");
    const iv = b.subarray(1, 1 + IV_BYTES);
    const ct = b.subarray(1 + IV_BYTES, b.length - TAG_BYTES);
    const tag = b.subarray(b.length - TAG_BYTES);
    try {
      const payload = await this.#client.request("Decrypt", decryptPayload(wrapped.masterKeyId, ct, iv, aad, tag));
      return bytesOf(payload, Tag.Data);
    } catch (e) {
      if (e instanceof KmipOperationError) {
        const reason = e.failure.reason;
        if (reason === REASON_ITEM_NOT_FOUND) throw new KmsError("KMS_MASTER_KEY_NOT_FOUND", `KMIP key ${wrapped.masterKeyId}`, { cause: e });
        if (reason === REASON_PERMISSION_DENIED) throw e;
        // A GCM tag mismatch is a cryptographic (or general) failure on the server.
        throw new KmsError("KMS_DECRYPT_FAILED", "unwrapping a data key", { cause: e });
      }
      throw mapFailure(e, "decrypting a data key");
    }
  }

  async rotate(): Promise<string> {
    this.#checkOpen();
    const uid = await createKey(this.#client, this.#keyName);
    const latest = (await readState(this.#stateFile)) ?? this.#state;
    const next: State = { ...latest, keys: [...latest.keys, uid] };
    await writeState(this.#stateFile, next);
    this.#state = next;
    return uid;
  }

  async status(): Promise<BackendStatus> {
    this.#checkOpen();
    return { kind: "kmip", currentMasterKeyId: this.#current, masterKeyIds: [...this.#state.keys], location: this.#client.location };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new KmsError("KMS_CLOSED");
  }
}

/** Create and activate an AES-256 key usable for encrypt and decrypt only. */
async function createKey(client: KmipClient, name: string): Promise<string> {
  try {
    const created = await client.request("Create", createAesKeyPayload(`${name}-${new Date().toISOString()}`));
    const uid = uniqueIdentifierOf(created);
    const activated = await client.request("Activate", activatePayload(uid));
    if (uniqueIdentifierOf(activated) !== uid) throw new KmsError("KMS_KMIP_MALFORMED", "Activate answered for another key");
    return uid;
  } catch (e) {
    throw mapFailure(e, "creating a master key");
  }
}

function mapFailure(e: unknown, doing: string): KmsError {
  if (isKmsError(e)) return e;
  return new KmsError("KMS_UNAVAILABLE", doing, { cause: e });
}

async function readState(file: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new KmsError("KMS_CONFIG_INVALID", `${file} cannot be read`, { cause: e });
  }
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new KmsError("KMS_CONFIG_INVALID", `${file} is not a Conclave KMIP key list`, { cause: e });
  }
}

async function writeState(file: string, state: State): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await openFile(tmp, "wx", 0o600);
  try {
    await fh.writeFile(JSON.stringify(state, null, 2) + "\n", "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
