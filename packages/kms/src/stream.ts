/**
 * Chunked streams: large objects (recordings, gigabytes) encrypted as a sequence of
 * authenticated chunks, written incrementally and read at random (HTTP range requests) without
 * decrypting what comes before.
 *
 * Header (27 + n bytes):
 *   0    4   magic "CLVC" (Conclave chunked)
 *   4    1   format version = 1
 *   5    1   algorithm = 1 (AES-256-GCM)
 *   6    4   chunk size C: plaintext bytes of every chunk but the last (u32 big-endian)
 *   10   1   n = length of the data key id
 *   11   n   data key id (ASCII hex)
 *   11+n 16  salt
 * Then chunks, each nonce (12) ‖ ciphertext ‖ tag (16): every chunk but the last holds exactly C
 * plaintext bytes, so chunk k starts at header + k·(C + 28). The last chunk holds 0..C bytes.
 *
 * Keys and nonces: each stream has its own key, HKDF-SHA256(data key, salt, "conclave/kms/stream/v1")
 * (RFC 5869), so streams never share a key with sealed values or with each other; each chunk
 * has a random 96-bit nonce stored with it, so rewriting a chunk after a crash never reuses a
 * nonce. AAD of chunk k = header ‖ encodeStrings(kind, id, field) ‖ u64 k ‖ u8 final. Moving,
 * dropping or reordering chunks, or cutting the stream at a chunk boundary, fails to decrypt:
 * the last chunk must decrypt with final = 1.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { open as openFile, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { isDataKeyId, keyBytes, type DataKey } from "./data-key.js";
import { ALG_AES_256_GCM } from "./envelope.js";
import { KmsError } from "./errors.js";
import { checkField, encodeStrings } from "./object-ref.js";

export const STREAM_MAGIC = Buffer.from("CLVC", "ascii");
export const STREAM_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 64;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a chunk adds to its plaintext. */
export const CHUNK_OVERHEAD = NONCE_BYTES + TAG_BYTES;
/** Random nonces per stream key (NIST SP 800-38D §8.3): 4 PiB at 1 MiB chunks. */
const MAX_CHUNKS = 2 ** 32;
const STREAM_INFO = Buffer.from("conclave/kms/stream/v1", "ascii");

export interface StreamHeader {
  readonly version: number;
  readonly algorithm: number;
  readonly chunkSize: number;
  readonly dataKeyId: string;
  readonly salt: Buffer;
  /** The encoded header, authenticated with every chunk. */
  readonly bytes: Buffer;
}

export function encodeStreamHeader(dataKeyId: string, chunkSize: number, salt: Buffer): Buffer {
  const id = Buffer.from(dataKeyId, "ascii");
  const fixed = Buffer.alloc(11);
  STREAM_MAGIC.copy(fixed, 0);
  fixed[4] = STREAM_VERSION;
  fixed[5] = ALG_AES_256_GCM;
  fixed.writeUInt32BE(chunkSize, 6);
  fixed[10] = id.length;
  return Buffer.concat([fixed, id, salt]);
}

/**
 * Strict header decoding. `bytes` may extend past the header; the header's own length is
 * `result.bytes.length`. A prefix of a valid header is KMS_STREAM_TRUNCATED (a write cut off
 * before the header was complete); anything else wrong is KMS_BAD_FORMAT.
 */
export function decodeStreamHeader(bytes: Uint8Array): StreamHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicPart = b.subarray(0, Math.min(4, b.length));
  if (!STREAM_MAGIC.subarray(0, magicPart.length).equals(magicPart)) throw new KmsError("KMS_BAD_FORMAT", "not an encrypted stream");
  if (b.length < 11) throw new KmsError("KMS_STREAM_TRUNCATED", "the header is incomplete");
  const version = b[4]!;
  if (version !== STREAM_VERSION) throw new KmsError("KMS_BAD_FORMAT", `stream format version ${version} is unknown`);
  const algorithm = b[5]!;
  if (algorithm !== ALG_AES_256_GCM) throw new KmsError("KMS_BAD_FORMAT", `algorithm ${algorithm} is unknown`);
  const chunkSize = b.readUInt32BE(6);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new KmsError("KMS_BAD_FORMAT", `chunk size ${chunkSize} is out of range`);
  const n = b[10]!;
  const length = 11 + n + SALT_BYTES;
  if (b.length < length) throw new KmsError("KMS_STREAM_TRUNCATED", "the header is incomplete");
  const dataKeyId = b.subarray(11, 11 + n).toString("latin1");
  if (!isDataKeyId(dataKeyId)) throw new KmsError("KMS_BAD_FORMAT", "bad data key id in the header");
  return {
    version,
    algorithm,
    chunkSize,
    dataKeyId,
    salt: Buffer.from(b.subarray(11 + n, length)),
    bytes: Buffer.from(b.subarray(0, length)),
  };
}

/** Where the chunks of a stream of `fileSize` bytes lie. */
export interface StreamLayout {
  readonly headerLength: number;
  readonly chunkSize: number;
  /** Chunks present, counting a torn last one. */
  readonly chunks: number;
  /** Plaintext bytes of the last chunk, or -1 when it is torn (shorter than its overhead). */
  readonly lastChunkPlaintext: number;
  /** Plaintext length if the stream is complete. */
  readonly plaintextSize: number;
}

export function streamLayout(header: StreamHeader, fileSize: number): StreamLayout {
  const headerLength = header.bytes.length;
  const stride = header.chunkSize + CHUNK_OVERHEAD;
  const body = fileSize - headerLength;
  if (body < 0) throw new KmsError("KMS_STREAM_TRUNCATED", "the header is incomplete");
  const full = Math.floor(body / stride);
  const rem = body % stride;
  let chunks: number;
  let last: number;
  if (rem === 0) {
    chunks = full;
    last = full === 0 ? -1 : header.chunkSize;
  } else {
    chunks = full + 1;
    last = rem >= CHUNK_OVERHEAD ? rem - CHUNK_OVERHEAD : -1;
  }
  const plaintextSize = chunks === 0 ? 0 : (chunks - 1) * header.chunkSize + Math.max(last, 0);
  return { headerLength, chunkSize: header.chunkSize, chunks, lastChunkPlaintext: last, plaintextSize };
}

/** The cipher of one stream: derives the stream key, encrypts and decrypts chunk k. No I/O. */
export class StreamCipher {
  readonly header: StreamHeader;
  readonly #key: Buffer;
  readonly #aadPrefix: Buffer;

  private constructor(header: StreamHeader, key: DataKey, field: string) {
    this.header = header;
    // RFC 5869 HKDF: a key of its own for this stream.
    this.#key = Buffer.from(hkdfSync("sha256", keyBytes(key), header.salt, STREAM_INFO, 32));
    this.#aadPrefix = Buffer.concat([header.bytes, encodeStrings(key.object.kind, key.object.id, field)]);
  }

  /** A new stream under `key`, as `field` of its object. */
  static create(key: DataKey, field: string, chunkSize: number = DEFAULT_CHUNK_SIZE): StreamCipher {
    checkField(field);
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new KmsError("KMS_CONFIG_INVALID", `chunkSize must be an integer between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}`);
    }
    const headerBytes = encodeStreamHeader(key.id, chunkSize, randomBytes(SALT_BYTES));
    return new StreamCipher(decodeStreamHeader(headerBytes), key, field);
  }

  /** The cipher of an existing stream; KMS_DECRYPT_FAILED if it was written under another data key. */
  static forHeader(header: StreamHeader, key: DataKey, field: string): StreamCipher {
    checkField(field);
    if (header.dataKeyId !== key.id) throw new KmsError("KMS_DECRYPT_FAILED", "the stream was written under another data key");
    return new StreamCipher(header, key, field);
  }

  #aad(index: number, final: boolean): Buffer {
    const tail = Buffer.alloc(9);
    tail.writeBigUInt64BE(BigInt(index), 0);
    tail[8] = final ? 1 : 0;
    return Buffer.concat([this.#aadPrefix, tail]);
  }

  /** Chunk `index` as [nonce, ciphertext, tag] (write them in order; no copy of the payload). */
  encryptChunk(index: number, plaintext: Uint8Array, final: boolean): Buffer[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_CHUNKS) throw new KmsError("KMS_RANGE_INVALID", "chunk index out of range");
    if (plaintext.length > this.header.chunkSize || (!final && plaintext.length !== this.header.chunkSize)) {
      throw new KmsError("KMS_RANGE_INVALID", "only the final chunk may be shorter than the chunk size");
    }
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad(index, final));
    const body = cipher.update(plaintext);
    const rest = cipher.final();
    return rest.length > 0 ? [nonce, body, rest, cipher.getAuthTag()] : [nonce, body, cipher.getAuthTag()];
  }

  /** Decrypt chunk `index` (nonce ‖ ciphertext ‖ tag); KMS_DECRYPT_FAILED on any mismatch. */
  decryptChunk(index: number, chunk: Uint8Array, final: boolean): Buffer {
    if (chunk.length < CHUNK_OVERHEAD) throw new KmsError("KMS_STREAM_TRUNCATED", `chunk ${index} is incomplete`);
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, b.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(this.#aad(index, final));
    decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(b.subarray(NONCE_BYTES, b.length - TAG_BYTES)), decipher.final()]);
    } catch (e) {
      throw new KmsError("KMS_DECRYPT_FAILED", `chunk ${index}`, { cause: e });
    }
  }

  /** True if chunk `index` authenticates with this final flag (no error). */
  chunkVerifies(index: number, chunk: Uint8Array, final: boolean): boolean {
    try {
      this.decryptChunk(index, chunk, final).fill(0);
      return true;
    } catch {
      return false;
    }
  }

  /** Wipe the stream key. */
  destroy(): void {
    this.#key.fill(0);
  }
}

/**
 * Appends a chunked stream to a file, incrementally: `write` as data arrives (a recording
 * connector), `sync` to make what was written durable, `finish` to write the final chunk. A
 * process killed before `finish` leaves a file that readers report as KMS_STREAM_TRUNCATED
 * and that `resume` continues (every complete chunk is kept).
 */
export class EncryptedFileWriter {
  readonly #fh: FileHandle;
  readonly #cipher: StreamCipher;
  #index: number;
  #offset: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #plaintextBytes: number;
  #queue: Promise<void> = Promise.resolve();
  #state: "open" | "finished" | "closed" = "open";

  private constructor(fh: FileHandle, cipher: StreamCipher, index: number, offset: number) {
    this.#fh = fh;
    this.#cipher = cipher;
    this.#index = index;
    this.#offset = offset;
    this.#plaintextBytes = index * cipher.header.chunkSize;
  }

  /** Create `path` (it must not exist; mode 0600) and write the header. */
  static async create(path: string, key: DataKey, field: string, options: { chunkSize?: number } = {}): Promise<EncryptedFileWriter> {
    const cipher = StreamCipher.create(key, field, options.chunkSize);
    const fh = await openFile(path, "wx", 0o600);
    try {
      await fh.write(cipher.header.bytes, 0, cipher.header.bytes.length, 0);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new EncryptedFileWriter(fh, cipher, 0, cipher.header.bytes.length);
  }

  /**
   * Continue a stream whose writer died: keeps every complete chunk (each verified as a
   * non-final chunk), drops a torn chunk after them, and appends from there. A finished stream
   * is KMS_STREAM_CLOSED; one whose complete chunks do not verify is KMS_DECRYPT_FAILED.
   */
  static async resume(path: string, key: DataKey, field: string): Promise<EncryptedFileWriter> {
    const fh = await openFile(path, "r+");
    try {
      const size = (await fh.stat()).size;
      const headerBytes = await readAt(fh, 0, Math.min(size, 11 + 255 + SALT_BYTES));
      const header = decodeStreamHeader(headerBytes);
      const cipher = StreamCipher.forHeader(header, key, field);
      const layout = streamLayout(header, size);
      const stride = header.chunkSize + CHUNK_OVERHEAD;
      const tail = await assessTail(cipher, layout, (k) => chunkAt(fh, layout, k, size));
      if (tail.complete) throw new KmsError("KMS_STREAM_CLOSED", "the stream is already finished");
      const keep = tail.readable;
      const offset = layout.headerLength + keep * stride;
      await fh.truncate(offset);
      return new EncryptedFileWriter(fh, cipher, keep, offset);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Plaintext bytes accepted so far (including ones still buffered). */
  get bytesWritten(): number {
    return this.#plaintextBytes + this.#pendingBytes;
  }

  get chunkSize(): number {
    return this.#cipher.header.chunkSize;
  }

  /** Append plaintext; complete chunks are encrypted and written in order. */
  write(data: Uint8Array): Promise<void> {
    this.#checkOpen();
    if (data.length === 0) return this.#queue;
    this.#pending.push(Buffer.from(data));
    this.#pendingBytes += data.length;
    const cs = this.chunkSize;
    const chunks: Buffer[] = [];
    if (this.#pendingBytes >= cs) {
      let all = Buffer.concat(this.#pending);
      while (all.length >= cs) {
        chunks.push(all.subarray(0, cs));
        all = all.subarray(cs);
      }
      this.#pending = all.length > 0 ? [all] : [];
      this.#pendingBytes = all.length;
    }
    for (const c of chunks) this.#enqueue(() => this.#writeChunk(c, false));
    return this.#queue;
  }

  /** Make every complete chunk written so far durable (fdatasync). Buffered bytes are not. */
  sync(): Promise<void> {
    this.#checkOpen();
    return this.#enqueue(() => this.#fh.datasync());
  }

  /** Write the final chunk, sync and close. Returns the plaintext size. */
  async finish(): Promise<number> {
    this.#checkOpen();
    this.#state = "finished";
    const rest = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      await this.#enqueue(() => this.#writeChunk(rest, true));
      await this.#fh.sync();
    } finally {
      this.#cipher.destroy();
      await this.#fh.close();
    }
    return this.#plaintextBytes;
  }

  /** Close without finishing: the file stays an incomplete stream (resumable). Idempotent. */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    await this.#queue.catch(() => {});
    this.#cipher.destroy();
    await this.#fh.close();
  }

  #checkOpen(): void {
    if (this.#state !== "open") throw new KmsError("KMS_STREAM_CLOSED");
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(op);
    return this.#queue;
  }

  async #writeChunk(plaintext: Buffer, final: boolean): Promise<void> {
    const parts = this.#cipher.encryptChunk(this.#index, plaintext, final);
    const length = parts.reduce((n, p) => n + p.length, 0);
    await this.#fh.writev(parts, this.#offset);
    this.#offset += length;
    this.#index++;
    this.#plaintextBytes += plaintext.length;
  }
}

/**
 * Reads a chunked stream from a file at random: `read(start, end)` decrypts only the chunks
 * that hold those bytes. `open` checks the final chunk first, so a cut-off or half-written
 * file is KMS_STREAM_TRUNCATED before any content is served; with `allowIncomplete` the
 * complete chunks of such a file stay readable (`complete` is then false).
 */
export class EncryptedFileReader {
  readonly #fh: FileHandle;
  readonly #cipher: StreamCipher;
  readonly #layout: StreamLayout;
  /** Chunks that may be read and whether the last of them is the final chunk. */
  readonly #readableChunks: number;
  readonly complete: boolean;
  /** Plaintext bytes readable. */
  readonly size: number;
  #closed = false;

  private constructor(fh: FileHandle, cipher: StreamCipher, layout: StreamLayout, readableChunks: number, complete: boolean) {
    this.#fh = fh;
    this.#cipher = cipher;
    this.#layout = layout;
    this.#readableChunks = readableChunks;
    this.complete = complete;
    this.size = complete ? layout.plaintextSize : readableChunks * layout.chunkSize;
  }

  static async open(path: string, key: DataKey, field: string, options: { allowIncomplete?: boolean } = {}): Promise<EncryptedFileReader> {
    const fh = await openFile(path, "r");
    try {
      const size = (await fh.stat()).size;
      const header = decodeStreamHeader(await readAt(fh, 0, Math.min(size, 11 + 255 + SALT_BYTES)));
      const cipher = StreamCipher.forHeader(header, key, field);
      const layout = streamLayout(header, size);
      const { complete, readable } = await assessTail(cipher, layout, (k) => chunkAt(fh, layout, k, size));
      if (!complete && !options.allowIncomplete) {
        throw new KmsError("KMS_STREAM_TRUNCATED", `${readable} complete chunks, no final chunk`);
      }
      return new EncryptedFileReader(fh, cipher, layout, readable, complete);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get chunkSize(): number {
    return this.#layout.chunkSize;
  }

  /** Plaintext bytes [start, end) — end exclusive, clamped to the size. Decrypts only the chunks needed. */
  async read(start: number, end: number = this.size): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const p of this.#slices(start, end)) parts.push(p);
    return Buffer.concat(parts);
  }

  /** A stream of plaintext bytes [start, end) (end exclusive), one chunk in memory at a time. */
  createReadStream(options: { start?: number; end?: number } = {}): Readable {
    return Readable.from(this.#slices(options.start ?? 0, options.end ?? this.size), { objectMode: false });
  }

  async *#slices(start: number, end: number): AsyncGenerator<Buffer> {
    if (this.#closed) throw new KmsError("KMS_STREAM_CLOSED");
    const e = Math.min(end, this.size);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(e) || start < 0 || start > e) {
      throw new KmsError("KMS_RANGE_INVALID", `bytes ${start}-${end} of ${this.size}`);
    }
    const cs = this.#layout.chunkSize;
    const stride = cs + CHUNK_OVERHEAD;
    for (let k = Math.floor(start / cs); k * cs < e; k++) {
      const offset = this.#layout.headerLength + k * stride;
      const final = this.complete && k === this.#readableChunks - 1;
      const bytes = await readAt(this.#fh, offset, final ? this.#lastChunkLength() : stride);
      const plain = this.#cipher.decryptChunk(k, bytes, final);
      const from = Math.max(start - k * cs, 0);
      const to = Math.min(e - k * cs, plain.length);
      yield plain.subarray(from, to);
    }
  }

  #lastChunkLength(): number {
    return this.#layout.lastChunkPlaintext + CHUNK_OVERHEAD;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cipher.destroy();
    await this.#fh.close();
  }
}

/** The data key id named in a stream file's header (to look the key up before opening). */
export async function streamFileKeyId(path: string): Promise<string> {
  const fh = await openFile(path, "r");
  try {
    const size = (await fh.stat()).size;
    return decodeStreamHeader(await readAt(fh, 0, Math.min(size, 11 + 255 + SALT_BYTES))).dataKeyId;
  } finally {
    await fh.close();
  }
}

/**
 * How much of a stream can be trusted, from its end: complete (the last chunk verifies as
 * final), cut at a chunk boundary (the last, full chunk verifies as non-final), or torn (a short
 * last chunk after a chunk that verifies). Anything else was altered: KMS_DECRYPT_FAILED.
 */
async function assessTail(
  cipher: StreamCipher,
  layout: StreamLayout,
  chunkAt: (k: number) => Promise<Buffer>,
): Promise<{ complete: boolean; readable: number }> {
  const n = layout.chunks;
  if (n === 0) return { complete: false, readable: 0 };
  const last = await chunkAt(n - 1);
  if (cipher.chunkVerifies(n - 1, last, true)) return { complete: true, readable: n };
  const lastIsFull = layout.lastChunkPlaintext === layout.chunkSize;
  if (lastIsFull && cipher.chunkVerifies(n - 1, last, false)) return { complete: false, readable: n };
  if (!lastIsFull && (n === 1 || cipher.chunkVerifies(n - 2, await chunkAt(n - 2), false))) return { complete: false, readable: n - 1 };
  throw new KmsError("KMS_DECRYPT_FAILED", "the end of the stream does not verify");
}

function chunkAt(fh: FileHandle, layout: StreamLayout, k: number, fileSize: number): Promise<Buffer> {
  const stride = layout.chunkSize + CHUNK_OVERHEAD;
  const start = layout.headerLength + k * stride;
  return readAt(fh, start, Math.min(stride, fileSize - start));
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(length, 0));
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === buf.length ? buf : buf.subarray(0, done);
}
