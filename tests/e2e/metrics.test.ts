// Observability end to end: GET /metrics during a three-bot meeting moves the conclave_ counters;
// only the admin API token may read it; /readyz is separate from /healthz; the JSON log of the
// whole meeting carries no passcode, token or key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { memoryLogger } from "@conclave/server";
import { startTestServer, joinBot, joinSession, waitForAgreement, waitForMediaFromAll, type TestServer } from "./support/harness.js";

function get(t: TestServer, path: string, token?: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: t.server.port, path, ca: t.ca, servername: "localhost", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers["content-type"]) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The value of one sample (`name{labels} value`) in Prometheus text, or 0 when absent. */
function sample(text: string, series: string): number {
  const escaped = series.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

test("GET /metrics during a three-bot meeting shows meetings, participants, joins, commits, rekey time and relay traffic", async (t) => {
  const log = memoryLogger("debug");
  const server = await startTestServer({ logger: log });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");

  assert.equal((await get(server, "/metrics")).status, 401, "no token: 401");
  assert.equal((await get(server, "/metrics", "wrong-token")).status, 401, "wrong token: 401");
  const before = (await get(server, "/metrics", server.server.adminToken)).body;

  // A wrong passcode is refused and counted by its code.
  const mallory = await joinSession(server, { id: meeting.id, passcode: "000000000" }, "Mallory");
  assert.equal((await mallory.once("error")).code, "WRONG_PASSCODE");

  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob"), await joinBot(server, meeting, "Cy")];
  t.after(() => bots.forEach((b) => b.leave()));
  await waitForAgreement(bots.map((b) => b.session), 3, 20_000);
  await waitForMediaFromAll(bots, 10);

  const during = await get(server, "/metrics", server.server.adminToken);
  assert.equal(during.status, 200);
  assert.match(during.type, /^text\/plain; version=0\.0\.4/);
  const m = during.body;
  assert.equal(sample(m, "conclave_meetings_live"), 1);
  assert.equal(sample(m, "conclave_participants_live"), 3);
  assert.equal(sample(m, 'conclave_joins_total{result="joined"}') - sample(before, 'conclave_joins_total{result="joined"}'), 3);
  assert.equal(sample(m, 'conclave_joins_total{result="WRONG_PASSCODE"}'), 1);
  assert.equal(sample(m, 'conclave_signaling_errors_total{code="WRONG_PASSCODE"}'), 1);
  // Bob and Cy are added by one commit each, or by one commit together when both were waiting.
  assert.ok(sample(m, 'conclave_mls_commits_total{result="accepted"}') >= 1, "a commit added Bob and Cy");
  assert.ok(sample(m, "conclave_mls_commit_latency_seconds_count") >= 1);
  assert.ok(sample(m, 'conclave_relay_packets_total{direction="in"}') > 0);
  assert.ok(sample(m, 'conclave_relay_packets_total{direction="out"}') > 0);
  assert.ok(sample(m, "conclave_relay_received_bytes_total") > 0);
  assert.ok(sample(m, "conclave_relay_subscriptions") >= 6, "each bot receives the other two bots' tracks");
  assert.equal(sample(m, "conclave_relay_peers"), 3);
  assert.ok(sample(m, 'conclave_http_responses_total{status="4xx"}') >= 2, "the two refused scrapes");
  assert.match(m, /^process_cpu_user_seconds_total \d/m, "default process metrics");
  assert.match(m, /^nodejs_heap_size_used_bytes \d/m);

  // Cy leaves: the others rekey without it (agreeing on a two-member epoch means the removing
  // commit was accepted), and the time from the leave to that commit is observed.
  bots[2]!.leave();
  await waitForAgreement(bots.slice(0, 2).map((b) => b.session), 2, 20_000);
  const after = (await get(server, "/metrics", server.server.adminToken)).body;
  assert.equal(sample(after, "conclave_mls_rekey_after_leave_seconds_count"), 1);
  assert.equal(sample(after, "conclave_participants_live"), 2);

  // Nothing secret in a whole meeting's worth of debug-level JSON log lines.
  const text = log.text();
  assert.ok(log.lines().length > 0);
  for (const secret of [server.server.adminToken, meeting.passcode!]) assert.ok(!text.includes(secret), "a secret reached the log");
});

test("/readyz says ready with its checks; /healthz stays the bare liveness answer; --metrics-listen serves /metrics alone", async (t) => {
  const server = await startTestServer({}, { metricsListen: "127.0.0.1:0" });
  t.after(() => server.close());
  const ready = await get(server, "/readyz");
  assert.equal(ready.status, 200);
  assert.deepEqual(JSON.parse(ready.body), { ready: true, checks: { listening: "ok", database: "ok", certificate: "ok" } });
  assert.deepEqual(JSON.parse((await get(server, "/healthz")).body), { ok: true });

  const port = Number(new URL(server.server.metricsUrl!).port);
  const onMetricsPort = (path: string, token?: string) => get({ ...server, server: { ...server.server, port } }, path, token);
  assert.equal((await onMetricsPort("/metrics")).status, 401);
  const scraped = await onMetricsPort("/metrics", server.server.adminToken);
  assert.equal(scraped.status, 200);
  assert.match(scraped.body, /^conclave_meetings_live 0$/m);
  assert.equal((await onMetricsPort("/healthz")).status, 404, "nothing but /metrics on the metrics listener");
  assert.equal((await onMetricsPort("/api/meetings", server.server.adminToken)).status, 404);
});
