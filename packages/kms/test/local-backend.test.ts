import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalKeyFileBackend, isKmsError } from "../src/index.js";
import { backendConformance } from "./conformance.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-kms-local-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const main = await LocalKeyFileBackend.open({ file: join(dir, "kms", "master-keys.json") });
const other = await LocalKeyFileBackend.open({ file: join(dir, "other", "master-keys.json") });
after(async () => {
  await main.close();
  await other.close();
});

backendConformance("local key file", { backend: () => main, otherBackend: () => other });

test("the key file is created on first start with mode 0600 in a 0700 directory", () => {
  assert.equal(statSync(join(dir, "kms", "master-keys.json")).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "kms")).mode & 0o777, 0o700);
});

test("reopening the key file keeps the same master keys (what was wrapped before unwraps after)", async () => {
  const file = join(dir, "reopen.json");
  const a = await LocalKeyFileBackend.open({ file });
  const wrapped = await a.wrap(Buffer.alloc(32, 7), Buffer.from("aad"));
  await a.rotate();
  await a.close();
  const b = await LocalKeyFileBackend.open({ file, create: false });
  assert.deepEqual(Buffer.from(await b.unwrap(wrapped, Buffer.from("aad"))), Buffer.alloc(32, 7));
  assert.equal((await b.status()).masterKeyIds.length, 2);
  await b.close();
});

test("two first starts at once end with one key file, used by both", async () => {
  const file = join(dir, "race.json");
  const [a, b] = await Promise.all([LocalKeyFileBackend.open({ file }), LocalKeyFileBackend.open({ file })]);
  assert.equal((await a.status()).currentMasterKeyId, (await b.status()).currentMasterKeyId);
  await a.close();
  await b.close();
});

test("a key file readable by others is refused with KMS_KEY_FILE_INVALID and the chmod to run", async () => {
  const file = join(dir, "open.json");
  (await LocalKeyFileBackend.open({ file })).close();
  chmodSync(file, 0o644);
  await assert.rejects(LocalKeyFileBackend.open({ file }), (e) => isKmsError(e, "KMS_KEY_FILE_INVALID") && /chmod 600/.test(e.message));
});

test("a missing key file without create, or a malformed one, is KMS_KEY_FILE_INVALID without its content in the message", async () => {
  await assert.rejects(LocalKeyFileBackend.open({ file: join(dir, "none.json"), create: false }), (e) => isKmsError(e, "KMS_KEY_FILE_INVALID"));
  const file = join(dir, "bad.json");
  writeFileSync(file, '{"format":"conclave-master-keys","secret":"AAAA"}', { mode: 0o600 });
  await assert.rejects(LocalKeyFileBackend.open({ file }), (e) => isKmsError(e, "KMS_KEY_FILE_INVALID") && !e.message.includes("AAAA"));
});

test("a closed back end refuses to work", async () => {
  const b = await LocalKeyFileBackend.open({ file: join(dir, "closed.json") });
  await b.close();
  await b.close();
  await assert.rejects(b.wrap(Buffer.alloc(32), Buffer.alloc(0)), (e) => isKmsError(e, "KMS_CLOSED"));
  assert.ok(readFileSync(join(dir, "closed.json"), "utf8").includes("conclave-master-keys"));
});
