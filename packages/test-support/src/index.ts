/**
 * What a test needs from the machine, said once. Every test suite imports this package
 * (`@conclave/test-support`, internal, never shipped).
 *
 * - `requireSystemBinary("sslscan")`: the absolute path of a system binary, or an Error naming
 *   the Debian package to install (from the REQUIREMENTS table of scripts/install-system-deps.sh,
 *   the one list of system packages). A test that needs a system binary fails when it is
 *   missing — it never skips.
 * - `requires(missing, fn)`: for other prerequisites (official test vectors in ../shared). Under
 *   CI=true a missing prerequisite fails the test with the reason; elsewhere it is skipped with
 *   the reason, so a developer without ../shared still runs everything else.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext, TestOptions } from "node:test";

/** The repository root: the nearest ancestor of this file whose package.json declares workspaces. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && "workspaces" in (JSON.parse(readFileSync(pkg, "utf8")) as object)) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("test-support: no package.json with workspaces above this file");
    dir = parent;
  }
}

/** The install script that owns the list of system packages. */
export function installScript(): string {
  return join(repoRoot(), "scripts", "install-system-deps.sh");
}

export { startCoturn, type Coturn } from "./coturn.js";

let table: Map<string, string> | undefined;

/** `what` → Debian package, from `install-system-deps.sh --list`. */
export function systemRequirements(): ReadonlyMap<string, string> {
  if (table === undefined) {
    const out = execFileSync("bash", [installScript(), "--list"], { encoding: "utf8" });
    table = new Map();
    for (const line of out.split("\n")) {
      const [what, pkg] = line.trim().split(/\s+/);
      if (what && pkg) table.set(what, pkg);
    }
  }
  return table;
}

/** Where `name` is on PATH (or `name` itself when absolute and executable), else undefined. */
export function findBinary(name: string, path = process.env.PATH ?? ""): string | undefined {
  const candidates = isAbsolute(name) ? [name] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Thrown by requireSystemBinary: the message says what to install. */
export class MissingSystemBinaryError extends Error {
  override readonly name = "MissingSystemBinaryError";
  constructor(
    readonly binary: string,
    readonly debianPackage: string | undefined,
  ) {
    super(
      debianPackage === undefined
        ? `${binary} is not installed and is missing from the REQUIREMENTS table of scripts/install-system-deps.sh: add it there`
        : `${binary} is not installed: install the Debian package ${debianPackage} (bash scripts/install-system-deps.sh as root does it)`,
    );
  }
}

/**
 * The absolute path of a system binary the test needs. Throws MissingSystemBinaryError when it is
 * not installed, or when it is not listed in the REQUIREMENTS table (so every binary a test uses
 * is installed by `npm test` on a fresh machine). `override` (e.g. process.env.CONCLAVE_CHROMIUM)
 * names another executable to use instead.
 */
export function requireSystemBinary(name: string, override?: string): string {
  const pkg = systemRequirements().get(name);
  if (override !== undefined && override !== "") {
    const found = findBinary(override);
    if (found === undefined) throw new Error(`${override} (set to replace ${name}) is not an executable file`);
    return found;
  }
  const found = findBinary(name);
  if (found === undefined || pkg === undefined) throw new MissingSystemBinaryError(name, pkg);
  return found;
}

/** True when running under CI (CI=true, as .ci/run is started). */
export function inCi(): boolean {
  return process.env.CI === "true";
}

type TestFn = (t: TestContext) => void | Promise<void>;

/**
 * Test options for a test whose body checks its prerequisite itself (e.g. `assert.ok(VECTORS,
 * reason)`): skipped with the reason outside CI, run (and so failing) under CI=true.
 */
export function prerequisite(missing: string | false): TestOptions {
  return missing === false || inCi() ? {} : { skip: missing };
}

/**
 * Test options and body for a test with a non-system prerequisite. `missing` is false when the
 * prerequisite is there, else the reason it is not. Use as `test(name, ...requires(missing, fn))`.
 */
export function requires(missing: string | false, fn: TestFn): [TestOptions, TestFn] {
  if (missing === false) return [{}, fn];
  if (inCi()) {
    return [
      {},
      () => {
        throw new Error(`missing prerequisite (CI=true fails instead of skipping): ${missing}`);
      },
    ];
  }
  return [{ skip: missing }, fn];
}
export * from "./fuzz.js";
