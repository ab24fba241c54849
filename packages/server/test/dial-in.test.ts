// Phone dial-in on the server: the numeric phone passcode derived from the stored passcode hash
// under the dial-in key, and the trunk configuration.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIpc, serverToGatewaySchema } from "@conclave/connectors/supervisor";
import { DialInPasscodes, PHONE_PASSCODE_DIGITS } from "../src/connectors/dial-in.js";
import { loadConfig } from "../src/config.js";
import { isServerError } from "../src/errors.js";
import { tempDb } from "./support/temp-db.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dial-in-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a meeting's phone passcode: 8 digits, stable, checked in constant time, changed by a passcode reset, unknown without the dial-in key", async (t) => {
  const dir = tempDir(t);
  const db = tempDb(t).open();
  const hashOf = (id: string) => db.meetings.passcodeHash(id);
  const passcodes = DialInPasscodes.open(dir, hashOf);
  assert.equal(statSync(join(dir, "dial-in.key")).mode & 0o777, 0o600, "the dial-in key is private to the server");
  const { meeting } = await db.meetings.create({ encryption: "enhanced" });
  const phone = passcodes.phonePasscode(meeting.id)!;
  assert.match(phone, new RegExp(`^[0-9]{${PHONE_PASSCODE_DIGITS}}$`));
  assert.equal(passcodes.phonePasscode(meeting.id), phone);
  assert.equal(DialInPasscodes.open(dir, hashOf).phonePasscode(meeting.id), phone, "the key persists across restarts");
  assert.equal(passcodes.verify(meeting.id, phone), true);
  for (const wrong of ["", phone.slice(1), `${phone}0`, String((Number(phone[0]) + 1) % 10) + phone.slice(1)]) {
    assert.equal(passcodes.verify(meeting.id, wrong), false, `'${wrong}' is refused`);
  }
  // Another data directory (another key), same database: another phone passcode.
  assert.notEqual(DialInPasscodes.open(tempDir(t), hashOf).phonePasscode(meeting.id), phone);
  // A reset passcode resets the phone passcode.
  await db.meetings.resetPasscode(meeting.id);
  assert.notEqual(passcodes.phonePasscode(meeting.id), phone);
  assert.equal(passcodes.verify(meeting.id, phone), false);
  // No passcode: none needed; no meeting: nothing verifies.
  const open = await db.meetings.create({ encryption: "enhanced", passcode: false });
  assert.equal(passcodes.phonePasscode(open.meeting.id), null);
  assert.equal(passcodes.verify("12345678901", "00000000"), false);
  // A damaged key file is an error, not a silently new key.
  writeFileSync(join(dir, "dial-in.key"), "short");
  assert.throws(() => DialInPasscodes.open(dir, hashOf), /damaged/);
});

test("sipTrunks and dialInNumbers come from the config file; a trunk without a valid address or with half its credentials, or trunks without a SIP listener, are CONFIG_INVALID", (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "conf.json");
  const trunks = [{ address: "192.0.2.10" }, { address: "2001:db8::5", username: "pbx", password: "correct horse battery" }];
  writeFileSync(file, JSON.stringify({ sipUdpListen: "0.0.0.0:5060", sipTrunks: trunks, dialInNumbers: ["+1 555 0100", "+44 20 7946 0000"] }));
  const sip = loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }).sip;
  assert.deepEqual(sip?.trunks, trunks);
  assert.deepEqual(sip?.dialInNumbers, ["+1 555 0100", "+44 20 7946 0000"]);
  for (const bad of [[{ address: "pbx.example.org" }], [{ address: "192.0.2.10", username: "pbx" }], [{ address: "192.0.2.10", username: "pbx", password: "short" }], []]) {
    writeFileSync(file, JSON.stringify({ sipUdpListen: "0.0.0.0:5060", sipTrunks: bad }));
    assert.throws(() => loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }), (e: unknown) => isServerError(e, "CONFIG_INVALID") && /sipTrunks/.test(e.message));
  }
  writeFileSync(file, JSON.stringify({ sipTrunks: trunks }));
  assert.throws(() => loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }), (e: unknown) => isServerError(e, "CONFIG_INVALID") && /sipTrunks needs a SIP listener/.test(e.message));
});

test("a trunk's profile and mutual-TLS clientCa come from the config file (the CA path relative to it); a bad profile, an unreadable, non-PEM or oversized CA file, clientCa without a TLS listener, or two trunks with one address are CONFIG_INVALID", (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "conf.json");
  // Any PEM certificate will do for the config check (it is not a TLS handshake).
  writeFileSync(join(cwd, "sbc-ca.pem"), TEST_CA_PEM);
  writeFileSync(join(cwd, "not-a-cert.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  const trunk = { address: "192.0.2.10", profile: "microsoft", clientCa: "sbc-ca.pem" };
  writeFileSync(file, JSON.stringify({ sipListen: "0.0.0.0:5061", sipTrunks: [trunk, { address: "192.0.2.11", profile: "standard" }] }));
  const sip = loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }).sip;
  assert.deepEqual(sip?.trunks, [{ ...trunk, clientCa: join(cwd, "sbc-ca.pem") }, { address: "192.0.2.11", profile: "standard" }]);
  const cases: [unknown, RegExp][] = [
    [{ sipListen: "0.0.0.0:5061", sipTrunks: [{ address: "192.0.2.10", profile: "teams" }] }, /sipTrunks.*"standard" or "microsoft"/],
    [{ sipListen: "0.0.0.0:5061", sipTrunks: [{ address: "192.0.2.10", clientCa: "missing.pem" }] }, /sipTrunks\[0\]\.clientCa: .*missing\.pem does not exist/],
    [{ sipListen: "0.0.0.0:5061", sipTrunks: [{ address: "192.0.2.10", clientCa: "not-a-cert.pem" }] }, /sipTrunks\[0\]\.clientCa: .*holds no PEM certificate/],
    [{ sipUdpListen: "0.0.0.0:5060", sipTrunks: [{ address: "192.0.2.10", clientCa: "sbc-ca.pem" }] }, /sipTrunks\[0\]\.clientCa needs SIP over TLS/],
    // The gateway matches a call to the first trunk with its address: a second entry (here the
    // same address IPv4-mapped) would never have its clientCa applied.
    [{ sipListen: "0.0.0.0:5061", sipTrunks: [{ address: "192.0.2.10" }, { address: "::ffff:192.0.2.10", clientCa: "sbc-ca.pem" }] }, /sipTrunks.*two trunks have the same address/],
    [{ sipListen: "0.0.0.0:5061", sipTrunks: [{ address: "192.0.2.10", clientCa: "huge.pem" }] }, /sipTrunks\[0\]\.clientCa: .*huge\.pem is larger than 1 MB/],
  ];
  writeFileSync(join(cwd, "huge.pem"), TEST_CA_PEM.repeat(Math.ceil(1_000_001 / TEST_CA_PEM.length)));
  for (const [conf, message] of cases) {
    writeFileSync(file, JSON.stringify(conf));
    assert.throws(() => loadConfig({ env: { CONCLAVE_CONFIG: file }, cwd }), (e: unknown) => isServerError(e, "CONFIG_INVALID") && message.test(e.message));
  }
});

const TEST_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUZuk4hGFs+0EbDkBbL+kE2XQ4BYUwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLVGVzdCBTQkMgQ0EwIBcNMjYxMjA0MTI0OTAwWhgPMjEyNjEx
MTAxMjQ5MDBaMBYxFDASBgNVBAMMC1Rlc3QgU0JDIENBMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEg1r+G11/8G++iPao243CMN6uwgAoVsBS4enI76m3zDBHtKc0
vZU3JBaz2qL+QUS8s8Y3/CzGFSyumBtrkp/gzKNTMFEwHQYDVR0OBBYEFBpXhr66
x48Ovwy5WBgqkXWDwMz9MB8GA1UdIwQYMBaAFBpXhr66x48Ovwy5WBgqkXWDwMz9
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgU24qIerXeUrUiSyQ
A7TF+b+pWIPAGXfxcbRiBhP4ui8CIQCyDsn4Q23TkqPG7M7RBuwPPadreMpDuBLh
Y0bLyg0UVw==
-----END CERTIFICATE-----
`;

test("the gateway's configure message takes a trunk CA bundle as large as the system's (about 0.2 MB) and refuses one over 1 MB", () => {
  const bundle = (bytes: number) => TEST_CA_PEM.repeat(Math.ceil(bytes / TEST_CA_PEM.length));
  const configure = (clientCa: string) => ({
    type: "configure",
    publicHost: "conclave.example",
    mediaAddress: "127.0.0.1",
    signalingUrl: "wss://127.0.0.1:1/ws",
    pstn: { trunks: [{ address: "192.0.2.10", profile: "microsoft", clientCa }], promptsDir: "/tmp/prompts", callerSecret: "A".repeat(43) },
  });
  assert.doesNotThrow(() => parseIpc(serverToGatewaySchema, configure(bundle(300_000))));
  assert.throws(() => parseIpc(serverToGatewaySchema, configure(bundle(1_000_001))), (e: unknown) => (e as { code?: string }).code === "CONNECTOR_BAD_IPC");
});
