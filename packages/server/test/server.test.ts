import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { dataPaths, loadConfig, type ServerConfig } from "../src/config.js";
import { isServerError } from "../src/errors.js";
import { SIGNALING_MAX_PAYLOAD, startServer, type RunningServer, type ServerHooks } from "../src/server.js";

type Cleanup = { after(fn: () => void | Promise<void>): void };

function tempConfig(t: Cleanup, port = 0): ServerConfig {
  const dir = mkdtempSync(join(tmpdir(), "conclave-server-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return loadConfig({ flags: { host: "127.0.0.1", port, data: join(dir, "data") }, env: {} });
}

async function start(t: Cleanup, hooks: ServerHooks = {}, config = tempConfig(t)): Promise<RunningServer> {
  const server = await startServer(config, hooks);
  t.after(() => server.close());
  return server;
}

function wsClient(server: RunningServer, path = "/ws"): WebSocket {
  return new WebSocket(`wss://127.0.0.1:${server.port}${path}`, { ca: readFileSync(server.certFile) });
}

async function closeEvent(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(ws, "close")) as [number, Buffer];
  return { code, reason: reason.toString() };
}

async function createMeeting(server: RunningServer): Promise<{ id: string; passcode: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: server.port,
        method: "POST",
        path: "/api/meetings",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json", "content-length": "2" },
        ca: readFileSync(server.certFile),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as { id: string; passcode: string }));
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}

test("startServer reports its URL, port, certificate fingerprint and admin token", async (t) => {
  const server = await start(t);
  assert.ok(server.port > 0);
  assert.equal(server.url, `https://127.0.0.1:${server.port}`);
  assert.equal(server.publicUrl, `https://localhost:${server.port}`);
  assert.match(server.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(server.adminToken, /^[A-Za-z0-9_-]{43}$/);
});

test("the data directory is 0700 and the admin token file 0600, holding the returned token", async (t) => {
  const server = await start(t);
  const paths = dataPaths(server.context.config.dataDir);
  assert.equal(statSync(server.context.config.dataDir).mode & 0o777, 0o700);
  assert.equal(statSync(paths.adminToken).mode & 0o777, 0o600);
  assert.equal(readFileSync(paths.adminToken, "utf8").trim(), server.adminToken);
});

test("a restart keeps the admin token, the certificate and the meetings", async (t) => {
  const config = tempConfig(t);
  const first = await startServer(config);
  const meeting = await createMeeting(first);
  const { adminToken, fingerprint } = first;
  await first.close();

  const second = await start(t, {}, config);
  assert.equal(second.adminToken, adminToken);
  assert.equal(second.fingerprint, fingerprint);
  assert.equal(statSync(dataPaths(config.dataDir).adminToken).mode & 0o777, 0o600);
  assert.equal(second.context.meetings.get(meeting.id)?.id, meeting.id);
  assert.equal(second.context.meetings.verifyPasscode(meeting.id, meeting.passcode), true);
});

test("a loosened admin token file is tightened back to 0600 on start", async (t) => {
  const config = tempConfig(t);
  await (await startServer(config)).close();
  const { chmodSync } = await import("node:fs");
  chmodSync(dataPaths(config.dataDir).adminToken, 0o644);
  await start(t, {}, config);
  assert.equal(statSync(dataPaths(config.dataDir).adminToken).mode & 0o777, 0o600);
});

test("without a signaling hook /ws closes with 1013 'signaling not available'", async (t) => {
  const server = await start(t);
  const closed = await closeEvent(wsClient(server));
  assert.deepEqual(closed, { code: 1013, reason: "signaling not available" });
});

test("a /ws connection is handed to onSignalingConnection with its request and the context", async (t) => {
  let seenPath: string | undefined;
  let seenMeetings: unknown;
  const server = await start(t, {
    onSignalingConnection: (ws, req, context) => {
      seenPath = req.url;
      seenMeetings = context.meetings;
      ws.on("message", (data) => ws.send(`echo:${String(data)}`));
    },
  });
  const client = wsClient(server, "/ws?meeting=12345678901");
  await once(client, "open");
  client.send("hello");
  const [reply] = (await once(client, "message")) as [Buffer];
  assert.equal(reply.toString(), "echo:hello");
  assert.equal(seenPath, "/ws?meeting=12345678901");
  assert.equal(seenMeetings, server.context.meetings);
  client.close();
  await once(client, "close");
});

test("WebSocket upgrades on any other path are refused with 404", async (t) => {
  const server = await start(t, { onSignalingConnection: () => assert.fail("must not be called") });
  for (const path of ["/", "/ws/extra", "/api/meetings", "/wss"]) {
    const client = wsClient(server, path);
    const [, res] = (await once(client, "unexpected-response")) as [unknown, { statusCode: number; resume(): void }];
    assert.equal(res.statusCode, 404, path);
    res.resume();
    client.on("error", () => {}); // terminate() before open reports an error by design
    client.terminate();
  }
});

test("a signaling message over the size limit is refused by the WebSocket layer (1009)", async (t) => {
  const server = await start(t, { onSignalingConnection: (ws) => ws.on("message", () => assert.fail("oversized delivered")) });
  const client = wsClient(server);
  await once(client, "open");
  client.send(Buffer.alloc(SIGNALING_MAX_PAYLOAD + 1));
  assert.equal((await closeEvent(client)).code, 1009);
});

test("close() is idempotent, runs onClose with the database still open, and closes open sockets", async (t) => {
  const order: string[] = [];
  const config = tempConfig(t);
  const server = await startServer(config, {
    onSignalingConnection: () => order.push("connected"),
    onClose: () => {
      order.push(`onClose:${server.context.meetings.list().length}`);
    },
  });
  const client = wsClient(server);
  await once(client, "open");
  const clientClosed = closeEvent(client);

  const first = server.close();
  const second = server.close();
  assert.equal(first, second, "the same promise");
  await first;
  await server.close();
  assert.equal((await clientClosed).code, 1001);
  assert.deepEqual(order, ["connected", "onClose:0"]);
  assert.equal(server.context.database.closed, true);

  // The port is released: a plain TCP connect is refused.
  const refused = await new Promise<boolean>((resolve) => {
    const probe = createNetServer();
    probe.once("error", () => resolve(false));
    probe.listen(server.port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
  assert.equal(refused, true, "the port can be bound again");
});

test("close() also ends idle keep-alive HTTPS connections", async (t) => {
  const server = await startServer(tempConfig(t));
  const { Agent } = await import("node:https");
  const agent = new Agent({ keepAlive: true, ca: readFileSync(server.certFile) });
  t.after(() => agent.destroy());
  await new Promise<void>((resolve, reject) => {
    httpsRequest({ host: "127.0.0.1", port: server.port, path: "/healthz", agent }, (res) => {
      res.resume();
      res.on("end", resolve);
    })
      .on("error", reject)
      .end();
  });
  await server.close(); // would hang on the idle socket if it were not closed
});

test("a port already in use fails with LISTEN_FAILED and leaves nothing open", async (t) => {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const config = tempConfig(t, (blocker.address() as AddressInfo).port);
  await assert.rejects(startServer(config), (e: unknown) => isServerError(e, "LISTEN_FAILED") && /already in use/.test(e.message));
  // The database was closed again: the same data directory starts fine on another port.
  await (await startServer({ ...config, port: 0 })).close();
});
