// node_modules/ts-mls must be the published ts-mls 1.6.4 plus exactly the patches in patches/ (the
// root postinstall applies them; patches/README.md says what each one does). Compared here with
// the untouched copy of the same release installed as ts-mls-stock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isPatchedLibrary } from "../src/mls/library.js";

const require = createRequire(import.meta.url);
// (package.json is not in the exports map: go up from a module, dist/src/treeHash.js)
const packageDir = (name: string): string => join(dirname(require.resolve(`${name}/treeHash.js`)), "..", "..");
const root = packageDir("ts-mls");
const stockRoot = packageDir("ts-mls-stock");

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { workspaces?: unknown };
      if (pkg.workspaces !== undefined) return dir;
    } catch {
      // no package.json here
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("project root not found");
    dir = parent;
  }
}

interface Hunk {
  oldStart: number;
  lines: string[]; // each with its " ", "-" or "+" prefix
}

interface FilePatch {
  path: string;
  hunks: Hunk[];
}

function parsePatches(): { name: string; files: FilePatch[] }[] {
  const dir = join(projectRoot(), "patches");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".patch"))
    .sort()
    .map((name) => {
      const files: FilePatch[] = [];
      let file: FilePatch | undefined;
      let hunk: Hunk | undefined;
      for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
        const m = /^diff --git a\/node_modules\/ts-mls\/(\S+) b\//.exec(line);
        const h = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
        if (m) {
          file = { path: m[1]!, hunks: [] };
          files.push(file);
          hunk = undefined;
        } else if (h && file) {
          hunk = { oldStart: Number(h[1]), lines: [] };
          file.hunks.push(hunk);
        } else if (hunk && (line.startsWith(" ") || line.startsWith("-") || line.startsWith("+")) && !line.startsWith("---") && !line.startsWith("+++")) {
          hunk.lines.push(line);
        } else if (line.startsWith("\\")) {
          // "\ No newline at end of file"
        } else hunk = undefined;
      }
      return { name, files };
    });
}

/** Applies unified-diff hunks to a file's lines, requiring every context and removed line to match. */
function applyHunks(text: string, hunks: Hunk[], what: string): string {
  const lines = text.split("\n");
  let shift = 0;
  for (const hunk of hunks) {
    const before = hunk.lines.filter((l) => !l.startsWith("+")).map((l) => l.slice(1));
    const after = hunk.lines.filter((l) => !l.startsWith("-")).map((l) => l.slice(1));
    const at = hunk.oldStart - 1 + shift;
    assert.deepEqual(lines.slice(at, at + before.length), before, `${what}: hunk at line ${hunk.oldStart} does not apply`);
    lines.splice(at, before.length, ...after);
    shift += after.length - before.length;
  }
  return lines.join("\n");
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const patches = parsePatches();

test("patches/ holds the ts-mls 1.6.4 patches, numbered in order", () => {
  assert.ok(patches.length >= 8, "the eight patches of patches/README.md");
  for (const [i, p] of patches.entries()) assert.match(p.name, new RegExp(`^ts-mls\\+1\\.6\\.4\\+${String(i + 1).padStart(3, "0")}\\+[a-z-]+\\.patch$`));
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  assert.equal(version(root), "1.6.4");
  assert.equal(version(stockRoot), "1.6.4");
});

test("the stock 1.6.4 files with the patches applied in order are exactly node_modules/ts-mls, which reports itself patched", () => {
  const expected = new Map<string, string>();
  for (const p of patches) {
    for (const f of p.files) {
      const base = expected.get(f.path) ?? readFileSync(join(stockRoot, f.path), "utf8");
      expected.set(f.path, applyHunks(base, f.hunks, `${p.name} ${f.path}`));
    }
  }
  assert.ok(expected.size >= 10, "the patches touch the files patches/README.md lists");
  for (const [path, text] of expected) assert.equal(readFileSync(join(root, path), "utf8"), text, `${path} is not stock + patches`);
  assert.equal(isPatchedLibrary(), true);
});

test("every file of ts-mls the patches do not touch is byte-identical to the stock 1.6.4 release", () => {
  const touched = new Set(patches.flatMap((p) => p.files.map((f) => f.path)));
  let compared = 0;
  for (const file of walk(join(stockRoot, "dist"))) {
    const rel = relative(stockRoot, file);
    if (touched.has(rel)) {
      assert.notDeepEqual(readFileSync(join(root, rel)), readFileSync(file), `${rel} should carry its patch`);
      continue;
    }
    assert.deepEqual(readFileSync(join(root, rel)), readFileSync(file), `${rel} differs from the stock release`);
    compared++;
  }
  assert.ok(compared > 100, "the stock release's files were found");
});
