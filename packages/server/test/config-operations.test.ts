// Configuration of the operations features: log level, metrics listener, ACME, TURN and the
// streaming CA bundle, from
// flags, environment and the config file, with errors that name the option.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataPaths, loadConfig, type ConfigFlags } from "../src/config.js";
import { isServerError } from "../src/errors.js";
import { ensureSelfSignedCertificate } from "../src/tls/certificate.js";

const SECRET = "0123456789abcdef0123";
const base: ConfigFlags = { data: "/tmp/conclave-config-test" };

function refused(flags: ConfigFlags, pattern: RegExp, env: Record<string, string> = {}): void {
  assert.throws(() => loadConfig({ flags: { ...base, ...flags }, env }), (e: unknown) => isServerError(e, "CONFIG_INVALID") && pattern.test(e.message));
}

test("ACME, TURN, log level and metrics listener come from flags", () => {
  const c = loadConfig({
    flags: {
      ...base,
      publicUrl: "https://meet.example.org",
      acmeDirectory: "https://acme.example.org/dir",
      acmeEmail: "ops@example.org",
      acmeHttpPort: "8080",
      turnUrl: ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443?transport=tcp"],
      turnSecret: SECRET,
      logLevel: "debug",
      metricsListen: "[::1]:9464",
    },
    env: {},
  });
  assert.deepEqual(c.acme, { directoryUrl: "https://acme.example.org/dir", email: "ops@example.org", httpPort: 8080 });
  assert.deepEqual(c.turn, { urls: ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443?transport=tcp"], secret: SECRET });
  assert.equal(c.logLevel, "debug");
  assert.deepEqual(c.metricsListen, { host: "::1", port: 9464 });
});

test("the environment takes a comma-separated TURN list; the config file an array; the ACME HTTP port defaults to 80", () => {
  const fromEnv = loadConfig({
    flags: base,
    env: { CONCLAVE_TURN_URL: "turn:a.example:3478, turn:b.example:3478", CONCLAVE_TURN_SECRET: SECRET, CONCLAVE_PUBLIC_URL: "https://m.example", CONCLAVE_ACME_DIRECTORY: "https://ca.example/dir" },
  });
  assert.deepEqual(fromEnv.turn?.urls, ["turn:a.example:3478", "turn:b.example:3478"]);
  assert.equal(fromEnv.acme?.httpPort, 80);
  const dir = mkdtempSync(join(tmpdir(), "conclave-config-ops-"));
  try {
    const file = join(dir, "conclave.json");
    writeFileSync(file, JSON.stringify({ turnUrl: ["turn:c.example"], turnSecret: SECRET, logLevel: "warn", acmeCa: "ca.pem", acmeDirectory: "https://ca.example/dir", publicUrl: "https://m.example" }));
    const fromFile = loadConfig({ flags: { ...base, config: file }, env: {} });
    assert.deepEqual(fromFile.turn?.urls, ["turn:c.example"]);
    assert.equal(fromFile.logLevel, "warn");
    assert.equal(fromFile.acme?.caFile, join(dir, "ca.pem"), "relative to the file");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad or incomplete settings are refused naming the option", () => {
  refused({ logLevel: "loud" }, /--log-level must be one of fatal, error, warn, info, debug, trace, silent/);
  refused({ metricsListen: "9464" }, /--metrics-listen must be HOST:PORT/);
  refused({ acmeDirectory: "https://ca.example/dir" }, /--acme-directory needs --public-url/);
  refused({ acmeDirectory: "http://ca.example/dir", publicUrl: "https://m.example" }, /--acme-directory must be an https:\/\/ URL/);
  refused({ acmeDirectory: "https://ca.example/dir", publicUrl: "https://m.example", cert: "c.pem", key: "k.pem" }, /alternatives/);
  refused({ acmeEmail: "ops@example.org" }, /--acme-email has no effect without --acme-directory/);
  refused({ turnUrl: "turn:t.example" }, /needs both --turn-url and --turn-secret/);
  refused({ turnUrl: "http://t.example", turnSecret: SECRET }, /--turn-url must be turn: or turns: URLs/);
  refused({ turnUrl: "turn:user:pass@t.example", turnSecret: SECRET }, /--turn-url must be turn: or turns: URLs/);
  refused({ turnUrl: "turn:t.example", turnSecret: "short" }, /--turn-secret must be at least 16 characters/);
  refused({}, /CONCLAVE_LOG_LEVEL must be one of/, { CONCLAVE_LOG_LEVEL: "verbose" });
});

test("the streaming CA bundle comes from --streaming-ca, CONCLAVE_STREAMING_CA or streamingCa (relative to the file), is absent by default, and must be a readable file of PEM certificates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-streaming-ca-"));
  try {
    // A real certificate: the self-signed one a data directory gets.
    mkdirSync(join(dir, "data"));
    await ensureSelfSignedCertificate(join(dir, "data"));
    const ca = join(dir, "ingest-ca.pem");
    copyFileSync(dataPaths(join(dir, "data")).certFile, ca);
    assert.equal(loadConfig({ flags: base, env: {} }).streamingCa, undefined, "the system's CAs unless one is given");
    assert.equal(loadConfig({ flags: { ...base, streamingCa: ca }, env: {} }).streamingCa, ca);
    assert.equal(loadConfig({ flags: base, env: { CONCLAVE_STREAMING_CA: "ingest-ca.pem" }, cwd: dir }).streamingCa, ca, "relative to the working directory");
    const file = join(dir, "conclave.json");
    writeFileSync(file, JSON.stringify({ streamingCa: "ingest-ca.pem" }));
    assert.equal(loadConfig({ flags: { ...base, config: file }, env: {} }).streamingCa, ca, "relative to the file");

    refused({ streamingCa: join(dir, "missing.pem") }, /--streaming-ca: .*missing\.pem does not exist/);
    refused({ streamingCa: dir }, /--streaming-ca: .* is a directory/);
    writeFileSync(join(dir, "empty.pem"), "not a certificate\n");
    refused({ streamingCa: join(dir, "empty.pem") }, /empty\.pem holds no PEM certificate/);
    writeFileSync(join(dir, "bad.pem"), `${readFileSync(ca, "utf8")}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    refused({ streamingCa: join(dir, "bad.pem") }, /certificate 2 in .*bad\.pem cannot be parsed/);
    refused({}, /CONCLAVE_STREAMING_CA: .*missing\.pem does not exist/, { CONCLAVE_STREAMING_CA: join(dir, "missing.pem") });
    writeFileSync(file, JSON.stringify({ streamingCa: "missing.pem" }));
    refused({ config: file }, /"streamingCa" in .*conclave\.json: .*missing\.pem does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
