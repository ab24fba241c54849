#!/usr/bin/env node
// The long run of the fuzz targets of every network decoder (the test suite runs a few thousand
// inputs per target, fuzz.test.ts and fuzz-relay.test.ts): each target runs for a number of
// executions or a time, in rounds of fresh seeds, and any property violation (an unexpected
// exception, a result that does not round-trip, a tampered message accepted) stops the run with
// the counterexample. Prints executions, rate and findings per target; record the figures in
// docs/security-testing.md. The KMIP decoder has its own long run (bench/kmip-fuzz.mjs).
//
// Usage: npm run build && node bench/fuzz.mjs [executions-per-target=1000000] [max-seconds-per-target=3600] [seed=1] [target-substring...]
import { runTarget } from "../packages/test-support/dist/src/index.js";
import { mlsSeeds, mlsTargets, syncTargets } from "../packages/protocol/dist/test/fuzz-targets.js";
import { relayTargets } from "../packages/server/dist/test/fuzz-relay-targets.js";
import { connectorTargets } from "../packages/connectors/dist/test/fuzz-targets.js";

const executions = Number(process.argv[2] ?? 1_000_000);
const maxSeconds = Number(process.argv[3] ?? 3600);
const seed = Number(process.argv[4] ?? 1);
const only = process.argv.slice(5);
const ROUND = 50_000;

const targets = [...syncTargets(), ...relayTargets(), ...connectorTargets(), ...mlsTargets(await mlsSeeds())].filter((t) => only.length === 0 || only.some((o) => t.name.includes(o)));
let failed = false;
console.log(`| target | executions | seconds | executions/s | property violations |`);
console.log(`|---|---|---|---|---|`);
for (const target of targets) {
  const started = performance.now();
  const deadline = Date.now() + maxSeconds * 1000;
  let done = 0;
  let failure = null;
  for (let round = 0; done < executions && Date.now() < deadline && failure === null; round++) {
    const r = await runTarget(target, { numRuns: Math.min(ROUND, executions - done), seed: seed * 1_000_003 + round, timeLimitMs: Math.max(1, deadline - Date.now()) });
    done += r.executions;
    failure = r.failure;
  }
  const s = (performance.now() - started) / 1000;
  console.log(`| ${target.name} | ${done} | ${s.toFixed(0)} | ${Math.round(done / s)} | ${failure === null ? 0 : 1} |`);
  if (failure !== null) {
    failed = true;
    console.error(`${target.name}: ${failure}`);
  }
}
process.exit(failed ? 1 : 0);
