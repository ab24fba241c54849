// Mutual TLS for the Microsoft SIP profile (Teams Direct Routing and Skype for Business require a
// client certificate both ways), checked against OpenSSL's own TLS client and server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { SipTransport, peerCertifiedBy, type Flow } from "../src/sip/transport.js";
import { SipUserAgent } from "../src/sip/ua.js";
import { parseSipMessage } from "../src/sip/message.js";

/** A CA, and a server and a client certificate it signed (EC P-256), in `dir`. */
function pki(dir: string): Record<"ca" | "serverCert" | "serverKey" | "clientCert" | "clientKey" | "otherCert" | "otherKey", string> {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run(["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.pem"]);
  for (const [name, cn] of [["server", "127.0.0.1"], ["client", "sbc.example.org"]] as const) {
    run(["req", ...ec, "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    run(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", `${name}.pem`]);
  }
  // A self-signed client certificate no configured CA vouches for.
  run(["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=intruder", "-keyout", "other.key", "-out", "other.pem"]);
  const r = (f: string) => readFileSync(join(dir, f), "utf8");
  return { ca: r("ca.pem"), serverCert: r("server.pem"), serverKey: r("server.key"), clientCert: r("client.pem"), clientKey: r("client.key"), otherCert: r("other.pem"), otherKey: r("other.key") };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const OPTIONS = (port: number) =>
  ["OPTIONS sip:127.0.0.1:" + port + ";transport=tls SIP/2.0", "Via: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK-mtls1", "Max-Forwards: 70", "From: <sip:sbc@example.org>;tag=a1", "To: <sip:127.0.0.1>", "Call-ID: mtls-1", "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");

test("inbound mutual TLS: a peer with a certificate from the configured CA gets answered; one without, or with another CA's, cannot even send", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("openssl");
  const dir = mkdtempSync(join(tmpdir(), "conclave-mtls-"));
  const p = pki(dir);
  const transport = await SipTransport.listen({ tls: { host: "127.0.0.1", port: 0, cert: p.serverCert, key: p.serverKey, clientCa: p.ca } });
  const ua = new SipUserAgent({ transport, publicHost: "127.0.0.1" });
  let received = 0;
  transport.on("message", () => received++);
  t.after(async () => {
    await ua.close();
    await transport.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = transport.boundFor("tls")!.port;
  const client = (cert?: [string, string]) =>
    new Promise<string>((resolve) => {
      const args = ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", join(dir, "ca.pem"), "-quiet", ...(cert ? ["-cert", join(dir, cert[0]), "-key", join(dir, cert[1])] : [])];
      const c = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      c.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\r\n\r\n")) c.kill();
      });
      c.stderr.on("data", (d: Buffer) => (out += d.toString()));
      c.stdin.on("error", () => undefined);
      c.stdin.write(OPTIONS(port));
      const timer = setTimeout(() => c.kill(), 5000);
      c.once("exit", () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
  const ok = await client(["client.pem", "client.key"]);
  assert.match(ok, /SIP\/2\.0 200 OK/, "OpenSSL's client with our CA's certificate is answered");
  assert.equal(received, 1);
  const none = await client();
  assert.doesNotMatch(none, /SIP\/2\.0 200/);
  const other = await client(["other.pem", "other.key"]);
  assert.doesNotMatch(other, /SIP\/2\.0 200/);
  assert.equal(received, 1, "nothing from a peer without a valid client certificate reached the SIP layer");
});

test("outbound mutual TLS: our client certificate satisfies OpenSSL's server that requires one; without it the connection fails", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("openssl");
  const dir = mkdtempSync(join(tmpdir(), "conclave-mtls-"));
  const p = pki(dir);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const serve = async () => {
    const port = await freePort();
    const s = spawn("openssl", ["s_server", "-accept", String(port), "-cert", join(dir, "server.pem"), "-key", join(dir, "server.key"), "-CAfile", join(dir, "ca.pem"), "-Verify", "1", "-verify_return_error"], { stdio: ["pipe", "pipe", "pipe"] }); // stdin stays open: s_server quits at its EOF
    let out = "";
    s.stdout.on("data", (d: Buffer) => (out += d.toString()));
    s.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => {
      const check = () => (out.includes("ACCEPT") ? resolve() : undefined);
      s.stdout.on("data", check);
    });
    return { port, output: () => out, stop: () => s.kill() };
  };
  const message = (port: number) => parseSipMessage(Buffer.from(OPTIONS(port)), { datagram: false });

  const server = await serve();
  const withCert = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 }, tlsClientCa: p.ca, tlsClientCert: { cert: p.clientCert, key: p.clientKey } });
  try {
    await withCert.send(message(server.port), { transport: "tls", address: "127.0.0.1", port: server.port });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (server.output().includes("OPTIONS sip:")) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    assert.match(server.output(), /CN ?= ?sbc\.example\.org/, "OpenSSL saw our client certificate");
  } finally {
    await withCert.close();
    server.stop();
  }

  const strict = await serve();
  const without = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 }, tlsClientCa: p.ca });
  try {
    await without.send(message(strict.port), { transport: "tls", address: "127.0.0.1", port: strict.port }).catch(() => undefined);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (/error|alert|certificate/i.test(strict.output())) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    assert.doesNotMatch(strict.output(), /OPTIONS sip:/, "without a client certificate nothing was delivered");
  } finally {
    await without.close();
    strict.stop();
  }
});

test("mutual TLS for some peers only (trunks with clientCa): peers without a certificate still connect, and peerCertifiedBy says which flows a CA vouches for", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("openssl");
  const dir = mkdtempSync(join(tmpdir(), "conclave-mtls-opt-"));
  const p = pki(dir);
  const transport = await SipTransport.listen({ tls: { host: "127.0.0.1", port: 0, cert: p.serverCert, key: p.serverKey, optionalClientCa: `${p.ca}\n${p.otherCert}` } });
  t.after(async () => {
    await transport.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = transport.boundFor("tls")!.port;
  const trunkCa = new X509Certificate(p.ca);
  const otherTrunkCa = new X509Certificate(p.otherCert);
  const send = (cert?: { cert: string; key: string }) =>
    new Promise<Flow>((resolve, reject) => {
      transport.once("message", (_m, flow) => {
        resolve(flow);
        socket.end();
      });
      const socket = tlsConnect({ host: "127.0.0.1", port, ca: p.ca, servername: "127.0.0.1", checkServerIdentity: () => undefined, ...(cert ?? {}) }, () => socket.write(OPTIONS(port)));
      socket.on("error", reject);
    });
  const trunk = await send({ cert: p.clientCert, key: p.clientKey });
  assert.equal(peerCertifiedBy(trunk, [trunkCa]), true, "the trunk's CA vouches for its certificate");
  assert.equal(peerCertifiedBy(trunk, [otherTrunkCa]), false, "another trunk's CA does not");
  const roomSystem = await send();
  assert.equal(peerCertifiedBy(roomSystem, [trunkCa]), false, "no certificate: connected, but not certified");
  // A self-signed certificate that is itself listed as a CA is trusted only as that CA.
  const selfSigned = await send({ cert: p.otherCert, key: p.otherKey });
  assert.equal(peerCertifiedBy(selfSigned, [trunkCa]), false);
  assert.equal(peerCertifiedBy({ transport: "udp", address: "127.0.0.1", port: 5060 }, [trunkCa]), false, "UDP is never certified");
});
