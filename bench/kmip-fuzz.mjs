#!/usr/bin/env node
// The long run of the KMIP decoder fuzzer (the test suite runs 30,000 inputs): mutated KMIP
// responses until the time is up, checking that each decodes canonically or is refused with
// KMS_KMIP_MALFORMED. Prints executions, how many decoded and how many distinct refusals were
// reached. Record the figures in docs/performance.md.
//
// Usage: npm run build && node bench/kmip-fuzz.mjs [seconds=60] [seed=1]
import { fuzzTtlv } from "../packages/kms/dist/test/ttlv-fuzz-core.js";

const seconds = Number(process.argv[2] ?? 60);
const seed = Number(process.argv[3] ?? 1);
const deadline = Date.now() + seconds * 1000;
const started = performance.now();
const stats = { executions: 0, decoded: 0, refused: 0, reasons: new Set(), responsesRead: 0 };
for (let round = 0; Date.now() < deadline; round++) fuzzTtlv({ seed: seed * 1_000_003 + round, executions: 100_000, deadline, stats });
const s = (performance.now() - started) / 1000;
console.log(`executions: ${stats.executions} in ${s.toFixed(1)} s (${Math.round(stats.executions / s)}/s)`);
console.log(`decoded canonically: ${stats.decoded}; refused: ${stats.refused}; distinct refusals: ${stats.reasons.size}; responses read: ${stats.responsesRead}`);
console.log("property violations: 0 (any would have thrown)");
