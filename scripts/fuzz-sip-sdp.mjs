#!/usr/bin/env node
// Long fuzz runs of the connectors' network decoders (run after `npx tsc -b`):
//   node scripts/fuzz-sip-sdp.mjs [inputs] [seed] [target-name-substring]
// 1. The seeded mutation fuzzers of the SIP message parser (datagram and stream framing) and of
//    the SDP parser with offer/answer: `inputs` each (default 10^5).
// 2. Every fast-check target of packages/connectors/test/fuzz-targets.ts (SIP messages, URIs,
//    headers, digest, SDP offer/answer, SDES, RTP/RTCP, SRTP, H.264): `inputs` each.
// A failure prints its seed and counterexample and exits 1.
import { fuzzSdp, fuzzSip } from "../packages/connectors/dist/test/fuzz.js";
import { connectorTargets } from "../packages/connectors/dist/test/fuzz-targets.js";
import { runTarget } from "@conclave/test-support";

const inputs = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const only = process.argv[4];
if (!only) {
  for (const [name, run] of [["SIP", fuzzSip], ["SDP", fuzzSdp]]) {
    const t0 = performance.now();
    const r = run(inputs, seed);
    console.log(`${name}: ${r.inputs} inputs (seed ${seed}), ${r.accepted} accepted, ${r.rejected} rejected, no crash; slowest input ${r.slowestMs.toFixed(1)} ms; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}
let failed = false;
for (const target of connectorTargets()) {
  if (only && !target.name.includes(only)) continue;
  const t0 = performance.now();
  const r = await runTarget(target, { numRuns: inputs, seed });
  console.log(`${target.name}: ${r.executions} inputs (seed ${seed}), ${r.failure ? `FAILED: ${r.failure}` : "no violation"}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (r.failure) failed = true;
}
process.exit(failed ? 1 : 0);
