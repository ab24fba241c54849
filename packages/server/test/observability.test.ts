import { test } from "node:test";
import assert from "node:assert/strict";
import { asLogger, createLogger, isSecretFieldName, memoryLogger, redact } from "../src/observability/logger.js";
import { Metrics } from "../src/observability/metrics.js";
import { Writable } from "node:stream";

test("log lines are JSON with level, time, message and fields", () => {
  const log = memoryLogger("info");
  log.info("meeting started", { meetingId: "123-456-789", members: 3 });
  log.debug("not written at info");
  const [line, ...rest] = log.lines();
  assert.equal(rest.length, 0);
  assert.equal(line!.level, "info");
  assert.equal(line!.msg, "meeting started");
  assert.equal(line!.meetingId, "123-456-789");
  assert.equal(line!.members, 3);
  assert.ok(!Number.isNaN(Date.parse(line!.time as string)));
});

test("a child logger carries its bindings (component, request id) on every line", () => {
  const log = memoryLogger();
  const child = log.child({ component: "http" }).child({ reqId: "r-1" });
  child.warn("slow", undefined, { ms: 1200 });
  assert.deepEqual(
    (({ component, reqId, ms, level }) => ({ component, reqId, ms, level }))(log.lines()[0]!),
    { component: "http", reqId: "r-1", ms: 1200, level: "warn" },
  );
});

test("keys, passcodes, tokens, cookies, credentials and frames never reach a log line", () => {
  const log = memoryLogger();
  const secrets = ["s3cret-passcode", "tok-abc", "cookie-xyz", "pw-123", "turn-cred", "csrf-1", "pin-9876"];
  log.info("join", {
    passcode: secrets[0],
    adminToken: secrets[1],
    headers: { cookie: secrets[2], "set-cookie": [secrets[2]], authorization: `Bearer ${secrets[1]}` },
    user: { password: secrets[3] },
    iceServers: [{ urls: "turn:x", username: "1:u", credential: secrets[4] }],
    csrf_token: secrets[5],
    dialInPin: secrets[6],
    frame: Buffer.from("plaintext frame bytes"),
    keyMaterial: new Uint8Array([1, 2, 3]),
  });
  log.child({ sessionId: "sess-1" }).error("failed", new Error("boom"), { nested: { deep: { apiKey: "k-1" } } });
  const text = log.text();
  for (const s of [...secrets, "sess-1", "k-1", "plaintext frame bytes"]) assert.ok(!text.includes(s), `${s} leaked: ${text}`);
  const first = log.lines()[0]!;
  assert.equal(first.passcode, "[redacted]");
  assert.equal((first.iceServers as { urls: string }[])[0]!.urls, "turn:x", "non-secret fields stay");
  assert.match(text, /"err":\{"type":"Error","message":"boom"/);
});

test("raw bytes anywhere become a byte count, not their content", () => {
  assert.deepEqual(redact({ list: [Buffer.alloc(5)], view: new DataView(new ArrayBuffer(7)) }), { list: ["[5 bytes]"], view: "[7 bytes]" });
});

test("secret field names are recognised in every casing and none of the harmless look-alikes", () => {
  for (const name of ["passcode", "meetingPasscode", "api_key", "Set-Cookie", "TURNCredential", "csrfToken", "privateKey", "PIN"]) {
    assert.ok(isSecretFieldName(name), name);
  }
  for (const name of ["meetingId", "memberId", "keyframes", "mapping", "spinner", "epoch", "reqId", "url"]) {
    assert.ok(!isSecretFieldName(name), name);
  }
});

test("cyclic fields are logged without throwing", () => {
  const log = memoryLogger();
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  log.info("cycle", { a });
  assert.equal((log.lines()[0]!.a as Record<string, unknown>).self, "[circular]");
});

test("the level chosen at creation filters lower levels; silent writes nothing", () => {
  const out: string[] = [];
  const destination = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) });
  const log = createLogger({ level: "warn", destination });
  log.info("dropped");
  log.warn("kept");
  createLogger({ level: "silent", destination }).error("dropped too");
  assert.equal(out.length, 1);
  assert.match(out[0]!, /"msg":"kept"/);
});

test("asLogger turns a bare sink into a logger whose fields and bindings are redacted JSON", () => {
  const lines: string[] = [];
  const log = asLogger({ info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) });
  log.child({ component: "acme" }).info("renewed", { token: "t-1", days: 60 });
  assert.deepEqual(lines, ['renewed {"component":"acme","token":"[redacted]","days":60}']);
});

test("metrics: the same name returns the same metric and renders in the Prometheus text format", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const a = metrics.counter({ name: "conclave_test_events_total", help: "Test events.", labelNames: ["kind"] });
  const b = metrics.counter({ name: "conclave_test_events_total", help: "Test events.", labelNames: ["kind"] });
  assert.equal(a, b);
  a.inc({ kind: "x" });
  b.inc({ kind: "x" }, 2);
  metrics.gauge({ name: "conclave_test_live", help: "Live things.", collect() { this.set(7); } });
  metrics.histogram({ name: "conclave_test_latency_seconds", help: "Latency." }).observe(0.2);
  const text = await metrics.render();
  assert.match(text, /^conclave_test_events_total\{kind="x"\} 3$/m);
  assert.match(text, /^conclave_test_live 7$/m);
  assert.match(text, /^conclave_test_latency_seconds_bucket\{le="0.25"\} 1$/m);
  assert.match(metrics.contentType, /^text\/plain/);
});

test("metrics: names without the conclave_ prefix and a name reused for another type are refused", () => {
  const metrics = new Metrics({ defaultMetrics: false });
  assert.throws(() => metrics.counter({ name: "conclave_Bad-Name" as "conclave_x", help: "x" }), /must start with conclave_/);
  metrics.counter({ name: "conclave_thing_total", help: "x" });
  assert.throws(() => metrics.gauge({ name: "conclave_thing_total", help: "x" }), /another type/);
});

test("metrics: default process metrics are included and two registries do not share values", async () => {
  const one = new Metrics();
  const two = new Metrics();
  one.counter({ name: "conclave_only_here_total", help: "x" }).inc();
  assert.match(await one.render(), /^process_cpu_user_seconds_total /m);
  assert.match(await one.render(), /^nodejs_eventloop_lag_seconds /m);
  assert.doesNotMatch(await two.render(), /conclave_only_here_total/);
});
