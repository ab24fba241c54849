#!/usr/bin/env node
// The `conclave` command. Built code lives in ../dist (run `npm run build` first).
import { main } from "../dist/src/main.js";

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now and the process should end on its own. If a stray handle still
// holds the event loop, do not hang a shutdown: exit anyway (unref: this timer alone waits for nothing).
setTimeout(() => process.exit(code), 2000).unref();
