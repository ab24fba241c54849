#!/usr/bin/env node
// Fuzzes the SIP message parser and the SDP parser with 10^5 random and mutated inputs each
// (seeded: a failure prints its seed and input). Run after `npx tsc -b`:
//   node scripts/fuzz-sip-sdp.mjs [inputs] [seed]
import { fuzzSdp, fuzzSip } from "../packages/connectors/dist/test/fuzz.js";

const inputs = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
for (const [name, run] of [["SIP", fuzzSip], ["SDP", fuzzSdp]]) {
  const t0 = performance.now();
  const r = run(inputs, seed);
  console.log(`${name}: ${r.inputs} inputs (seed ${seed}), ${r.accepted} accepted, ${r.rejected} rejected, no crash; slowest input ${r.slowestMs.toFixed(1)} ms; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
