import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { dataPaths, loadConfig, type ServerConfig } from "../src/config.js";
import { isServerError } from "../src/errors.js";
import { startServer, type RunningServer } from "../src/server.js";
import { loadTlsMaterial } from "../src/tls/certificate.js";
import { certificateFingerprint } from "../src/tls/fingerprint.js";

type Cleanup = { after(fn: () => void | Promise<void>): void };

function tempDir(t: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function configFor(dataDir: string, extra: { cert?: string; key?: string } = {}): ServerConfig {
  return loadConfig({ flags: { host: "127.0.0.1", port: 0, data: dataDir, ...extra }, env: {} });
}

async function start(t: Cleanup, config: ServerConfig): Promise<RunningServer> {
  const server = await startServer(config);
  t.after(() => server.close());
  return server;
}

/** Resolves with the connected socket's protocol, or rejects with the handshake error. */
function handshake(server: RunningServer, options: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ...options });
    socket.once("secureConnect", () => {
      const protocol = socket.getProtocol() ?? "none";
      socket.destroy();
      resolve(protocol);
    });
    socket.once("error", (e) => {
      socket.destroy();
      reject(e);
    });
  });
}

test("a TLS 1.1 handshake is refused", async (t) => {
  const server = await start(t, configFor(join(tempDir(t), "data")));
  await assert.rejects(
    handshake(server, {
      rejectUnauthorized: false,
      minVersion: "TLSv1.1",
      maxVersion: "TLSv1.1",
      // Let the client offer TLS 1.1 at all, so the refusal is the server's.
      ciphers: "DEFAULT@SECLEVEL=0",
    }),
    (e: NodeJS.ErrnoException) => {
      assert.match(`${e.code} ${e.message}`, /ALERT_PROTOCOL_VERSION/, "the server answers with a protocol_version alert");
      return true;
    },
  );
});

test("TLS 1.3 is negotiated by default and TLS 1.2 is still accepted", async (t) => {
  const server = await start(t, configFor(join(tempDir(t), "data")));
  const ca = readFileSync(server.certFile);
  assert.equal(await handshake(server, { ca }), "TLSv1.3");
  assert.equal(await handshake(server, { ca, maxVersion: "TLSv1.2" }), "TLSv1.2");
});

test("the self-signed certificate names localhost, 127.0.0.1 and ::1 and is not a CA", async (t) => {
  const server = await start(t, configFor(join(tempDir(t), "data")));
  assert.equal(server.selfSigned, true);
  const cert = new X509Certificate(readFileSync(server.certFile));
  assert.equal(cert.subjectAltName, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  assert.equal(cert.ca, false);
  assert.equal(cert.fingerprint256, server.fingerprint);
  assert.ok(cert.checkHost("localhost"));
  assert.ok(cert.checkIP("127.0.0.1"));
  // A client that trusts exactly this certificate verifies both the chain and the host name.
  assert.equal(await handshake(server, { ca: readFileSync(server.certFile), servername: "localhost" }), "TLSv1.3");
});

test("the self-signed certificate is created once and reused across restarts", async (t) => {
  const dataDir = join(tempDir(t), "data");
  const first = await startServer(configFor(dataDir));
  const fingerprint = first.fingerprint;
  await first.close();
  const second = await start(t, configFor(dataDir));
  assert.equal(second.fingerprint, fingerprint);
  const paths = dataPaths(dataDir);
  assert.equal(certificateFingerprint(readFileSync(paths.certFile)), fingerprint);
  assert.equal(statSync(paths.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(paths.tlsDir).mode & 0o777, 0o700);
});

test("an operator's certificate and key are used instead of a self-signed one", async (t) => {
  const dir = tempDir(t);
  // Any valid pair will do: borrow one made by another data directory.
  const donor = await startServer(configFor(join(dir, "donor")));
  await donor.close();
  const donorPaths = dataPaths(join(dir, "donor"));
  const server = await start(t, configFor(join(dir, "data"), { cert: donorPaths.certFile, key: donorPaths.keyFile }));
  assert.equal(server.selfSigned, false);
  assert.equal(server.fingerprint, donor.fingerprint);
  assert.equal(server.certFile, donorPaths.certFile);
});

test("a key that does not match the certificate is refused with TLS_SETUP_FAILED", async (t) => {
  const dir = tempDir(t);
  for (const name of ["a", "b"]) await (await startServer(configFor(join(dir, name)))).close();
  await assert.rejects(
    loadTlsMaterial({ dataDir: dir, certFile: dataPaths(join(dir, "a")).certFile, keyFile: dataPaths(join(dir, "b")).keyFile }),
    (e: unknown) => isServerError(e, "TLS_SETUP_FAILED") && /does not belong/.test(e.message),
  );
  await assert.rejects(
    loadTlsMaterial({ dataDir: dir, certFile: join(dir, "missing.pem"), keyFile: join(dir, "missing.key") }),
    (e: unknown) => isServerError(e, "TLS_SETUP_FAILED") && /cannot read/.test(e.message),
  );
});
