import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigFlags } from "../src/config.js";
import type { ServerErrorCode } from "../src/errors.js";
import { startServer, type LogSink, type RunningServer, type ServerHooks } from "../src/server.js";
import { toReply, type Reply } from "./support/api-client.js";

type Cleanup = { after(fn: () => void | Promise<void>): void };

async function start(t: Cleanup, flags: ConfigFlags = {}, hooks: ServerHooks = {}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-http-"));
  const config = loadConfig({ flags: { host: "127.0.0.1", port: 0, data: join(dir, "data"), ...flags }, env: {} });
  const server = await startServer(config, hooks);
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

function call(
  server: RunningServer,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; token?: string; chunked?: boolean } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    payload = Buffer.from(JSON.stringify(options.body));
    headers["content-type"] ??= "application/json";
  } else if (options.raw !== undefined) {
    payload = Buffer.from(options.raw);
    headers["content-type"] ??= "application/json";
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined && !options.chunked) headers["content-length"] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: server.port,
        method,
        path,
        headers,
        ca: readFileSync(server.certFile),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(toReply(res, chunks)));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function assertError(reply: Reply, status: number, code: ServerErrorCode): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.json?.error?.code, code, reply.text);
  assert.equal(typeof reply.json.error.message, "string");
  assert.match(String(reply.headers["content-type"]), /^application\/json/);
}

test("GET /healthz answers {ok:true} with the security headers", async (t) => {
  const server = await start(t);
  const reply = await call(server, "GET", "/healthz");
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, { ok: true });
  assert.match(String(reply.headers["strict-transport-security"]), /max-age=\d+/);
  const csp = String(reply.headers["content-security-policy"]);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(reply.headers["x-content-type-options"], "nosniff");
  assert.equal(reply.headers["referrer-policy"], "no-referrer");
  assert.equal(reply.headers["cache-control"], "no-store");
});

test("creating a meeting without the admin token, or with a wrong one, is 401 UNAUTHORIZED", async (t) => {
  const server = await start(t);
  assertError(await call(server, "POST", "/api/meetings", { body: {} }), 401, "UNAUTHORIZED");
  assertError(await call(server, "POST", "/api/meetings", { body: {}, token: "x".repeat(43) }), 401, "UNAUTHORIZED");
  assertError(await call(server, "POST", "/api/meetings", { body: {}, token: server.adminToken + "x" }), 401, "UNAUTHORIZED");
  const basic = { authorization: `Basic ${server.adminToken}` };
  assertError(await call(server, "POST", "/api/meetings", { body: {}, headers: basic }), 401, "UNAUTHORIZED");
});

test("an admin creates a meeting: 11-digit id, passcode by default, join URL with the passcode in the fragment", async (t) => {
  const server = await start(t);
  const reply = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: {} });
  assert.equal(reply.status, 201, reply.text);
  const { id, url, passcode, encryption } = reply.json as { id: string; url: string; passcode: string; encryption: string };
  assert.match(id, /^[1-9]\d{10}$/);
  assert.equal(encryption, "e2ee");
  assert.match(passcode, /^[2-9a-z]{10}$/);
  assert.equal(url, `https://localhost:${server.port}/m/${id}#pwd=${passcode}`);
  assert.equal(reply.headers.location, `/api/meetings/${id}`);
  assert.equal(server.context.meetings.verifyPasscode(id, passcode), true);
  assert.equal(server.context.meetings.verifyPasscode(id, "wrongwrong"), false);
});

test("a meeting can be created Enhanced and without a passcode", async (t) => {
  const server = await start(t, { publicUrl: "https://meet.example.org/c" });
  const reply = await call(server, "POST", "/api/meetings", {
    token: server.adminToken,
    body: { encryption: "enhanced", passcode: false },
  });
  assert.equal(reply.status, 201, reply.text);
  assert.equal(reply.json.encryption, "enhanced");
  assert.equal(reply.json.passcode, null);
  assert.equal(reply.json.url, `https://meet.example.org/c/m/${reply.json.id}`);
});

test("meeting IDs from the API are unique", async (t) => {
  const server = await start(t);
  const ids = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const reply = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: { passcode: false } });
    ids.add(reply.json.id as string);
  }
  assert.equal(ids.size, 30);
});

test("a bad meeting request body is 400 BAD_REQUEST naming the field", async (t) => {
  const server = await start(t);
  const bad = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: { encryption: "none" } });
  assertError(bad, 400, "BAD_REQUEST");
  assert.match(bad.json.error.message, /encryption/);
  const typo = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: { encription: "e2ee" } });
  assertError(typo, 400, "BAD_REQUEST");
  assertError(await call(server, "POST", "/api/meetings", { token: server.adminToken, body: [1] }), 400, "BAD_REQUEST");
});

test("malformed JSON is 400 MALFORMED_JSON, never 500", async (t) => {
  const server = await start(t);
  for (const raw of ["{", "{\"encryption\": }", "nul", Buffer.from([0x7b, 0xff, 0x7d])]) {
    assertError(await call(server, "POST", "/api/meetings", { token: server.adminToken, raw }), 400, "MALFORMED_JSON");
  }
});

test("a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE", async (t) => {
  const server = await start(t);
  const reply = await call(server, "POST", "/api/meetings", {
    token: server.adminToken,
    raw: "encryption=e2ee",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assertError(reply, 415, "UNSUPPORTED_MEDIA_TYPE");
});

test("a body over 64 KiB is 413 BODY_TOO_LARGE, with or without a Content-Length", async (t) => {
  const server = await start(t);
  for (const size of [100 * 1024, 4 * 1024 * 1024]) {
    const big = JSON.stringify({ padding: "x".repeat(size) });
    assertError(await call(server, "POST", "/api/meetings", { token: server.adminToken, raw: big }), 413, "BODY_TOO_LARGE");
    // Without Content-Length the limit is enforced while reading, and the 413 still arrives.
    const chunked = await call(server, "POST", "/api/meetings", { token: server.adminToken, raw: big, chunked: true });
    assertError(chunked, 413, "BODY_TOO_LARGE");
  }
});

test("GET /api/meetings/:id shows public facts only; unknown IDs are 404 MEETING_NOT_FOUND", async (t) => {
  const server = await start(t);
  const created = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: {} });
  const reply = await call(server, "GET", `/api/meetings/${created.json.id}`);
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, { id: created.json.id, encryption: "e2ee", postQuantum: false, passcodeRequired: true, ended: false });
  assert.ok(!reply.text.includes(created.json.passcode));
  server.context.meetings.markEnded(created.json.id);
  assert.equal((await call(server, "GET", `/api/meetings/${created.json.id}`)).json.ended, true);
  assertError(await call(server, "GET", "/api/meetings/12345678901"), 404, "MEETING_NOT_FOUND");
  assertError(await call(server, "GET", "/api/meetings/abc"), 404, "MEETING_NOT_FOUND");
});

test("an unknown route is a JSON 404 NOT_FOUND and a wrong method is 405 with Allow", async (t) => {
  const server = await start(t);
  assertError(await call(server, "GET", "/nope"), 404, "NOT_FOUND");
  assertError(await call(server, "GET", "/api/meetings/1/2"), 404, "NOT_FOUND");
  const wrongMethod = await call(server, "DELETE", "/api/meetings");
  assertError(wrongMethod, 405, "METHOD_NOT_ALLOWED");
  assert.equal(wrongMethod.headers.allow, "GET, HEAD, POST");
});

test("repeated wrong admin tokens from one address are rate limited with 429 RATE_LIMITED", async (t) => {
  const server = await start(t);
  for (let i = 0; i < 10; i++) {
    assertError(await call(server, "POST", "/api/meetings", { token: "wrong" }), 401, "UNAUTHORIZED");
  }
  assertError(await call(server, "POST", "/api/meetings", { token: "wrong" }), 429, "RATE_LIMITED");
  assertError(await call(server, "POST", "/api/meetings", { token: server.adminToken, body: {} }), 429, "RATE_LIMITED");
});

test("neither the admin token nor passcodes nor bodies reach the log", async (t) => {
  const lines: string[] = [];
  const capture: LogSink = {
    info: (m) => lines.push(m),
    warn: (m, e) => lines.push(m, String(e)),
    error: (m, e) => lines.push(m, String((e as Error | undefined)?.stack ?? e)),
  };
  const server = await start(t, {}, {
    logger: capture,
    routes: (router) => router.get("/boom", () => {
      throw new Error("handler bug");
    }),
  });
  const created = await call(server, "POST", "/api/meetings", { token: server.adminToken, body: { encryption: "e2ee" } });
  await call(server, "POST", "/api/meetings", { token: server.adminToken, raw: `{"x": "${created.json.passcode}"` });
  assertError(await call(server, "GET", "/boom"), 500, "INTERNAL");
  const log = lines.join("\n");
  assert.match(log, /GET \/boom failed/, "unexpected errors are logged");
  assert.ok(!log.includes(server.adminToken));
  assert.ok(!log.includes(created.json.passcode as string));
  assert.ok(!log.includes("encryption"));
});

test("extra routes from hooks.routes are served with the same JSON and error handling", async (t) => {
  const server = await start(t, {}, {
    routes: (router, context) => {
      router.get("/api/echo/:word", (req) => ({ body: { word: req.params.word, meetings: context.meetings.list().length } }));
      router.post("/api/echo", async (req) => ({ status: 202, body: { got: await req.json() } }));
    },
  });
  assert.deepEqual((await call(server, "GET", "/api/echo/h%C3%A9")).json, { word: "hé", meetings: 0 });
  const posted = await call(server, "POST", "/api/echo", { body: { a: 1 } });
  assert.equal(posted.status, 202);
  assert.deepEqual(posted.json, { got: { a: 1 } });
  assertError(await call(server, "POST", "/api/echo", { raw: "{" }), 400, "MALFORMED_JSON");
});

test("static files are served from webRoot with content types; /m/<id> serves the app", async (t) => {
  const web = mkdtempSync(join(tmpdir(), "conclave-web-"));
  t.after(() => rmSync(web, { recursive: true, force: true }));
  writeFileSync(join(web, "index.html"), "<!doctype html><title>Conclave</title>");
  mkdirSync(join(web, "assets"));
  writeFileSync(join(web, "assets", "app.js"), "export {};");
  writeFileSync(join(web, "assets", "app.wasm"), Buffer.from([0, 0x61, 0x73, 0x6d]));
  const server = await start(t, { webRoot: web });

  const index = await call(server, "GET", "/");
  assert.equal(index.status, 200);
  assert.equal(index.headers["content-type"], "text/html; charset=utf-8");
  assert.match(index.text, /Conclave/);
  assert.match(String(index.headers["content-security-policy"]), /default-src 'self'/);
  assert.equal((await call(server, "GET", "/m/12345678901")).text, index.text);
  const js = await call(server, "GET", "/assets/app.js");
  assert.equal(js.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal(js.text, "export {};");
  assert.equal((await call(server, "GET", "/assets/app.wasm")).headers["content-type"], "application/wasm");
  const head = await call(server, "HEAD", "/assets/app.js");
  assert.equal(head.status, 200);
  assert.equal(head.text, "");
  assert.equal(head.headers["content-length"], "10");
  assertError(await call(server, "GET", "/assets/missing.js"), 404, "NOT_FOUND");
  // A browser navigating to nothing (or to a malformed meeting link) gets the app, with 404, and
  // the app says so in words; API clients and scripts still get the JSON error.
  const html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
  for (const path of ["/foo/bar", "/m/hello-world", "/m/123", "/m/12345678901/extra"]) {
    const page = await call(server, "GET", path, { headers: html });
    assert.equal(page.status, 404, path);
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8", path);
    assert.equal(page.text, index.text, path);
  }
  assertError(await call(server, "GET", "/foo/bar"), 404, "NOT_FOUND");
  assertError(await call(server, "GET", "/api/nothing", { headers: html }), 404, "NOT_FOUND");
  assertError(await call(server, "POST", "/foo/bar", { headers: html, body: {} }), 404, "NOT_FOUND");
});

test("static files never leave webRoot: dot-dot, encoded slashes, dot-files and symlinks are 404", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-web-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const web = join(dir, "web");
  mkdirSync(web);
  writeFileSync(join(web, "index.html"), "app");
  writeFileSync(join(web, ".env"), "SECRET=1");
  writeFileSync(join(dir, "secret.txt"), "SECRET");
  symlinkSync(join(dir, "secret.txt"), join(web, "link.txt"));
  const server = await start(t, { webRoot: web });
  for (const path of [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/.env",
    "/%2eenv",
    "/link.txt",
    "/index.html%00.js",
    "/%E0%A4%A",
  ]) {
    const reply = await call(server, "GET", path);
    assert.equal(reply.status, 404, path);
    assert.ok(!reply.text.includes("SECRET"), path);
  }
});

test("POST /api/meetings needs a JSON object body: a missing one, an empty one, null, an array or a number is 400 and creates nothing", async (t) => {
  const server = await start(t);
  const before = (await server.context.meetings.listDetails()).length;
  assertError(await call(server, "POST", "/api/meetings", { token: server.adminToken }), 400, "BAD_REQUEST");
  for (const raw of ["", "null", "[]", "3", '"x"']) {
    const reply = await call(server, "POST", "/api/meetings", { token: server.adminToken, raw });
    assert.equal(reply.status, 400, `${JSON.stringify(raw)}: ${reply.text}`);
  }
  assert.equal((await server.context.meetings.listDetails()).length, before);
  assert.equal((await call(server, "POST", "/api/meetings", { token: server.adminToken, body: {} })).status, 201);
});

test("only the app's own assets are served: no source maps unless configured, no build info, no compiled tests, no TypeScript", async (t) => {
  const web = mkdtempSync(join(tmpdir(), "conclave-web-"));
  t.after(() => rmSync(web, { recursive: true, force: true }));
  writeFileSync(join(web, "index.html"), "<!doctype html><title>Conclave</title>");
  writeFileSync(join(web, "app.js"), "export {};");
  writeFileSync(join(web, "app.js.map"), "{}");
  writeFileSync(join(web, "app.js.LEGAL.txt"), "licenses");
  writeFileSync(join(web, "types.d.ts"), "export {};");
  writeFileSync(join(web, "main.ts"), "export {};");
  writeFileSync(join(web, "package.json"), "{}");
  for (const dir of ["tsc", "test", "node_modules"]) mkdirSync(join(web, dir));
  writeFileSync(join(web, "tsc", "app.tsbuildinfo"), "{}");
  writeFileSync(join(web, "app.tsbuildinfo"), "{}");
  writeFileSync(join(web, "test", "routes.test.js"), "export {};");
  writeFileSync(join(web, "node_modules", "x.js"), "export {};");
  writeFileSync(join(web, "routes.test.js"), "export {};");
  const server = await start(t, { webRoot: web });
  for (const ok of ["/", "/app.js", "/app.js.LEGAL.txt"]) assert.equal((await call(server, "GET", ok)).status, 200, ok);
  for (const no of ["/app.js.map", "/types.d.ts", "/main.ts", "/package.json", "/tsc/app.tsbuildinfo", "/app.tsbuildinfo", "/test/routes.test.js", "/routes.test.js", "/node_modules/x.js"]) {
    assertError(await call(server, "GET", no), 404, "NOT_FOUND");
  }
  const withMaps = await start(t, { webRoot: web, webSourceMaps: true });
  assert.equal((await call(withMaps, "GET", "/app.js.map")).status, 200);
  assertError(await call(withMaps, "GET", "/tsc/app.tsbuildinfo"), 404, "NOT_FOUND");
});
