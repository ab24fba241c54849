// The isomorphic entry ("@conclave/protocol", src/index.ts) must load in a browser: nothing it
// reaches may import a node: built-in. The node:crypto back end is reachable only from src/node.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const distSrc = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
const IMPORT = /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s*["']([^"']+)["']/g;

/** The files reachable from `entry` through relative imports, and every other specifier they import. */
function walk(entry: string): { files: Set<string>; external: Map<string, string> } {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith(".")) stack.push(resolve(dirname(file), spec));
      else external.set(spec, file);
    }
  }
  return { files: seen, external };
}

test("nothing reachable from the isomorphic entry imports a node: built-in", () => {
  const { files, external } = walk(join(distSrc, "index.js"));
  assert.ok(files.has(join(distSrc, "sframe", "crypto-webcrypto.js")), "the walk reaches the SFrame modules");
  assert.ok(!files.has(join(distSrc, "sframe", "crypto-node.js")));
  const offending = [...external].filter(([spec]) => spec.startsWith("node:"));
  assert.deepEqual(offending, []);
});

test("the node:crypto back end is reachable from the node entry", () => {
  assert.equal(walk(join(distSrc, "node.js")).external.has("node:crypto"), true);
});
