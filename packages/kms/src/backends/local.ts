/**
 * The local back end (the default): master keys in a JSON file in the data directory, mode
 * 0600, created on first start. Wrapping is AES-256-GCM under the current master key:
 *
 *   blob = version (1) ‖ nonce (12) ‖ ciphertext (32) ‖ tag (16)
 *
 * Losing this file loses every object it protects; docs/operations.md says how to back it up.
 * Whoever reads it (and the database) reads everything: it protects against a stolen or
 * discarded database or backup without the key file, not against root on the server.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { closeSync, constants as fsConstants, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { chmod, open as openFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { BackendStatus, MasterKeyBackend, WrappedKey } from "../backend.js";
import { KmsError } from "../errors.js";

const FORMAT = "conclave-master-keys";
const BLOB_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const keyFileSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(1),
  current: z.string().regex(/^local-[0-9a-f]{16}$/),
  keys: z
    .array(
      z.strictObject({
        id: z.string().regex(/^local-[0-9a-f]{16}$/),
        createdAt: z.string(),
        key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "a base64 AES-256 key"),
      }),
    )
    .min(1),
});

type KeyFile = z.infer<typeof keyFileSchema>;

export interface LocalBackendOptions {
  /** The key file, e.g. <data>/kms/master-keys.json. */
  readonly file: string;
  /** Create the file when it does not exist (first start). Default true. */
  readonly create?: boolean;
}

export class LocalKeyFileBackend implements MasterKeyBackend {
  readonly kind = "local" as const;
  readonly #file: string;
  #keys: Map<string, Buffer>;
  #current: string;
  #doc: KeyFile;
  #closed = false;

  private constructor(file: string, doc: KeyFile) {
    this.#file = file;
    this.#doc = doc;
    this.#current = doc.current;
    this.#keys = new Map(doc.keys.map((k) => [k.id, Buffer.from(k.key, "base64")]));
  }

  /** Open the key file, creating it (0600, in a 0700 directory) on first start. */
  static async open(options: LocalBackendOptions): Promise<LocalKeyFileBackend> {
    return LocalKeyFileBackend.openSync(options);
  }

  /** As open, synchronously (start-up code and tests that open databases synchronously). */
  static openSync(options: LocalBackendOptions): LocalKeyFileBackend {
    const file = options.file;
    let text: string;
    try {
      const info = statSync(file);
      if ((info.mode & 0o077) !== 0) {
        throw new KmsError("KMS_KEY_FILE_INVALID", `${file} has mode ${(info.mode & 0o777).toString(8)}; run chmod 600 ${file}`);
      }
      text = readFileSync(file, "utf8");
    } catch (e) {
      if (e instanceof KmsError) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && options.create !== false) {
        return LocalKeyFileBackend.#createFile(file);
      }
      throw new KmsError("KMS_KEY_FILE_INVALID", `${file} cannot be read`, { cause: e });
    }
    let doc: KeyFile;
    try {
      doc = keyFileSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new KmsError("KMS_KEY_FILE_INVALID", `${file} is not a Conclave master key file`, { cause: e });
    }
    if (!doc.keys.some((k) => k.id === doc.current)) throw new KmsError("KMS_KEY_FILE_INVALID", `${file} names a current key it does not hold`);
    return new LocalKeyFileBackend(file, doc);
  }

  static #createFile(file: string): LocalKeyFileBackend {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const doc: KeyFile = { format: FORMAT, version: 1, current: newKeyId(), keys: [] };
    doc.keys.push({ id: doc.current, createdAt: new Date().toISOString(), key: randomBytes(32).toString("base64") });
    // Written to a temporary file and linked into place: link() fails if another process
    // created the file first, so two first starts never end with two different keys.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      writeSync(fd, JSON.stringify(doc, null, 2) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return LocalKeyFileBackend.openSync({ file, create: false });
      throw e;
    } finally {
      unlinkSync(tmp);
    }
    syncDirSync(dirname(file));
    return new LocalKeyFileBackend(file, doc);
  }

  async wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    this.#checkOpen();
    const master = this.#keys.get(this.#current)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", master, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(key), cipher.final()]);
    return { masterKeyId: this.#current, blob: Buffer.concat([Buffer.from([BLOB_VERSION]), nonce, body, cipher.getAuthTag()]) };
  }

  async unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    // Rotated by another process (`conclave kms rotate` while the server runs): read the file again.
    if (!this.#keys.has(wrapped.masterKeyId)) await this.#reload();
    const master = this.#keys.get(wrapped.masterKeyId);
    if (master === undefined) throw new KmsError("KMS_MASTER_KEY_NOT_FOUND", `${wrapped.masterKeyId} is not in ${this.#file}`);
    const b = Buffer.from(wrapped.blob);
    if (b.length < 1 + NONCE_BYTES + TAG_BYTES || b[0] !== BLOB_VERSION) throw new KmsError("KMS_BAD_FORMAT", "wrapped key blob");
    const decipher = createDecipheriv("aes-256-gcm", master, b.subarray(1, 1 + NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(b.subarray(1 + NONCE_BYTES, b.length - TAG_BYTES)), decipher.final()]);
    } catch (e) {
      throw new KmsError("KMS_DECRYPT_FAILED", "unwrapping a data key", { cause: e });
    }
  }

  async #reload(): Promise<void> {
    const fresh = await LocalKeyFileBackend.open({ file: this.#file, create: false });
    this.#doc = fresh.#doc;
    this.#current = fresh.#current;
    for (const [id, key] of fresh.#keys) if (!this.#keys.has(id)) this.#keys.set(id, key);
  }

  async rotate(): Promise<string> {
    this.#checkOpen();
    await this.#reload();
    const id = newKeyId();
    const next: KeyFile = {
      ...this.#doc,
      current: id,
      keys: [...this.#doc.keys, { id, createdAt: new Date().toISOString(), key: randomBytes(32).toString("base64") }],
    };
    // Replace atomically: a crash leaves the old file or the new one, never half of one.
    const tmp = `${this.#file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeSynced(tmp, JSON.stringify(next, null, 2) + "\n");
    await rename(tmp, this.#file);
    await syncDir(dirname(this.#file));
    this.#doc = next;
    this.#current = id;
    this.#keys.set(id, Buffer.from(next.keys.at(-1)!.key, "base64"));
    return id;
  }

  async status(): Promise<BackendStatus> {
    this.#checkOpen();
    return { kind: "local", currentMasterKeyId: this.#current, masterKeyIds: [...this.#keys.keys()], location: this.#file };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const k of this.#keys.values()) k.fill(0);
    this.#keys.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new KmsError("KMS_CLOSED");
  }
}

function newKeyId(): string {
  return `local-${randomBytes(8).toString("hex")}`;
}

async function writeSynced(path: string, text: string): Promise<void> {
  const fh = await openFile(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(path, 0o600);
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the link itself is still atomic.
  } finally {
    closeSync(fd);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await openFile(dir, "r");
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await fh.close();
  }
}
