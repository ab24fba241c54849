#!/usr/bin/env node
// The `conclave` command. Built code lives in ../dist: `npm ci` builds it (the root `prepare`
// script); after changing the sources run `npm run build`.
let main;
try {
  ({ main } = await import("../dist/src/main.js"));
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/src/main.js")) throw e;
  process.stderr.write("conclave: not built yet: run `npm run build` in the repository first (npm ci does it too)\n");
  process.exit(1);
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now and the process should end on its own. If a stray handle still
// holds the event loop, do not hang a shutdown: exit anyway (unref: this timer alone waits for nothing).
setTimeout(() => process.exit(code), 2000).unref();
