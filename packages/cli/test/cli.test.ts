import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { firstStartBanner } from "../src/commands/serve.js";

const BIN = fileURLToPath(new URL("../../bin/conclave.js", import.meta.url));

type Cleanup = { after(fn: () => void | Promise<void>): void };

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment without any CONCLAVE_* variable from the developer's shell. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CONCLAVE_")) env[k] = v;
  return { ...env, ...extra };
}

function tempDir(t: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function run(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

interface Served {
  child: ChildProcess;
  url: string;
  fingerprint: string;
  token: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `conclave serve` on a free port and wait until it has printed its token. */
async function serve(t: Cleanup, dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir], {
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (/^Admin API token: \S+\n/m.test(stdout)) resolve();
    });
    void exited.then(() => reject(new Error(`serve exited early:\n${stdout}\n${stderr}`)));
  });
  const url = /^Conclave is running at (https:\/\/\S+)$/m.exec(stdout)?.[1];
  const fingerprint = /^TLS certificate SHA-256 fingerprint: (\S+)$/m.exec(stdout)?.[1];
  const token = /^Admin API token: (\S+)$/m.exec(stdout)?.[1];
  assert.ok(url && fingerprint && token, stdout);
  return { child, url, fingerprint, token, stdout: () => stdout, stderr: () => stderr, exited };
}

test("the first-start banner asks to claim the server at / until an account exists, and is gone after", () => {
  assert.deepEqual(firstStartBanner(0, "https://meet.example.org/"), [
    "Next step: open https://meet.example.org/ in a browser and create the owner account.",
    "  Until then anyone who can reach this server can claim it.",
  ]);
  assert.deepEqual(firstStartBanner(1, "https://meet.example.org"), []);
});

test("conclave --help lists the commands; each command has its own help", async () => {
  const top = await run(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: conclave <command>/);
  assert.match(top.stdout, /serve/);
  assert.match(top.stdout, /meeting/);
  const serveHelp = await run(["serve", "--help"]);
  assert.equal(serveHelp.code, 0);
  assert.match(serveHelp.stdout, /--public-url URL/);
  assert.match(serveHelp.stdout, /CONCLAVE_PORT/);
  assert.match(serveHelp.stdout, /--media-ports MIN-MAX .*CONCLAVE_MEDIA_PORTS/);
  assert.match(serveHelp.stdout, /--media-address IP .*CONCLAVE_MEDIA_ADDRESS/);
  assert.match(serveHelp.stdout, /--media-listen IP .*CONCLAVE_MEDIA_LISTEN/);
  const meetingHelp = await run(["help", "meeting"]);
  assert.equal(meetingHelp.code, 0);
  assert.match(meetingHelp.stdout, /--fingerprint SHA256/);
});

test("an unknown command or option exits 2 with a message on stderr", async () => {
  const unknown = await run(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badOption = await run(["serve", "--prot", "1"]);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /--prot/);
  assert.equal(badOption.stdout, "");
});

test("serve with an invalid port fails with CONFIG_INVALID and exit 1", async () => {
  const r = await run(["serve", "--port", "99999", "--data", join(tmpdir(), "never-created")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--port .*CONFIG_INVALID/s);
});

test("serve with an invalid media port range or media address fails with CONFIG_INVALID and exit 1", async () => {
  const data = join(tmpdir(), "never-created");
  const ports = await run(["serve", "--media-ports", "80-90", "--data", data]);
  assert.equal(ports.code, 1);
  assert.match(ports.stderr, /--media-ports .*CONFIG_INVALID/s);
  const address = await run(["serve", "--data", data], { env: { CONCLAVE_MEDIA_ADDRESS: "meet.example.org" } });
  assert.equal(address.code, 1);
  assert.match(address.stderr, /CONCLAVE_MEDIA_ADDRESS .*CONFIG_INVALID/s);
});

test("serve prints its URL, fingerprint and admin token; meeting create on the same machine prints the new meeting", async (t) => {
  const dir = tempDir(t);
  const data = join(dir, "data");
  const server = await serve(t, data);
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(server.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(server.token, /^[A-Za-z0-9_-]{43}$/);
  // A fresh server says that claiming it at / is the next step.
  for (let i = 0; i < 50 && !server.stdout().includes("Press Ctrl+C"); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(server.stdout(), /^Next step: open https:\/\/localhost:\d+\/ in a browser and create the owner account\.$/m);
  assert.match(server.stdout(), /anyone who can reach this server can claim it/);

  // Token and certificate come from the data directory, as they would next to the server.
  const created = await run(["meeting", "create", "--server", server.url, "--data", data]);
  assert.equal(created.code, 0, created.stderr);
  const meeting = JSON.parse(created.stdout) as { id: string; url: string; passcode: string; encryption: string };
  assert.match(meeting.id, /^[1-9]\d{10}$/);
  assert.match(meeting.passcode, /^[2-9a-z]{10}$/);
  assert.equal(meeting.encryption, "e2ee");
  assert.equal(meeting.url, `${server.url.replace("127.0.0.1", "localhost")}/m/${meeting.id}#pwd=${meeting.passcode}`);

  // From elsewhere: token by environment, certificate pinned by fingerprint.
  const pinned = await run(
    ["meeting", "create", "--server", server.url, "--fingerprint", server.fingerprint.replaceAll(":", "").toLowerCase(), "--enhanced", "--no-passcode"],
    { cwd: dir, env: { CONCLAVE_TOKEN: server.token } },
  );
  assert.equal(pinned.code, 0, pinned.stderr);
  const second = JSON.parse(pinned.stdout) as { id: string; passcode: unknown; encryption: string; url: string };
  assert.equal(second.encryption, "enhanced");
  assert.equal(second.passcode, null);
  assert.ok(!second.url.includes("#"));
  assert.notEqual(second.id, meeting.id);

  const stopped = server.exited;
  server.child.kill("SIGTERM");
  assert.deepEqual(await stopped, { code: 0, signal: null }, server.stderr());
});

test("meeting create refuses a server whose certificate does not match --fingerprint, sending nothing", async (t) => {
  const dir = tempDir(t);
  const server = await serve(t, join(dir, "data"));
  const wrong = "00".repeat(32);
  const r = await run(["meeting", "create", "--server", server.url, "--fingerprint", wrong], {
    cwd: dir,
    env: { CONCLAVE_TOKEN: server.token },
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /does not match --fingerprint/);
  assert.ok(!r.stderr.includes(server.token));
});

test("meeting create explains an untrusted self-signed certificate, a missing token and a wrong token", async (t) => {
  const dir = tempDir(t);
  const server = await serve(t, join(dir, "data"));

  const untrusted = await run(["meeting", "create", "--server", server.url], { cwd: dir, env: { CONCLAVE_TOKEN: server.token } });
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /not trusted.*--fingerprint/s);
  assert.equal(untrusted.stdout, "");

  const noToken = await run(["meeting", "create", "--server", server.url, "--fingerprint", server.fingerprint], { cwd: dir });
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /No admin API token/);

  const wrongToken = await run(["meeting", "create", "--server", server.url, "--insecure"], {
    cwd: dir,
    env: { CONCLAVE_TOKEN: "not-the-token" },
  });
  assert.equal(wrongToken.code, 1);
  assert.match(wrongToken.stderr, /--insecure/);
  assert.match(wrongToken.stderr, /401 UNAUTHORIZED/);
  assert.doesNotMatch(wrongToken.stderr, /^\s*[{[]/m, "no JSON on stderr");
});

test("meeting create reports an unreachable server and bad flags clearly", async (t) => {
  const dir = tempDir(t);
  const refused = await run(["meeting", "create", "--server", "https://127.0.0.1:1", "--insecure", "--token", "x"], { cwd: dir });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /could not be reached.*ECONNREFUSED/s);

  const http = await run(["meeting", "create", "--server", "http://localhost:8443", "--token", "x"], { cwd: dir });
  assert.equal(http.code, 2);
  assert.match(http.stderr, /https:\/\//);

  const both = await run(["meeting", "create", "--server", "https://localhost:8443", "--insecure", "--fingerprint", "ab".repeat(32)], { cwd: dir });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /cannot be combined/);

  const badPin = await run(["meeting", "create", "--server", "https://localhost:8443", "--fingerprint", "abc"], { cwd: dir });
  assert.equal(badPin.code, 2);
  assert.match(badPin.stderr, /64 hex digits/);
});

test("SIGINT stops serve cleanly with exit 0", async (t) => {
  const server = await serve(t, join(tempDir(t), "data"));
  const stopped = server.exited;
  server.child.kill("SIGINT");
  assert.deepEqual(await stopped, { code: 0, signal: null }, server.stderr());
});
