import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findBinary, installScript, MissingSystemBinaryError, requires, requireSystemBinary, systemRequirements } from "../src/index.js";

const run = promisify(execFile);

/** A PATH holding only bash (all --check needs) and the listed commands. */
function pathWith(commands: readonly string[]): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "conclave-path-"));
  for (const tool of ["bash", ...commands]) {
    const found = findBinary(tool);
    assert.ok(found !== undefined, `${tool} is installed on this machine`);
    symlinkSync(found, join(dir, tool));
  }
  return { path: dir, dir };
}

async function check(path: string): Promise<{ code: number; stderr: string }> {
  return run("bash", [installScript(), "--check"], { env: { PATH: path } }).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
}

test("install-system-deps.sh --check names the Debian package of every binary hidden from PATH and exits 1", async (t) => {
  const requirements = [...systemRequirements()].filter(([what]) => !what.startsWith("/"));
  assert.ok(requirements.length > 0, "the REQUIREMENTS table lists commands");
  const { path, dir } = pathWith([]);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = await check(path);
  assert.equal(result.code, 1);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line says what is missing: ${result.stderr}`);
  for (const [what, pkg] of requirements) {
    assert.match(lines[0]!, new RegExp(`[ (]${pkg} \\([^)]*\\b${what}\\b`), `names ${what} and its package ${pkg}`);
    assert.match(lines[0]!, new RegExp(`apt-get install .*\\b${pkg}\\b`), `the command installs ${pkg}`);
  }
});

test("install-system-deps.sh --check names only chromium's package when only chromium is hidden", async (t) => {
  // Every other required command stays reachable through the temp PATH.
  const others = [...systemRequirements().keys()].filter((what) => what !== "chromium" && !what.startsWith("/"));
  const { path, dir } = pathWith(others);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = await check(path);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stderr, "install-system-deps: missing Debian packages: chromium (chromium); install with: sudo apt-get install chromium\n");
});

test("requireSystemBinary returns the path of an installed, listed binary", () => {
  const chromium = requireSystemBinary("chromium");
  assert.match(chromium, /\/chromium$/);
});

test("requireSystemBinary fails (never skips) naming the package when the binary is missing", () => {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    assert.throws(() => requireSystemBinary("chromium"), (e: unknown) => e instanceof MissingSystemBinaryError && /Debian package chromium/.test(e.message));
  } finally {
    process.env.PATH = saved;
  }
});

test("requireSystemBinary refuses a binary missing from the REQUIREMENTS table, so nothing is installed by hand only", () => {
  assert.throws(() => requireSystemBinary("bash"), /missing from the REQUIREMENTS table/);
});

test("requires(): under CI=true a missing prerequisite fails with its reason; elsewhere it skips", async () => {
  const saved = process.env.CI;
  try {
    process.env.CI = "true";
    const [ciOptions, ciFn] = requires("vectors not found at /x", () => {});
    assert.deepEqual(ciOptions, {});
    assert.throws(() => ciFn({} as never), /missing prerequisite.*vectors not found at \/x/);
    process.env.CI = "";
    const [devOptions] = requires("vectors not found at /x", () => {});
    assert.deepEqual(devOptions, { skip: "vectors not found at /x" });
    const [present] = requires(false, () => {});
    assert.deepEqual(present, {});
  } finally {
    process.env.CI = saved;
  }
});
