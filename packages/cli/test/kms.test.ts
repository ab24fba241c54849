// `conclave kms status | rotate | verify` against a real data directory (local key file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Metrics, loadConfig, openStoredData, silentLogger } from "@conclave/server";

const BIN = fileURLToPath(new URL("../../bin/conclave.js", import.meta.url));

async function conclave(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CONCLAVE_")) clean[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

const open = (dataDir: string) =>
  openStoredData(loadConfig({ flags: { data: dataDir }, env: {} }), { logger: silentLogger, metrics: new Metrics({ defaultMetrics: false }) });

test("kms status, rotate and verify: rotation rewraps every data key under a new master key, content stays readable, a running server keeps reading", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "conclave-cli-kms-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  // A "server" with three meetings, open for the whole test (as if running).
  const server = await open(dataDir);
  t.after(() => server.close());
  const ids: string[] = [];
  for (const topic of ["Alpha", "Beta", "Gamma"]) ids.push((await server.database.meetings.create({ topic })).meeting.id);

  const before = await conclave(["kms", "status", "--data", dataDir, "--json"]);
  assert.equal(before.code, 0, before.stderr);
  const s1 = JSON.parse(before.stdout) as { backend: string; currentMasterKeyId: string; dataKeys: Record<string, number>; cacheTtlSeconds: number; clearTextMigration: string };
  assert.equal(s1.backend, "local");
  assert.deepEqual(s1.dataKeys, { [s1.currentMasterKeyId]: 3 });
  assert.equal(s1.cacheTtlSeconds, 300);

  const rotated = await conclave(["kms", "rotate", "--data", dataDir, "--json"]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const r = JSON.parse(rotated.stdout) as { previousMasterKeyId: string; currentMasterKeyId: string; rewrapped: number; failed: unknown[] };
  assert.equal(r.previousMasterKeyId, s1.currentMasterKeyId);
  assert.notEqual(r.currentMasterKeyId, s1.currentMasterKeyId);
  assert.equal(r.rewrapped, 3);

  const after = JSON.parse((await conclave(["kms", "status", "--data", dataDir, "--json"])).stdout) as typeof s1 & { masterKeyIds: string[] };
  assert.deepEqual(after.dataKeys, { [r.currentMasterKeyId]: 3 });
  assert.equal(after.masterKeyIds.length, 2);

  const verified = await conclave(["kms", "verify", "--data", dataDir]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /data keys: 3 of 3 unwrap/);
  assert.match(verified.stdout, /sealed records: 3 of 3 decrypt/);

  // The running "server" opened its key file before the rotation: it still reads everything.
  server.database.keys.clearCache();
  assert.deepEqual(await Promise.all(ids.map(async (id) => (await server.database.meetings.details(id))?.topic)), ["Alpha", "Beta", "Gamma"]);
});

test("kms verify names an object whose wrapped key was altered and exits 1", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "conclave-cli-kms-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const stored = await open(dataDir);
  const { meeting } = await stored.database.meetings.create({ topic: "Tampered" });
  await stored.database.meetings.create({ topic: "Fine" });
  const conn = stored.database.connection;
  const wrapped = Buffer.from(conn.prepare<{ wrapped: Buffer }>("SELECT wrapped FROM data_keys WHERE object_id = ?").get(meeting.id)!.wrapped);
  wrapped[10]! ^= 0x01;
  conn.prepare("UPDATE data_keys SET wrapped = ? WHERE object_id = ?").run(wrapped, meeting.id);
  stored.close();
  const verified = await conclave(["kms", "verify", "--data", dataDir]);
  assert.equal(verified.code, 1);
  assert.match(verified.stdout, new RegExp(`FAILED key of meeting/${meeting.id}: KMS_DECRYPT_FAILED`));
  assert.match(verified.stdout, /data keys: 1 of 2 unwrap/);
});

test("kms with the PKCS#11 back end needs its PIN from the environment or config file: there is no PIN flag", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "conclave-cli-kms-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const noPin = await conclave(["kms", "status", "--data", dataDir, "--kms", "pkcs11", "--kms-pkcs11-token", "t"]);
  assert.equal(noPin.code, 1);
  assert.match(noPin.stderr, /CONCLAVE_KMS_PKCS11_PIN/);
  const flag = await conclave(["kms", "status", "--data", dataDir, "--kms-pkcs11-pin", "1234"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--kms-pkcs11-pin'/);
  const usage = await conclave(["kms", "shred"]);
  assert.equal(usage.code, 2);
});
