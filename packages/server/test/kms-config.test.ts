import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.js";
import { isServerError } from "../src/errors.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-kms-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const invalid = (mentions: RegExp) => (e: unknown) => isServerError(e, "CONFIG_INVALID") && mentions.test(e.message);

test("by default data at rest uses the local key file in the data directory, with a 5-minute data key cache", (t) => {
  const cwd = tempDir(t);
  const c = loadConfig({ env: {}, cwd });
  assert.deepEqual(c.kms, { backend: "local", keyFile: join(cwd, "conclave-data", "kms", "master-keys.json"), cacheTtlMs: 300_000 });
});

test("PKCS#11 settings come from flags, environment and file; the PIN only from the environment or the file", (t) => {
  const cwd = tempDir(t);
  const c = loadConfig({
    flags: { kms: "pkcs11", kmsPkcs11Token: "conclave", kmsPkcs11Slot: "7", kmsCacheTtl: "60" },
    env: { CONCLAVE_KMS_PKCS11_PIN: "1234-pin" },
    cwd,
  });
  assert.deepEqual(c.kms, { backend: "pkcs11", module: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "conclave", slot: 7, pin: "1234-pin", cacheTtlMs: 60_000 });
  const file = join(cwd, "conf.json");
  writeFileSync(file, JSON.stringify({ kms: "pkcs11", kmsPkcs11Token: "t", kmsPkcs11Pin: "from-file" }));
  const f = loadConfig({ flags: { config: file }, env: {}, cwd });
  assert.equal(f.kms?.backend === "pkcs11" && f.kms.pin, "from-file");
  assert.throws(() => loadConfig({ flags: { kms: "pkcs11", kmsPkcs11Token: "t" }, env: {}, cwd }), invalid(/CONCLAVE_KMS_PKCS11_PIN/));
  assert.throws(() => loadConfig({ flags: { kms: "pkcs11" }, env: { CONCLAVE_KMS_PKCS11_PIN: "x" }, cwd }), invalid(/--kms-pkcs11-token/));
});

test("KMIP settings resolve their certificate paths and default to port 5696; missing ones are named", (t) => {
  const cwd = tempDir(t);
  const c = loadConfig({
    flags: { kms: "kmip", kmsKmipHost: "kms.example.org", kmsKmipCa: "ca.pem", kmsKmipCert: "c.pem", kmsKmipKey: "c.key" },
    env: {},
    cwd,
  });
  assert.deepEqual(c.kms, {
    backend: "kmip",
    host: "kms.example.org",
    port: 5696,
    caFile: join(cwd, "ca.pem"),
    certFile: join(cwd, "c.pem"),
    keyFile: join(cwd, "c.key"),
    cacheTtlMs: 300_000,
  });
  assert.throws(() => loadConfig({ flags: { kms: "kmip", kmsKmipHost: "h" }, env: {}, cwd }), invalid(/--kms-kmip-ca/));
});

test("bad KMS values and settings of another back end are refused, naming where they came from", (t) => {
  const cwd = tempDir(t);
  assert.throws(() => loadConfig({ flags: { kms: "vault" }, env: {}, cwd }), invalid(/--kms must be local, pkcs11 or kmip/));
  assert.throws(() => loadConfig({ env: { CONCLAVE_KMS_CACHE_TTL: "-5" }, cwd }), invalid(/CONCLAVE_KMS_CACHE_TTL/));
  assert.throws(() => loadConfig({ flags: { kmsKmipHost: "h" }, env: {}, cwd }), invalid(/--kms-kmip-host has no effect with --kms local/));
  const file = join(cwd, "conf.json");
  writeFileSync(file, JSON.stringify({ kmsPin: "typo" }));
  assert.throws(() => loadConfig({ flags: { config: file }, env: {}, cwd }), (e: unknown) => isServerError(e, "CONFIG_INVALID") && !String((e as Error).message).includes("typo"));
});
