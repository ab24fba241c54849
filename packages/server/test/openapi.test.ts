import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminToken } from "../src/auth/admin-token.js";
import { SERVER_ERRORS } from "../src/errors.js";
import { defaultLimiters, registerApi } from "../src/http/api.js";
import { OPENAPI_DOCUMENT, openApiPath } from "../src/http/openapi.js";
import { Router } from "../src/http/router.js";
import { Database } from "../src/storage/database.js";
import { MeetingFiles } from "../src/files/meeting-files.js";
import { Client, start } from "./support/api-client.js";

type Cleanup = { after(fn: () => void): void };

async function apiRoutes(t: Cleanup) {
  const dir = mkdtempSync(join(tmpdir(), "conclave-openapi-"));
  const database = Database.open(":memory:");
  const files = await MeetingFiles.open(join(dir, "files"));
  t.after(() => {
    database.close();
    void files.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const router = new Router();
  const api = registerApi(router, {
    database,
    adminToken: await AdminToken.loadOrCreate(join(dir, "admin-token")),
    limiters: defaultLimiters(),
    publicUrl: () => "https://localhost",
    files,
  });
  return { router, declared: api.declared() };
}

const METHODS = ["get", "post", "put", "patch", "delete"];

function documented(): { key: string; access: unknown; operation: Record<string, unknown> }[] {
  const out: { key: string; access: unknown; operation: Record<string, unknown> }[] = [];
  for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths as Record<string, Record<string, Record<string, unknown>>>)) {
    for (const [method, operation] of Object.entries(item)) {
      assert.ok(METHODS.includes(method), `${method} ${path}`);
      out.push({ key: `${method.toUpperCase()} ${path}`, access: operation["x-access"], operation });
    }
  }
  return out;
}

test("every registered route is in the OpenAPI document with the access it declares, and vice versa", async (t) => {
  const { declared } = await apiRoutes(t);
  const fromRoutes = new Map(declared.map((r) => [`${r.method} ${openApiPath(r.pattern)}`, r.access]));
  const fromDocument = new Map(documented().map((d) => [d.key, d.access]));
  assert.deepEqual([...fromDocument.keys()].sort(), [...fromRoutes.keys()].sort());
  for (const [key, access] of fromRoutes) assert.equal(fromDocument.get(key), access, key);
});

test("no route bypasses the access declaration: the router holds only declared routes", async (t) => {
  const { router, declared } = await apiRoutes(t);
  assert.deepEqual(
    router.routes().map((r) => `${r.method} ${r.pattern}`),
    declared.map((r) => `${r.method} ${r.pattern}`),
  );
});

test("every error code the OpenAPI document names is in the server's error table, with its status", () => {
  for (const { key, operation } of documented()) {
    for (const [status, response] of Object.entries(operation.responses as Record<string, Record<string, unknown>>)) {
      for (const code of (response["x-error-codes"] as string[] | undefined) ?? []) {
        assert.ok(code in SERVER_ERRORS, `${key}: ${code}`);
        assert.equal(String(SERVER_ERRORS[code as keyof typeof SERVER_ERRORS].status), status, `${key}: ${code}`);
      }
    }
  }
  assert.equal(OPENAPI_DOCUMENT.openapi, "3.1.0");
  const operationIds = documented().map((d) => d.operation.operationId);
  assert.equal(new Set(operationIds).size, operationIds.length, "operationIds are unique");
});

test("every $ref in the OpenAPI document resolves", () => {
  const schemas = (OPENAPI_DOCUMENT.components as { schemas: Record<string, unknown> }).schemas;
  const refs = [...JSON.stringify(OPENAPI_DOCUMENT).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 20);
  for (const name of refs) assert.ok(name in schemas, name);
});

test("GET /api/openapi.json serves the document without signing in", async (t) => {
  const server = await start(t);
  const reply = await new Client(server).call("GET", "/api/openapi.json");
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
});

test("docs/api.md has a section for every route, none for routes that do not exist, and names every error code the API returns", async (t) => {
  const { declared } = await apiRoutes(t);
  const doc = readFileSync(new URL("../../../../docs/api.md", import.meta.url), "utf8");
  const sections = [...doc.matchAll(/^### (GET|POST|PUT|PATCH|DELETE) (\/\S*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual([...sections].sort(), declared.map((r) => `${r.method} ${r.pattern}`).sort());
  const named = new Set(
    documented().flatMap(({ operation }) =>
      Object.values(operation.responses as Record<string, Record<string, unknown>>).flatMap((r) => (r["x-error-codes"] as string[] | undefined) ?? []),
    ),
  );
  for (const code of named) assert.ok(doc.includes(`\`${code}\``), `docs/api.md explains ${code}`);
});
