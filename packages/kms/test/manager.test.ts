import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FileAuditLog,
  KeyManager,
  KmsError,
  LocalKeyFileBackend,
  MemoryAuditLog,
  MemoryKeyStore,
  isKmsError,
  open,
  seal,
  type MasterKeyBackend,
  type WrappedKey,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-kms-manager-"));
const local = await LocalKeyFileBackend.open({ file: join(dir, "keys.json") });
after(async () => {
  await local.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wraps the local back end: counts calls and can be switched "down". */
class Flaky implements MasterKeyBackend {
  readonly kind = "local" as const;
  unwraps = 0;
  wraps = 0;
  down = false;
  constructor(readonly inner: MasterKeyBackend) {}
  async wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    this.wraps++;
    if (this.down) throw new KmsError("KMS_UNAVAILABLE", "test");
    return this.inner.wrap(key, aad);
  }
  async unwrap(w: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    this.unwraps++;
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5696");
    return this.inner.unwrap(w, aad);
  }
  rotate = () => this.inner.rotate();
  status = () => this.inner.status();
  close = async () => {};
}

test("a data key is unwrapped once, then served from the cache until its time is up, then unwrapped again", async () => {
  let now = 1_000_000;
  const backend = new Flaky(local);
  const counts = { unwrap: 0, hits: 0 };
  const km = new KeyManager({
    backend,
    store: new MemoryKeyStore(),
    cacheTtlMs: 60_000,
    now: () => now,
    metrics: { unwrap: () => counts.unwrap++, cacheHit: () => counts.hits++ },
  });
  const o = { kind: "meeting", id: "10000000001" };
  const first = await km.keyFor(o, "user:a");
  km.clearCache();
  assert.equal(first.destroyed, true, "clearing the cache wipes the key bytes");
  await km.existingKey(o, "user:a");
  await km.existingKey(o, "user:a");
  assert.deepEqual([backend.unwraps, counts.unwrap, counts.hits], [1, 1, 1]);
  now += 59_000;
  await km.existingKey(o, "user:a"); // used again: its 60 s start over
  now += 59_000;
  await km.existingKey(o, "user:a");
  assert.equal(backend.unwraps, 1);
  now += 61_000;
  await km.existingKey(o, "user:a");
  assert.equal(backend.unwraps, 2);
  await km.close();
});

test("the cache holds at most cacheMaxKeys keys; the least recently used are wiped first", async () => {
  const backend = new Flaky(local);
  const km = new KeyManager({ backend, store: new MemoryKeyStore(), cacheMaxKeys: 2 });
  const keys = [];
  for (const id of ["a", "b", "c"]) keys.push(await km.keyFor({ kind: "meeting", id }, "t"));
  assert.equal(keys[0]!.destroyed, true);
  assert.equal(keys[2]!.destroyed, false);
  assert.equal((await km.status()).cachedKeys, 2);
  await km.close();
  assert.equal(keys[2]!.destroyed, true, "close wipes every cached key");
});

test("concurrent first uses of one object make one data key (one wrap), concurrent reads one unwrap", async () => {
  const backend = new Flaky(local);
  const store = new MemoryKeyStore();
  const km = new KeyManager({ backend, store, cacheTtlMs: 0 });
  const o = { kind: "meeting", id: "c1" };
  const keys = await Promise.all(Array.from({ length: 10 }, () => km.keyFor(o, "t")));
  assert.equal(new Set(keys.map((k) => k.id)).size, 1);
  assert.equal(backend.wraps, 1);
  assert.equal(store.size, 1);
  await Promise.all(Array.from({ length: 10 }, () => km.existingKey(o, "t")));
  assert.equal(backend.unwraps, 1);
});

test("every unwrap is audited with object, principal and outcome, and the audit log never holds key material", async () => {
  const path = join(dir, "audit", "kms-audit.log");
  const audit = new FileAuditLog(path);
  const store = new MemoryKeyStore();
  const km = new KeyManager({ backend: local, store, audit, cacheTtlMs: 0 });
  const o = { kind: "invitation", id: "inv-1" };
  const key = await km.keyFor(o, "user:owner");
  const sealed = seal(key, "email", "someone@example.org");
  await km.existingKey(o, "admin-token");
  await km.shred(o, "user:owner");
  audit.close();
  const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(
    lines.map((l) => [l.action, l.object, l.principal, l.outcome]),
    [
      ["wrap", "invitation/inv-1", "user:owner", "ok"],
      ["unwrap", "invitation/inv-1", "admin-token", "ok"],
      ["shred", "invitation/inv-1", "user:owner", "ok"],
    ],
  );
  const text = readFileSync(path, "utf8");
  const wrapped = store.get(o);
  assert.equal(wrapped, undefined);
  assert.ok(!text.includes("someone@example.org"));
  for (const l of lines) assert.deepEqual(Object.keys(l).filter((k) => /key$|blob|wrapped/i.test(k) && k !== "dataKeyId" && k !== "masterKeyId"), []);
  assert.ok(sealed.length > 0);
});

test("a KMS that is down gives KMS_UNAVAILABLE with a retry hint, counted and audited as such; cached keys keep working", async () => {
  const backend = new Flaky(local);
  const audit = new MemoryAuditLog();
  const outcomes: string[] = [];
  const km = new KeyManager({ backend, store: new MemoryKeyStore(), audit, metrics: { unwrap: (_b, o) => outcomes.push(o) } });
  const cached = { kind: "meeting", id: "m-cached" };
  const cold = { kind: "meeting", id: "m-cold" };
  const sealed = seal(await km.keyFor(cached, "t"), "topic", "still readable");
  await km.keyFor(cold, "t");
  km.clearCache();
  await km.existingKey(cached, "t");
  backend.down = true;
  assert.equal(open(await km.existingKey(cached, "t"), "topic", sealed).toString(), "still readable");
  await assert.rejects(km.existingKey(cold, "user:x"), (e) => isKmsError(e, "KMS_UNAVAILABLE") && e.retryAfterSeconds === 30);
  await assert.rejects(km.keyFor({ kind: "meeting", id: "m-new" }, "t"), (e) => isKmsError(e, "KMS_UNAVAILABLE"));
  assert.deepEqual(outcomes, ["ok", "KMS_UNAVAILABLE"]);
  assert.ok(audit.entries.some((e) => e.action === "unwrap" && e.object === "meeting/m-cold" && e.outcome === "KMS_UNAVAILABLE" && e.principal === "user:x"));
  await km.close();
});

test("verify unwraps a sample and names the objects whose keys fail, without stopping", async () => {
  const store = new MemoryKeyStore();
  const km = new KeyManager({ backend: local, store, cacheTtlMs: 0 });
  for (const id of ["v1", "v2", "v3"]) await km.keyFor({ kind: "meeting", id }, "t");
  const bad = store.get({ kind: "meeting", id: "v2" })!;
  const blob = Buffer.from(bad.wrapped.blob);
  blob[5]! ^= 1;
  store.replace({ ...bad, wrapped: { ...bad.wrapped, blob } });
  const report = await km.verify("cli", 10);
  assert.equal(report.checked, 3);
  assert.equal(report.ok, 2);
  assert.deepEqual(report.failed, [{ object: "meeting/v2", code: "KMS_DECRYPT_FAILED" }]);
});

test("a data key's wrapped form moved to another object does not unwrap (the AAD names the object)", async () => {
  const store = new MemoryKeyStore();
  const km = new KeyManager({ backend: local, store, cacheTtlMs: 0 });
  await km.keyFor({ kind: "meeting", id: "src" }, "t");
  await km.keyFor({ kind: "meeting", id: "dst" }, "t");
  const src = store.get({ kind: "meeting", id: "src" })!;
  store.replace({ ...src, object: { kind: "meeting", id: "dst" } });
  await assert.rejects(km.existingKey({ kind: "meeting", id: "dst" }, "t"), (e) => isKmsError(e, "KMS_DECRYPT_FAILED"));
});

test("a closed key manager refuses work with KMS_CLOSED", async () => {
  const km = new KeyManager({ backend: new Flaky(local), store: new MemoryKeyStore() });
  await km.close();
  await km.close();
  await assert.rejects(km.keyFor({ kind: "meeting", id: "x" }, "t"), (e) => isKmsError(e, "KMS_CLOSED"));
});
