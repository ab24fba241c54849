import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FILE_CHUNK_BYTES, FILE_TAG_BYTES, FileKey, decryptFile, encryptFile, encryptedFileSize } from "../src/files/file-crypto.js";
import { isProtocolError } from "../src/errors.js";

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("files of every awkward size round-trip: empty, one byte, exactly one chunk, a chunk and a byte, 5 MB", async () => {
  for (const size of [0, 1, FILE_CHUNK_BYTES - 1, FILE_CHUNK_BYTES, FILE_CHUNK_BYTES + 1, 3 * FILE_CHUNK_BYTES, 5 * 1024 * 1024 + 7]) {
    const data = random(size);
    const key = FileKey.generate();
    const ct = await encryptFile(key, data);
    assert.equal(ct.length, encryptedFileSize(size), `size ${size}`);
    const back = await decryptFile(FileKey.fromBytes(key.exportBytes()), ct, size);
    assert.equal(sha(back), sha(data), `size ${size}`);
  }
});

test("the ciphertext hides the plaintext: identical files under fresh keys share no chunk, and no plaintext run survives", async () => {
  const data = new Uint8Array(2 * FILE_CHUNK_BYTES).fill(0x41);
  const a = await encryptFile(FileKey.generate(), data);
  const b = await encryptFile(FileKey.generate(), data);
  assert.notDeepEqual(a.subarray(0, 64), b.subarray(0, 64));
  assert.ok(!Buffer.from(a).includes(Buffer.alloc(32, 0x41)));
});

test("a key encrypts one file only (FILE_KEY_REUSED); a received key never encrypts", async () => {
  const key = FileKey.generate();
  await encryptFile(key, random(10));
  await assert.rejects(encryptFile(key, random(10)), (e) => isProtocolError(e, "FILE_KEY_REUSED"));
  await assert.rejects(encryptFile(FileKey.fromBytes(random(32)), random(10)), (e) => isProtocolError(e, "FILE_KEY_REUSED"));
  assert.throws(() => FileKey.fromBytes(random(16)), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
});

test("altered, truncated, reordered, extended or wrongly keyed files fail with FILE_DECRYPT_FAILED", async () => {
  const size = 3 * FILE_CHUNK_BYTES + 100;
  const data = random(size);
  const key = FileKey.generate();
  const raw = key.exportBytes();
  const ct = await encryptFile(key, data);
  const fails = async (what: string, bytes: Uint8Array, plainSize = size, k = FileKey.fromBytes(raw)) =>
    assert.rejects(decryptFile(k, bytes, plainSize), (e) => isProtocolError(e, "FILE_DECRYPT_FAILED"), what);

  const flipped = ct.slice();
  flipped[FILE_CHUNK_BYTES + 40]! ^= 1;
  await fails("one bit flipped", flipped);
  const stride = FILE_CHUNK_BYTES + FILE_TAG_BYTES;
  // Cut after two whole chunks and claim that was the whole file: the last chunk flag is missing.
  await fails("truncated at a chunk boundary", ct.subarray(0, 2 * stride), 2 * FILE_CHUNK_BYTES);
  await fails("truncated mid-chunk", ct.subarray(0, ct.length - 1));
  const swapped = ct.slice();
  swapped.set(ct.subarray(0, stride), stride);
  swapped.set(ct.subarray(stride, 2 * stride), 0);
  await fails("chunks 0 and 1 swapped", swapped);
  const extended = new Uint8Array(ct.length + 5);
  extended.set(ct);
  await fails("bytes appended", extended);
  await fails("wrong key", ct, size, FileKey.fromBytes(random(32)));
});

test("fuzz: mutated, cut, extended and random ciphertexts under any claimed size fail with FILE_DECRYPT_FAILED; only the genuine one opens", async () => {
  // A file's ciphertext and its claimed size come from another member (through the server).
  let seed = 0x5eed;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const size = FILE_CHUNK_BYTES + 300;
  const data = random(size);
  const key = FileKey.generate();
  const raw = key.exportBytes();
  const ct = await encryptFile(key, data);
  const sizes = [size, 0, 1, size - 1, size + 1, FILE_CHUNK_BYTES, -1, 0.5, Number.NaN, 2 ** 40, Number.MAX_SAFE_INTEGER + 2];
  for (let i = 0; i < 400; i++) {
    let bytes: Uint8Array;
    let claimed = size;
    switch (i % 4) {
      case 0: {
        bytes = ct.slice();
        for (let k = 0; k <= rand(4); k++) bytes[rand(bytes.length)]! ^= 1 + rand(255);
        break;
      }
      case 1:
        bytes = ct.subarray(0, rand(ct.length));
        claimed = sizes[rand(sizes.length)]!;
        break;
      case 2: {
        bytes = new Uint8Array(ct.length + 1 + rand(40));
        bytes.set(ct);
        claimed = rand(2) === 0 ? size : size + (bytes.length - ct.length);
        break;
      }
      default:
        bytes = random(rand(300));
        claimed = rand(2) === 0 ? Math.max(0, bytes.length - FILE_TAG_BYTES) : sizes[rand(sizes.length)]!;
    }
    await assert.rejects(decryptFile(FileKey.fromBytes(raw), bytes, claimed), (e) => isProtocolError(e, "FILE_DECRYPT_FAILED"), `case ${i % 4}, ${bytes.length} bytes claimed ${claimed}`);
  }
  assert.equal(sha(await decryptFile(FileKey.fromBytes(raw), ct, size)), sha(data));
});
