/**
 * Test helpers for the HTTP API: start a server on a temporary data directory, and a client that
 * keeps cookies like a browser and echoes the CSRF cookie in X-CSRF-Token (unless told not to).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigFlags, type ServerConfig } from "../../src/config.js";
import type { ServerErrorCode } from "../../src/errors.js";
import { startServer, type RunningServer, type ServerHooks } from "../../src/server.js";

export type Cleanup = { after(fn: () => void | Promise<void>): void };

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary JSON
  json: any;
}

export function tempConfig(t: Cleanup, flags: ConfigFlags = {}): ServerConfig {
  const dir = mkdtempSync(join(tmpdir(), "conclave-api-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return loadConfig({ flags: { host: "127.0.0.1", port: 0, data: join(dir, "data"), ...flags }, env: {} });
}

export async function start(t: Cleanup, hooks: ServerHooks = {}, config = tempConfig(t)): Promise<RunningServer> {
  const server = await startServer(config, hooks);
  t.after(() => server.close());
  return server;
}

export interface CallOptions {
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Send `Authorization: Bearer <token>`. */
  token?: string;
  /** Default true: send the CSRF cookie's value in X-CSRF-Token on state-changing methods. */
  csrf?: boolean;
}

/** A browser-like client: a cookie jar per instance. */
export class Client {
  readonly cookies = new Map<string, string>();
  readonly #server: RunningServer;
  readonly #localAddress: string | undefined;

  /** `localAddress`: the client's own address (e.g. 127.0.0.2, to look like another client). */
  constructor(server: RunningServer, localAddress?: string) {
    this.#server = server;
    this.#localAddress = localAddress;
  }

  get csrfToken(): string | undefined {
    return this.cookies.get("conclave_csrf");
  }

  call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) payload = Buffer.from(JSON.stringify(options.body));
    else if (options.raw !== undefined) payload = Buffer.from(options.raw);
    if (payload !== undefined) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (this.cookies.size > 0 && headers.cookie === undefined) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    const csrf = this.csrfToken;
    if ((options.csrf ?? true) && csrf !== undefined && !["GET", "HEAD"].includes(method)) headers["x-csrf-token"] ??= csrf;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: "127.0.0.1", ...(this.#localAddress ? { localAddress: this.#localAddress } : {}), port: this.#server.port, method, path, headers, ca: readFileSync(this.#server.certFile), agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            for (const line of res.headers["set-cookie"] ?? []) {
              const [pair, ...attributes] = line.split(";").map((s) => s.trim());
              const eq = pair!.indexOf("=");
              const name = pair!.slice(0, eq);
              const value = pair!.slice(eq + 1);
              if (attributes.some((a) => /^max-age=0$/i.test(a)) || value === "") this.cookies.delete(name);
              else this.cookies.set(name, value);
            }
            resolve(toReply(res, chunks));
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}

export function assertError(reply: Reply, status: number, code: ServerErrorCode): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.json?.error?.code, code, reply.text);
  assert.equal(typeof reply.json.error.message, "string");
}

export function assertStatus(reply: Reply, status: number): void {
  assert.equal(reply.status, status, reply.text);
}

export const OWNER = { email: "owner@example.org", name: "Olivia Owner", password: "owner password 1" };

/** Set up the server's owner; returns the owner's signed-in client. */
export async function setupOwner(server: RunningServer): Promise<Client> {
  const owner = new Client(server);
  assertStatus(await owner.call("POST", "/api/setup", { body: OWNER }), 201);
  return owner;
}

/** Create a user through the API (as `admin`) and sign them in; returns their client and id. */
export async function addUser(
  server: RunningServer,
  admin: Client,
  user: { email: string; name?: string; password?: string; role?: "admin" | "member"; groupId?: string },
): Promise<{ client: Client; id: string }> {
  const password = user.password ?? "member password 1";
  const created = await admin.call("POST", "/api/users", { body: { name: user.email.split("@")[0], ...user, password } });
  assertStatus(created, 201);
  const client = new Client(server);
  assertStatus(await client.call("POST", "/api/auth/login", { body: { email: user.email, password } }), 200);
  return { client, id: created.json.user.id as string };
}

/** A finished response as a Reply: status, headers, body text and the body parsed as JSON if it is. */
export function toReply(res: IncomingMessage, chunks: Buffer[]): Reply {
  const text = Buffer.concat(chunks).toString("utf8");
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode ?? 0, headers: res.headers, text, json };
}
