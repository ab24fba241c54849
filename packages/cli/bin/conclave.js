#!/usr/bin/env node
// The `conclave` command. Built code lives in ../dist: `npm ci` builds it (the root `prepare`
// script); after changing the sources run `npm run build`.
import { spawn } from "node:child_process";

// glibc keeps memory that other threads freed in per-thread arenas (up to 8 per core) and seldom
// returns it to the system: after a connection flood the server's resident memory would stay far
// above where it was (bench/flood.mjs measures it). Two arenas let it come back. glibc reads the
// setting only when a process starts, so `serve` starts itself again with it, unless the operator
// chose a value. The first process only relays signals and the exit status.
if (process.argv[2] === "serve" && process.platform === "linux" && process.env.MALLOC_ARENA_MAX === undefined) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    // Its own process group, so a terminal's Ctrl+C reaches it once (relayed below), and an IPC
    // channel, so it shuts down if this process dies.
    detached: true,
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, MALLOC_ARENA_MAX: "2" },
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
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
}
