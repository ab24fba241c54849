// Connector processes under supervision: IPC, shutdown, resource limits, restarts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConnectorSupervisor, type SupervisedProcess } from "../src/index.js";

const CHILD = fileURLToPath(new URL("./fixtures/child.js", import.meta.url));

function next<T>(p: SupervisedProcess, event: "message" | "exit" | "started", pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T) => {
      if (!pred(v)) return;
      p.off(event, on as never);
      resolve(v);
    };
    p.on(event, on as never);
  });
}

test("a connector process talks over IPC, and stop() asks it to shut down and waits for its exit", async (t) => {
  const sup = new ConnectorSupervisor();
  t.after(() => sup.close());
  const p = sup.spawn({ name: "echo", module: CHILD });
  await next<{ type: string }>(p, "message", (m) => m.type === "hello");
  p.send({ type: "echo" });
  const echo = await next<{ type: string; pid: number }>(p, "message", (m) => m.type === "echo");
  assert.equal(echo.pid, p.pid);
  const exited = next<{ reason: string; code: number | null }>(p, "exit");
  await p.stop();
  assert.deepEqual(await exited, { code: 0, signal: null, restarting: false, reason: "stopped" });
  assert.equal(sup.processes.length, 0);
});

test("a process over its memory limit is killed and reported as such; the supervisor carries on", async (t) => {
  const sup = new ConnectorSupervisor();
  t.after(() => sup.close());
  const p = sup.spawn({ name: "hog", module: CHILD, limits: { rssMb: 128, heapMb: 512 } });
  await next<{ type: string }>(p, "message", (m) => m.type === "hello");
  const exited = next<{ reason: string; signal: string | null }>(p, "exit");
  p.send({ type: "grow" });
  const e = await exited;
  assert.equal(e.reason, "limit");
  assert.equal(e.signal, "SIGKILL");
  // Another process starts fine after it.
  const q = sup.spawn({ name: "echo", module: CHILD });
  await next<{ type: string }>(q, "message", (m) => m.type === "hello");
});

test("a crashed service is restarted with a new process, up to maxRestarts, then stays down", async (t) => {
  const sup = new ConnectorSupervisor();
  t.after(() => sup.close());
  const p = sup.spawn({ name: "flaky", module: CHILD, restart: true, maxRestarts: 1 });
  await next<{ type: string }>(p, "message", (m) => m.type === "hello");
  const firstPid = p.pid;
  let exit = next<{ reason: string; restarting: boolean }>(p, "exit");
  p.send({ type: "crash" });
  assert.deepEqual(await exit.then((e) => [e.reason, e.restarting]), ["crashed", true]);
  await next<{ type: string }>(p, "message", (m) => m.type === "hello");
  assert.notEqual(p.pid, firstPid);
  exit = next<{ reason: string; restarting: boolean }>(p, "exit");
  p.send({ type: "crash" });
  assert.deepEqual(await exit.then((e) => [e.reason, e.restarting]), ["crashed", false]);
  assert.equal(p.running, false);
});
