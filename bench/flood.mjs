#!/usr/bin/env node
// A connection flood against a real `conclave serve` process on this host (loopback only):
// 300 connections that start a frame and stall (half announce 4 MiB, half the most a connection
// may send before joining), and 2,000 idle TCP connections (1,700 from 17 addresses, 300 from one
// address, over its cap of 256), while two participants talk and a third joins. Prints the
// server's resident memory before, at the peak and after, how long a join took during the flood,
// and how long memory took to come back within 20% of its baseline (the bar: within a minute).
// The baseline is read after a warm-up flood of the same size (see tests/e2e/support/flood.ts):
// the memory before it is printed too.
// Results are recorded in docs/performance.md ("Connection flood").
//
// Usage: npm run build && node bench/flood.mjs [stalled idle]
import { runFlood } from "../tests/e2e/dist/support/flood.js";

const [stalled = 300, idle = 2000] = process.argv.slice(2).map(Number);
const r = await runFlood({ stalled, idle, idleFromOneAddress: 300, settleMs: 60_000, log: (l) => console.log(`  ${l}`) });
const ratio = (r.afterRssMb / r.baselineRssMb).toFixed(2);
console.log("");
console.log("| stalled frames | idle connections | before the warm-up flood | baseline RSS | peak RSS | RSS after | after / baseline | back within 20% after | join during flood |");
console.log("|---|---|---|---|---|---|---|---|---|");
console.log(
  `| ${stalled} | ${idle} | ${r.coldRssMb.toFixed(1)} MB | ${r.baselineRssMb.toFixed(1)} MB | ${r.peakRssMb.toFixed(1)} MB | ${r.afterRssMb.toFixed(1)} MB | ${ratio} | ` +
    `${r.recoveredAfterMs === null ? "not within 60 s" : `${(r.recoveredAfterMs / 1000).toFixed(1)} s`} | ${r.joinDuringFloodMs} ms |`,
);
console.log(`flood connections closed by the server: ${r.floodClosed} of ${r.floodOpened}`);
console.log(`security log during the flood (lines by event; one per address and kind per 10 s): ${JSON.stringify(r.securityEvents)}`);
process.exit(r.recoveredAfterMs === null ? 1 : 0);
