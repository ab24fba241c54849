// Automatic certificates end to end against Debian's pebble (an RFC 8555 ACME server) on
// loopback: first issuance with HTTP-01, serving the issued chain, renewal without a restart,
// reuse after a restart, and a clear error (the server keeps serving) when the CA is unreachable.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type PeerCertificate, type TLSSocket } from "node:tls";
import { loadConfig, memoryLogger, startServer, type ConfigFlags, type RunningServer, type ServerHooks } from "@conclave/server";
import { freePort, startPebble, type Pebble } from "./support/pebble.js";

let pebble: Pebble;
let root: string;
const dirs: string[] = [];

before(async () => {
  pebble = await startPebble();
  root = await pebble.root();
});
after(async () => {
  await pebble.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "conclave-acme-"));
  dirs.push(dir);
  return join(dir, "data");
}

function acmeFlags(data: string, extra: ConfigFlags = {}): ConfigFlags {
  return {
    host: "127.0.0.1",
    port: 0,
    data,
    publicUrl: "https://localhost",
    acmeDirectory: pebble.directoryUrl,
    acmeCa: pebble.caFile,
    acmeHttpPort: pebble.httpPort,
    acmeEmail: "ops@example.org",
    ...extra,
  };
}

async function start(flags: ConfigFlags, hooks: ServerHooks = {}): Promise<RunningServer> {
  return startServer(loadConfig({ flags, env: {} }), { logger: memoryLogger("warn"), ...hooks });
}

/** Opens a TLS connection that verifies the chain against `ca` for the name localhost. */
function tlsConnect(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

async function servedCertificate(port: number): Promise<PeerCertificate & { issuerCertificate?: PeerCertificate }> {
  const socket = await tlsConnect(port, root);
  const cert = socket.getPeerCertificate(true);
  socket.destroy();
  return cert;
}

function getOn(socket: TLSSocket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ createConnection: () => socket, path, headers: { host: "localhost" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    })
      .on("error", reject)
      .end();
  });
}

test("first start obtains a certificate for the public host over HTTP-01, stores it and serves the chain pebble issued", async () => {
  const data = await dataDir();
  const server = await start(acmeFlags(data));
  try {
    const issued = await server.certificate.ready();
    assert.equal(issued.selfSigned, false);
    const served = await servedCertificate(server.port);
    // The connection verified against pebble's root only: the chain (leaf + intermediate) was served.
    assert.equal(served.subjectaltname, "DNS:localhost");
    assert.match(String(served.issuer.CN), /^Pebble Intermediate CA/);
    assert.equal(served.fingerprint256, issued.fingerprint);
    assert.equal(new X509Certificate(issued.cert).fingerprint256, issued.fingerprint);
    assert.equal((await stat(join(data, "acme", "key.pem"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(data, "acme", "account-key.pem"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(data, "acme"))).mode & 0o777, 0o700);
  } finally {
    await server.close();
  }
  // A restart serves the stored certificate at once, even with the CA gone.
  const again = await start(acmeFlags(data, { acmeDirectory: `https://localhost:${await freePort()}/dir` }));
  try {
    const served = await servedCertificate(again.port);
    assert.match(String(served.issuer.CN), /^Pebble Intermediate CA/);
    assert.equal(again.certificate.current().fingerprint, again.fingerprint);
  } finally {
    await again.close();
  }
});

test("a certificate due for renewal is renewed while the server runs: new connections get it, open ones carry on", async () => {
  let clock = Date.now();
  const server = await start(acmeFlags(await dataDir()), { acme: { now: () => clock, checkIntervalMs: 100 } });
  try {
    const first = await server.certificate.ready();
    const open = await tlsConnect(server.port, root);
    // Move the clock to a day before expiry: the next periodic check renews.
    const changed = server.certificate.changed();
    clock = Date.parse(new X509Certificate(first.cert).validTo) - 86_400_000;
    const renewed = await changed;
    assert.notEqual(renewed.fingerprint, first.fingerprint);
    assert.equal((await servedCertificate(server.port)).fingerprint256, renewed.fingerprint, "new connections get the renewed certificate");
    assert.equal(open.getPeerCertificate().fingerprint256, first.fingerprint);
    assert.equal(await getOn(open, "/healthz"), 200, "a connection opened before the renewal still works");
    open.destroy();
  } finally {
    await server.close();
  }
});

test("an unreachable ACME server is reported with ACME_FAILED and the server keeps serving its current certificate", async () => {
  // First start without a certificate: self-signed until the CA answers; /readyz says why it is not ready.
  const log = memoryLogger("warn");
  const unreachable = `https://localhost:${await freePort()}/dir`;
  const server = await start(acmeFlags(await dataDir(), { acmeDirectory: unreachable }), { logger: log });
  try {
    // The first attempt runs at start; this one queues behind it, so both have failed when it settles.
    await assert.rejects(server.certificate.renew(), (e: Error & { code?: string }) => e.code === "ACME_FAILED");
    const failed = log.lines().find((l) => l.code === "ACME_FAILED");
    assert.ok(failed, "the failure is logged with its code");
    assert.equal(failed.level, "error");
    assert.match(String(failed.msg), /serving a self-signed certificate/);
    assert.match(JSON.stringify(failed.err), /ECONNREFUSED/);
    assert.equal(server.certificate.current().selfSigned, true);
    const socket = connect({ host: "127.0.0.1", port: server.port, servername: "localhost", rejectUnauthorized: false });
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    assert.equal(await getOn(socket, "/readyz"), 503);
    socket.destroy();
  } finally {
    await server.close();
  }

  // With a certificate in place: a failed renewal leaves it served.
  const data = await dataDir();
  const issuing = await start(acmeFlags(data));
  const issued = await issuing.certificate.ready();
  await issuing.close();
  const renewing = await start(acmeFlags(data, { acmeDirectory: unreachable }));
  try {
    await assert.rejects(renewing.certificate.renew(), (e: Error & { code?: string }) => e.code === "ACME_FAILED" && /ECONNREFUSED/.test(e.message));
    assert.equal(renewing.certificate.current().fingerprint, issued.fingerprint);
    assert.equal((await servedCertificate(renewing.port)).fingerprint256, issued.fingerprint);
  } finally {
    await renewing.close();
  }
});
