import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KmipBackend, KmipClient, isKmsError } from "../src/index.js";
import { backendConformance } from "./conformance.js";
import { makePki, startPyKmip } from "./pykmip.js";

const kmip = await startPyKmip();
const dir = mkdtempSync(join(tmpdir(), "conclave-kmip-state-"));
const connection = () => ({ host: kmip.host, port: kmip.port, ...kmip.clientTls() });
const main = await KmipBackend.open({ ...connection(), stateFile: join(dir, "main.json") });
const other = await KmipBackend.open({ ...connection(), stateFile: join(dir, "other.json") });
after(async () => {
  await main.close();
  await other.close();
  await kmip.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

backendConformance("KMIP 1.4 (PyKMIP)", { backend: () => main, otherBackend: () => other });

test("KMIP: the master key is created and activated on the server on first start and recorded in the state file", async () => {
  const s = await main.status();
  assert.equal(s.kind, "kmip");
  assert.equal(s.location, `kmip://127.0.0.1:${kmip.port}`);
  const state = JSON.parse(readFileSync(join(dir, "main.json"), "utf8")) as { keys: string[] };
  assert.equal(state.keys.at(-1), s.currentMasterKeyId);
  // Reopening uses the recorded key and can unwrap what was wrapped before.
  const wrapped = await main.wrap(Buffer.alloc(32, 5), Buffer.from("aad"));
  const again = await KmipBackend.open({ ...connection(), stateFile: join(dir, "main.json") });
  assert.deepEqual(Buffer.from(await again.unwrap(wrapped, Buffer.from("aad"))), Buffer.alloc(32, 5));
  await again.close();
});

test("KMIP: a client certificate from another CA is refused by the server (mutual TLS) with KMS_UNAVAILABLE", async () => {
  const stranger = makePki(join(dir, "stranger"));
  const client = new KmipClient({
    host: kmip.host,
    port: kmip.port,
    ca: readFileSync(kmip.pki.ca),
    cert: readFileSync(stranger.clientCert),
    key: readFileSync(stranger.clientKey),
    requestTimeoutMs: 5000,
  });
  await assert.rejects(client.request("DiscoverVersions", []), (e) => isKmsError(e, "KMS_UNAVAILABLE"));
  client.close();
});

test("KMIP: a server whose certificate is not signed by the configured CA is refused", async () => {
  const stranger = makePki(join(dir, "stranger-ca"));
  const client = new KmipClient({ ...connection(), ca: readFileSync(stranger.ca) });
  await assert.rejects(client.request("DiscoverVersions", []), (e) => isKmsError(e, "KMS_UNAVAILABLE") && /CERT|SIGNATURE|self-signed|issuer/i.test(e.message));
  client.close();
});

test("KMIP: a server that is down gives KMS_UNAVAILABLE with a retry hint, and the back end works again once it is back", async () => {
  const wrapped = await main.wrap(Buffer.alloc(32, 9), Buffer.from("x"));
  await kmip.stop({ crash: true });
  await assert.rejects(main.unwrap(wrapped, Buffer.from("x")), (e) => isKmsError(e, "KMS_UNAVAILABLE") && e.retryAfterSeconds! > 0);
  await assert.rejects(main.wrap(Buffer.alloc(32), Buffer.from("x")), (e) => isKmsError(e, "KMS_UNAVAILABLE"));
  await kmip.start();
  assert.deepEqual(Buffer.from(await main.unwrap(wrapped, Buffer.from("x"))), Buffer.alloc(32, 9));
});
