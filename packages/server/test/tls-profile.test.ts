// The TLS profile (Mozilla "intermediate"-like): TLS 1.3, and TLS 1.2 with ECDHE + AEAD only.
// One server for the file; a real scanner (Debian's sslscan) checks what it offers.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { requireSystemBinary } from "@conclave/test-support";
import { startServer, type RunningServer } from "../src/server.js";
import { TLS12_CIPHERS } from "../src/tls/profile.js";
import { tempConfig } from "./support/api-client.js";

const run = promisify(execFile);
let server: RunningServer;
const cleanups: (() => void | Promise<void>)[] = [];

before(async () => {
  server = await startServer(tempConfig({ after: (fn) => cleanups.push(fn) }, { metricsListen: "127.0.0.1:0" }));
});
after(async () => {
  await server.close();
  for (const fn of cleanups.reverse()) await fn();
});

function handshake(port: number, options: ConnectionOptions): Promise<{ protocol: string; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false, ...options });
    socket.once("secureConnect", () => {
      const result = { protocol: socket.getProtocol() ?? "none", cipher: socket.getCipher().standardName };
      socket.destroy();
      resolve(result);
    });
    socket.once("error", (e) => {
      socket.destroy();
      reject(e);
    });
  });
}

const refusedByServer = (alert: RegExp) => (e: NodeJS.ErrnoException) => {
  assert.match(`${e.code} ${e.message}`, alert, "the server answers with an alert (the client offered the handshake)");
  return true;
};

test("a TLS 1.2 client offering only CBC suites is refused with a handshake_failure alert", async () => {
  for (const cbc of ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"]) {
    await assert.rejects(handshake(server.port, { maxVersion: "TLSv1.2", ciphers: cbc }), refusedByServer(/ALERT_HANDSHAKE_FAILURE/), cbc);
  }
});

test("a client offering only TLS 1.1 is refused with a protocol_version alert", async () => {
  await assert.rejects(
    handshake(server.port, { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }),
    refusedByServer(/ALERT_PROTOCOL_VERSION/),
  );
});

test("TLS 1.3 is chosen when offered; TLS 1.2 clients get an ECDHE AEAD suite", async () => {
  const ca = readFileSync(server.certFile);
  assert.equal((await handshake(server.port, { ca })).protocol, "TLSv1.3");
  for (const suite of TLS12_CIPHERS.filter((c) => c.includes("ECDSA"))) {
    const r = await handshake(server.port, { ca, maxVersion: "TLSv1.2", ciphers: suite });
    assert.equal(r.protocol, "TLSv1.2");
    assert.match(r.cipher, /^TLS_ECDHE_ECDSA_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)/);
  }
});

test("sslscan finds TLS 1.2 and 1.3 only, and no CBC, CCM, ARIA, SHA-1 MAC, RSA key exchange or DHE suite", async () => {
  const sslscan = requireSystemBinary("sslscan");
  for (const port of [server.port, Number(new URL(server.metricsUrl!).port)]) {
    const { stdout } = await run(sslscan, ["--no-colour", "--no-heartbleed", "--no-fallback", `127.0.0.1:${port}`], { timeout: 120_000 });
    const accepted = stdout.split("\n").filter((l) => /^(Preferred|Accepted)\s/.test(l));
    assert.ok(accepted.length >= 3, `sslscan listed the accepted suites:\n${stdout}`);
    for (const line of accepted) {
      const [, protocol, , , cipher] = line.trim().split(/\s+/);
      assert.match(protocol!, /^TLSv1\.[23]$/, line);
      assert.doesNotMatch(cipher!, /CBC|CCM|ARIA|CAMELLIA|3DES|RC4|NULL/, line);
      if (protocol === "TLSv1.2") assert.match(cipher!, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, line);
    }
    assert.match(stdout, /TLSv1\.0\s+disabled/);
    assert.match(stdout, /TLSv1\.1\s+disabled/);
    assert.match(stdout, /TLSv1\.3\s+enabled/);
  }
});
