#!/usr/bin/env node
// Bundles the web app with esbuild into packages/web/dist (served by `conclave serve`):
//   app.js          the UI and meeting client (src/main.ts)
//   e2ee-worker.js  the encoded-transform worker that encrypts and decrypts frames (src/e2ee-worker.ts)
//   index.html, styles.css and anything else in src/static/
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("./dist/");
mkdirSync(out, { recursive: true });
// Everything but tsc -b's output: dist/tsc (type-check output it reuses between builds) and
// dist/test (the compiled unit tests, which `npm test` runs after this build).
for (const name of readdirSync(out)) if (name !== "tsc" && name !== "test") rmSync(out + name, { recursive: true, force: true });

const entryPoints = { app: here("./src/main.ts") };
if (existsSync(here("./src/e2ee-worker.ts"))) entryPoints["e2ee-worker"] = here("./src/e2ee-worker.ts");

await build({
  entryPoints,
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox120", "safari17"],
  sourcemap: true,
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
  // The protocol package's main entry is isomorphic; nothing may pull in Node built-ins.
  external: [],
});
if (existsSync(here("./src/static"))) cpSync(here("./src/static"), out, { recursive: true });

// The bundles run in browsers: a Node built-in import would fail there (and would mean a
// Node-only module slipped into the isomorphic packages). Refuse to ship such a bundle.
for (const file of ["app.js", "e2ee-worker.js"]) {
  const path = out + file;
  if (!existsSync(path)) continue;
  const text = readFileSync(path, "utf8");
  const m = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](node:[a-z_/]+)["']/.exec(text);
  if (m) throw new Error(`${file} imports ${m[1]}: the web bundle must not use Node built-ins`);
}
