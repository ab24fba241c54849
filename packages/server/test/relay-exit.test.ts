import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

test("after a relay connection fails DTLS and everything is closed, the process exits on its own", async () => {
  const fixture = fileURLToPath(new URL("./relay-exit-fixture.js", import.meta.url));
  const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const [code, signal] = (await new Promise((resolve) => child.once("exit", (c, s) => resolve([c, s])))) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the fixture had to be killed; output:\n${output}`);
  assert.equal(code, 0, `fixture failed:\n${output}`);
  assert.match(output, /relay subscribe connection failed as intended/);
  assert.match(output, /closed after failure; exit follows/);
});
