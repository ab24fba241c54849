#!/usr/bin/env node
// Bundles the web app with esbuild into packages/web/dist (served by `conclave serve`):
//   app.js          the UI and meeting client (src/main.ts)
//   e2ee-worker.js  the encoded-transform worker that encrypts and decrypts frames (src/e2ee-worker.ts)
//   index.html, styles.css and anything else in src/static/
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("./dist/");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

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
