// Data at rest under the KMS, end to end: what a real meeting leaves on disk, a KMS that goes
// down while meetings go on, and the PKCS#11 and KMIP back ends behind a real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSoftHsm, startPyKmip } from "@conclave/kms/testing";
import { requireSystemBinary } from "@conclave/test-support";
import { loadConfig, startConclave, type ConclaveServer } from "@conclave/server";
import { Collaboration } from "@conclave/client";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

function requireStrings(): void {
  requireSystemBinary("strings");
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(dir);
  return files;
}

/** Every printable string (6+ characters) in every file under `dir`, as `strings -a` sees it. */
function stringsOf(dir: string): string {
  return filesUnder(dir).map((f) => execFileSync("strings", ["-a", "-n", "6", f], { maxBuffer: 64 * 1024 * 1024 }).toString()).join("\n");
}

async function api(server: ConclaveServer, ca: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method,
        ca,
        servername: "localhost",
        headers: { authorization: `Bearer ${server.adminToken}`, ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/**
 * Two or more people meet; with `chat`, the first says it in the group chat (the app's own path:
 * an MLS application message to the group, and in a meeting that saves chat a copy handed to the
 * server), and everyone else reads it before they all leave.
 */
async function runMeeting(server: TestServer, meeting: { id: string; passcode: string | null }, names: string[], chat?: string): Promise<void> {
  const sessions = [];
  for (const name of names) sessions.push(await joinSession(server, meeting, name));
  await waitForAgreement(sessions, names.length);
  if (chat !== undefined) {
    const [speaker, ...listeners] = sessions.map((s) => new Collaboration(s));
    await speaker!.chat.send(chat);
    for (const l of listeners) {
      await waitFor("the chat message to arrive", 10_000, (wake) => l.chat.on("message", wake), () => l.chat.entries.some((e) => e.text === chat));
    }
  }
  for (const s of sessions) s.leave();
}

test("after a meeting, `strings` over the data directory (database, WAL, key files, audit log) finds no topic, invitation email, participant name, saved chat text or passcode", async (t) => {
  requireStrings();
  const server = await startTestServer();
  t.after(() => server.close());
  const dataDir = server.server.context.config.dataDir;
  const db = server.server.context.database;
  const tag = randomBytes(4).toString("hex");
  const topic = `Merger talks ${tag} with Globex`;
  const email = `invitee-${tag}@example.org`;
  const names = [`Alice-${tag}`, `Bob-${tag}`];
  const chat = `Offer ${tag}: 41 dollars a share, tell nobody`;
  // An Enhanced meeting whose settings save chat: the server keeps the group chat after it.
  db.settings.writeAccount({ chatHistory: { value: true } });

  const created = await api(server.server, server.ca, "POST", "/api/meetings", { topic, encryption: "enhanced" });
  assert.equal(created.status, 201);
  const meeting = { id: created.body.id as string, passcode: created.body.passcode as string };
  assert.equal((await api(server.server, server.ca, "POST", "/api/invitations", { email, role: "member" })).status, 201);
  await runMeeting(server, meeting, names, chat);
  // What was written reads back for those allowed to read it.
  const details = await api(server.server, server.ca, "GET", `/api/meetings/${meeting.id}`);
  assert.equal(details.body.topic, topic);
  // The copy of the chat message reaches the server just after the message itself: wait until it is stored.
  await waitFor("the saved chat message in the database", 10_000, (wake) => {
    const timer = setInterval(wake, 50);
    return () => clearInterval(timer);
  }, () => db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM chat_history WHERE meeting_id = ?").get(meeting.id)!.n === 1);
  const saved = await api(server.server, server.ca, "GET", `/api/meetings/${meeting.id}/chat`);
  assert.equal(saved.status, 200);
  assert.deepEqual((saved.body.messages as { displayName: string; text: string }[]).map((m) => [m.displayName, m.text]), [[names[0], chat]]);
  // The leave messages may still be on their way: read the log until both departures are in it.
  let entries: { event: string; displayName: string; kind: string }[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
    await db.participants.flush();
    const log = await api(server.server, server.ca, "GET", `/api/meetings/${meeting.id}/participants`);
    entries = log.body.participants as typeof entries;
    if (entries.filter((e) => e.event === "left").length === 2) break;
  }
  assert.deepEqual(entries.filter((e) => e.event === "joined").map((e) => e.displayName).sort(), names);
  assert.equal(entries.filter((e) => e.event === "left").length, 2);
  assert.ok(entries.every((e) => e.kind === "person"));

  const secrets = [topic, tag, email, meeting.passcode, ...names, chat];
  // SQLite's write-ahead log and its index are scanned too (while the server runs they exist).
  const files = filesUnder(dataDir).map((f) => f.slice(dataDir.length + 1));
  assert.ok(files.includes("conclave.db-wal") && files.includes("conclave.db-shm"), `WAL and SHM among ${files.join(", ")}`);
  const whileRunning = stringsOf(dataDir);
  for (const s of secrets) assert.ok(!whileRunning.includes(s), `"${s}" found on disk while the server runs`);
  await server.server.close();
  const afterClose = stringsOf(dataDir);
  for (const s of secrets) assert.ok(!afterClose.includes(s), `"${s}" found on disk after the server stopped`);
  // The database holds sealed values (format header "CLVS"), and the audit log names objects, not contents.
  assert.ok(afterClose.includes("CLVS"));
  assert.ok(afterClose.includes(`meeting/${meeting.id}`));
});

test("deleting a meeting destroys its data key: a copy of the database taken before cannot give its topic back", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const created = await api(server.server, server.ca, "POST", "/api/meetings", { topic: "Layoffs plan" });
  const id = created.body.id as string;
  const db = server.server.context.database;
  const sealed = db.connection.prepare<{ sealed: Buffer }>("SELECT sealed FROM meetings WHERE id = ?").get(id)!.sealed;
  assert.equal((await api(server.server, server.ca, "DELETE", `/api/meetings/${id}`)).status, 204);
  assert.equal((db.connection.prepare<{ n: number }>("SELECT count(*) AS n FROM data_keys WHERE object_id = ?").get(id))!.n, 0);
  // Put the old row back, as a restored backup would: its key is gone for good.
  db.connection.prepare("INSERT INTO meetings (id, encryption, created_at, sealed) VALUES (?, 'e2ee', 0, ?)").run(id, sealed);
  const read = await api(server.server, server.ca, "GET", `/api/meetings/${id}`);
  assert.equal(read.status, 500);
  assert.equal((read.body.error as { code: string }).code, "DATA_UNREADABLE");
  const audit = execFileSync("cat", [join(server.server.context.config.dataDir, "audit", "kms-audit.log")]).toString();
  assert.match(audit, new RegExp(`"action":"shred","object":"meeting/${id}","principal":"admin-token"`));
  const metrics = await server.server.context.metrics.render();
  assert.match(metrics, /conclave_kms_wraps_total\{backend="local",outcome="ok"\} [1-9]/);
  assert.match(metrics, /conclave_kms_shredded_total [1-9]/);
});

test("KMIP: with the customer's KMS down, stored topics answer 503 KMS_UNAVAILABLE with Retry-After while a meeting goes on; they read again when it is back", async (t) => {
  const kmip = await startPyKmip();
  t.after(() => kmip.cleanup());
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-e2e-kmip-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const { pki } = kmip;
  const config = loadConfig({
    flags: { port: 0, host: "127.0.0.1", data: dataDir, kms: "kmip", kmsKmipHost: "127.0.0.1", kmsKmipPort: kmip.port, kmsKmipCa: pki.ca, kmsKmipCert: pki.clientCert, kmsKmipKey: pki.clientKey },
    env: {},
  });
  const server = await startConclave(config, { logger: { info() {}, warn() {}, error() {} }, relay: false });
  t.after(() => server.close());
  const { readFile } = await import("node:fs/promises");
  const ca = await readFile(server.certFile, "utf8");
  const test: TestServer = { server, ca, wsUrl: `wss://127.0.0.1:${server.port}/ws`, createMeeting: async () => ({ id: "", passcode: null }), close: () => server.close() };

  const created = await api(server, ca, "POST", "/api/meetings", { topic: "Quarterly numbers", encryption: "enhanced" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const meeting = { id: created.body.id as string, passcode: created.body.passcode as string };
  assert.equal((await api(server, ca, "GET", `/api/meetings/${meeting.id}`)).body.topic, "Quarterly numbers");

  await kmip.stop({ crash: true });
  server.context.database.keys.clearCache();
  const down = await api(server, ca, "GET", `/api/meetings/${meeting.id}`);
  assert.equal(down.status, 503);
  assert.equal((down.body.error as { code: string }).code, "KMS_UNAVAILABLE");
  assert.equal(down.headers["retry-after"], "30");
  // Meetings need no KMS: two people join, agree on keys and leave.
  await runMeeting(test, meeting, ["Ann", "Ben"]);
  // Creating a meeting without a topic needs no KMS either; one with a topic does.
  assert.equal((await api(server, ca, "POST", "/api/meetings", {})).status, 201);
  assert.equal((await api(server, ca, "POST", "/api/meetings", { topic: "x" })).status, 503);

  await kmip.start();
  assert.equal((await api(server, ca, "GET", `/api/meetings/${meeting.id}`)).body.topic, "Quarterly numbers");
  // The participant log entries queued while the KMS was down are written now.
  await server.context.database.participants.flush();
  assert.equal(server.context.database.participants.pending, 0);
  assert.equal((await server.context.database.participants.list(meeting.id)).filter((e) => e.event === "joined").length, 2);
  const metrics = await server.context.metrics.render();
  assert.match(metrics, /conclave_kms_unwraps_total\{backend="kmip",outcome="KMS_UNAVAILABLE"\} [1-9]/);
  // Close our KMIP connection before PyKMIP is stopped (it waits for open sessions on SIGINT).
  await server.close();
});

test("PKCS#11: a server whose master key is on a SoftHSM token keeps topics readable across restarts; the PIN comes from the environment", async (t) => {
  const hsm = createSoftHsm();
  t.after(() => hsm.cleanup());
  const pin = `pin-${randomBytes(4).toString("hex")}`;
  hsm.initToken("conclave-e2e", pin);
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-e2e-hsm-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  writeFileSync(join(dataDir, "conclave.json"), JSON.stringify({ kms: "pkcs11", kmsPkcs11Token: "conclave-e2e", kmsPkcs11Module: hsm.module }));
  const start = () =>
    startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir }, env: { CONCLAVE_KMS_PKCS11_PIN: pin } }), {
      logger: { info() {}, warn() {}, error() {} },
      relay: false,
    });
  const { readFile } = await import("node:fs/promises");
  let server = await start();
  let ca = await readFile(server.certFile, "utf8");
  const created = await api(server, ca, "POST", "/api/meetings", { topic: "HSM-protected topic" });
  const id = created.body.id as string;
  await server.close();
  server = await start();
  t.after(() => server.close());
  ca = await readFile(server.certFile, "utf8");
  assert.equal((await api(server, ca, "GET", `/api/meetings/${id}`)).body.topic, "HSM-protected topic");
  const status = await server.context.database.keys.status();
  assert.equal(status.backend.kind, "pkcs11");
  assert.equal(status.backend.location, "token conclave-e2e");
});

test("a server whose master key file was lost refuses to start, says how many data keys need it and to restore it; restored, it reads again", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-e2e-lostkey-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const start = () => startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir }, env: {} }), { logger: { info() {}, warn() {}, error() {} }, relay: false });
  const { readFile, rename } = await import("node:fs/promises");
  let server = await start();
  const ca = await readFile(server.certFile, "utf8");
  const id = (await api(server, ca, "POST", "/api/meetings", { topic: "Keep me" })).body.id as string;
  await server.close();
  const keyFile = join(dataDir, "kms", "master-keys.json");
  await rename(keyFile, `${keyFile}.backup`);
  await assert.rejects(start(), (e: unknown) => {
    const err = e as { code?: string; message: string };
    return err.code === "KMS_FAILED" && /1 data keys are wrapped by master keys/.test(err.message) && /restore/.test(err.message);
  });
  await rename(`${keyFile}.backup`, keyFile);
  server = await start();
  t.after(() => server.close());
  assert.equal((await api(server, await readFile(server.certFile, "utf8"), "GET", `/api/meetings/${id}`)).body.topic, "Keep me");
});
