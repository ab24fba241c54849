// The web app's bundles run in browsers: no Node built-in may be imported, required or
// referenced by a `node:` specifier anywhere in them (packages/web/build.mjs refuses to write such
// a bundle; this checks the bundles the server actually serves).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WEB_ROOT } from "./support/harness.js";

for (const file of ["app.js", "e2ee-worker.js"]) {
  test(`the web bundle ${file} contains no node: imports`, () => {
    const text = readFileSync(join(WEB_ROOT, file), "utf8");
    assert.ok(text.length > 10_000, `${file} looks empty`);
    const hits = [...text.matchAll(/["'`]node:[a-z_/]+["'`]/g)].map((m) => m[0]);
    assert.deepEqual(hits, []);
    // Nor a bare Node module name that a bundler left external.
    assert.doesNotMatch(text, /\brequire\(["'](?:fs|crypto|net|tls|http|https|path|os|child_process|worker_threads)["']\)/);
  });
}
