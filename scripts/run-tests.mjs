#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/test/**/*.test.js) with Node's built-in
// test runner. Node 20 has no glob support in `node --test`, so the files are listed here.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern).
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.js")) files.push(p);
  }
}
for (const pkg of readdirSync(join(root, "packages"))) {
  const dir = join(root, "packages", pkg, "dist", "test");
  if (existsSync(dir)) walk(dir);
}
// End-to-end suites (tests/<suite>/dist/*.test.js).
for (const suite of existsSync(join(root, "tests")) ? readdirSync(join(root, "tests")) : []) {
  const dir = join(root, "tests", suite, "dist");
  if (existsSync(dir)) walk(dir);
}
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error("no test files found (did the build run?)");
  process.exit(1);
}
// Concurrency 1 for files that start servers and browsers would be slow; the suites keep
// their own resources isolated (own ports, own data dirs), so files run in parallel.
// --test-force-exit: a test file whose tests have all finished exits even if a native handle
// (a WebRTC peer connection's thread, a child's pipe) would keep it alive; without it one
// leftover handle stalls the whole run until CI's time limit. Tests that are about a process
// exiting (the CLI, connector processes) check that themselves, in their own child processes.
const child = spawn(process.execPath, ["--test", "--test-force-exit", "--test-reporter=spec", ...flags, ...selected], {
  stdio: "inherit",
  cwd: root,
});
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
