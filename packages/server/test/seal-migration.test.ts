// Upgrading a clear-text data directory: sealed in place, resumably (kill -9 half way loses
// nothing), and afterwards no clear text is left in the database or its WAL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalKeyFileBackend } from "@conclave/kms";
import { requireSystemBinary } from "@conclave/test-support";
import { Database } from "../src/storage/database.js";
import { MIGRATIONS } from "../src/storage/migrations.js";

const FIXTURE = new URL("./seal-migration-fixture.js", import.meta.url).pathname;
const MEETINGS = 150;
const INVITATIONS = 20;

function runFixture(dataDir: string, env: Record<string, string>, killAfter?: number): Promise<{ lines: string[]; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FIXTURE, dataDir], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    let buffered = "";
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      lines.push(...parts);
      if (killAfter !== undefined && lines.length >= killAfter) child.kill("SIGKILL");
    });
    child.once("exit", (_code, signal) => resolve({ lines, signal }));
  });
}

test("kill -9 in the middle of sealing a clear-text data directory loses nothing; the next start finishes and purges the clear text", async (t) => {
  requireSystemBinary("strings");
  const dataDir = mkdtempSync(join(tmpdir(), "conclave-seal-migration-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const file = join(dataDir, "conclave.db");
  // A data directory as the previous version wrote it (schema 4, topics and emails in clear).
  const old = Database.open(file, { migrations: MIGRATIONS.slice(0, 4) });
  const topics = new Map<string, string>();
  for (let i = 0; i < MEETINGS; i++) {
    const id = String(20_000_000_000 + i);
    const topic = `Clear topic number ${i} ZANZIBAR`;
    topics.set(id, topic);
    old.connection.prepare("INSERT INTO meetings (id, encryption, created_at, topic) VALUES (?, 'e2ee', ?, ?)").run(id, i, topic);
  }
  for (let i = 0; i < INVITATIONS; i++) {
    old.connection
      .prepare("INSERT INTO invitations (id, token_hash, email, role, created_at, expires_at) VALUES (?, ?, ?, 'member', 0, ?)")
      .run(randomUUID(), `hash-${i}`, `person${i}.zanzibar@example.org`, Date.now() + 86_400_000);
  }
  old.close();

  const first = await runFixture(dataDir, { SLOW_WRAP: "1" }, 40);
  assert.equal(first.signal, "SIGKILL");
  assert.ok(!first.lines.some((l) => l.startsWith("done")), "killed before the end");

  // Half way: every row is either still clear or sealed, none lost, none half-written.
  const mid = Database.open(file, { kms: { backend: LocalKeyFileBackend.openSync({ file: join(dataDir, "kms", "master-keys.json") }) } });
  const counts = mid.connection
    .prepare<{ clear: number; sealed: number; both: number }>(
      "SELECT sum(topic IS NOT NULL) AS clear, sum(sealed IS NOT NULL) AS sealed, sum(topic IS NOT NULL AND sealed IS NOT NULL) AS both FROM meetings",
    )
    .get()!;
  assert.equal(counts.clear + counts.sealed, MEETINGS);
  assert.equal(counts.both, 0);
  assert.ok(counts.sealed >= 40 && counts.clear > 0, JSON.stringify(counts));
  for (const [id, topic] of topics) assert.equal((await mid.meetings.details(id))?.topic, topic, `meeting ${id} half way`);
  mid.close();

  const second = await runFixture(dataDir, {});
  const done = second.lines.find((l) => l.startsWith("done"));
  assert.ok(done, second.lines.join("\n"));
  assert.deepEqual(JSON.parse(done.slice(5)), { meetings: counts.clear, invitations: INVITATIONS, completed: true });

  const after = Database.open(file, { kms: { backend: LocalKeyFileBackend.openSync({ file: join(dataDir, "kms", "master-keys.json") }) } });
  for (const [id, topic] of topics) assert.equal((await after.meetings.details(id))?.topic, topic);
  const emails = (await after.invitations.listPending()).map((i) => i.email).sort();
  assert.equal(emails.length, INVITATIONS);
  assert.ok(emails.every((e) => /^person\d+\.zanzibar@example\.org$/.test(e)));
  after.close();

  // No clear text left anywhere in the data directory (database, WAL, shared memory).
  for (const name of readdirSync(dataDir)) {
    if (name === "kms") continue;
    const text = execFileSync("strings", ["-a", join(dataDir, name)]).toString() + readFileSync(join(dataDir, name), "latin1");
    assert.ok(!/ZANZIBAR|zanzibar/.test(text), `${name} still holds clear text`);
  }
  // A third run has nothing to do.
  const third = await runFixture(dataDir, {});
  assert.deepEqual(JSON.parse(third.lines.find((l) => l.startsWith("done"))!.slice(5)), { meetings: 0, invitations: 0, completed: false });
});
