#!/usr/bin/env node
// Runs every benchmark in turn and prints each one's table (the same tables each script prints
// when run alone). Results are recorded in docs/performance.md.
//
// Usage: npm run bench            (builds first; about 8 minutes on 2 cores: MLS at N=1000 and a
//                                  meeting of 202 members are the long ones)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const benches = ["sframe.mjs", "mls.mjs", "relay.mjs", "meeting.mjs", "kms.mjs", "collaboration.mjs", "connector.mjs", "pstn.mjs", "recording.mjs", "streaming.mjs"];
let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench/${b} ===`);
  const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(new URL(b, import.meta.url))], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
