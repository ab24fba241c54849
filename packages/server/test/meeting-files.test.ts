import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { MeetingFiles } from "../src/files/meeting-files.js";
import { isServerError } from "../src/errors.js";

async function store(t: { after(fn: () => Promise<void>): void }, limits = {}) {
  const dir = await mkdtemp(join(tmpdir(), "conclave-files-"));
  const root = join(dir, "files");
  const files = await MeetingFiles.open(root, limits);
  files.setPolicy(() => true);
  t.after(async () => {
    await files.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { files, root };
}

const body = (bytes: Uint8Array) => Readable.from([Buffer.from(bytes)]);
const read = async (r: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

test("a member's token opens its own meeting's files only, and stops working when it leaves", async (t) => {
  const { files } = await store(t);
  const token = files.grant("11111111111", "m-ada");
  assert.equal(files.authorize("11111111111", token), "m-ada");
  for (const [meeting, tok] of [["22222222222", token], ["11111111111", undefined], ["11111111111", "x".repeat(43)], ["11111111111", "short"]] as const) {
    assert.throws(() => files.authorize(meeting, tok), (e) => isServerError(e, "FILE_TOKEN_INVALID"));
  }
  const stored = await files.store("11111111111", "m-ada", body(new Uint8Array(100).fill(3)), 100);
  const opened = await files.open("11111111111", stored.fileId);
  assert.deepEqual(await read(opened.stream), Buffer.alloc(100, 3));
  await assert.rejects(files.open("22222222222", stored.fileId), (e) => isServerError(e, "FILE_NOT_FOUND"));
  files.revoke("11111111111", "m-ada");
  assert.throws(() => files.authorize("11111111111", token), (e) => isServerError(e, "FILE_TOKEN_INVALID"));
  // A new grant replaces the old token.
  const t1 = files.grant("11111111111", "m-bob");
  const t2 = files.grant("11111111111", "m-bob");
  assert.throws(() => files.authorize("11111111111", t1), (e) => isServerError(e, "FILE_TOKEN_INVALID"));
  assert.equal(files.authorize("11111111111", t2), "m-bob");
});

test("uploads are refused by name: file sharing off, too large, over the meeting's quota, too many, or a body that does not match its length", async (t) => {
  const { files } = await store(t, { maxFileBytes: 1000, maxMeetingBytes: 2500, uploadsPerMinute: 4 });
  const m = "11111111111";
  files.setPolicy((id) => id !== "33333333333");
  await assert.rejects(files.store("33333333333", "a", body(new Uint8Array(1)), 1), (e) => isServerError(e, "FEATURE_DISABLED"));
  await assert.rejects(files.store(m, "a", body(new Uint8Array(1001)), 1001), (e) => isServerError(e, "FILE_TOO_LARGE"));
  await assert.rejects(files.store(m, "a", body(new Uint8Array(10)), 5), (e) => isServerError(e, "BAD_REQUEST"), "longer than announced");
  await assert.rejects(files.store(m, "a", body(new Uint8Array(5)), 10), (e) => isServerError(e, "BAD_REQUEST"), "shorter than announced");
  assert.equal(files.storedBytes(m), 0, "nothing of a refused upload is kept");
  await files.store(m, "b", body(new Uint8Array(1000)), 1000);
  await files.store(m, "b", body(new Uint8Array(1000)), 1000);
  await assert.rejects(files.store(m, "c", body(new Uint8Array(1000)), 1000), (e) => isServerError(e, "FILE_QUOTA_EXCEEDED"));
  await files.store(m, "b", body(new Uint8Array(10)), 10);
  await files.store(m, "b", body(new Uint8Array(10)), 10);
  await assert.rejects(files.store(m, "b", body(new Uint8Array(10)), 10), (e) => isServerError(e, "RATE_LIMITED"));
  await assert.rejects(files.open(m, "../../etc/passwd"), (e) => isServerError(e, "FILE_NOT_FOUND"));
});

test("a meeting's files are deleted when it ends; a new store starts empty, whatever an earlier run left", async (t) => {
  const { files, root } = await store(t);
  const m = "11111111111";
  const token = files.grant(m, "a");
  const f = await files.store(m, "a", body(new Uint8Array(50)), 50);
  assert.deepEqual(await readdir(join(root, m)), [f.fileId]);
  await files.endMeeting(m);
  await assert.rejects(files.open(m, f.fileId), (e) => isServerError(e, "FILE_NOT_FOUND"));
  assert.throws(() => files.authorize(m, token), (e) => isServerError(e, "FILE_TOKEN_INVALID"));
  await assert.rejects(readdir(join(root, m)), (e: NodeJS.ErrnoException) => e.code === "ENOENT");

  const leftover = join(root, "44444444444");
  await mkdir(leftover, { recursive: true });
  await writeFile(join(leftover, "stale"), "ciphertext from a crash");
  const again = await MeetingFiles.open(root);
  t.after(() => again.close());
  assert.deepEqual(await readdir(root), []);
});
