import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_HOST, DEFAULT_PORT, loadConfig } from "../src/config.js";
import { isServerError } from "../src/errors.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function assertConfigInvalid(fn: () => unknown, mentions: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isServerError(e, "CONFIG_INVALID"), `expected CONFIG_INVALID, got ${String(e)}`);
    assert.match(e.message, mentions);
    return true;
  });
}

test("with nothing configured the defaults apply and the data directory is ./conclave-data", (t) => {
  const cwd = tempDir(t);
  const c = loadConfig({ env: {}, cwd });
  assert.equal(c.host, DEFAULT_HOST);
  assert.equal(c.port, DEFAULT_PORT);
  assert.equal(c.dataDir, join(cwd, "conclave-data"));
  assert.equal(c.certFile, undefined);
  assert.equal(c.publicUrl, undefined);
  assert.equal(c.configFile, undefined);
});

test("flags beat environment variables, which beat the config file, which beats the defaults", (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "conf.json");
  writeFileSync(
    file,
    JSON.stringify({ host: "10.0.0.3", port: 3000, publicUrl: "https://file.example", webRoot: "web" }),
  );
  const env = { CONCLAVE_CONFIG: file, CONCLAVE_PORT: "4000", CONCLAVE_PUBLIC_URL: "https://env.example/" };
  const c = loadConfig({ flags: { port: "5000" }, env, cwd });
  assert.equal(c.port, 5000, "flag wins over env and file");
  assert.equal(c.publicUrl, "https://env.example", "env wins over file (trailing slash dropped)");
  assert.equal(c.host, "10.0.0.3", "file wins over default");
  assert.equal(c.webRoot, join(cwd, "web"), "file paths resolve against the file's directory");
  assert.equal(c.configFile, file);

  const withoutFlag = loadConfig({ env, cwd });
  assert.equal(withoutFlag.port, 4000);
  const fileOnly = loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd });
  assert.equal(fileOnly.port, 3000);
});

test("--config beats CONCLAVE_CONFIG", (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, "a.json"), JSON.stringify({ port: 1111 }));
  writeFileSync(join(cwd, "b.json"), JSON.stringify({ port: 2222 }));
  const c = loadConfig({ flags: { config: "a.json" }, env: { CONCLAVE_CONFIG: join(cwd, "b.json") }, cwd });
  assert.equal(c.port, 1111);
});

test("conclave.json in the data directory is read when no config file is named", (t) => {
  const cwd = tempDir(t);
  const data = join(cwd, "d");
  mkdirSync(data);
  writeFileSync(join(data, "conclave.json"), JSON.stringify({ port: 9999, cert: "c.pem", key: "k.pem" }));
  const c = loadConfig({ flags: { data: "d" }, env: {}, cwd });
  assert.equal(c.port, 9999);
  assert.equal(c.certFile, join(data, "c.pem"));
  assert.equal(c.keyFile, join(data, "k.pem"));
});

test("environment paths resolve against the working directory and empty variables count as unset", (t) => {
  const cwd = tempDir(t);
  const c = loadConfig({ env: { CONCLAVE_DATA: "store", CONCLAVE_HOST: "" }, cwd });
  assert.equal(c.dataDir, join(cwd, "store"));
  assert.equal(c.host, DEFAULT_HOST);
});

test("port 0 is accepted (the system picks a free port)", (t) => {
  assert.equal(loadConfig({ flags: { port: 0 }, env: {}, cwd: tempDir(t) }).port, 0);
});

test("an invalid port is CONFIG_INVALID naming its source", (t) => {
  const cwd = tempDir(t);
  assertConfigInvalid(() => loadConfig({ flags: { port: "70000" }, env: {}, cwd }), /--port/);
  assertConfigInvalid(() => loadConfig({ flags: { port: "80a" }, env: {}, cwd }), /--port/);
  assertConfigInvalid(() => loadConfig({ flags: { port: -1 }, env: {}, cwd }), /--port/);
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_PORT: "http" }, cwd }), /CONCLAVE_PORT/);
  const file = join(cwd, "c.json");
  writeFileSync(file, JSON.stringify({ port: "8443" }));
  assertConfigInvalid(() => loadConfig({ flags: { config: file }, env: {}, cwd }), /"port"/);
});

test("a public URL must be https without credentials, query or fragment", (t) => {
  const cwd = tempDir(t);
  for (const bad of ["meet.example.org", "http://meet.example.org", "https://u:p@meet.example.org", "https://x.org/?a=1"]) {
    assertConfigInvalid(() => loadConfig({ flags: { publicUrl: bad }, env: {}, cwd }), /--public-url/);
  }
  assert.equal(
    loadConfig({ flags: { publicUrl: "https://example.org/conclave/" }, env: {}, cwd }).publicUrl,
    "https://example.org/conclave",
  );
});

test("a certificate without its key (or the reverse) is refused", (t) => {
  const cwd = tempDir(t);
  assertConfigInvalid(() => loadConfig({ flags: { cert: "c.pem" }, env: {}, cwd }), /--cert and --key/);
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_KEY: "k.pem" }, cwd }), /--cert and --key/);
});

test("config file problems are CONFIG_INVALID: missing, not JSON, unknown key, dataDir inside the data dir", (t) => {
  const cwd = tempDir(t);
  assertConfigInvalid(() => loadConfig({ flags: { config: "nope.json" }, env: {}, cwd }), /does not exist/);
  writeFileSync(join(cwd, "bad.json"), "{ port: 1 ");
  assertConfigInvalid(() => loadConfig({ flags: { config: "bad.json" }, env: {}, cwd }), /not valid JSON/);
  writeFileSync(join(cwd, "typo.json"), JSON.stringify({ prot: 1 }));
  assertConfigInvalid(() => loadConfig({ flags: { config: "typo.json" }, env: {}, cwd }), /prot/);
  mkdirSync(join(cwd, "conclave-data"));
  writeFileSync(join(cwd, "conclave-data", "conclave.json"), JSON.stringify({ dataDir: "/elsewhere" }));
  assertConfigInvalid(() => loadConfig({ env: {}, cwd }), /dataDir/);
});

test("a bad host is CONFIG_INVALID", (t) => {
  assertConfigInvalid(() => loadConfig({ flags: { host: "a b" }, env: {}, cwd: tempDir(t) }), /--host/);
});

test("media settings: flags beat environment variables, which beat the config file", (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "conf.json");
  writeFileSync(
    file,
    JSON.stringify({ mediaAddress: "198.51.100.1", mediaPorts: "30000-30099", mediaListen: "10.0.0.1" }),
  );
  const env = { CONCLAVE_CONFIG: file, CONCLAVE_MEDIA_ADDRESS: "2001:db8::2", CONCLAVE_MEDIA_PORTS: "40000-40999" };
  const c = loadConfig({ flags: { mediaPorts: "50000-50000" }, env, cwd });
  assert.deepEqual(c.media, {
    listenAddress: "10.0.0.1",
    announcedAddress: "2001:db8::2",
    portRange: { min: 50000, max: 50000 },
  });
  assert.deepEqual(loadConfig({ env, cwd }).media?.portRange, { min: 40000, max: 40999 });
  assert.deepEqual(loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }).media, {
    listenAddress: "10.0.0.1",
    announcedAddress: "198.51.100.1",
    portRange: { min: 30000, max: 30099 },
  });
  assert.equal(
    loadConfig({ flags: { mediaListen: "::1" }, env: { CONCLAVE_MEDIA_ADDRESS: "" }, cwd }).media?.announcedAddress,
    undefined,
    "an empty variable counts as unset",
  );
});

test("with no media settings the configuration has no media section (the relay's defaults apply)", (t) => {
  assert.equal(loadConfig({ env: {}, cwd: tempDir(t) }).media, undefined);
});

test("a media address or listen address that is not an IP literal is CONFIG_INVALID naming its source", (t) => {
  const cwd = tempDir(t);
  for (const bad of ["meet.example.org", "203.0.113", "203.0.113.7:40000", "[2001:db8::1]", "256.1.1.1"]) {
    assertConfigInvalid(() => loadConfig({ flags: { mediaAddress: bad }, env: {}, cwd }), /--media-address .*IPv4 or IPv6/);
    assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_MEDIA_LISTEN: bad }, cwd }), /CONCLAVE_MEDIA_LISTEN/);
  }
  const file = join(cwd, "c.json");
  writeFileSync(file, JSON.stringify({ mediaAddress: "" }));
  assertConfigInvalid(() => loadConfig({ flags: { config: file }, env: {}, cwd }), /"mediaAddress"/);
});

test("a media port range outside 1024-65535, reversed or not MIN-MAX is CONFIG_INVALID naming its source", (t) => {
  const cwd = tempDir(t);
  for (const bad of ["1023-2000", "40000-65536", "41000-40000", "40000", "40000-", "-40000", "4e4-5e4", "40000 - 40100", "0-0"]) {
    assertConfigInvalid(() => loadConfig({ flags: { mediaPorts: bad }, env: {}, cwd }), /--media-ports .*1024 <= MIN <= MAX <= 65535/);
  }
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_MEDIA_PORTS: "100-200" }, cwd }), /CONCLAVE_MEDIA_PORTS/);
  const file = join(cwd, "c.json");
  writeFileSync(file, JSON.stringify({ mediaPorts: { min: 40000, max: 40100 } }));
  assertConfigInvalid(() => loadConfig({ flags: { config: file }, env: {}, cwd }), /"mediaPorts"/);
  assert.deepEqual(loadConfig({ flags: { mediaPorts: "1024-65535" }, env: {}, cwd }).media?.portRange, { min: 1024, max: 65535 });
});

test("SIP listeners: off by default; --sip-listen / --sip-udp-listen beat CONCLAVE_SIP_LISTEN / CONCLAVE_SIP_UDP_LISTEN, which beat sipListen / sipUdpListen in the config file", (t) => {
  const cwd = tempDir(t);
  assert.equal(loadConfig({ env: {}, cwd }).sip, undefined, "no SIP listener unless configured");
  const file = join(cwd, "conf.json");
  const accounts = [{ username: "room-4", password: "correct horse battery" }];
  writeFileSync(file, JSON.stringify({ sipListen: "0.0.0.0:5061", sipUdpListen: "0.0.0.0:5060", sipAccounts: accounts, sipDeviceCa: "devices.pem" }));
  assert.deepEqual(loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }).sip, {
    tlsListen: { host: "0.0.0.0", port: 5061 },
    udpListen: { host: "0.0.0.0", port: 5060 },
    accounts,
    deviceCaFile: join(cwd, "devices.pem"),
  });
  const env = { CONCLAVE_CONFIG: file, CONCLAVE_SIP_LISTEN: "[::]:15061", CONCLAVE_SIP_UDP_LISTEN: "127.0.0.1:15060" };
  const fromEnv = loadConfig({ env, cwd }).sip;
  assert.deepEqual([fromEnv?.tlsListen, fromEnv?.udpListen], [{ host: "::", port: 15061 }, { host: "127.0.0.1", port: 15060 }]);
  const fromFlags = loadConfig({ flags: { sipListen: "192.0.2.7:25061", sipUdpListen: "192.0.2.7:25060" }, env, cwd }).sip;
  assert.deepEqual([fromFlags?.tlsListen, fromFlags?.udpListen], [{ host: "192.0.2.7", port: 25061 }, { host: "192.0.2.7", port: 25060 }]);
  // Either one alone turns the SIP gateway on.
  assert.deepEqual(loadConfig({ flags: { sipUdpListen: "127.0.0.1:0" }, env: {}, cwd }).sip, { udpListen: { host: "127.0.0.1", port: 0 } });
});

test("plain SIP over TCP: --sip-tcp-listen beats CONCLAVE_SIP_TCP_LISTEN, which beats sipTcpListen in the config file; alone it turns the gateway on; a bad address names its source", (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "conf.json");
  writeFileSync(file, JSON.stringify({ sipTcpListen: "0.0.0.0:5060" }));
  assert.deepEqual(loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }).sip, { tcpListen: { host: "0.0.0.0", port: 5060 } });
  const env = { CONCLAVE_CONFIG: file, CONCLAVE_SIP_TCP_LISTEN: "127.0.0.1:15060" };
  assert.deepEqual(loadConfig({ env, cwd }).sip?.tcpListen, { host: "127.0.0.1", port: 15060 });
  assert.deepEqual(loadConfig({ flags: { sipTcpListen: "192.0.2.7:25060" }, env, cwd }).sip?.tcpListen, { host: "192.0.2.7", port: 25060 });
  assertConfigInvalid(() => loadConfig({ flags: { sipTcpListen: "0.0.0.0:70000" }, env: {}, cwd }), /--sip-tcp-listen/);
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_SIP_TCP_LISTEN: "5060" }, cwd }), /CONCLAVE_SIP_TCP_LISTEN/);
});

test("a SIP listen address that is not HOST:PORT, or a weak SIP account password, is CONFIG_INVALID naming its source", (t) => {
  const cwd = tempDir(t);
  assertConfigInvalid(() => loadConfig({ flags: { sipListen: "5061" }, env: {}, cwd }), /--sip-listen/);
  assertConfigInvalid(() => loadConfig({ flags: { sipUdpListen: "0.0.0.0:70000" }, env: {}, cwd }), /--sip-udp-listen/);
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_SIP_LISTEN: "host name:5061" }, cwd }), /CONCLAVE_SIP_LISTEN/);
  const file = join(cwd, "conf.json");
  writeFileSync(file, JSON.stringify({ sipListen: "0.0.0.0:5061", sipAccounts: [{ username: "room", password: "short" }] }));
  assertConfigInvalid(() => loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }), /sipAccounts/);
});
