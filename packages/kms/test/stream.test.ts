import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, truncateSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHUNK_OVERHEAD, DataKey, EncryptedFileReader, EncryptedFileWriter, StreamCipher, isKmsError, streamFileKeyId } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-kms-stream-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const recording = { kind: "recording", id: "rec-1" };
let n = 0;
const file = () => join(dir, `s${n++}.clvc`);

async function writeStream(path: string, key: DataKey, data: Buffer, chunkSize: number, pieces = 7): Promise<void> {
  const w = await EncryptedFileWriter.create(path, key, "media", { chunkSize });
  // Uneven pieces, as a connector appends whatever arrives.
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const len = Math.min(data.length - at, 1 + ((i * 7919) % Math.max(1, Math.floor((2 * data.length) / pieces))));
    await w.write(data.subarray(at, at + len));
    at += len;
  }
  assert.equal(await w.finish(), data.length);
}

test("a stream written in uneven pieces reads back whole and in any byte range", async () => {
  const key = DataKey.generate(recording);
  for (const size of [0, 1, 255, 256, 257, 1000, 4096]) {
    const data = randomBytes(size);
    const path = file();
    await writeStream(path, key, data, 256);
    assert.equal(await streamFileKeyId(path), key.id);
    const r = await EncryptedFileReader.open(path, key, "media");
    assert.equal(r.complete, true);
    assert.equal(r.size, size);
    assert.deepEqual(await r.read(0), data, `size ${size}`);
    for (const [s, e] of [[0, 1], [255, 257], [100, 900], [size - 1, size], [3, 3]]) {
      if (s! < 0 || s! > size) continue;
      assert.deepEqual(await r.read(s!, e!), data.subarray(s!, Math.min(e!, size)), `size ${size} range ${s}-${e}`);
    }
    if (size >= 20) {
      const streamed: Buffer[] = [];
      for await (const c of r.createReadStream({ start: 10, end: size - 10 })) streamed.push(c as Buffer);
      assert.deepEqual(Buffer.concat(streamed), data.subarray(10, size - 10));
    }
    await r.close();
    assert.ok(!readFileSync(path).includes(data.subarray(0, Math.min(size, 32))) || size < 8, "no plaintext on disk");
  }
});

test("reading one byte range decrypts only the chunks that hold it (random access to chunk k)", async () => {
  const key = DataKey.generate(recording);
  const data = randomBytes(64 * 100);
  const path = file();
  await writeStream(path, key, data, 64);
  // Damage chunk 3: ranges that avoid it still read, ranges that include it fail.
  const bytes = readFileSync(path);
  const headerLength = bytes.length - 100 * (64 + CHUNK_OVERHEAD) - CHUNK_OVERHEAD; // 100 full chunks + empty final
  bytes[headerLength + 3 * (64 + CHUNK_OVERHEAD) + 20]! ^= 1;
  writeFileSync(path, bytes);
  const r = await EncryptedFileReader.open(path, key, "media");
  assert.deepEqual(await r.read(64 * 90, 64 * 91 + 5), data.subarray(64 * 90, 64 * 91 + 5));
  await assert.rejects(r.read(64 * 3 + 1, 64 * 3 + 2), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  await r.close();
});

test("chunks swapped within a stream, or a chunk taken from another stream, fail to decrypt", async () => {
  const key = DataKey.generate(recording);
  const data = randomBytes(64 * 4 + 10);
  const a = file();
  const b = file();
  await writeStream(a, key, data, 64);
  await writeStream(b, key, data, 64);
  const stride = 64 + CHUNK_OVERHEAD;
  const bytesA = readFileSync(a);
  const h = bytesA.length - 4 * stride - (10 + CHUNK_OVERHEAD);
  const swapped = Buffer.from(bytesA);
  bytesA.copy(swapped, h, h + stride, h + 2 * stride);
  bytesA.copy(swapped, h + stride, h, h + stride);
  writeFileSync(a, swapped);
  const r = await EncryptedFileReader.open(a, key, "media");
  await assert.rejects(r.read(0, 64), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  await r.close();
  const bytesB = readFileSync(b);
  bytesA.copy(bytesB, h, h, h + stride); // chunk 0 of A into B: other salt, other stream key
  writeFileSync(b, bytesB);
  const rb = await EncryptedFileReader.open(b, key, "media");
  await assert.rejects(rb.read(0, 64), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  await rb.close();
});

test("a stream cut at a chunk boundary, or in the middle of a chunk, is KMS_STREAM_TRUNCATED", async () => {
  const key = DataKey.generate(recording);
  const data = randomBytes(64 * 5 + 30);
  const stride = 64 + CHUNK_OVERHEAD;
  for (const cut of [CHUNK_OVERHEAD + 30, CHUNK_OVERHEAD + 30 + stride, 10, 1]) {
    const path = file();
    await writeStream(path, key, data, 64);
    truncateSync(path, statSync(path).size - cut);
    await assert.rejects(EncryptedFileReader.open(path, key, "media"), (e) => isKmsError(e, "KMS_STREAM_TRUNCATED"), `cut ${cut}`);
    const partial = await EncryptedFileReader.open(path, key, "media", { allowIncomplete: true });
    assert.equal(partial.complete, false);
    assert.deepEqual(await partial.read(0), data.subarray(0, partial.size), "the complete chunks stay readable");
    assert.ok(partial.size >= 64 * 3);
    await partial.close();
  }
});

test("a header cut short is KMS_STREAM_TRUNCATED; another file type is KMS_BAD_FORMAT", async () => {
  const key = DataKey.generate(recording);
  const path = file();
  await writeStream(path, key, randomBytes(10), 64);
  truncateSync(path, 20);
  await assert.rejects(EncryptedFileReader.open(path, key, "media"), (e) => isKmsError(e, "KMS_STREAM_TRUNCATED"));
  const other = file();
  writeFileSync(other, "RIFF....WAVEfmt ");
  await assert.rejects(EncryptedFileReader.open(other, key, "media"), (e) => isKmsError(e, "KMS_BAD_FORMAT"));
});

test("a stream opens only with its own data key, object and field", async () => {
  const key = DataKey.generate(recording);
  const path = file();
  await writeStream(path, key, randomBytes(100), 64);
  await assert.rejects(EncryptedFileReader.open(path, DataKey.generate(recording), "media"), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  await assert.rejects(EncryptedFileReader.open(path, key, "transcript"), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  const moved = DataKey.fromBytes(key.id, { kind: "recording", id: "rec-2" }, randomBytes(32));
  await assert.rejects(EncryptedFileReader.open(path, moved, "media"), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
});

test("a writer that died is resumed: complete chunks are kept, the torn tail is dropped, the result verifies", async () => {
  const key = DataKey.generate(recording);
  const path = file();
  const first = randomBytes(64 * 3 + 20);
  const w = await EncryptedFileWriter.create(path, key, "media", { chunkSize: 64 });
  await w.write(first);
  await w.sync();
  await w.abort(); // as if killed: 3 chunks on disk, 20 bytes lost with the process
  // A torn fourth chunk, as a kill during writev can leave.
  writeFileSync(path, Buffer.concat([readFileSync(path), randomBytes(40)]));
  const resumed = await EncryptedFileWriter.resume(path, key, "media");
  assert.equal(resumed.bytesWritten, 64 * 3);
  const more = randomBytes(100);
  await resumed.write(more);
  await resumed.finish();
  const r = await EncryptedFileReader.open(path, key, "media");
  assert.deepEqual(await r.read(0), Buffer.concat([first.subarray(0, 64 * 3), more]));
  await r.close();
  await assert.rejects(EncryptedFileWriter.resume(path, key, "media"), (e) => isKmsError(e, "KMS_STREAM_CLOSED"));
});

test("a finished writer refuses more data; ranges outside the object are KMS_RANGE_INVALID", async () => {
  const key = DataKey.generate(recording);
  const path = file();
  const w = await EncryptedFileWriter.create(path, key, "media", { chunkSize: 64 });
  await w.finish();
  assert.throws(() => w.write(Buffer.from("x")), (e) => isKmsError(e, "KMS_STREAM_CLOSED"));
  await assert.rejects(EncryptedFileWriter.create(path, key, "media"), /EEXIST/);
  const r = await EncryptedFileReader.open(path, key, "media");
  assert.equal(r.size, 0);
  await assert.rejects(r.read(5, 10), (e) => isKmsError(e, "KMS_RANGE_INVALID"));
  await r.close();
});

test("the in-memory stream cipher refuses a short non-final chunk and a chunk index out of range", () => {
  const c = StreamCipher.create(DataKey.generate(recording), "media", 64);
  assert.throws(() => c.encryptChunk(0, Buffer.alloc(10), false), (e) => isKmsError(e, "KMS_RANGE_INVALID"));
  assert.throws(() => c.encryptChunk(-1, Buffer.alloc(64), false), (e) => isKmsError(e, "KMS_RANGE_INVALID"));
  const parts = c.encryptChunk(7, Buffer.alloc(64, 9), false);
  assert.deepEqual(c.decryptChunk(7, Buffer.concat(parts), false), Buffer.alloc(64, 9));
  assert.throws(() => c.decryptChunk(7, Buffer.concat(parts), true), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
  assert.throws(() => c.decryptChunk(8, Buffer.concat(parts), false), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
});
