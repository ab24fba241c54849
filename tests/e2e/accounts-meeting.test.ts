import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { WebSocket } from "ws";
import { startTestServer, joinSession, waitForAgreement, waitFor, type TestServer } from "./support/harness.js";

/** A small HTTPS JSON client that keeps cookies, like a browser would. */
function apiClient(server: TestServer) {
  const cookies = new Map<string, string>();
  let csrf = "";
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: "127.0.0.1", port: server.server.port, path, method, ca: server.ca, servername: "localhost",
          headers: {
            ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}),
            ...(cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } : {}),
            ...(csrf && method !== "GET" ? { "x-csrf-token": csrf } : {}),
          },
        },
        (res) => {
          for (const c of res.headers["set-cookie"] ?? []) {
            const [kv] = c.split(";");
            const [k, v] = kv!.split("=");
            cookies.set(k!, v ?? "");
          }
          csrf = cookies.get("conclave_csrf") ?? csrf;
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
        },
      );
      req.on("error", reject);
      req.end(data);
    });
  return { call, cookieHeader: () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
}

test("a signed-in owner schedules a meeting with a waiting room, hosts it from a session, and admits a guest", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const owner = apiClient(server);
  assert.equal((await owner.call("POST", "/api/setup", { email: "owner@example.org", name: "Olive", password: "correct horse battery" })).status, 201);
  const created = await owner.call("POST", "/api/meetings", { topic: "Board", waitingRoom: true, encryption: "e2ee" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const meeting = { id: created.body.id as string, passcode: created.body.passcode as string };

  // The guest joins first and waits; the owner's session makes the owner host.
  const guest = await joinSession(server, meeting, "Guest");
  t.after(() => guest.leave());
  assert.equal((await guest.once("waiting")).reason, "waitingRoom");
  // The owner needs no passcode for their own meeting.
  const host = await joinSession(server, { id: meeting.id, passcode: null }, "Olive", { headers: { cookie: owner.cookieHeader(), origin: `https://127.0.0.1:${server.server.port}` } });
  t.after(() => host.leave());
  await waitFor("host sees the guest waiting", 10_000, (w) => host.on("waitingList", w), () => host.waitingList.length === 1);
  assert.equal(host.role, "host");
  host.admit(guest.memberId);
  await waitForAgreement([host, guest], 2);
});

test("a WebSocket upgrade from another site's page is refused", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const ws = new WebSocket(server.wsUrl, { ca: server.ca, origin: "https://evil.example" });
  const code = await new Promise<number>((resolve) => ws.on("close", (c) => resolve(c)));
  assert.equal(code, 4403);
});
